//! Runs one subtask's units: the full copy, then (for `task-mode: all` and
//! `incremental`) the binlog sync, which runs until stopped.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use dm_proto::config::task::{MySqlInstance, ShardMode, TaskMode};
use dm_proto::config::{SourceConfig, TaskConfig};
use dm_proto::pb;
use tokio::sync::Notify;

use crate::copy::progress::CopyProgress;
use crate::copy::{self, CopyJob, CopyOutcome, DEFAULT_ROWS_PER_CHUNK};
use crate::databases::Databases;
use crate::downstream::{MetaTables, Position};
use crate::lock;
use crate::metrics::SubtaskMetrics;
use crate::schema::SchemaOp;
use crate::sync::progress::Progress;
use crate::sync::{self, SyncError, SyncJob, SyncOutcome};
use crate::upstream::at_time::{self, AtTime};
use crate::upstream::BinlogSource;
use dm_proto::start_time::StartTime;
use dm_rules::TaskRules;

/// What a subtask runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    pub task: String,
    pub source: String,
    pub epoch: u64,
    /// The task file (YAML).
    pub task_yaml: String,
    /// The source configuration (JSON).
    pub source_json: String,
    /// Which start of the task this is.
    pub generation: u64,
    /// `start-task --start-time`, as written; empty when not given.
    pub start_time: String,
}

/// What the leader's heartbeat answers say about a subtask, as they
/// arrive while its units run.
#[derive(Debug)]
pub struct FromLeader {
    /// Its shard-DDL operation.
    pub shard_ops: sync::shard::Ops,
    /// The `binlog-schema` operations held for it.
    pub schema_ops: tokio::sync::watch::Receiver<Vec<SchemaOp>>,
    /// The `binlog` operations held for it.
    pub binlog_ops: sync::binlog_ops::Ops,
}

/// How a unit run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitEnd {
    Finished,
    Fenced { by_epoch: u64 },
    Failed { error: String, transient: bool },
}

/// What a running unit shares with the supervisor.
#[derive(Debug)]
pub struct UnitShared {
    pub unit: pb::UnitType,
    pub progress: Arc<Mutex<CopyProgress>>,
    /// Set once the sync unit runs.
    pub sync: Option<Progress>,
    pub end: Option<UnitEnd>,
}

impl UnitShared {
    pub fn new() -> Self {
        Self {
            unit: pb::UnitType::Load,
            progress: Arc::new(Mutex::new(CopyProgress::new(Instant::now()))),
            sync: None,
            end: None,
        }
    }
}

impl UnitShared {
    /// The shared state of a new run of the same subtask: it reports the
    /// unit and sync progress of this one until it reaches its own.
    pub fn restarted(&self) -> Self {
        Self {
            unit: self.unit,
            sync: self.sync.clone(),
            ..Self::new()
        }
    }
}

