//! The conformance suites of the upstream port: what every adapter must
//! give the copy and the sync, run against MariaDB (integration tests)
//! and the in-memory upstream (unit tests, the simulation).

pub mod snapshot;
pub mod upstream;
