//! `binlog-schema list|update|delete` (DM 2.0.7: `operate-schema
//! get|set|remove`) at the service edge, and the heartbeat's half of the
//! operations' protocol (see `crate::state::SchemaOp` for the whole).
//!
//! `update` and `delete` are refused unless the task exists, every named
//! source is one of its sources and no named subtask is reported running
//! (as DM: the definitions may only change under a paused subtask; the
//! operation takes effect when its sync starts again). The CREATE TABLE
//! text comes from the request (checked to be exactly one CREATE TABLE), or
//! from the source's upstream (`--from-source`), or from the routed
//! downstream table (`--from-target`, renamed to the upstream table). All
//! sources' operations are stored by one Raft command, or none.
//!
//! `list` reads the tracked definition in effect for each source from the
//! downstream (see [`crate::tracked_schema`]) and lists the operations
//! still held for that table.
//!
//! Heartbeats: every subtask assignment carries its held operations; a
//! report from the bound worker (current epoch and task generation) whose
//! `schemaOpsApplied` reaches a held id becomes `SchemaOpsApplied`.

use std::collections::BTreeMap;

use dm_proto::config::TaskConfig;
use dm_proto::pb;
use dm_proto::schema_op::{check_create_table, renamed_create_table};
use dm_proto::sql::qualified;
use dm_rules::TaskRules;

use crate::error::MasterError;
use crate::node::Node;
use crate::state::{ClusterState, Command, NewSchemaOp, Response as Applied};

fn answer(result: bool, msg: String) -> pb::OperateSchemaResponse {
    pb::OperateSchemaResponse {
        result,
        msg,
        sources: Vec::new(),
        pending: Vec::new(),
    }
}

/// `binlog-schema` / `operate-schema`.
pub async fn operate(
    node: &Node,
    req: pb::OperateSchemaRequest,
) -> Result<pb::OperateSchemaResponse, MasterError> {
    let op = match pb::SchemaOp::try_from(req.op) {
        Ok(
            op @ (pb::SchemaOp::GetSchema | pb::SchemaOp::SetSchema | pb::SchemaOp::RemoveSchema),
        ) => op,
        _ => {
            return Ok(answer(
                false,
                format!(
                "invalid operate '{}' on schema; valid: list (get), update (set), delete (remove)",
                req.op
            ),
            ))
        }
    };
    if let Err(msg) = check_request(op, &req) {
        return Ok(answer(false, msg));
    }
    let applied = node.read().await?;
    let state = &applied.state;
    let Some(entry) = state.tasks.get(&req.task) else {
        return Ok(answer(false, format!("task {} does not exist", req.task)));
    };
    let mut sources = req.sources.clone();
    sources.sort();
    sources.dedup();
    if let Some(unknown) = sources.iter().find(|s| !entry.stages.contains_key(*s)) {
        let known: Vec<&str> = entry.stages.keys().map(String::as_str).collect();
        return Ok(answer(
            false,
            format!(
                "source {unknown} is not part of task {}; its sources are {}",
                req.task,
                known.join(", ")
            ),
        ));
    }
    let task = match TaskConfig::parse("task", &entry.config_yaml) {
        Ok(t) => t,
        Err(e) => {
            return Ok(answer(
                false,
                format!("the stored task {} does not parse: {e}", req.task),
            ))
        }
    };
    if op == pb::SchemaOp::GetSchema {
        return Ok(list(node, state, &task, &sources, &req).await);
    }
    for source in &sources {
        let worker = worker_of(state, source);
        let running = node
            .liveness
            .subtask_report(&worker, source, &req.task)
            .filter(|r| r.generation == entry.created_at_ms)
            .is_some_and(|r| r.stage == pb::Stage::Running as i32);
        if running {
            return Ok(answer(
                false,
                format!(
                    "current stage of task {} on source {source} is Running but not paused, invalid: pause it first (`pause-task {} -s {source}`); the operation takes effect when it resumes",
                    req.task, req.task
                ),
            ));
        }
    }
    let mut ops = Vec::with_capacity(sources.len());
    for source in &sources {
        let create = if op == pb::SchemaOp::RemoveSchema {
            None
        } else {
            match definition_for(node, state, &task, source, &req).await {
                Ok(create) => Some(create),
                Err(msg) => return Ok(answer(false, msg)),
            }
        };
        ops.push(NewSchemaOp {
            source: source.clone(),
            schema: req.database.clone(),
            table: req.table.clone(),
            create,
        });
    }
    let command = Command::AddSchemaOps {
        task: req.task.clone(),
        ops,
    };
    let ids = match node.write(command).await? {
        Applied::SchemaOps { ids } => ids,
        Applied::Rejected(why) => return Ok(answer(false, why.to_string())),
        other => {
            return Err(MasterError::Raft(format!(
                "unexpected answer to a binlog-schema operation: {other:?}"
            )))
        }
    };
    let what = if op == pb::SchemaOp::RemoveSchema {
        "delete"
    } else {
        "update"
    };
    tracing::info!(task = %req.task, ?sources, database = %req.database, table = %req.table, ?ids, what, "binlog-schema operation held");
    let applied = node.state();
    Ok(pb::OperateSchemaResponse {
        result: true,
        msg: String::new(),
        sources: sources
            .iter()
            .zip(&ids)
            .map(|(source, id)| pb::CommonWorkerResponse {
                result: true,
                msg: format!(
                    "operation {id} ({what} {}) is held; the subtask applies it when its sync starts again (`resume-task {} -s {source}`)",
                    qualified(&req.database, &req.table),
                    req.task
                ),
                source: source.clone(),
                worker: worker_of(&applied.state, source),
            })
            .collect(),
        pending: pending(&applied.state, &req.task, &sources, &req.database, &req.table),
    })
}

