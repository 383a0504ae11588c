//! `get-config master NAME` and `get-config worker NAME`: a member's
//! running configuration as TOML, as DM answers them.
//!
//! A master's configuration lives in that master only: the master dmctl
//! reached answers for itself; for another name it asks that master (found
//! in the Raft membership), once: a request marked forwarded is never sent
//! on, so two masters cannot bounce it between them. A worker sends its
//! configuration (passwords masked) when it registers and the masters keep
//! it with the worker's entry in the replicated state, so any leader
//! answers for any worker, running or not.

use dm_proto::pb;
use dm_proto::pb::master_client::MasterClient;

use super::mark_forwarded;
use crate::error::MasterError;
use crate::node::Node;

fn answer(result: Result<String, String>) -> pb::GetCfgResponse {
    match result {
        Ok(cfg) => pb::GetCfgResponse {
            result: true,
            msg: String::new(),
            cfg,
        },
        Err(msg) => pb::GetCfgResponse {
            result: false,
            msg,
            cfg: String::new(),
        },
    }
}

/// `get-config master NAME`, answered here or by master NAME.
pub async fn master(node: &Node, name: &str, forwarded: bool) -> pb::GetCfgResponse {
    if name == node.me.name {
        return answer(Ok(node.running_config.clone()));
    }
    if forwarded {
        return answer(Err(format!("master {name} not found")));
    }
    let metrics = node.raft.metrics().borrow().clone();
    let target = metrics
        .membership_config
        .membership()
        .nodes()
        .find(|(_, n)| n.name == name)
        .map(|(_, n)| n.client_or_peer_addr().to_string());
    let Some(addr) = target else {
        return answer(Err(format!("master {name} not found")));
    };
    let channel = match node.connector.channel(&addr) {
        Ok(channel) => channel,
        Err(e) => return answer(Err(format!("master {name} at {addr}: {e}"))),
    };
    let mut request = tonic::Request::new(pb::GetCfgRequest {
        r#type: pb::CfgType::MasterType as i32,
        name: name.to_string(),
    });
    mark_forwarded(&mut request);
    match MasterClient::new(channel).get_cfg(request).await {
        Ok(reply) => reply.into_inner(),
        Err(status) => answer(Err(format!(
            "master {name} at {addr}: {}",
            status.message()
        ))),
    }
}

/// `get-config worker NAME`, from the replicated state (served by the leader).
pub async fn worker(node: &Node, name: &str) -> Result<pb::GetCfgResponse, MasterError> {
    let applied = node.read().await?;
    Ok(answer(match applied.state.workers.get(name) {
        None => Err(format!("worker {name} not found")),
        Some(entry) if entry.config.is_empty() => Err(format!(
            "worker {name} did not send its configuration when it registered (an older version); restart it to show it"
        )),
        Some(entry) => Ok(entry.config.clone()),
    }))
}
