//! Fault testing of whole clusters.
//!
//! [`sim`] is the deterministic simulation: the real master and worker code
//! on turmoil's simulated network and clock, faults drawn from a seed,
//! invariants checked on every seed. [`real`] is the real-process fault
//! runner: the binaries and MariaDB servers on loopback, SIGKILL, SIGSTOP
//! and partitions at random, and a row-for-row verdict.

pub mod real;
pub mod sim;
