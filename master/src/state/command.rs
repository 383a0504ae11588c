//! Commands (the Raft log's payload) and their results.

use dm_proto::config::SourceConfig;
use serde::{Deserialize, Serialize};

use super::binlog_ops::NewBinlogOp;
use super::schema_ops::NewSchemaOp;
use super::shard_ddl::{Arrival, DdlPosition};

/// One Raft log entry's payload: a command and the leader's clock when it
/// proposed it (Unix milliseconds). `apply` uses this time, never a clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub command: Command,
    pub proposed_at_ms: u64,
}

/// A change to the cluster state. Persisted: never rename or remove a
/// variant; give new fields serde defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// `operate-source create`.
    CreateSource { config: Box<SourceConfig> },
    /// `operate-source stop`: removes the source and its binding.
    RemoveSource { source_id: String },
    /// A worker registered (or registered again, e.g. after a restart).
    RegisterWorker {
        name: String,
        addr: String,
        /// The worker's keepalive TTL; 0 (entries from before the field)
        /// means the default.
        #[serde(default)]
        keepalive_ttl_ms: u64,
        /// The worker's running configuration as TOML, passwords masked
        /// (`get-config worker`); empty from workers that did not send it.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        config: String,
    },
    /// `offline-member --worker`: forget a worker.
    RemoveWorker { name: String },
    /// Bind a source to a worker under a new, larger epoch.
    Bind { source: String, worker: String },
    /// Unbind a source (its worker stops it).
    Unbind { source: String },
    /// `start-task`: the task's file and its sources' expected stage.
    StartTask {
        name: String,
        config_yaml: String,
        sources: Vec<String>,
        stage: TaskStage,
        /// `--start-time` as the user wrote it (see `TaskEntry::start_time`).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        start_time: String,
    },
    /// `pause-task` / `resume-task` for some sources of a task.
    SetTaskStage {
        name: String,
        sources: Vec<String>,
        stage: TaskStage,
    },
    /// `stop-task` for some sources (all of them removes the task).
    StopTask { name: String, sources: Vec<String> },
    /// Checkpoints workers reported, flushed periodically by the leader.
    ReportCheckpoints { reports: Vec<CheckpointReport> },
    /// A source reached a shard DDL and waits at it (pessimistic mode).
    ShardDdlArrive(Arrival),
    /// A source executed (owner) or skipped the DDL of a lock.
    ShardDdlDone {
        lock: String,
        source: String,
        at: DdlPosition,
    },
    /// `unlock-ddl-lock`: stop waiting for missing sources (or, with
    /// `force_remove`, delete the lock); `owner` (if set) executes.
    UnlockDdlLock {
        lock: String,
        #[serde(default)]
        owner: String,
        #[serde(default)]
        force_remove: bool,
    },
    /// `binlog-schema update` / `delete`: operations for sources of a
    /// task, held until their subtasks applied them.
    AddSchemaOps { task: String, ops: Vec<NewSchemaOp> },
    /// A subtask reported the operations up to `applied` applied.
    SchemaOpsApplied {
        task: String,
        source: String,
        applied: u64,
    },
    /// `operate-leader evict`: `name` must not lead; `voters` are the
    /// voting masters when the leader proposed it (see `eviction`).
    EvictLeader { name: String, voters: Vec<String> },
    /// `operate-leader cancel-evict`: `name` (every master when `None`) may
    /// lead again.
    CancelEvictLeader {
        #[serde(default)]
        name: Option<String>,
    },
    /// `binlog skip|replace|inject`: operations for sources of a task, each
    /// replacing one at its position, held until their subtasks are done
    /// with them; `resume` resumes those subtasks (paused by an error).
    SetBinlogOps {
        task: String,
        ops: Vec<NewBinlogOp>,
        #[serde(default)]
        resume: Vec<String>,
    },
    /// `binlog revert`: drops the operation at `at`.
    RevertBinlogOp {
        task: String,
        source: String,
        at: dm_proto::binlog_op::BinlogAt,
    },
    /// A subtask reported these operations done.
    BinlogOpsDone {
        task: String,
        source: String,
        ids: Vec<u64>,
    },
    /// Changes nothing. The leader appends one to restart replication to a
    /// follower that is reachable but behind (see `catch_up`).
    Noop,
    /// `config import`'s first step: refused unless the cluster has no
    /// source and no task; then bindings get epochs of at least
    /// `epoch_floor` (the exporting cluster's next epoch), so the fence rows
    /// that cluster left downstream do not fence this one out.
    PrepareImport { epoch_floor: u64 },
    /// The check value of the password key of the master that proposes a
    /// write carrying passwords: recorded by the first, refused when it
    /// differs from the recorded one (see `key_check`).
    RecordKeyCheck { check: String },
}