/// The request's own consistency, before any state is read (DM's texts).
fn check_request(op: pb::SchemaOp, req: &pb::OperateSchemaRequest) -> Result<(), String> {
    if req.task.is_empty() {
        return Err("must specify a task".into());
    }
    if req.sources.is_empty() {
        return Err("must specify at least one source".into());
    }
    if req.database.is_empty() {
        return Err("must specify 'database'".into());
    }
    if req.table.is_empty() {
        return Err("must specify 'table'".into());
    }
    if op != pb::SchemaOp::SetSchema {
        return Ok(());
    }
    if req.from_source && req.from_target {
        return Err("from-source and from-target can not be used together".into());
    }
    let from_server = req.from_source || req.from_target;
    if from_server && !req.schema.is_empty() {
        return Err("can not set schema-file when use from-source or from-target".into());
    }
    if !from_server {
        if req.schema.trim().is_empty() {
            return Err("must specify a schema file (a CREATE TABLE statement), --from-source or --from-target for 'update' ('set')".into());
        }
        check_create_table(&req.schema).map_err(|e| format!("the schema {e}"))?;
    }
    Ok(())
}

/// The CREATE TABLE text `update` stores for `source`.
async fn definition_for(
    node: &Node,
    state: &ClusterState,
    task: &TaskConfig,
    source: &str,
    req: &pb::OperateSchemaRequest,
) -> Result<String, String> {
    let table = qualified(&req.database, &req.table);
    if req.from_source {
        let config = state
            .sources
            .get(source)
            .map(|s| &s.config)
            .ok_or_else(|| format!("source {source} does not exist"))?;
        return node
            .databases
            .upstream_create_table(config, &req.database, &req.table)
            .await
            .map_err(|e| format!("--from-source for source {source}: {e}"));
    }
    if req.from_target {
        let rules = TaskRules::for_source(task, source).map_err(|e| {
            format!(
                "--from-target: the rules of task {} for source {source}: {e}",
                task.name
            )
        })?;
        let (schema, routed) = rules
            .route(&req.database, &req.table)
            .map_err(|e| format!("--from-target: routing {table}: {e}"))?;
        let create = node
            .databases
            .downstream_create_table(task, &schema, &routed)
            .await
            .map_err(|e| {
                format!(
                    "--from-target for {table} (routed to {}): {e}",
                    qualified(&schema, &routed)
                )
            })?;
        return Ok(renamed_create_table(&create, &req.table));
    }
    Ok(req.schema.clone())
}

