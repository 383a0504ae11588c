//! `config export` and `config import`'s first step.
//!
//! Export answers, from the leader's applied Raft state, every source and
//! task as the files `operate-source create` and `start-task` take (the
//! `get-config` writers; non-empty passwords encrypted as DM's `dmctl
//! encrypt` writes them, so the files import as they are and the text is
//! never plain), each task's expected stage per source, and the next
//! binding epoch.
//!
//! Import creates sources and starts tasks through the ordinary requests;
//! its one request of its own, `PrepareImport`, is a replicated command so
//! that "the cluster is empty" and "raise the epochs" are decided together.
//! The epochs matter because the downstream keeps the exporting cluster's
//! fence rows (the largest epoch that wrote each source): a new cluster
//! counting epochs from 1 would be fenced out of its own checkpoints.

use dm_proto::config::TaskConfig;
use dm_proto::pb;

use crate::error::MasterError;
use crate::node::Node;
use crate::state::{ClusterState, Command, Response, TaskStage};

/// Every source and task of the cluster, passwords encrypted.
pub async fn export(node: &Node) -> Result<pb::ExportConfigsResponse, MasterError> {
    let applied = node.read().await?;
    if let Some(why) = super::key_check::mismatch(&applied.state) {
        return Ok(pb::ExportConfigsResponse {
            result: false,
            msg: why.to_string(),
            ..Default::default()
        });
    }
    Ok(exported(&applied.state))
}

/// [`export`]'s answer from a state (pure).
pub fn exported(state: &ClusterState) -> pb::ExportConfigsResponse {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for (id, entry) in &state.sources {
        let mut config = entry.config.clone();
        config.from = config.from.encrypted();
        match config.to_yaml() {
            Ok(config) => sources.push(pb::ExportedSource {
                source_id: id.clone(),
                config,
            }),
            Err(e) => problems.push(format!("source {id}: {e}")),
        }
    }
    let mut tasks = Vec::new();
    for (name, entry) in &state.tasks {
        let yaml = TaskConfig::parse(name, &entry.config_yaml).and_then(|mut task| {
            task.target_database = task.target_database.encrypted();
            task.to_yaml()
        });
        match yaml {
            Ok(config) => tasks.push(pb::ExportedTask {
                name: name.clone(),
                config,
                stages: entry
                    .stages
                    .iter()
                    .map(|(source, stage)| pb::ExportedSubtaskStage {
                        source: source.clone(),
                        stage: stage_name(*stage).to_string(),
                    })
                    .collect(),
            }),
            Err(e) => problems.push(format!("task {name}: {e}")),
        }
    }
    pb::ExportConfigsResponse {
        result: problems.is_empty(),
        msg: problems.join("; "),
        sources,
        tasks,
        next_epoch: state.next_epoch,
    }
}

/// The stage names the export writes (DM's `Running` / `Paused`).
pub fn stage_name(stage: TaskStage) -> &'static str {
    match stage {
        TaskStage::Running => "Running",
        TaskStage::Paused => "Paused",
    }
}

/// Refused unless the cluster is empty; raises the epochs to the floor.
pub async fn prepare_import(
    node: &Node,
    req: pb::PrepareImportRequest,
) -> Result<pb::PrepareImportResponse, MasterError> {
    if let Some(why) = super::key_check::ensure(node).await? {
        return Ok(pb::PrepareImportResponse {
            result: false,
            msg: why.to_string(),
        });
    }
    let command = Command::PrepareImport {
        epoch_floor: req.epoch_floor,
    };
    Ok(match node.write(command).await? {
        Response::Rejected(why) => pb::PrepareImportResponse {
            result: false,
            msg: why.to_string(),
        },
        _ => {
            tracing::info!(epoch_floor = req.epoch_floor, "prepared for config import");
            pb::PrepareImportResponse {
                result: true,
                msg: String::new(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{SourceEntry, TaskEntry};
    use dm_proto::config::SourceConfig;

    #[test]
    fn an_export_encrypts_passwords_and_keeps_the_stages() {
        let mut state = ClusterState::default();
        let source = SourceConfig::parse(
            "s.yaml",
            "source-id: mysql1\nfrom:\n  host: 127.0.0.1\n  port: 3307\n  user: root\n  password: upstream-secret\n",
        )
        .expect("source");
        state.sources.insert(
            "mysql1".into(),
            SourceEntry {
                config: source,
                created_at_ms: 1,
            },
        );
        state.tasks.insert(
            "t".into(),
            TaskEntry {
                config_yaml: "name: t\ntask-mode: all\ntarget-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  password: downstream-secret\nmysql-instances:\n  - source-id: mysql1\n    block-allow-list: a\nblock-allow-list:\n  a:\n    do-dbs: [app]\n".into(),
                stages: [("mysql1".to_string(), TaskStage::Paused)].into(),
                created_at_ms: 1,
                resumes: Default::default(),
                start_time: String::new(),
            },
        );
        state.next_epoch = 5;
        let answer = exported(&state);
        assert!(answer.result, "{}", answer.msg);
        assert_eq!(answer.next_epoch, 5);
        assert_eq!(answer.sources.len(), 1);
        assert!(!answer.sources[0].config.contains("upstream-secret"));
        assert!(!answer.tasks[0].config.contains("downstream-secret"));
        let source = SourceConfig::parse("exported", &answer.sources[0].config).expect("parses");
        assert!(source.from.password_is_encrypted());
        assert_eq!(source.from.login_password(), "upstream-secret");
        let task = TaskConfig::parse("exported", &answer.tasks[0].config).expect("parses");
        assert!(task.target_database.password_is_encrypted());
        assert_eq!(task.target_database.login_password(), "downstream-secret");
        assert_eq!(
            answer.tasks[0].stages,
            vec![pb::ExportedSubtaskStage {
                source: "mysql1".into(),
                stage: "Paused".into(),
            }]
        );
    }
}
