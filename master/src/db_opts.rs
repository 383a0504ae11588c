//! Connections to a configured database (a source's `from`, a task's
//! `target-database`) for the master's short-lived checks: the daemons'
//! one way in ([`dm_proto::db_conn`]), TLS included.

pub use dm_proto::db_conn::{connect, FROM, TARGET_DATABASE};