/// `list`: the tracked definition per source, and the held operations.
async fn list(
    node: &Node,
    state: &ClusterState,
    task: &TaskConfig,
    sources: &[String],
    req: &pb::OperateSchemaRequest,
) -> pb::OperateSchemaResponse {
    let mut per_source = Vec::with_capacity(sources.len());
    for source in sources {
        let (result, msg) = match node.databases.tracked_schema_state(task, source).await {
            Err(e) => (false, format!("cannot read the tracked schema: {e}")),
            Ok(None) => (
                false,
                format!(
                    "task {} has no tracked schema for source {source} yet: its worker records one with the sync's checkpoint",
                    task.name
                ),
            ),
            Ok(Some(text)) => match tracked_definition(&text, &req.database, &req.table) {
                Ok(Tracked::Found(create)) => (true, create),
                Ok(Tracked::NotTracked { schema_tables }) => (
                    false,
                    not_tracked(&task.name, source, &req.database, &req.table, &schema_tables),
                ),
                Err(e) => (
                    false,
                    format!("the tracked schema of task {} for source {source} is not readable: {e}", task.name),
                ),
            },
        };
        per_source.push(pb::CommonWorkerResponse {
            result,
            msg,
            source: source.clone(),
            worker: worker_of(state, source),
        });
    }
    pb::OperateSchemaResponse {
        result: true,
        msg: String::new(),
        sources: per_source,
        pending: pending(state, &task.name, sources, &req.database, &req.table),
    }
}

fn not_tracked(task: &str, source: &str, schema: &str, table: &str, others: &[String]) -> String {
    let table = qualified(schema, table);
    if others.is_empty() {
        format!("table {table} is not tracked by task {task} on source {source} (no table of schema `{schema}` is)")
    } else {
        format!(
            "table {table} is not tracked by task {task} on source {source}; tracked in `{schema}`: {}",
            others.join(", ")
        )
    }
}

/// What the tracked state says about one table.
#[derive(Debug, PartialEq, Eq)]
enum Tracked {
    Found(String),
    /// Not tracked; the tables of its schema that are.
    NotTracked {
        schema_tables: Vec<String>,
    },
}

/// Looks `schema`.`table` up in a persisted tracker state's `definitions`.
fn tracked_definition(state_json: &str, schema: &str, table: &str) -> Result<Tracked, String> {
    let state: serde_json::Value = serde_json::from_str(state_json).map_err(|e| e.to_string())?;
    let definitions: BTreeMap<String, BTreeMap<String, String>> = match state.get("definitions") {
        None | Some(serde_json::Value::Null) => BTreeMap::new(),
        Some(d) => serde_json::from_value(d.clone())
            .map_err(|e| format!("its `definitions` are not schema -> table -> text: {e}"))?,
    };
    let tables = definitions.get(schema);
    if let Some(create) = tables.and_then(|t| t.get(table)) {
        return Ok(Tracked::Found(create.clone()));
    }
    Ok(Tracked::NotTracked {
        schema_tables: tables
            .map(|t| t.keys().map(|name| format!("`{name}`")).collect())
            .unwrap_or_default(),
    })
}

/// The operations held for `sources` of `task` on `schema`.`table`.
fn pending(
    state: &ClusterState,
    task: &str,
    sources: &[String],
    schema: &str,
    table: &str,
) -> Vec<pb::PendingSchemaOperation> {
    sources
        .iter()
        .flat_map(|source| {
            state
                .schema_ops_of(task, source)
                .iter()
                .filter(|op| op.schema == schema && op.table == table)
                .map(move |op| pb::PendingSchemaOperation {
                    id: op.id,
                    source: source.clone(),
                    database: op.schema.clone(),
                    table: op.table.clone(),
                    op: if op.create.is_some() {
                        "update"
                    } else {
                        "delete"
                    }
                    .into(),
                    create_sql: op.create.clone().unwrap_or_default(),
                })
        })
        .collect()
}

fn worker_of(state: &ClusterState, source: &str) -> String {
    state
        .bindings
        .get(source)
        .map(|b| b.worker.clone())
        .unwrap_or_default()
}

/// The operations for `source` of `task` in a heartbeat answer.
pub fn operations_for(state: &ClusterState, task: &str, source: &str) -> Vec<pb::SchemaOperation> {
    state
        .schema_ops_of(task, source)
        .iter()
        .map(|op| pb::SchemaOperation {
            id: op.id,
            database: op.schema.clone(),
            table: op.table.clone(),
            create_sql: op.create.clone().unwrap_or_default(),
            delete: op.create.is_none(),
        })
        .collect()
}

