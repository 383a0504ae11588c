//! The upstream port on a MySQL / MariaDB server, through `mysql_async`:
//! the only place the worker's copy and sync meet the client library's
//! types, converted here into the port's vocabulary.
//!
//! - [`MySqlSource`] ([`source`]): the binlog port, reading with a
//!   [`BinlogReader`] ([`binlog`]: the binlog protocol, MariaDB's GTID
//!   events, rotations checked against the server's files; [`gtid_set`]:
//!   MySQL GTID sets; [`query_mode`]: statements written under
//!   `ANSI_QUOTES`; [`rows`]: row images and values).
//! - [`MySqlCopySource`] ([`copy_source`]): the snapshot port, on
//!   consistent snapshots ([`snapshot`]: MariaDB's lock-free snapshot
//!   position, MySQL's brief global read lock) read with the queries of
//!   [`discover`].
//! - [`binlog_status`]: where the binlog ends (`SHOW MASTER STATUS` or
//!   MySQL 8.4's `SHOW BINARY LOG STATUS`).
//!
//! A snapshot reads every table inside one `REPEATABLE READ` transaction
//! per reader connection and records the binlog position that snapshot
//! corresponds to: replaying the binlog from there brings the copy up to
//! date. MariaDB gives that position without any lock
//! (`binlog_snapshot_file/position`, which are exactly at the snapshot);
//! MySQL needs `FLUSH TABLES WITH READ LOCK` for a moment while the
//! snapshot starts.

pub mod binlog;
mod binlog_status;
pub mod copy_source;
pub mod discover;
pub mod gtid_set;
pub mod query_mode;
pub mod rows;
pub mod snapshot;
pub mod source;

pub use binlog::{BinlogReader, HEARTBEAT_PERIOD_SECS};
pub use binlog_status::binlog_status;
pub use copy_source::{predicate, MySqlCopySource};
pub use snapshot::{open_snapshot, open_snapshots, Snapshot};
pub use source::MySqlSource;
