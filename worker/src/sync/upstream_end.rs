//! Where the upstream's binlog ends, asked every second while the sync
//! runs: `query-status` shows it as `masterBinlog`, and a sync is `synced`
//! only once its checkpoints reached it (see `status`), so a sync that is
//! behind, or that reads nothing because it stopped, never says so.

use std::sync::Arc;
use std::time::Duration;

use super::progress::Progress;
use crate::upstream::BinlogSource;

/// How often the upstream is asked.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Records the upstream's end in `progress` until dropped (an upstream
/// that does not answer leaves the last known end).
pub async fn follow(upstream: Arc<dyn BinlogSource>, progress: Progress) {
    loop {
        if let Ok(end) = upstream.position().await {
            progress.upstream_end(end);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
