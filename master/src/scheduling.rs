//! The leader's scheduling loop (the IO shell around [`crate::scheduler`]).
//!
//! Every [`TICK`] it records whether this master leads (for liveness), and if
//! it does, proposes the binds and unbinds the pure scheduler asks for.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use openraft::ServerState;
use tokio::sync::watch;

use crate::node::Node;
use crate::scheduler::schedule;
use crate::state::Response;

/// How often the leader re-evaluates bindings.
pub const TICK: Duration = Duration::from_millis(100);

/// Runs until `stopped` turns true.
pub async fn run(node: Arc<Node>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let leading = {
            let metrics = node.raft.metrics().borrow().clone();
            (metrics.state == ServerState::Leader).then_some(metrics.current_term)
        };
        let now = Instant::now();
        node.liveness.observe(leading, now);
        if leading.is_none() {
            continue;
        }
        let applied = node.state();
        let alive = node.liveness.alive(&applied.state, now);
        for command in schedule(&applied.state, &alive) {
            match node.write(command.clone()).await {
                Ok(Response::Rejected(why)) => {
                    tracing::debug!(?command, %why, "schedule step rejected")
                }
                Ok(Response::Bound { epoch }) => tracing::info!(?command, epoch, "bound"),
                Ok(_) => tracing::info!(?command, "scheduled"),
                Err(e) => {
                    tracing::debug!(error = %e, "scheduling paused");
                    break;
                }
            }
        }
    }
}
