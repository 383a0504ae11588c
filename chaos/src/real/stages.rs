//! Watches the task's subtasks during the run: when each source left the
//! full copy (the end of its replay window, see [`super::audit`]) and
//! which errors the subtasks reported on the way. The shards' DDL waits
//! for every copy to end: like DM, the product does not take DDL on a
//! sharded table while it is being copied (the shards' snapshots would
//! disagree on its columns).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dm_tests::cluster::subtasks_of;

use super::topology::{source_id, Addrs};
use super::TASK;

/// What the watcher saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Per shard, when its subtask was first seen in the sync unit (unix ms).
    pub copy_done_ms: Vec<u64>,
    /// Distinct errors subtasks reported.
    pub errors: BTreeSet<String>,
}

/// How often `query-status` is asked.
const EVERY: Duration = Duration::from_millis(500);

/// Watches until `stop`; `copied` turns true once every source left the
/// full copy.
pub async fn watch(
    addrs: Addrs,
    sources: usize,
    stop: Arc<AtomicBool>,
    copied: tokio::sync::watch::Sender<bool>,
) -> Seen {
    let mut seen = Seen {
        copy_done_ms: vec![0; sources],
        errors: BTreeSet::new(),
    };
    while !stop.load(Ordering::Relaxed) {
        if let Ok(answer) = addrs.dmctl(&["query-status", TASK]).await {
            let now_ms = dm_proto::clock::unix_ms();
            for (source, subtask) in subtasks_of(&answer, TASK) {
                let shard = (1..=sources).find(|k| source_id(*k) == source);
                if let Some(done) = shard.and_then(|k| seen.copy_done_ms.get_mut(k - 1)) {
                    if *done == 0 && subtask["unit"] == "Sync" {
                        *done = now_ms;
                    }
                }
                for error in subtask["result"]["errors"].as_array().into_iter().flatten() {
                    let message = error["Message"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| error.to_string());
                    seen.errors.insert(format!("{source}: {message}"));
                }
            }
            if seen.copy_done_ms.iter().all(|d| *d > 0) {
                copied.send_if_modified(|c| !std::mem::replace(c, true));
            }
        }
        tokio::time::sleep(EVERY).await;
    }
    seen
}
