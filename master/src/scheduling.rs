//! The leader's scheduling loop (the IO shell around [`crate::scheduler`]).
//!
//! Every [`TICK`] it records whether this master leads (for liveness), and if
//! it does, proposes the binds and unbinds the pure scheduler asks for. A
//! worker whose sources are moved or unbound because its keepalive TTL ran
//! out counts once in `dm_master_worker_lease_expiries_total` (again only
//! after it was alive in between).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use openraft::ServerState;
use tokio::sync::watch;

use crate::node::Node;
use crate::scheduler::{lapsed_workers, schedule};
use crate::state::{Command, Response};

/// How often the leader re-evaluates bindings.
pub const TICK: Duration = Duration::from_millis(100);

/// Runs until `stopped` turns true.
pub async fn run(node: Arc<Node>, mut stopped: watch::Receiver<bool>) {
    // Lapsed workers already counted as a lease expiry.
    let mut counted: BTreeSet<String> = BTreeSet::new();
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
            counted.clear();
            continue;
        }
        let applied = node.state();
        let alive = node.liveness.alive(&applied.state, now);
        counted.retain(|w| !alive.contains(w));
        let lapsed = lapsed_workers(&applied.state, &alive);
        for command in schedule(&applied.state, &alive) {
            let from = moved_from(&applied.state, &command);
            match node.write(command.clone()).await {
                Ok(Response::Rejected(why)) => {
                    tracing::debug!(?command, %why, "schedule step rejected");
                    continue;
                }
                Ok(Response::Bound { epoch }) => tracing::info!(?command, epoch, "bound"),
                Ok(_) => tracing::info!(?command, "scheduled"),
                Err(e) => {
                    tracing::debug!(error = %e, "scheduling paused");
                    break;
                }
            }
            if let Some(worker) = from.filter(|w| lapsed.contains(w)) {
                if counted.insert(worker) {
                    crate::metrics::lease_expired();
                }
            }
        }
    }
}

/// The worker `command` takes a source away from, if any.
fn moved_from(state: &crate::state::ClusterState, command: &Command) -> Option<String> {
    let source = match command {
        Command::Bind { source, .. } | Command::Unbind { source } => source,
        _ => return None,
    };
    state.bindings.get(source).map(|b| b.worker.clone())
}
