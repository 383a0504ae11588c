//! `operate-leader evict`: keeping an evicted master from leading, and
//! handing leadership over when the leader itself is evicted.
//!
//! The evicted set is replicated (`state::eviction`). Every master runs
//! [`run`], which follows it:
//!
//! - **Not standing.** An evicted master turns its election timer off
//!   (openraft's `runtime_config().elect(false)`). It still votes and
//!   replicates, so it stays a full member of the quorum; it just never
//!   becomes a candidate on its own. Cancelling turns the timer back on.
//!   One exception keeps the cluster live: when no leader has answered for
//!   [`STAND_IN_AFTER`], it stands anyway (see there), and hands over once
//!   elected.
//! - **Handing over.** An evicted leader stops taking writes (they answer
//!   "leader moved", and clients retry), waits until a voter that may lead
//!   has every entry of its log, and asks that voter to stand now
//!   (`RaftTransport.Campaign`, which calls `trigger().elect()` there).
//!   The candidate's vote request has a later term and a log as long as
//!   the leader's, so the leader grants it and steps down; with the
//!   candidate's own vote that is a quorum of three. The other followers
//!   may refuse (they heard the leader within its lease), which does not
//!   matter. This takes one round trip once the candidate is caught up,
//!   instead of the election timeout plus a lease that waiting for the
//!   followers' timers would take.
//!
//! Why block writes: a candidate must have the leader's whole log, or the
//! leader refuses its vote. Under steady writes the leader's log grows
//! between "caught up" and the vote request; with writes blocked it does
//! not. Writes proposed before the block still commit as usual.

use std::sync::Arc;
use std::time::Duration;

use dm_proto::pb::raft::raft_transport_client::RaftTransportClient;
use dm_proto::pb::raft::CampaignRequest;
use openraft::ServerState;
use tokio::sync::watch;

use crate::node::{Node, PING_TIMEOUT};
use crate::raft::{MasterNode, NodeId};

/// How often the loop looks again without a change to wake it.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// How long an evicted leader keeps trying one hand-over before it takes
/// writes again for a while (the next check tries again).
pub const HAND_OVER_DEADLINE: Duration = Duration::from_secs(2);

/// How long an evicted master goes without a leader that answers before
/// it stands for election anyway. Raft only lets a master with every
/// committed entry lead: when the leader dies and the evicted master holds
/// entries the other live voters lack, it is the only one that can lead,
/// and refusing would leave the cluster without a leader. Once elected it
/// hands over as soon as an eligible voter has caught up.
pub const STAND_IN_AFTER: Duration = Duration::from_secs(1);

/// How long a hand-over waits for the asked candidate to win.
const ELECTION_WAIT: Duration = Duration::from_millis(400);

