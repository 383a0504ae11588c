//! The worker's lease: how long it may keep writing without hearing from the
//! leader.
//!
//! The leader grants `lease_ms` with every heartbeat answer. The worker
//! counts it from the instant it *sent* that heartbeat, on its own monotonic
//! clock: the leader received the heartbeat later than that, and starts its
//! keepalive TTL (longer than the lease) only then, so the lease always ends
//! before the leader may give the worker's sources to another worker. The
//! monotonic clock keeps running while the process is stopped (SIGSTOP), so
//! a worker that wakes up after a long pause finds its lease expired before
//! it writes anything.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct Lease {
    valid_until: Option<Instant>,
}

impl Lease {
    /// A heartbeat sent at `sent_at` was answered with a lease of `lease`.
    pub fn renew(&mut self, sent_at: Instant, lease: Duration) {
        let until = sent_at + lease;
        self.valid_until = Some(self.valid_until.map_or(until, |v| v.max(until)));
    }

    /// Whether the worker may write at `now`.
    pub fn is_valid(&self, now: Instant) -> bool {
        self.valid_until.is_some_and(|v| now < v)
    }

    /// Forget the lease (e.g. the leader said the worker is unknown).
    pub fn revoke(&mut self) {
        self.valid_until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_runs_from_the_send_instant() {
        let t0 = Instant::now();
        let mut lease = Lease::default();
        assert!(!lease.is_valid(t0), "no lease before the first answer");
        lease.renew(t0, Duration::from_secs(2));
        assert!(lease.is_valid(t0 + Duration::from_millis(1999)));
        assert!(!lease.is_valid(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn a_late_answer_to_an_old_heartbeat_never_shortens_the_lease() {
        let t0 = Instant::now();
        let mut lease = Lease::default();
        lease.renew(t0 + Duration::from_secs(1), Duration::from_secs(2));
        lease.renew(t0, Duration::from_secs(2));
        assert!(lease.is_valid(t0 + Duration::from_millis(2500)));
        lease.revoke();
        assert!(!lease.is_valid(t0 + Duration::from_millis(2500)));
    }
}