impl Default for UnitShared {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs the subtask and records how it ended; wakes the supervisor. Its
/// runs count their events in `metrics`.
pub async fn run(
    spec: UnitSpec,
    shared: Arc<Mutex<UnitShared>>,
    wake: Arc<Notify>,
    leader: FromLeader,
    databases: Arc<dyn Databases>,
    metrics: Arc<SubtaskMetrics>,
) {
    let end = run_units(&spec, &shared, leader, &*databases, metrics).await;
    if let Some(end) = end {
        match &end {
            UnitEnd::Failed { error, transient } => {
                tracing::warn!(task = %spec.task, source = %spec.source, transient, %error, "subtask stopped on an error")
            }
            UnitEnd::Fenced { by_epoch } => {
                tracing::warn!(task = %spec.task, source = %spec.source, epoch = spec.epoch, by_epoch, "fenced: a newer epoch owns the source")
            }
            UnitEnd::Finished => {
                tracing::info!(task = %spec.task, source = %spec.source, "subtask finished")
            }
        }
        lock(&shared).end = Some(end);
        wake.notify_one();
    }
}

/// `None` while the subtask keeps running (the sync unit).
async fn run_units(
    spec: &UnitSpec,
    shared: &Arc<Mutex<UnitShared>>,
    leader: FromLeader,
    databases: &dyn Databases,
    metrics: Arc<SubtaskMetrics>,
) -> Option<UnitEnd> {
    let failed = |error: String| {
        Some(UnitEnd::Failed {
            error,
            transient: false,
        })
    };
    let task = match TaskConfig::parse("task", &spec.task_yaml) {
        Ok(t) => t,
        Err(e) => return failed(format!("the task's configuration is not valid: {e}")),
    };
    let source: SourceConfig = match serde_json::from_str(&spec.source_json) {
        Ok(s) => s,
        Err(e) => return failed(format!("the source's configuration is not valid: {e}")),
    };
    let Some(instance) = task.instance(&spec.source) else {
        return failed(format!(
            "task {} has no instance for source {}",
            task.name, spec.source
        ));
    };
    let rules = match TaskRules::for_source(&task, &spec.source)
        .and_then(|rules| rules.with_source_filters(&source.filters))
    {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    let rules_for_sync = rules.clone();
    let connections = [
        (&source.from, dm_proto::db_conn::FROM),
        (&task.target_database, dm_proto::db_conn::TARGET_DATABASE),
    ];
    for (db, block) in connections {
        if let Err(error) = databases.preflight(db, block).await {
            return failed(error);
        }
    }
    if task.task_mode != TaskMode::Incremental {
        {
            // A run after the sync began finds the copy done: it stays Sync.
            let mut shared = lock(shared);
            if shared.unit != pb::UnitType::Sync {
                shared.unit = pb::UnitType::Load;
            }
        }
        let dumper = task.mydumper_for(instance);
        let loader = task.loader_for(instance);
        let copiers = dumper.threads.clamp(1, loader.pool_size.max(1)).min(64) as usize;
        let progress = lock(shared).progress.clone();
        let job = CopyJob {
            task: task.name.clone(),
            source: spec.source.clone(),
            epoch: spec.epoch,
            upstream: databases.copy_source(&task.upstream_sessions(&source), copiers + 1),
            downstream: databases.downstream(&task.target_sessions(), copiers + 2),
            meta: MetaTables {
                meta_schema: task.meta_schema.clone(),
                task: task.name.clone(),
            },
            rules,
            copiers,
            rows_per_chunk: if dumper.rows > 0 {
                dumper.rows
            } else {
                DEFAULT_ROWS_PER_CHUNK
            },
            statement_bytes: usize::try_from(dumper.statement_size)
                .unwrap_or(usize::MAX)
                .clamp(4096, 16 << 20),
            on_duplicate: loader.on_duplicate_logical,
            row_filter: Some(dumper.where_clause.trim())
                .filter(|w| !w.is_empty())
                .map(str::to_string),
            metrics: metrics.clone(),
        };
        match copy::run(Arc::new(job), progress).await {
            Ok(CopyOutcome::Finished) => {}
            Ok(CopyOutcome::Fenced { by_epoch }) => return Some(UnitEnd::Fenced { by_epoch }),
            Err(e) => {
                return Some(UnitEnd::Failed {
                    transient: e.is_transient(),
                    error: e.to_string(),
                })
            }
        }
        if task.task_mode == TaskMode::Full {
            return Some(UnitEnd::Finished);
        }
    }
    // Errors while the sync sets up (say, finding the start time) are the
    // sync's, not the copy's.
    lock(shared).unit = pb::UnitType::Sync;
    let job = match sync_job(
        spec,
        &task,
        instance,
        &source,
        rules_for_sync,
        leader,
        databases,
        metrics,
    )
    .await
    {
        Ok(job) => job,
        Err(e) => {
            return Some(UnitEnd::Failed {
                transient: e.is_transient(),
                error: e.to_string(),
            })
        }
    };
    let progress = Progress::new(job.start.clone());
    {
        let mut shared = lock(shared);
        shared.unit = pb::UnitType::Sync;
        shared.sync = Some(progress.clone());
    }
    match sync::run(Arc::new(job), progress).await {
        Ok(SyncOutcome::Fenced { by_epoch }) => Some(UnitEnd::Fenced { by_epoch }),
        Err(e) => Some(UnitEnd::Failed {
            transient: e.is_transient(),
            error: e.to_string(),
        }),
    }
}

/// The sync of a subtask. Its lanes resume at their own checkpoints once
/// they have any; a first start begins at the earliest copy chunk's
/// position (safe mode until the latest), else at the task's `meta`, else
/// at the upstream's current position.
#[allow(clippy::too_many_arguments)]
async fn sync_job(
    spec: &UnitSpec,
    task: &TaskConfig,
    instance: &MySqlInstance,
    source: &SourceConfig,
    rules: TaskRules,
    leader: FromLeader,
    databases: &dyn Databases,
    metrics: Arc<SubtaskMetrics>,
) -> Result<SyncJob, SyncError> {
    let syncer = task.syncer_for(instance);
    let lanes = usize::try_from(syncer.worker_count)
        .unwrap_or(1)
        .clamp(1, MAX_LANES);
    let downstream = databases.downstream(&task.target_sessions(), lanes + 4);
    let meta = MetaTables {
        meta_schema: task.meta_schema.clone(),
        task: task.name.clone(),
    };
    downstream.prepare(&meta).await?;
    let statement_bytes = downstream.max_statement_bytes().await?;
    let copied: Vec<Position> = downstream
        .copy_plan(&meta, &spec.source)
        .await?
        .into_iter()
        .filter_map(|c| c.done.map(|d| d.position))
        .filter(|p| !p.binlog_name.is_empty())
        .collect();
    let earliest = Position::earliest(&copied).cloned();
    let latest = Position::latest(&copied).cloned();
    let upstream = databases.source(&task.upstream_sessions(source));
    let configured = instance
        .meta
        .as_ref()
        .filter(|m| !m.binlog_name.is_empty() || !m.binlog_gtid.is_empty())
        .map(|m| Position {
            binlog_name: m.binlog_name.clone(),
            binlog_pos: m.binlog_pos,
            binlog_gtid: m.binlog_gtid.clone(),
        });
    let server_id = replica_server_id(&spec.source, &task.name);
    let at_time = if spec.start_time.is_empty() || task.task_mode != TaskMode::Incremental {
        None
    } else {
        // Only a first start uses the start position: do not search the
        // binlog for a subtask that resumes at its checkpoints.
        let stored = downstream.lane_checkpoints(&meta, &spec.source).await?;
        if stored.is_empty() {
            Some(start_at_time(&*upstream, server_id, &spec.start_time).await?)
        } else {
            None
        }
    };
    let start = match at_time.or(earliest).or(configured) {
        Some(p) => p,
        None => upstream.position().await?,
    };
    Ok(SyncJob {
        task: task.name.clone(),
        source: spec.source.clone(),
        epoch: spec.epoch,
        upstream,
        server_id,
        downstream,
        meta,
        rules,
        start,
        replay_until: latest,
        always_safe: syncer.safe_mode,
        batch_rows: usize::try_from(syncer.batch).unwrap_or(100).max(1),
        lanes,
        statement_bytes,
        sharded: task.shard_mode != ShardMode::None,
        // The operations held when the sync starts: those that arrive
        // later wait for its next start (as DM's, they take effect when a
        // paused subtask resumes).
        schema_ops: leader.schema_ops.borrow().clone(),
        shard_ops: leader.shard_ops,
        binlog_ops: leader.binlog_ops,
        metrics,
    })
}

/// The start of the first transaction written at or after `start_time`
/// (see `upstream::at_time`).
async fn start_at_time(
    upstream: &dyn BinlogSource,
    server_id: u32,
    start_time: &str,
) -> Result<Position, SyncError> {
    let parsed = StartTime::parse(start_time).map_err(|e| SyncError::Position(e.to_string()))?;
    let at_unix_s = match parsed.unix_seconds() {
        Some(s) => s,
        None => upstream.unix_time(&parsed.local_text()).await?,
    };
    match at_time::position_at(upstream, server_id, at_unix_s).await? {
        AtTime::Found(position) => {
            tracing::info!(%start_time, ?position, "the sync begins at the start time");
            Ok(position)
        }
        AtTime::BeforeOldest(position) => {
            tracing::warn!(
                %start_time,
                ?position,
                "the start time is before the upstream's oldest binlog: the sync begins at its start; transactions written before it may have been purged"
            );
            Ok(position)
        }
        AtTime::TooLate => Err(SyncError::Position(format!(
            "start-time {start_time} is too late, no binlog location matches it: check the --start-time, or start the task again later"
        ))),
    }
}

/// Most apply lanes a subtask runs (`syncer.worker-count` above is capped).
pub const MAX_LANES: usize = 32;

/// A replica server id for this (source, task) stream: stable, distinct
/// per task (two streams with one id would cut each other off), and far
/// from the small ids upstream servers use.
fn replica_server_id(source: &str, task: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in source.bytes().chain([0]).chain(task.bytes()) {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    1_000_000 + hash % 1_000_000_000
}

/// How long a fence probe may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads the downstream fence of a subtask that was stopped: `Some(epoch)`
/// when a newer epoch has claimed the source since, i.e. this worker was
/// fenced out (the source moved while it was paused or cut off).
pub async fn probe_fence(spec: &UnitSpec, databases: &dyn Databases) -> Option<u64> {
    let task = TaskConfig::parse("task", &spec.task_yaml).ok()?;
    let downstream = databases.downstream(&task.target_sessions(), 1);
    let meta = MetaTables {
        meta_schema: task.meta_schema.clone(),
        task: task.name.clone(),
    };
    let stored = tokio::time::timeout(PROBE_TIMEOUT, downstream.fence_epoch(&meta, &spec.source))
        .await
        .ok()?
        .ok()?;
    let _ = downstream.close().await;
    (stored > spec.epoch).then_some(stored)
}