/// Runs until `stopped` turns true.
pub async fn run(node: Arc<Node>, mut stopped: watch::Receiver<bool>) {
    let mut changes = node.changes();
    let mut standing: Option<bool> = None;
    let mut leader_lost_at: Option<tokio::time::Instant> = None;
    let mut probed_at: Option<tokio::time::Instant> = None;
    loop {
        let may_lead = node.state().state.may_lead(&node.me.name);
        // An evicted follower asks whether the leader answers, at most
        // every CHECK_INTERVAL (metrics change with every entry applied).
        let due = probed_at.is_none_or(|at| at.elapsed() >= CHECK_INTERVAL);
        if may_lead || is_leader(&node) {
            leader_lost_at = None;
        } else if due {
            probed_at = Some(tokio::time::Instant::now());
            if leader_answers(&node).await {
                leader_lost_at = None;
            } else {
                leader_lost_at.get_or_insert_with(tokio::time::Instant::now);
            }
        }
        let stand_in = leader_lost_at.is_some_and(|at| at.elapsed() >= STAND_IN_AFTER);
        let stand = may_lead || stand_in;
        if standing != Some(stand) {
            node.raft.runtime_config().elect(stand);
            if standing.is_some() || !stand {
                tracing::info!(master = %node.me.name, may_lead, stand, "{}", standing_note(may_lead, stand));
            }
            standing = Some(stand);
        }
        if !may_lead && is_leader(&node) {
            hand_over(&node).await;
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

fn standing_note(may_lead: bool, stand: bool) -> &'static str {
    match (may_lead, stand) {
        (true, _) => "this master stands for election",
        (false, false) => "evicted: this master no longer stands for election",
        (false, true) => {
            "evicted, but no leader answers: this master stands in case only it can lead (it hands over once elected)"
        }
    }
}

/// Whether another master leads and answers a ping.
async fn leader_answers(node: &Node) -> bool {
    let leader = node.raft.metrics().borrow().current_leader;
    match leader {
        Some(id) if id != node.id => node.ping_member(id).await,
        _ => false,
    }
}

fn is_leader(node: &Node) -> bool {
    node.raft.metrics().borrow().state == ServerState::Leader
}

/// Hands leadership to an up-to-date voter that may lead; gives up after
/// [`HAND_OVER_DEADLINE`] (writes resume; the caller tries again later).
async fn hand_over(node: &Node) {
    node.set_handing_over(true);
    let deadline = tokio::time::Instant::now() + HAND_OVER_DEADLINE;
    while tokio::time::Instant::now() < deadline && is_leader(node) {
        let Some((term, candidate)) = up_to_date_successor(node) else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        match ask_to_campaign(node, &candidate, term).await {
            Ok(()) => {
                if stepped_down(node, ELECTION_WAIT).await {
                    tracing::info!(
                        successor = %candidate.name,
                        "evicted leader handed leadership over"
                    );
                    break;
                }
            }
            Err(reason) => {
                tracing::info!(candidate = %candidate.name, %reason, "candidate does not stand");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    node.set_handing_over(false);
}

/// The current term and a voter other than this master that may lead and
/// has matched this leader's whole log.
fn up_to_date_successor(node: &Node) -> Option<(u64, MasterNode)> {
    let metrics = node.raft.metrics().borrow().clone();
    let last_log = metrics.last_log_index?;
    let replication = metrics.replication.as_ref()?;
    let state = node.state();
    let membership = metrics.membership_config.membership();
    let candidates: Vec<(NodeId, MasterNode)> = membership
        .voter_ids()
        .filter(|id| *id != node.id)
        .filter_map(|id| membership.get_node(&id).map(|n| (id, n.clone())))
        .filter(|(_, n)| state.state.may_lead(&n.name))
        .collect();
    candidates
        .into_iter()
        .find(|(id, _)| {
            replication
                .get(id)
                .and_then(|m| m.as_ref())
                .is_some_and(|m| m.index >= last_log)
        })
        .map(|(_, n)| (metrics.current_term, n))
}

async fn ask_to_campaign(node: &Node, candidate: &MasterNode, term: u64) -> Result<(), String> {
    let channel = node
        .connector
        .channel(&candidate.peer_addr)
        .map_err(|e| e.to_string())?;
    let mut request = tonic::Request::new(CampaignRequest { term });
    request.set_timeout(PING_TIMEOUT);
    let reply = RaftTransportClient::new(channel)
        .campaign(request)
        .await
        .map_err(|s| s.message().to_string())?
        .into_inner();
    if reply.standing {
        Ok(())
    } else {
        Err(reply.msg)
    }
}

/// Waits up to `wait` for this master to stop leading.
pub(crate) async fn stepped_down(node: &Node, wait: Duration) -> bool {
    let mut metrics = node.raft.metrics();
    tokio::time::timeout(wait, metrics.wait_for(|m| m.state != ServerState::Leader))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// `RaftTransport.Campaign` on the asked master: stand for election now,
/// unless this master may not lead, is not a voter, or already saw a term
/// after `term` (the request is stale).
pub async fn campaign(node: &Node, term: u64) -> (bool, String) {
    let metrics = node.raft.metrics().borrow().clone();
    if !node.state().state.may_lead(&node.me.name) {
        return (false, format!("master {} is evicted", node.me.name));
    }
    if !metrics
        .membership_config
        .membership()
        .voter_ids()
        .any(|id| id == node.id)
    {
        return (false, format!("master {} is not a voter", node.me.name));
    }
    if metrics.current_term > term {
        return (
            false,
            format!(
                "master {} is already in term {}, after {term}",
                node.me.name, metrics.current_term
            ),
        );
    }
    match node.raft.trigger().elect().await {
        Ok(()) => (true, String::new()),
        Err(e) => (false, e.to_string()),
    }
}
