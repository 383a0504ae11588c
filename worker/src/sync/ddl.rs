//! DDL from the binlog: classified, filtered and routed with the task's
//! rules, parsed with sqlparser (MySQL dialect) so names are rewritten in
//! the statement's syntax tree, never by text substitution.
//!
//! Statements that are not schema changes (`GRANT`, `CREATE USER`,
//! `FLUSH`, ...) are skipped, as DM does. A schema change that does not
//! parse pauses the subtask with the statement and the parser's error.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart, ObjectType, SchemaName, Statement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::{SyncError, SyncJob};
use crate::downstream::DownstreamError;
use crate::rules::{is_system_schema, Action, EventKind, TaskRules};

/// What to do with a DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdlPlan {
    Skip(&'static str),
    /// Statements to run downstream, names routed and qualified.
    Apply(Vec<PlannedDdl>),
}

/// One statement to run downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDdl {
    pub sql: String,
    pub kind: EventKind,
    /// The (routed) table a table-level statement changes first.
    pub table: Option<(String, String)>,
    /// That table's upstream name.
    pub source_table: Option<(String, String)>,
}

impl DdlPlan {
    /// The statements' text.
    pub fn statements(&self) -> Vec<String> {
        match self {
            DdlPlan::Skip(_) => Vec::new(),
            DdlPlan::Apply(s) => s.iter().map(|p| p.sql.clone()).collect(),
        }
    }
}

/// Server errors that a replayed DDL meets when it was already applied.
const ALREADY_APPLIED: &[u16] = &[1007, 1008, 1050, 1051, 1060, 1061, 1091];

/// Applies a DDL read at `schema` (the statement's default database).
pub async fn apply(job: &SyncJob, schema: &str, sql: &str) -> Result<(), SyncError> {
    let plan = plan(&job.rules, schema, sql).map_err(|error| SyncError::Ddl {
        sql: sql.to_string(),
        error,
    })?;
    execute(job, &plan.statements()).await
}

