//! `operate-leader evict|cancel-evict [--name MASTER]`, served by the
//! leader. The eviction is a Raft command (it lasts across restarts until
//! cancelled); the masters act on it in `leadership`.

use std::time::Duration;

use dm_proto::pb;

use crate::error::MasterError;
use crate::node::Node;
use crate::state::{Command, Response};

/// How long `evict` of the leader waits for leadership to move before it
/// answers.
const MOVE_WAIT: Duration = Duration::from_secs(3);

pub async fn operate(
    node: &Node,
    req: pb::OperateLeaderRequest,
) -> Result<pb::OperateLeaderResponse, MasterError> {
    let answer = |result: bool, msg: String| pb::OperateLeaderResponse { result, msg };
    let voters = voter_names(node);
    let named = (!req.name.is_empty()).then_some(req.name.clone());
    if let Some(name) = &named {
        if !voters.contains(name) {
            return Ok(answer(
                false,
                format!(
                    "master {name} is not a voting member of the cluster; members: {}",
                    voters.join(", ")
                ),
            ));
        }
    }
    let command = match pb::LeaderOp::try_from(req.op) {
        Ok(pb::LeaderOp::EvictLeaderOp) => Command::EvictLeader {
            name: named.clone().unwrap_or_else(|| node.me.name.clone()),
            voters,
        },
        Ok(pb::LeaderOp::CancelEvictLeaderOp) => Command::CancelEvictLeader {
            name: named.clone(),
        },
        _ => {
            return Ok(answer(
                false,
                format!("operate {} is not supported", req.op),
            ))
        }
    };
    let evicting_me =
        matches!(&command, Command::EvictLeader { name, .. } if *name == node.me.name);
    if let Response::Rejected(why) = node.write(command).await? {
        return Ok(answer(false, why.to_string()));
    }
    if evicting_me && !crate::leadership::stepped_down(node, MOVE_WAIT).await {
        return Ok(answer(
            true,
            format!(
                "master {} is evicted but still leads after {} s; it hands leadership over as soon as a voter that may lead is up to date",
                node.me.name,
                MOVE_WAIT.as_secs()
            ),
        ));
    }
    Ok(answer(true, String::new()))
}

fn voter_names(node: &Node) -> Vec<String> {
    let metrics = node.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    membership
        .voter_ids()
        .filter_map(|id| membership.get_node(&id).map(|n| n.name.clone()))
        .collect()
}
