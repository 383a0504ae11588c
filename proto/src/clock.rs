//! Wall-clock time as the cluster reads it: Unix milliseconds.
//!
//! Only two things read the wall clock: the Raft leader, which stamps the
//! proposal time into each command (`apply` never reads a clock), and a
//! worker, which names its boot. Elapsed time everywhere else (leases,
//! liveness, retries) is `tokio::time::Instant`, which a simulation drives.
//!
//! Both daemons take their wall clock as an input, a [`Clock`], from
//! whoever starts them: the binaries pass [`Clock::system`], the
//! deterministic simulation one derived from simulated time, so the stamps
//! a seed produces are the same on every run.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A wall clock: Unix milliseconds now.
#[derive(Clone, Copy)]
pub struct Clock {
    now_ms: fn() -> u64,
}

impl Clock {
    /// A clock reading `now_ms`.
    pub const fn new(now_ms: fn() -> u64) -> Self {
        Self { now_ms }
    }

    /// The system's clock.
    pub const fn system() -> Self {
        Self::new(unix_ms)
    }

    /// Unix milliseconds now.
    pub fn unix_ms(&self) -> u64 {
        (self.now_ms)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock").finish_non_exhaustive()
    }
}

/// Unix milliseconds now, on the system's clock (for tools; the daemons
/// read the [`Clock`] they were given).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
