//! Wall-clock time as the cluster reads it: Unix milliseconds.
//!
//! Only two things read the wall clock: the Raft leader, which stamps the
//! proposal time into each command (`apply` never reads a clock), and a
//! worker, which names its boot. Elapsed time everywhere else (leases,
//! liveness, retries) is `tokio::time::Instant`, which a simulation drives.
//!
//! The deterministic simulation replaces this clock once, before anything
//! reads it, with one derived from simulated time, so the stamps a seed
//! produces are the same on every run.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static CLOCK: OnceLock<fn() -> u64> = OnceLock::new();

fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Unix milliseconds now.
pub fn unix_ms() -> u64 {
    CLOCK.get().map_or_else(system_ms, |clock| clock())
}

/// Replaces the clock for the whole process; `false` if it was already
/// replaced.
pub fn install(clock: fn() -> u64) -> bool {
    CLOCK.set(clock).is_ok()
}
