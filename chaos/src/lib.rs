//! Fault testing of whole clusters.
//!
//! Two runners will live here: a deterministic simulation that runs the real
//! master and worker code under turmoil's simulated network and clock, with
//! in-memory upstreams and downstream, faults drawn from a seed and invariants
//! checked on every seed; and a real-process runner that kills, stops and
//! partitions the real binaries against real MariaDB servers while a migration
//! runs. Neither exists yet: the cluster they exercise is being built first.
