//! Which workers are alive: the leader's soft state, never replicated.
//!
//! A worker is alive while its last heartbeat is younger than its keepalive
//! TTL. Heartbeat times are measured on this master's monotonic clock, so
//! they mean nothing to another master: a new leader starts with an empty
//! table and counts every registered worker alive for one full TTL from the
//! moment it became leader before judging it (a master failover must not
//! move sources whose workers are fine).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use dm_proto::pb;

use crate::state::ClusterState;

/// TTL assumed for a worker not heard from yet under this leadership.
pub const DEFAULT_TTL: Duration = Duration::from_secs(dm_proto::config::DEFAULT_KEEPALIVE_TTL_SECS);

#[derive(Debug, Default)]
pub struct Liveness {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Term and start of the current leadership, if this master leads.
    leading: Option<(u64, Instant)>,
    seen: HashMap<String, Seen>,
    /// What each worker last reported running.
    reports: HashMap<String, Vec<pb::SourceReport>>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Instant,
    ttl: Duration,
}

impl Liveness {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records whether this master leads (and in which term) as of `now`;
    /// a new leadership forgets everything heard before.
    pub fn observe(&self, leading_term: Option<u64>, now: Instant) {
        let mut inner = self.lock();
        match (leading_term, inner.leading) {
            (Some(term), Some((known, _))) if term == known => {}
            (Some(term), _) => {
                inner.leading = Some((term, now));
                inner.seen.clear();
                inner.reports.clear();
            }
            (None, _) => {
                inner.leading = None;
                inner.seen.clear();
                inner.reports.clear();
            }
        }
    }

    /// The term of the leadership recorded by [`Liveness::observe`], if any.
    pub fn leading_term(&self) -> Option<u64> {
        self.lock().leading.map(|(term, _)| term)
    }

    /// A heartbeat (or registration) from `worker` arrived at `now`.
    pub fn heard(&self, worker: &str, ttl: Duration, now: Instant) {
        self.lock()
            .seen
            .insert(worker.to_string(), Seen { at: now, ttl });
    }

    /// Keeps what `worker` reported running in its last heartbeat; returns
    /// the sources it newly reports fenced (with the epoch that fenced it).
    pub fn reported(&self, worker: &str, sources: Vec<pb::SourceReport>) -> Vec<(String, u64)> {
        let mut inner = self.lock();
        let before = inner.reports.get(worker);
        let newly: Vec<(String, u64)> = sources
            .iter()
            .filter(|s| s.fenced)
            .filter(|s| {
                !before.is_some_and(|b| {
                    b.iter()
                        .any(|p| p.fenced && p.source == s.source && p.epoch == s.epoch)
                })
            })
            .map(|s| (s.source.clone(), s.epoch))
            .collect();
        inner.reports.insert(worker.to_string(), sources);
        newly
    }

    /// Every worker's last report, by worker name.
    pub fn reports(&self) -> Vec<(String, Vec<pb::SourceReport>)> {
        self.lock()
            .reports
            .iter()
            .map(|(w, r)| (w.clone(), r.clone()))
            .collect()
    }

    /// The last report of `task` on `source` by `worker`.
    pub fn subtask_report(
        &self,
        worker: &str,
        source: &str,
        task: &str,
    ) -> Option<pb::SubtaskReport> {
        let inner = self.lock();
        inner
            .reports
            .get(worker)?
            .iter()
            .filter(|s| s.source == source && !s.fenced)
            .flat_map(|s| s.subtasks.iter())
            .find(|t| t.task == task)
            .cloned()
    }

    /// Whether `worker`, registered with `registered_ttl` (None or zero:
    /// the default), counts as alive at `now`.
    pub fn is_alive(&self, worker: &str, registered_ttl: Option<Duration>, now: Instant) -> bool {
        let inner = self.lock();
        let Some((_, since)) = inner.leading else {
            return false;
        };
        let registered = registered_ttl
            .filter(|t| !t.is_zero())
            .unwrap_or(DEFAULT_TTL);
        let (at, ttl) = match inner.seen.get(worker) {
            Some(seen) => (seen.at.max(since), seen.ttl),
            None => (since, registered),
        };
        now < at + ttl
    }

    /// Whether the registered `worker` counts as alive at `now`.
    pub fn is_registered_alive(&self, state: &ClusterState, worker: &str, now: Instant) -> bool {
        state.workers.get(worker).is_some_and(|w| {
            self.is_alive(worker, Some(Duration::from_millis(w.keepalive_ttl_ms)), now)
        })
    }

    /// The registered workers alive at `now`.
    pub fn alive(&self, state: &ClusterState, now: Instant) -> BTreeSet<String> {
        state
            .workers
            .keys()
            .filter(|w| self.is_registered_alive(state, w, now))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(3);

    #[test]
    fn a_worker_is_alive_for_one_ttl_after_its_last_heartbeat() {
        let t0 = Instant::now();
        let live = Liveness::default();
        live.observe(Some(1), t0);
        live.heard("w1", TTL, t0 + Duration::from_secs(1));
        assert!(live.is_alive("w1", None, t0 + Duration::from_millis(3900)));
        assert!(!live.is_alive("w1", None, t0 + Duration::from_secs(4)));
    }

    #[test]
    fn a_new_leader_gives_everyone_a_full_ttl() {
        let t0 = Instant::now();
        let live = Liveness::default();
        live.observe(Some(1), t0);
        live.heard("w1", TTL, t0);
        // Leadership moves to a new term 10 s later: w1 was silent for 10 s
        // under the old leader, but the new one has not judged it yet.
        let t1 = t0 + Duration::from_secs(10);
        live.observe(Some(2), t1);
        // It is judged by the TTL it registered with...
        assert!(live.is_alive("w1", Some(TTL), t1 + Duration::from_millis(2900)));
        assert!(!live.is_alive("w1", Some(TTL), t1 + TTL));
        // ... or, registered without one, by the default.
        let just_before = DEFAULT_TTL - Duration::from_millis(1);
        assert!(live.is_alive("never-heard", None, t1 + just_before));
        assert!(!live.is_alive("never-heard", None, t1 + DEFAULT_TTL));
    }

    #[test]
    fn a_follower_judges_nobody_alive() {
        let t0 = Instant::now();
        let live = Liveness::default();
        live.observe(Some(1), t0);
        live.heard("w1", TTL, t0);
        live.observe(None, t0);
        assert!(!live.is_alive("w1", None, t0));
    }
}
