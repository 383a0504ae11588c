//! The loop that keeps the families current: it follows openraft's
//! metrics (every change wakes it) for the Raft gauges and counters, and
//! on the leader refreshes the cluster families from the applied state
//! every [`REFRESH`] (and at once when leadership begins). A master that
//! steps down empties the leader-only families.

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{clear_leader, leader_gauges, publish_leader, publish_raft, RaftGauges, RaftSeen};
use crate::node::Node;

/// How often the leader recomputes its cluster families.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Runs until `stopped` turns true.
pub async fn run(node: Arc<Node>, mut stopped: watch::Receiver<bool>) {
    super::init();
    clear_leader();
    let mut changes = node.raft.metrics();
    let mut seen = RaftSeen::default();
    let mut refreshed_at: Option<Instant> = None;
    loop {
        let metrics = changes.borrow_and_update().clone();
        let leading = metrics.state == ServerState::Leader;
        let events = seen.observe(metrics.current_leader, leading);
        publish_raft(
            RaftGauges {
                leading,
                term: metrics.current_term,
                applied_index: metrics.last_applied.map_or(0, |id| id.index),
                voters: metrics.membership_config.membership().voter_ids().count(),
            },
            events,
        );
        if events.stepped_down {
            clear_leader();
            refreshed_at = None;
        }
        // Liveness judges workers from the start of this leadership once
        // the scheduling loop recorded it; until then every worker would
        // show offline, so the refresh waits for it.
        let judged = node.liveness.leading_term() == Some(metrics.current_term);
        let due = refreshed_at.is_none_or(|at| at.elapsed() >= REFRESH);
        if leading && judged && due {
            let now = Instant::now();
            let applied = node.state();
            let alive = node.liveness.alive(&applied.state, now);
            publish_leader(&leader_gauges(&applied.state, &alive, node.clock.unix_ms()));
            refreshed_at = Some(now);
        }
        let wake = if leading && !judged {
            crate::scheduling::TICK
        } else {
            REFRESH
        };
        let raft_gone = tokio::select! {
            changed = changes.changed() => changed.is_err(),
            _ = tokio::time::sleep(wake) => false,
            _ = stopped.wait_for(|s| *s) => return,
        };
        if raft_gone {
            // Raft shut down: nothing changes any more.
            let _ = stopped.wait_for(|s| *s).await;
            return;
        }
    }
}
