//! `operate-source create|stop|show` and `get-config`.

use dm_proto::config::{SourceConfig, TaskConfig};
use dm_proto::pb;

use crate::error::MasterError;
use crate::node::Node;
use crate::state::{Command, Response};

/// DM's answer to `operate-source update`.
const UPDATE_UNSUPPORTED: &str = "updating a source is not supported; stop it and create it again";

pub async fn operate(
    node: &Node,
    req: pb::OperateSourceRequest,
) -> Result<pb::OperateSourceResponse, MasterError> {
    match pb::SourceOp::try_from(req.op) {
        Ok(pb::SourceOp::StartSource) => create(node, &req.config).await,
        Ok(pb::SourceOp::StopSource) => {
            let mut ids = req.source_id;
            for (i, text) in req.config.iter().enumerate() {
                let source = SourceConfig::parse(&format!("source config #{}", i + 1), text)
                    .map_err(|e| MasterError::InvalidRequest(e.to_string()))?;
                ids.push(source.source_id);
            }
            stop(node, ids).await
        }
        Ok(pb::SourceOp::ShowSource) => show(node, &req.source_id).await,
        Ok(pb::SourceOp::UpdateSource) => Ok(pb::OperateSourceResponse {
            result: false,
            msg: UPDATE_UNSUPPORTED.into(),
            sources: Vec::new(),
        }),
        _ => Err(MasterError::InvalidRequest(format!(
            "unknown operate-source op {}; use create, stop or show",
            req.op
        ))),
    }
}

fn entry(result: bool, msg: String, source: String, worker: String) -> pb::CommonWorkerResponse {
    pb::CommonWorkerResponse {
        result,
        msg,
        source,
        worker,
    }
}

/// Every file is validated and every upstream checked before any source is
/// stored: one bad file stores nothing.
async fn create(node: &Node, texts: &[String]) -> Result<pb::OperateSourceResponse, MasterError> {
    if texts.is_empty() {
        return Err(MasterError::InvalidRequest(
            "operate-source create needs at least one source file".into(),
        ));
    }
    // Before the upstream is logged in to with a password it decrypts.
    if let Some(why) = super::key_check::ensure(node).await? {
        return Ok(pb::OperateSourceResponse {
            result: false,
            msg: why.to_string(),
            sources: Vec::new(),
        });
    }
    let mut configs = Vec::new();
    let mut failures = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        match SourceConfig::parse(&format!("source config #{}", i + 1), text) {
            Ok(config) => match dm_rules::source_filters(&config.filters, config.case_sensitive) {
                Ok(_) => configs.push(config),
                Err(e) => failures.push(entry(
                    false,
                    format!("source config #{}: {e}", i + 1),
                    config.source_id.clone(),
                    String::new(),
                )),
            },
            Err(e) => failures.push(entry(false, e.to_string(), String::new(), String::new())),
        }
    }
    for config in &configs {
        if let Err(e) = node.databases.check_upstream(config).await {
            failures.push(entry(
                false,
                e.to_string(),
                config.source_id.clone(),
                String::new(),
            ));
        }
    }
    if !failures.is_empty() {
        return Ok(pb::OperateSourceResponse {
            result: false,
            msg: "no source was created".into(),
            sources: failures,
        });
    }
    let commands = configs
        .into_iter()
        .map(|mut config| {
            let id = config.source_id.clone();
            // Kept encrypted in the Raft log and state (`config::at_rest`).
            config.from = config.from.encrypted();
            let command = Command::CreateSource {
                config: Box::new(config),
            };
            (id, command)
        })
        .collect();
    write_each(node, commands, "source created").await
}

/// Writes one command per source, in order, and answers per source in DM's
/// shape (`result` is true only when every command was applied).
async fn write_each(
    node: &Node,
    commands: Vec<(String, Command)>,
    applied: &str,
) -> Result<pb::OperateSourceResponse, MasterError> {
    let mut result = true;
    let mut sources = Vec::new();
    for (id, command) in commands {
        match node.write(command).await? {
            Response::Rejected(why) => {
                result = false;
                sources.push(entry(false, why.to_string(), id, String::new()));
            }
            _ => {
                tracing::info!(source = %id, "{applied}");
                sources.push(entry(true, String::new(), id, String::new()));
            }
        }
    }
    Ok(pb::OperateSourceResponse {
        result,
        msg: String::new(),
        sources,
    })
}

async fn stop(node: &Node, ids: Vec<String>) -> Result<pb::OperateSourceResponse, MasterError> {
    if ids.is_empty() {
        return Err(MasterError::InvalidRequest(
            "operate-source stop needs source files or source ids".into(),
        ));
    }
    let commands = ids
        .into_iter()
        .map(|id| {
            let command = Command::RemoveSource {
                source_id: id.clone(),
            };
            (id, command)
        })
        .collect();
    write_each(node, commands, "source stopped").await
}

async fn show(node: &Node, ids: &[String]) -> Result<pb::OperateSourceResponse, MasterError> {
    let applied = node.read().await?;
    let state = &applied.state;
    let mut result = true;
    let mut sources = Vec::new();
    let selected: Vec<String> = if ids.is_empty() {
        state.sources.keys().cloned().collect()
    } else {
        ids.to_vec()
    };
    for id in selected {
        if !state.sources.contains_key(&id) {
            result = false;
            sources.push(entry(
                false,
                format!("source {id} does not exist"),
                id,
                String::new(),
            ));
            continue;
        }
        let (msg, worker) = match state.bindings.get(&id) {
            Some(binding) => (String::new(), binding.worker.clone()),
            None => (
                "source is added but there is no free worker to bound".to_string(),
                String::new(),
            ),
        };
        sources.push(entry(true, msg, id, worker));
    }
    Ok(pb::OperateSourceResponse {
        result,
        msg: String::new(),
        sources,
    })
}

/// `get-config task|source NAME`, passwords masked.
pub async fn get_config(
    node: &Node,
    req: pb::GetCfgRequest,
) -> Result<pb::GetCfgResponse, MasterError> {
    let applied = node.read().await?;
    let state = &applied.state;
    let found = match pb::CfgType::try_from(req.r#type) {
        Ok(pb::CfgType::SourceType) => state.sources.get(&req.name).map(|entry| {
            let mut config = entry.config.clone();
            config.from = config.from.masked();
            config.to_yaml()
        }),
        Ok(pb::CfgType::TaskType) => state.tasks.get(&req.name).map(|entry| {
            TaskConfig::parse(&req.name, &entry.config_yaml).and_then(|mut task| {
                task.target_database = task.target_database.masked();
                task.to_yaml()
            })
        }),
        _ => return Err(MasterError::Unsupported("get-config of this kind")),
    };
    Ok(match found {
        Some(Ok(cfg)) => pb::GetCfgResponse {
            result: true,
            msg: String::new(),
            cfg,
        },
        Some(Err(e)) => pb::GetCfgResponse {
            result: false,
            msg: e.to_string(),
            cfg: String::new(),
        },
        None => pb::GetCfgResponse {
            result: false,
            msg: format!("{} does not exist", req.name),
            cfg: String::new(),
        },
    })
}
