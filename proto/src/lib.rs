//! The contract every program of the cluster shares.
//!
//! - [`pb`]: gRPC services and messages generated from `proto/*.proto`:
//!   [`pb::master_client`] / [`pb::master_server`] (the API dmctl calls on any
//!   master), [`pb::worker_control_client`] / [`pb::worker_control_server`]
//!   (registration and the level-triggered heartbeat between workers and the
//!   leader), and [`pb::raft`] (Raft traffic between masters). Messages carry
//!   serde impls that print DM's JSON.
//! - [`config`]: task, source, master and worker configuration, parsed and
//!   validated with errors that name the file, line and key.
//! - [`check_result`]: the pre-check's results on the wire, in DM's shape.
//! - [`cli`]: DM's Go-style single-dash long flags.
//! - `db_conn` (feature `mysql`): the one way the daemons reach a configured
//!   database, TLS included, with errors that say what to change.
//! - [`logging`]: DM's log keys on top of `tracing`.
//! - [`metrics`]: the process's metric families and `GET /metrics`.
//! - [`private_files`]: the daemons' umask (their files are the owner's).
//! - [`net`]: the network as an input (connectors for clients).
//! - [`tls`]: mutual TLS between dmctl, workers and masters.
//! - [`secret`]: DM's encrypted passwords (`dmctl encrypt`), read by DM's
//!   decrypt-or-plaintext rule.
//! - [`schema_op`]: the CREATE TABLE text `binlog-schema update` takes.
//! - [`sql`]: SQL text both daemons write (identifiers, session setup).
//! - [`start_time`]: `--start-time`, DM's forms of the time a sync begins at.
//! - [`version`]: what a build says about itself (`/status`).

pub mod binlog_op;
pub mod check_result;
pub mod cli;
pub mod clock;
pub mod config;
#[cfg(feature = "mysql")]
pub mod db_conn;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod private_files;
pub mod schema_op;
pub mod secret;
pub mod shutdown;
pub mod sql;
pub mod start_time;
pub mod tls;
pub mod version;

/// The id of a shard-DDL lock, as DM users know it:
/// ``<task>-`schema`.`table` `` (the merged downstream table). Masters and
/// workers both name locks with it.
pub fn shard_ddl_lock_id(task: &str, schema: &str, table: &str) -> String {
    format!("{task}-`{schema}`.`{table}`")
}

/// Generated protobuf code.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    missing_debug_implementations
)]
pub mod pb {
    tonic::include_proto!("dm");
    include!(concat!(env!("OUT_DIR"), "/dm.serde.rs"));

    /// Raft transport between masters.
    pub mod raft {
        tonic::include_proto!("dm.raft");
        include!(concat!(env!("OUT_DIR"), "/dm.raft.serde.rs"));
    }
}
