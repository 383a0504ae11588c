//! Replication lag, measured from the outside.
//!
//! Once a second per shard the sampler takes the shard's last inserted row
//! and the instant its transaction committed, then polls the downstream
//! until the row is there: the difference is one lag sample. A shard held
//! at the shard DDL, a source between workers or a copy still running all
//! show up as lag, as a user would see it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::load::Progress;

/// Time between samples of one shard.
const EVERY: Duration = Duration::from_secs(1);
/// How often the downstream is asked whether the row arrived.
const POLL: Duration = Duration::from_millis(20);

/// Samples one shard's lag until `stop`; returns the samples.
pub async fn sample(
    pool: mysql_async::Pool,
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
) -> Vec<Duration> {
    let mut samples = Vec::new();
    let mut sampled = None;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(EVERY).await;
        let last = progress.last_insert.lock().ok().and_then(|last| *last);
        let Some((id, committed)) = last else {
            continue;
        };
        if sampled.replace(id) == Some(id) {
            continue; // the load stopped: no new row to time
        }
        loop {
            if let Ok(mut conn) = pool.get_conn().await {
                let found: Option<u64> = conn
                    .exec_first("SELECT id FROM chaos.t WHERE id = ?", (id,))
                    .await
                    .ok()
                    .flatten();
                if found.is_some() {
                    samples.push(committed.elapsed());
                    break;
                }
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
    }
    samples
}

/// The `p`-th percentile (0..=100) of `samples`, nearest rank. Pure.
pub fn percentile(samples: &[Duration], p: u32) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (n * p.min(100) as usize).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms = |v: u64| Duration::from_millis(v);
        let samples: Vec<Duration> = (1..=100).rev().map(ms).collect();
        assert_eq!(percentile(&samples, 99), Some(ms(99)));
        assert_eq!(percentile(&samples, 100), Some(ms(100)));
        assert_eq!(percentile(&samples, 50), Some(ms(50)));
        assert_eq!(percentile(&[ms(7)], 99), Some(ms(7)));
        assert_eq!(percentile(&[], 99), None);
    }
}