/// What a subtask of a source should be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStage {
    Running,
    Paused,
}

/// One subtask's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointReport {
    pub task: String,
    pub source: String,
    pub binlog_name: String,
    pub binlog_pos: u32,
    #[serde(default)]
    pub binlog_gtid: String,
}

/// The result of applying a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Applied.
    Done,
    /// Applied; the binding got this epoch.
    Bound { epoch: u64 },
    /// Applied; the `binlog-schema` operations got these ids, in order.
    SchemaOps { ids: Vec<u64> },
    /// Applied; the `binlog` operations got these ids, in order.
    BinlogOps { ids: Vec<u64> },
    /// Not applied: the command does not fit the state.
    Rejected(Rejection),
}

/// Why a command was not applied. The messages are shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    #[error(
        "source {0} already exists; stop it first (`operate-source stop {0}`) to create it anew"
    )]
    SourceExists(String),
    #[error("source {0} does not exist; create it with `operate-source create`")]
    SourceNotFound(String),
    #[error("source {source_id} is used by task(s) {tasks}; stop them first")]
    SourceInUse { source_id: String, tasks: String },
    #[error("worker {0} does not exist")]
    WorkerNotFound(String),
    #[error(
        "worker {name} is registered at {existing}, not {requested}; a worker name must be unique"
    )]
    WorkerNameTaken {
        name: String,
        existing: String,
        requested: String,
    },
    #[error("worker {0} is bound to source {1}; a bound worker cannot be removed")]
    WorkerBound(String, String),
    #[error("worker {worker} is already bound to source {source_id}")]
    WorkerBusy { worker: String, source_id: String },
    #[error("source {0} is not bound")]
    NotBound(String),
    #[error("task {0} already exists; stop it first or use another name")]
    TaskExists(String),
    #[error("task {0} does not exist")]
    TaskNotFound(String),
    #[error("source {source_id} is not part of task {task}")]
    SourceNotInTask { task: String, source_id: String },
    #[error("shard DDL lock {0} does not exist")]
    LockNotFound(String),
    #[error("source {owner} is not waiting at lock {lock}, so it cannot execute its DDL")]
    OwnerNotWaiting { lock: String, owner: String },
    #[error("master {0} is not a voting member of the cluster")]
    NotAVoter(String),
    #[error("master {0} is the last master that may lead; evicting it would leave the cluster without a leader (cancel another eviction first: `operate-leader cancel-evict --name NAME`)")]
    LastEligibleMaster(String),
    #[error("the cluster is not empty (sources: {sources}; tasks: {tasks}); import only into a cluster without sources and tasks, or stop them first (`stop-task`, `operate-source stop`)")]
    ClusterNotEmpty { sources: String, tasks: String },
    /// DM's text (`ErrSyncerOperatorNotExist`).
    #[error("error operator not exist, position: {0}")]
    BinlogOpNotFound(String),
    #[error("this master's password key (check value {this}) is not the one the cluster's passwords are encrypted under ({cluster}); give every master the same secret-key-path file (none: DM's built-in key) and restart this one")]
    KeyMismatch { cluster: String, this: String },
}
