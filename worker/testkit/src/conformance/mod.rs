//! The conformance suites of the worker's ports: what every adapter must
//! give the copy and the sync. The MySQL adapters run them against MariaDB
//! (`tests/tests/conformance.rs`), the in-memory ones in this crate's
//! tests, so the simulation's databases behave as the real ones for
//! everything the worker relies on.
//!
//! - [`upstream`]: the binlog port (`BinlogSource`), then [`snapshot`]:
//!   the snapshot port (`CopySource`).
//! - [`downstream`]: the downstream port (`Downstream`), then
//!   [`downstream_copy`]: its full-copy part.

pub mod downstream;
pub mod downstream_copy;
pub mod snapshot;
pub mod upstream;
