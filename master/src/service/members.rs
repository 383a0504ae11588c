//! `list-member` and `offline-member`.
//!
//! Masters are the Raft group's members; a master is "alive" when it answers
//! a ping (see [`Node::ping`]; the ping also tells its client address,
//! which a master bootstrapped from `--initial-cluster` may not know of its
//! peers). Workers come from the replicated state.

use std::collections::BTreeSet;

use dm_proto::pb;
use openraft::ChangeMembers;

use crate::error::MasterError;
use crate::node::Node;
use crate::raft::{MasterNode, NodeId};
use crate::state::{Command, Response};

pub async fn list(
    node: &Node,
    req: pb::ListMemberRequest,
) -> Result<pb::ListMemberResponse, MasterError> {
    let all = !req.leader && !req.master && !req.worker;
    let applied = node.read().await?;
    let state = &applied.state;
    let wanted = |name: &str| req.names.is_empty() || req.names.iter().any(|n| n == name);
    let mut members = Vec::new();
    if all || req.leader {
        members.push(pb::members::Member::Leader(pb::ListLeaderMember {
            msg: String::new(),
            name: node.me.name.clone(),
            addr: node.me.client_addr.clone(),
        }));
    }
    if all || req.master {
        let nodes: Vec<(NodeId, MasterNode)> = {
            let metrics = node.raft.metrics().borrow().clone();
            metrics
                .membership_config
                .membership()
                .nodes()
                .map(|(id, n)| (*id, n.clone()))
                .collect()
        };
        let probes = nodes
            .into_iter()
            .filter(|(_, n)| wanted(&n.name))
            .map(|(id, n)| async move {
                let seen = if id == node.id {
                    Some(node.me.clone())
                } else {
                    node.ping(&n).await
                };
                let client_addr = seen
                    .as_ref()
                    .map(|s| s.client_addr.clone())
                    .filter(|a| !a.is_empty())
                    .unwrap_or_else(|| n.client_addr.clone());
                pb::MasterInfo {
                    name: n.name.clone(),
                    member_id: id,
                    alive: seen.is_some(),
                    peer_ur_ls: vec![format!("http://{}", n.peer_addr)],
                    client_ur_ls: if client_addr.is_empty() {
                        Vec::new()
                    } else {
                        vec![format!("http://{client_addr}")]
                    },
                }
            });
        let mut masters = futures::future::join_all(probes).await;
        masters.sort_by(|a, b| a.name.cmp(&b.name));
        members.push(pb::members::Member::Master(pb::ListMasterMember {
            msg: String::new(),
            masters,
        }));
    }
    if all || req.worker {
        let now = tokio::time::Instant::now();
        let workers = state
            .workers
            .iter()
            .filter(|(name, _)| wanted(name))
            .map(|(name, w)| {
                let bound = state.source_bound_to(name);
                let stage = if !node.liveness.is_registered_alive(state, name, now) {
                    "offline"
                } else if bound.is_some() {
                    "bound"
                } else {
                    "free"
                };
                pb::WorkerInfo {
                    name: name.clone(),
                    addr: w.addr.clone(),
                    stage: stage.to_string(),
                    source: bound.unwrap_or_default(),
                }
            })
            .collect();
        members.push(pb::members::Member::Worker(pb::ListWorkerMember {
            msg: String::new(),
            workers,
        }));
    }
    Ok(pb::ListMemberResponse {
        result: true,
        msg: String::new(),
        members: members
            .into_iter()
            .map(|m| pb::Members { member: Some(m) })
            .collect(),
    })
}

pub async fn offline(
    node: &Node,
    req: pb::OfflineMemberRequest,
) -> Result<pb::OfflineMemberResponse, MasterError> {
    let answer = |result: bool, msg: String| pb::OfflineMemberResponse { result, msg };
    match req.r#type.as_str() {
        "master" => {
            let membership = node.raft.metrics().borrow().membership_config.clone();
            let membership = membership.membership();
            let Some((id, _)) = membership.nodes().find(|(_, n)| n.name == req.name) else {
                return Ok(answer(
                    false,
                    format!("master {} is not a member", req.name),
                ));
            };
            let id = *id;
            let is_voter = membership.voter_ids().any(|v| v == id);
            if is_voter && membership.voter_ids().count() == 1 {
                return Ok(answer(
                    false,
                    format!(
                        "master {} is the only voter; the cluster cannot remove its last master",
                        req.name
                    ),
                ));
            }
            let change = if is_voter {
                ChangeMembers::RemoveVoters(BTreeSet::from([id]))
            } else {
                ChangeMembers::RemoveNodes(BTreeSet::from([id]))
            };
            let changed = tokio::time::timeout(
                node.write_timeout,
                node.raft.change_membership(change, false),
            )
            .await
            .map_err(|_| MasterError::NotCommitted {
                timeout_ms: u64::try_from(node.write_timeout.as_millis()).unwrap_or(u64::MAX),
            })?;
            match changed {
                Ok(_) => {
                    tracing::info!(master = %req.name, "master removed from the group");
                    Ok(answer(true, String::new()))
                }
                Err(e) => Ok(answer(
                    false,
                    format!("cannot remove master {}: {e}", req.name),
                )),
            }
        }
        "worker" => match node
            .write(Command::RemoveWorker {
                name: req.name.clone(),
            })
            .await?
        {
            Response::Rejected(why) => Ok(answer(false, why.to_string())),
            _ => Ok(answer(true, String::new())),
        },
        other => Err(MasterError::InvalidRequest(format!(
            "offline-member type {other:?} is not valid; use master or worker"
        ))),
    }
}

/// `transfer-source SOURCE WORKER`, with DM's conditions: the worker is
/// alive and free, and no task of the source is running.
pub async fn transfer_source(
    node: &Node,
    req: pb::TransferSourceRequest,
) -> Result<pb::TransferSourceResponse, MasterError> {
    let refuse = |msg: String| pb::TransferSourceResponse { result: false, msg };
    let applied = node.read().await?;
    let state = &applied.state;
    if !state.sources.contains_key(&req.source) {
        return Ok(refuse(format!("source {} does not exist", req.source)));
    }
    if !state.workers.contains_key(&req.worker) {
        return Ok(refuse(format!("worker {} does not exist", req.worker)));
    }
    if state
        .bindings
        .get(&req.source)
        .is_some_and(|b| b.worker == req.worker)
    {
        return Ok(pb::TransferSourceResponse {
            result: true,
            msg: String::new(),
        });
    }
    if !node
        .liveness
        .is_registered_alive(state, &req.worker, tokio::time::Instant::now())
    {
        return Ok(refuse(format!("worker {} is offline", req.worker)));
    }
    if let Some(other) = state.source_bound_to(&req.worker) {
        return Ok(refuse(format!(
            "worker {} is not free: it is bound to source {other}",
            req.worker
        )));
    }
    let running: Vec<String> = state
        .tasks
        .iter()
        .filter(|(_, t)| t.stages.get(&req.source) == Some(&crate::state::TaskStage::Running))
        .map(|(name, _)| name.clone())
        .collect();
    if !running.is_empty() {
        return Ok(refuse(format!(
            "tasks {} on source {} should not be running; pause-task first",
            running.join(", "),
            req.source
        )));
    }
    let command = Command::Bind {
        source: req.source.clone(),
        worker: req.worker.clone(),
    };
    Ok(match node.write(command).await? {
        Response::Rejected(why) => refuse(why.to_string()),
        _ => {
            tracing::info!(source = %req.source, worker = %req.worker, "source transferred");
            pb::TransferSourceResponse {
                result: true,
                msg: String::new(),
            }
        }
    })
}
