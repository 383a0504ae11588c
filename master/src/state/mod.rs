//! The replicated cluster state and the commands that change it.
//!
//! Every master holds the same [`ClusterState`], built by applying the
//! committed Raft log in order. [`ClusterState::apply`] is a pure function of
//! the state, the command and the time the leader stamped into the proposal:
//! no IO, no clock, no randomness. That makes every master agree, lets a
//! restarted master rebuild the state from its log and snapshot, and lets the
//! simulation replay any history.
//!
//! [`Command`] is a persisted wire format (it is written into the Raft log):
//! variants are never renamed or removed and new fields get serde defaults.
//! `tests` in this module pin the encoding of every variant.

mod apply;
mod binlog_ops;
mod command;
#[cfg(test)]
mod encoding_tests;
mod eviction;
mod key_check;
mod schema_ops;
mod shard_ddl;
#[cfg(test)]
mod test_support;

use std::collections::{BTreeMap, BTreeSet};

use dm_proto::config::SourceConfig;
use serde::{Deserialize, Serialize};

pub use binlog_ops::{BinlogOp, BinlogOpKind, NewBinlogOp};
pub use command::{CheckpointReport, Command, Rejection, Request, Response, TaskStage};
pub use schema_ops::{NewSchemaOp, SchemaOp};
pub use shard_ddl::{lock_id, Arrival, DdlPosition, LockMember, LockOp, ShardDdlLock};

/// Version of the [`ClusterState`] layout, stored with it in snapshots.
pub const STATE_VERSION: u32 = 1;

/// Everything the masters agree on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterState {
    /// Layout version ([`STATE_VERSION`]).
    pub version: u32,
    /// Upstream sources by source-id.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceEntry>,
    /// Registered workers by name.
    #[serde(default)]
    pub workers: BTreeMap<String, WorkerEntry>,
    /// Tasks by name.
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskEntry>,
    /// Current binding of each bound source.
    #[serde(default)]
    pub bindings: BTreeMap<String, Binding>,
    /// The source each worker was last bound to (kept after unbinding; the
    /// scheduler prefers it).
    #[serde(default)]
    pub last_bindings: BTreeMap<String, String>,
    /// Checkpoints workers reported: task -> source -> checkpoint.
    #[serde(default)]
    pub checkpoints: BTreeMap<String, BTreeMap<String, CheckpointEntry>>,
    /// Shard-DDL locks by lock id.
    #[serde(default)]
    pub shard_ddl_locks: BTreeMap<String, ShardDdlLock>,
    /// The epoch the next binding gets; epochs only grow.
    #[serde(default = "first_epoch")]
    pub next_epoch: u64,
    /// `binlog-schema` operations not applied yet: task -> source ->
    /// operations, ascending id (see `schema_ops`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schema_ops: BTreeMap<String, BTreeMap<String, Vec<SchemaOp>>>,
    /// The id the next `binlog-schema` operation gets; ids only grow.
    #[serde(default = "schema_ops::first_schema_op")]
    pub next_schema_op: u64,
    /// Masters that must not lead (`operate-leader evict`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub evicted_masters: BTreeSet<String>,
    /// `binlog skip|replace|inject` operations not done yet: task ->
    /// source -> operations, by position (see `binlog_ops`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub binlog_ops: BTreeMap<String, BTreeMap<String, Vec<BinlogOp>>>,
    /// The id the next `binlog` operation gets; ids only grow.
    #[serde(default = "binlog_ops::first_binlog_op")]
    pub next_binlog_op: u64,
    /// The check value of the key the cluster's passwords are encrypted
    /// under (see `key_check`); none before the first write that carries
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

fn first_epoch() -> u64 {
    1
}

impl Default for ClusterState {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            sources: BTreeMap::new(),
            workers: BTreeMap::new(),
            tasks: BTreeMap::new(),
            bindings: BTreeMap::new(),
            last_bindings: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            shard_ddl_locks: BTreeMap::new(),
            next_epoch: first_epoch(),
            schema_ops: BTreeMap::new(),
            next_schema_op: schema_ops::first_schema_op(),
            evicted_masters: BTreeSet::new(),
            binlog_ops: BTreeMap::new(),
            next_binlog_op: binlog_ops::first_binlog_op(),
            key_check: None,
        }
    }
}

/// A source and when it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceEntry {
    pub config: SourceConfig,
    /// Leader's clock at proposal, Unix milliseconds.
    pub created_at_ms: u64,
}

/// A registered worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerEntry {
    /// Address the worker advertises.
    pub addr: String,
    pub registered_at_ms: u64,
    /// Keepalive TTL the worker asked for (0: the default). Replicated so
    /// that every leader judges the worker by its own TTL.
    #[serde(default)]
    pub keepalive_ttl_ms: u64,
    /// Its running configuration as TOML, passwords masked, as it sent it
    /// when it last registered (`get-config worker`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config: String,
}

/// A task: its file and what each of its sources should be doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEntry {
    /// The task file as the user gave it (YAML).
    pub config_yaml: String,
    /// Expected stage per source-id.
    pub stages: BTreeMap<String, TaskStage>,
    pub created_at_ms: u64,
    /// Per source-id, how many times the subtask was resumed: a subtask
    /// paused by an error retries when the count grows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resumes: BTreeMap<String, u64>,
    /// `start-task --start-time`: where a subtask without checkpoints
    /// begins its sync (the worker finds the first transaction at or after
    /// it). As the user wrote it; empty when not given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_time: String,
}

/// A source bound to a worker under an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub worker: String,
    pub epoch: u64,
    pub bound_at_ms: u64,
}

/// The last checkpoint a worker reported for one subtask.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    pub binlog_name: String,
    pub binlog_pos: u32,
    #[serde(default)]
    pub binlog_gtid: String,
    pub reported_at_ms: u64,
}