/// Runs routed DDL statements downstream; an "already exists / already
/// dropped" error means a replay and counts as applied.
pub async fn execute(job: &SyncJob, statements: &[String]) -> Result<(), SyncError> {
    for statement in statements.iter().cloned() {
        match job.downstream.execute(&statement).await {
            Ok(()) => {
                tracing::info!(task = %job.task, source = %job.source, ddl = %statement, "DDL applied")
            }
            Err(DownstreamError::Database {
                source: mysql_async::Error::Server(e),
                ..
            }) if ALREADY_APPLIED.contains(&e.code) => {
                tracing::info!(task = %job.task, source = %job.source, ddl = %statement, reason = %e.message,
                    "DDL already applied downstream (replayed)");
            }
            Err(e @ DownstreamError::Database { .. }) if e.is_transient() => return Err(e.into()),
            Err(e) => {
                return Err(SyncError::Ddl {
                    sql: statement,
                    error: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

/// Decides about one DDL (pure).
pub fn plan(rules: &TaskRules, schema: &str, sql: &str) -> Result<DdlPlan, String> {
    let statements = match Parser::parse_sql(&MySqlDialect {}, sql) {
        Ok(s) => s,
        Err(e) if is_schema_change(sql) => return Err(e.to_string()),
        Err(_) => return Ok(DdlPlan::Skip("not a schema change")),
    };
    let mut out = Vec::new();
    let mut filtered = false;
    for mut statement in statements {
        match route_statement(rules, schema, sql, &mut statement)? {
            Routed::Apply {
                kind,
                table,
                source_table,
            } => out.push(PlannedDdl {
                sql: statement.to_string(),
                kind,
                table,
                source_table,
            }),
            Routed::Filtered => filtered = true,
            Routed::NotDdl => {}
        }
    }
    if !out.is_empty() {
        Ok(DdlPlan::Apply(out))
    } else if filtered {
        Ok(DdlPlan::Skip("filtered by the task's rules"))
    } else {
        Ok(DdlPlan::Skip("not a schema change"))
    }
}

/// Whether the text starts like a DDL we must understand.
fn is_schema_change(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    let first = words.first().map(String::as_str).unwrap_or_default();
    matches!(first, "ALTER" | "RENAME" | "TRUNCATE")
        || (matches!(first, "CREATE" | "DROP")
            && words.iter().skip(1).any(|w| {
                matches!(
                    w.as_str(),
                    "TABLE" | "DATABASE" | "SCHEMA" | "INDEX" | "UNIQUE" | "TEMPORARY"
                )
            }))
}

/// A table-level or schema-level name in a statement.
enum Target<'a> {
    Table(&'a mut ObjectName),
    Schema(&'a mut ObjectName),
}

/// What became of one statement.
enum Routed {
    Apply {
        kind: EventKind,
        table: Option<(String, String)>,
        source_table: Option<(String, String)>,
    },
    Filtered,
    NotDdl,
}

/// Filters and routes one statement in place.
fn route_statement(
    rules: &TaskRules,
    default_schema: &str,
    sql: &str,
    statement: &mut Statement,
) -> Result<Routed, String> {
    let (kind, targets): (EventKind, Vec<Target<'_>>) = match statement {
        Statement::CreateTable(ct) => (EventKind::CreateTable, vec![Target::Table(&mut ct.name)]),
        Statement::AlterTable(at) => (EventKind::AlterTable, vec![Target::Table(&mut at.name)]),
        Statement::CreateIndex(ci) => (
            EventKind::CreateIndex,
            vec![Target::Table(&mut ci.table_name)],
        ),
        Statement::Truncate(t) => (
            EventKind::TruncateTable,
            t.table_names
                .iter_mut()
                .map(|n| Target::Table(&mut n.name))
                .collect(),
        ),
        Statement::RenameTable(renames) => (
            EventKind::RenameTable,
            renames
                .iter_mut()
                .flat_map(|r| {
                    [
                        Target::Table(&mut r.old_name),
                        Target::Table(&mut r.new_name),
                    ]
                })
                .collect(),
        ),
        Statement::Drop {
            object_type,
            names,
            table,
            ..
        } => match object_type {
            ObjectType::Table => (
                EventKind::DropTable,
                names.iter_mut().map(Target::Table).collect(),
            ),
            ObjectType::View => (
                EventKind::DropView,
                names.iter_mut().map(Target::Table).collect(),
            ),
            ObjectType::Index => match table {
                Some(t) => (EventKind::DropIndex, vec![Target::Table(t)]),
                None => return Ok(Routed::NotDdl),
            },
            ObjectType::Schema | ObjectType::Database => (
                EventKind::DropDatabase,
                names.iter_mut().map(Target::Schema).collect(),
            ),
            _ => return Ok(Routed::NotDdl),
        },
        Statement::CreateDatabase { db_name, .. } => {
            (EventKind::CreateDatabase, vec![Target::Schema(db_name)])
        }
        Statement::CreateSchema {
            schema_name: SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _),
            ..
        } => (EventKind::CreateDatabase, vec![Target::Schema(name)]),
        _ => return Ok(Routed::NotDdl),
    };
    if targets.is_empty() {
        return Ok(Routed::NotDdl);
    }
    let mut first_table = None;
    let mut first_source = None;
    for target in targets {
        match target {
            Target::Table(name) => {
                let (schema, table) = split(name, default_schema)?;
                if is_system_schema(&schema)
                    || !rules.block_allow.allows(&schema, &table)
                    || rules.binlog_filter.decide(&schema, &table, kind, Some(sql))
                        == Action::Ignore
                {
                    return Ok(Routed::Filtered);
                }
                let (to_schema, to_table) = rules
                    .router
                    .route(&schema, &table)
                    .map_err(|e| e.to_string())?;
                *name = ObjectName::from(vec![quoted(&to_schema), quoted(&to_table)]);
                first_table.get_or_insert((to_schema, to_table));
                first_source.get_or_insert((schema, table));
            }
            Target::Schema(name) => {
                let schema = last_part(name)?;
                if is_system_schema(&schema)
                    || !rules.block_allow.allows_schema(&schema)
                    || rules.binlog_filter.decide(&schema, "", kind, Some(sql)) == Action::Ignore
                {
                    return Ok(Routed::Filtered);
                }
                let (to_schema, _) = rules.router.route(&schema, "").map_err(|e| e.to_string())?;
                *name = ObjectName::from(vec![quoted(&to_schema)]);
            }
        }
    }
    Ok(Routed::Apply {
        kind,
        table: first_table,
        source_table: first_source,
    })
}

fn quoted(name: &str) -> Ident {
    Ident::with_quote('`', name)
}

fn part(p: &ObjectNamePart) -> Result<String, String> {
    match p {
        ObjectNamePart::Identifier(ident) => Ok(ident.value.clone()),
        other => Err(format!("unsupported name part {other}")),
    }
}

fn last_part(name: &ObjectName) -> Result<String, String> {
    name.0
        .last()
        .map(part)
        .transpose()?
        .ok_or_else(|| "empty name".to_string())
}

/// (schema, table) of a possibly unqualified name.
fn split(name: &ObjectName, default_schema: &str) -> Result<(String, String), String> {
    match name.0.as_slice() {
        [table] => Ok((default_schema.to_string(), part(table)?)),
        [schema, table] => Ok((part(schema)?, part(table)?)),
        _ => Err(format!("unexpected name {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_proto::config::TaskConfig;

    fn rules() -> TaskRules {
        let task = TaskConfig::parse(
            "t.yaml",
            r#"
name: t
task-mode: all
target-database: {host: "127.0.0.1", port: 4000, user: "root"}
mysql-instances:
  - source-id: "s1"
    block-allow-list: "only-app"
    route-rules: ["merge"]
    filter-rules: ["no-truncate"]
block-allow-list:
  only-app:
    do-dbs: ["app*"]
routes:
  merge:
    schema-pattern: "app*"
    table-pattern: "t*"
    target-schema: "merged"
    target-table: "t"
filters:
  no-truncate:
    schema-pattern: "app*"
    events: ["truncate table"]
    action: Ignore
"#,
        )
        .unwrap();
        TaskRules::for_source(&task, "s1").unwrap()
    }

    fn apply(sql: &str) -> DdlPlan {
        DdlPlan::Apply(vec![PlannedDdl {
            sql: sql.into(),
            kind: EventKind::Unclassified,
            table: None,
            source_table: None,
        }])
    }

    #[test]
    fn ddls_are_routed_filtered_or_refused() {
        let r = rules();
        let cases: &[(&str, &str, Result<DdlPlan, ()>)] = &[
            (
                "app1",
                "ALTER TABLE t1 ADD COLUMN c2 INT",
                Ok(apply("ALTER TABLE `merged`.`t` ADD COLUMN c2 INT")),
            ),
            (
                "other",
                "CREATE TABLE app2.t7 (id INT PRIMARY KEY)",
                Ok(apply("CREATE TABLE `merged`.`t` (id INT PRIMARY KEY)")),
            ),
            (
                "app1",
                "DROP TABLE IF EXISTS `x` /* generated by server */",
                Ok(apply("DROP TABLE IF EXISTS `app1`.`x`")),
            ),
            (
                "app1",
                "TRUNCATE TABLE t1",
                Ok(DdlPlan::Skip("filtered by the task's rules")),
            ),
            (
                "other",
                "CREATE TABLE t1 (id INT)",
                Ok(DdlPlan::Skip("filtered by the task's rules")),
            ),
            (
                "app1",
                "GRANT ALL ON *.* TO 'u'@'%'",
                Ok(DdlPlan::Skip("not a schema change")),
            ),
            ("app1", "CREATE TABLE t1 (id INT", Err(())),
        ];
        for (schema, sql, expected) in cases {
            let got = plan(&r, schema, sql).map_err(|_| ()).map(|p| match p {
                DdlPlan::Apply(_) => DdlPlan::Apply(
                    p.statements()
                        .into_iter()
                        .map(|sql| PlannedDdl {
                            sql,
                            kind: EventKind::Unclassified,
                            table: None,
                            source_table: None,
                        })
                        .collect(),
                ),
                skip => skip,
            });
            assert_eq!(&got, expected, "{sql}");
        }
    }
}