/// The commands a worker's heartbeat calls for (pure): a subtask of a
/// source bound to it under the reported epoch, of the task's current
/// generation, that applied a held operation.
pub fn commands_for_reports(
    state: &ClusterState,
    worker: &str,
    sources: &[pb::SourceReport],
) -> Vec<Command> {
    super::reports::current(state, worker, sources)
        .filter(|(source, sub)| {
            state
                .schema_ops_of(&sub.task, source)
                .first()
                .is_some_and(|op| op.id <= sub.schema_ops_applied)
        })
        .map(|(source, sub)| Command::SchemaOpsApplied {
            task: sub.task.clone(),
            source: source.to_string(),
            applied: sub.schema_ops_applied,
        })
        .collect()
}

/// Proposes what `sources` (one worker's heartbeat) call for.
pub async fn apply_reports(node: &Node, worker: &str, sources: &[pb::SourceReport]) {
    let commands = commands_for_reports(&node.state().state, worker, sources);
    for command in commands {
        match node.write(command.clone()).await {
            Ok(_) => tracing::info!(%worker, ?command, "binlog-schema operations applied"),
            Err(e) => tracing::warn!(%worker, error = %e, "binlog-schema report not applied"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TaskStage;
    use dm_proto::config::SourceConfig;

    fn request(op: pb::SchemaOp) -> pb::OperateSchemaRequest {
        pb::OperateSchemaRequest {
            op: op as i32,
            task: "t".into(),
            sources: vec!["s1".into()],
            database: "db".into(),
            table: "tb".into(),
            schema: String::new(),
            flush: true,
            sync: true,
            from_source: false,
            from_target: false,
        }
    }

    #[test]
    fn a_request_says_what_it_lacks_or_mixes() {
        let get = request(pb::SchemaOp::GetSchema);
        assert_eq!(check_request(pb::SchemaOp::GetSchema, &get), Ok(()));
        let no_source = pb::OperateSchemaRequest {
            sources: vec![],
            ..get.clone()
        };
        assert_eq!(
            check_request(pb::SchemaOp::GetSchema, &no_source),
            Err("must specify at least one source".into())
        );
        let set = request(pb::SchemaOp::SetSchema);
        assert!(check_request(pb::SchemaOp::SetSchema, &set)
            .is_err_and(|e| e.starts_with("must specify a schema file")));
        let both = pb::OperateSchemaRequest {
            from_source: true,
            from_target: true,
            ..set.clone()
        };
        assert_eq!(
            check_request(pb::SchemaOp::SetSchema, &both),
            Err("from-source and from-target can not be used together".into())
        );
        let file_and_source = pb::OperateSchemaRequest {
            from_source: true,
            schema: "CREATE TABLE tb (id INT)".into(),
            ..set.clone()
        };
        assert_eq!(
            check_request(pb::SchemaOp::SetSchema, &file_and_source),
            Err("can not set schema-file when use from-source or from-target".into())
        );
        let not_create = pb::OperateSchemaRequest {
            schema: "DROP TABLE tb".into(),
            ..set.clone()
        };
        assert!(check_request(pb::SchemaOp::SetSchema, &not_create)
            .is_err_and(|e| e.starts_with("the schema is not a CREATE TABLE statement")));
        let good = pb::OperateSchemaRequest {
            schema: "CREATE TABLE tb (id INT)".into(),
            ..set
        };
        assert_eq!(check_request(pb::SchemaOp::SetSchema, &good), Ok(()));
    }

    #[test]
    fn the_tracked_definition_is_read_from_the_state_json() {
        let state = r#"{"version":1,"definitions":{"db":{"tb":"CREATE TABLE `tb` (`id` int)","other":"CREATE TABLE `other` (`x` int)"}}}"#;
        assert_eq!(
            tracked_definition(state, "db", "tb"),
            Ok(Tracked::Found("CREATE TABLE `tb` (`id` int)".into()))
        );
        assert_eq!(
            tracked_definition(state, "db", "nope"),
            Ok(Tracked::NotTracked {
                schema_tables: vec!["`other`".into(), "`tb`".into()]
            })
        );
        assert_eq!(
            tracked_definition(state, "db2", "tb"),
            Ok(Tracked::NotTracked {
                schema_tables: vec![]
            })
        );
        assert_eq!(
            tracked_definition("{}", "db", "tb"),
            Ok(Tracked::NotTracked {
                schema_tables: vec![]
            })
        );
        assert!(tracked_definition("not json", "db", "tb").is_err());
        assert!(tracked_definition(r#"{"definitions":[1]}"#, "db", "tb").is_err());
    }

    /// Source s1 in task t (generation 2), bound to w1 under epoch 1; two
    /// operations held.
    fn state() -> ClusterState {
        let mut state = ClusterState::default();
        let text = "source-id: s1\nfrom:\n  host: 127.0.0.1\n  user: root\n";
        let config = SourceConfig::parse("s.yaml", text).expect("valid source");
        for command in [
            Command::CreateSource {
                config: Box::new(config),
            },
            Command::RegisterWorker {
                name: "w1".into(),
                addr: "w1:1".into(),
                keepalive_ttl_ms: 0,
                config: String::new(),
            },
            Command::Bind {
                source: "s1".into(),
                worker: "w1".into(),
            },
        ] {
            state.apply(&command, 1);
        }
        state.apply(
            &Command::StartTask {
                name: "t".into(),
                config_yaml: "name: t".into(),
                sources: vec!["s1".into()],
                stage: TaskStage::Paused,
                start_time: String::new(),
            },
            2,
        );
        let op = |create: Option<&str>| NewSchemaOp {
            source: "s1".into(),
            schema: "db".into(),
            table: "tb".into(),
            create: create.map(str::to_string),
        };
        state.apply(
            &Command::AddSchemaOps {
                task: "t".into(),
                ops: vec![op(Some("CREATE TABLE tb (id INT)")), op(None)],
            },
            3,
        );
        state
    }

    fn report(epoch: u64, generation: u64, applied: u64) -> pb::SourceReport {
        pb::SourceReport {
            source: "s1".into(),
            epoch,
            subtasks: vec![pb::SubtaskReport {
                task: "t".into(),
                generation,
                schema_ops_applied: applied,
                ..Default::default()
            }],
            fenced: false,
        }
    }

    #[test]
    fn held_operations_go_to_the_bound_worker_until_it_reports_them_applied() {
        let mut state = state();
        let ops = operations_for(&state, "t", "s1");
        assert_eq!(
            ops,
            [
                pb::SchemaOperation {
                    id: 1,
                    database: "db".into(),
                    table: "tb".into(),
                    create_sql: "CREATE TABLE tb (id INT)".into(),
                    delete: false,
                },
                pb::SchemaOperation {
                    id: 2,
                    database: "db".into(),
                    table: "tb".into(),
                    create_sql: String::new(),
                    delete: true,
                },
            ]
        );
        // Nothing applied yet, a stale epoch, an old generation, another
        // worker: no news.
        assert!(commands_for_reports(&state, "w1", &[report(1, 2, 0)]).is_empty());
        assert!(commands_for_reports(&state, "w1", &[report(9, 2, 2)]).is_empty());
        assert!(commands_for_reports(&state, "w1", &[report(1, 7, 2)]).is_empty());
        assert!(commands_for_reports(&state, "w2", &[report(1, 2, 2)]).is_empty());
        let news = commands_for_reports(&state, "w1", &[report(1, 2, 1)]);
        assert_eq!(
            news,
            [Command::SchemaOpsApplied {
                task: "t".into(),
                source: "s1".into(),
                applied: 1
            }]
        );
        for c in news {
            assert_eq!(state.apply(&c, 4), Applied::Done);
        }
        assert_eq!(
            operations_for(&state, "t", "s1")
                .iter()
                .map(|o| o.id)
                .collect::<Vec<_>>(),
            [2]
        );
        // The same report again is no news.
        assert!(commands_for_reports(&state, "w1", &[report(1, 2, 1)]).is_empty());
        for c in commands_for_reports(&state, "w1", &[report(1, 2, 2)]) {
            state.apply(&c, 5);
        }
        assert!(operations_for(&state, "t", "s1").is_empty());
        assert!(pending(&state, "t", &["s1".into()], "db", "tb").is_empty());
    }

    #[test]
    fn pending_lists_the_held_operations_of_one_table() {
        let state = state();
        let listed = pending(&state, "t", &["s1".into()], "db", "tb");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].op, "update");
        assert_eq!(listed[0].create_sql, "CREATE TABLE tb (id INT)");
        assert_eq!(listed[1].op, "delete");
        assert!(pending(&state, "t", &["s1".into()], "db", "other").is_empty());
    }
}
