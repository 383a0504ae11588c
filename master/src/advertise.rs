//! The leader publishes its advertised client address in the group's
//! membership.
//!
//! Masters started from `--initial-cluster` know each other by peer URL
//! only, so the membership holds no client address for the members that did
//! not bootstrap it. A follower tells workers and dmctl where the leader is
//! from the membership, and without a client address it names the leader's
//! peer address: that serves every service, but it is not what the
//! operator advertised (`--advertise-addr`), which may be the only address
//! clients can reach (behind NAT, a proxy or a firewall). So a master that
//! leads and finds its entry pointing clients elsewhere sets its client
//! address: openraft's `SetNodes` changes a member's data and neither the
//! voters nor the learners; the peer address is kept as it is, so Raft
//! traffic is untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::{ChangeMembers, RaftMetrics, ServerState};
use tokio::sync::watch;

use crate::node::Node;
use crate::raft::types::MasterNode;
use crate::raft::NodeId;

/// Whether this master may have to publish: not when it serves clients
/// and peers on one address (clients reach it at its peer address).
pub fn needed(node: &Node) -> bool {
    !node.me.client_addr.is_empty() && node.me.client_addr != node.me.peer_addr
}

/// Runs until `stopped` turns true, looking again whenever the Raft state
/// changes (a failed attempt is retried at the next change).
pub async fn run(node: Arc<Node>, mut stopped: watch::Receiver<bool>) {
    let mut metrics = node.raft.metrics();
    loop {
        let entry = outdated_entry(&node, &metrics.borrow_and_update());
        if let Some(entry) = entry {
            let change = ChangeMembers::SetNodes(BTreeMap::from([(node.id, entry.clone())]));
            match node.raft.change_membership(change, false).await {
                Ok(_) => {
                    tracing::info!(client_addr = %entry.client_addr, "published this leader's client address");
                }
                Err(e) => tracing::debug!(error = %e, "publishing this leader's client address"),
            }
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return },
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// This master's entry as it should be, when it leads and the membership
/// points clients elsewhere.
fn outdated_entry(node: &Node, metrics: &RaftMetrics<NodeId, MasterNode>) -> Option<MasterNode> {
    if metrics.state != ServerState::Leader {
        return None;
    }
    let config = &metrics.membership_config;
    let current = config.membership().get_node(&node.id)?;
    let bootstrapped = config.log_id().is_none_or(|id| id.index == 0);
    wanted(current, &node.me.client_addr, bootstrapped)
}

/// `current` with `client_addr`, unless clients already reach it there.
///
/// Every master of an `--initial-cluster` group writes the first
/// membership itself (log index 0, `bootstrapped`), with only its own
/// client address in it; those copies all carry the same log id, so none
/// replaces another. While that first membership is in force, the
/// leader's own copy says nothing about the followers' copies, so it
/// publishes whenever its client and peer addresses differ; the
/// membership it writes is then the same on every master. Pure.
fn wanted(current: &MasterNode, client_addr: &str, bootstrapped: bool) -> Option<MasterNode> {
    let publish = if bootstrapped {
        current.peer_addr != client_addr
    } else {
        current.client_or_peer_addr() != client_addr
    };
    publish.then(|| MasterNode {
        name: current.name.clone(),
        client_addr: client_addr.to_string(),
        peer_addr: current.peer_addr.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(client: &str, peer: &str) -> MasterNode {
        MasterNode {
            name: "m1".into(),
            client_addr: client.into(),
            peer_addr: peer.into(),
        }
    }

    #[test]
    fn a_missing_client_address_is_published_and_the_peer_kept() {
        assert_eq!(
            wanted(&node("", "10.0.0.1:8291"), "10.0.0.1:8261", false),
            Some(node("10.0.0.1:8261", "10.0.0.1:8291"))
        );
    }

    #[test]
    fn nothing_changes_when_clients_already_reach_the_address() {
        assert_eq!(
            wanted(&node("10.0.0.1:8261", "p"), "10.0.0.1:8261", false),
            None
        );
        // One address for both (peer serves clients): nothing to publish.
        assert_eq!(
            wanted(&node("", "10.0.0.1:8261"), "10.0.0.1:8261", true),
            None
        );
    }

    #[test]
    fn the_first_leader_of_a_bootstrapped_group_publishes_even_its_own_copy() {
        let own_copy = node("10.0.0.1:8261", "10.0.0.1:8291");
        assert_eq!(
            wanted(&own_copy, "10.0.0.1:8261", true),
            Some(own_copy.clone())
        );
        assert_eq!(wanted(&own_copy, "10.0.0.1:8261", false), None);
    }
}
