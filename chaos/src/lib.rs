//! Fault testing of whole clusters.
//!
//! [`sim`] is the deterministic simulation: the real master and worker code
//! on turmoil's simulated network and clock, faults drawn from a seed,
//! invariants checked on every seed. A real-process fault runner against
//! the binaries and MariaDB will join it.

pub mod sim;
