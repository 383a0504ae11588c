//! The binlog sync unit: follows a source's binlog and applies every change
//! downstream exactly once.
//!
//! ## Exactly once
//!
//! Changes are applied in batches of whole upstream transactions. A batch's
//! statements and the checkpoint row (the binlog position after its last
//! transaction) commit in one fenced downstream transaction (see
//! [`crate::downstream`]), so after any crash the unit resumes at the
//! checkpoint and every transaction before it is applied exactly once.
//!
//! ## After a full copy
//!
//! Each copy chunk was read in a snapshot at its own binlog position. The
//! unit starts at the earliest of them and runs in *safe mode* (idempotent
//! statements, see [`dml`]) until it has passed the latest: replaying a
//! change a chunk already contains is harmless, and from the latest chunk
//! position on every change is new, so it is applied exactly once.
//!
//! ## DDL
//!
//! A DDL ends the batch before it (a barrier), is routed and filtered by the
//! task's rules ([`ddl`]) and applied, then the checkpoint moves past it.
//! If the worker dies between the two, the DDL is applied again on resume;
//! "already exists" / "already dropped" errors of a replayed DDL are taken
//! as already applied.

pub mod ddl;
pub mod dml;
pub mod status;
pub mod stream;
pub mod value;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::{Column, Opts, Value};

use crate::downstream::{
    CheckpointKey, Commit, DownstreamError, MetaTables, MySqlDownstream, Position,
};
use crate::rules::{Action, ColumnValue, EventKind, TaskRules};
use dml::DmlBuilder;
use status::SyncProgress;
use stream::{BinlogReader, Event, RowChange, RowKind};

/// A batch is committed when idle this long (nothing more to read).
const IDLE_FLUSH: Duration = Duration::from_millis(20);
/// Checkpoint-only commits (everything filtered) at most this often.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// One source's sync within a task.
#[derive(Debug)]
pub struct SyncJob {
    pub task: String,
    pub source: String,
    pub epoch: u64,
    pub upstream: Opts,
    /// Replica server id of the binlog connection.
    pub server_id: u32,
    pub downstream: MySqlDownstream,
    pub meta: MetaTables,
    pub rules: TaskRules,
    /// Where to start reading.
    pub start: Position,
    /// Safe mode until the binlog passes this position (the latest copy
    /// chunk's).
    pub replay_until: Option<Position>,
    /// The task's `safe-mode`: always idempotent.
    pub always_safe: bool,
    /// Row changes per batch (`syncer.batch`).
    pub batch_rows: usize,
    pub statement_bytes: usize,
}

/// How a sync run ended (it never ends on its own otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Fenced { by_epoch: u64 },
}

/// The sync unit's one error type.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("upstream: {what}: {source}")]
    Upstream {
        what: String,
        #[source]
        source: mysql_async::Error,
    },
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
    #[error("binlog: {0}")]
    Decode(String),
    #[error("rules: {0}")]
    Rules(String),
    #[error("DDL `{sql}` cannot be applied: {error}")]
    Ddl { sql: String, error: String },
    #[error("the upstream closed the binlog stream")]
    Closed,
}

impl SyncError {
    /// Whether running again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Upstream { source, .. } => {
                !matches!(source, mysql_async::Error::Server(e) if e.code == 1236)
            }
            SyncError::Downstream(e) => e.is_transient(),
            SyncError::Closed => true,
            _ => false,
        }
    }
}

/// `a` is at or before `b` in the binlog.
pub fn at_or_before(a: &Position, b: &Position) -> bool {
    (a.binlog_name.as_str(), a.binlog_pos) <= (b.binlog_name.as_str(), b.binlog_pos)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn lock(progress: &Mutex<SyncProgress>) -> std::sync::MutexGuard<'_, SyncProgress> {
    progress.lock().unwrap_or_else(|p| p.into_inner())
}

/// The open batch: statements and the position after its last transaction.
struct Batch {
    builder: DmlBuilder,
    rows: usize,
    /// End of the last complete transaction in the batch.
    boundary: Option<Position>,
    /// Event time of the last transaction.
    timestamp: u32,
}

impl Batch {
    fn new(statement_bytes: usize) -> Self {
        Self {
            builder: DmlBuilder::new(statement_bytes),
            rows: 0,
            boundary: None,
            timestamp: 0,
        }
    }
}

/// Runs the sync until fenced or an error.
pub async fn run(
    job: Arc<SyncJob>,
    progress: Arc<Mutex<SyncProgress>>,
) -> Result<SyncOutcome, SyncError> {
    job.downstream.prepare(&job.meta).await?;
    if let Commit::Fenced { by_epoch } = job
        .downstream
        .claim(&job.meta, &job.source, job.epoch)
        .await?
    {
        return Ok(SyncOutcome::Fenced { by_epoch });
    }
    let key = CheckpointKey {
        meta_schema: job.meta.meta_schema.clone(),
        task: job.task.clone(),
        source: job.source.clone(),
        lane: 0,
    };
    tracing::info!(task = %job.task, source = %job.source, start = %job.start,
        replay_until = ?job.replay_until.as_ref().map(ToString::to_string), "binlog sync starting");
    let mut reader = BinlogReader::open(job.upstream.clone(), job.server_id, &job.start).await?;
    let mut batch = Batch::new(job.statement_bytes);
    let mut last_checkpoint = Instant::now();
    loop {
        let pending = batch.boundary.is_some();
        let next = if pending {
            match tokio::time::timeout(IDLE_FLUSH, reader.next()).await {
                Ok(next) => next?,
                Err(_) => {
                    if batch.rows > 0 || last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
                        if let Some(outcome) = flush(&job, &key, &mut batch, &progress).await? {
                            return Ok(outcome);
                        }
                        last_checkpoint = Instant::now();
                    }
                    continue;
                }
            }
        } else {
            reader.next().await?
        };
        let Some(located) = next else {
            return Err(SyncError::Closed);
        };
        {
            let mut p = lock(&progress);
            p.read = located.end.clone();
            if located.timestamp > 0 {
                p.lag_seconds = (now_unix() - i64::from(located.timestamp)).max(0);
            }
        }
        match located.event {
            Event::Rows {
                schema,
                table,
                columns,
                rows,
            } => {
                let safe = job.always_safe
                    || job
                        .replay_until
                        .as_ref()
                        .is_some_and(|until| at_or_before(&located.end, until));
                batch.rows += add_rows(
                    &job,
                    &mut batch.builder,
                    &schema,
                    &table,
                    &columns,
                    rows,
                    safe,
                )?;
            }
            Event::Commit => {
                batch.boundary = Some(located.end.clone());
                batch.timestamp = located.timestamp;
                if batch.rows >= job.batch_rows {
                    if let Some(outcome) = flush(&job, &key, &mut batch, &progress).await? {
                        return Ok(outcome);
                    }
                    last_checkpoint = Instant::now();
                }
            }
            Event::Query { schema, sql } => {
                if batch.boundary.is_some() {
                    if let Some(outcome) = flush(&job, &key, &mut batch, &progress).await? {
                        return Ok(outcome);
                    }
                }
                ddl::apply(&job, &schema, &sql).await?;
                batch.boundary = Some(located.end.clone());
                if let Some(outcome) = flush(&job, &key, &mut batch, &progress).await? {
                    return Ok(outcome);
                }
                last_checkpoint = Instant::now();
            }
            Event::Heartbeat => {
                if batch.boundary.is_none() {
                    lock(&progress).lag_seconds = 0;
                }
            }
            Event::Gtid(_) | Event::Other => {}
        }
    }
}

/// Commits the batch with its checkpoint; `Some` when fenced.
async fn flush(
    job: &SyncJob,
    key: &CheckpointKey,
    batch: &mut Batch,
    progress: &Mutex<SyncProgress>,
) -> Result<Option<SyncOutcome>, SyncError> {
    let Some(boundary) = batch.boundary.take() else {
        return Ok(None);
    };
    let done = std::mem::replace(batch, Batch::new(job.statement_bytes));
    let rows = done.rows as u64;
    let statements = done.builder.finish();
    match job
        .downstream
        .commit_fenced(key, job.epoch, &boundary, &statements)
        .await?
    {
        Commit::Committed => {
            let mut p = lock(progress);
            p.committed(&boundary, rows, Instant::now());
            p.replaying = job
                .replay_until
                .as_ref()
                .is_some_and(|until| at_or_before(&boundary, until));
            if done.timestamp > 0 {
                p.lag_seconds = (now_unix() - i64::from(done.timestamp)).max(0);
            }
            Ok(None)
        }
        Commit::Fenced { by_epoch } => Ok(Some(SyncOutcome::Fenced { by_epoch })),
    }
}

/// Adds a row event's changes through the rules; returns how many.
fn add_rows(
    job: &SyncJob,
    builder: &mut DmlBuilder,
    schema: &str,
    table: &str,
    columns: &Arc<[Column]>,
    rows: Vec<RowChange>,
    safe: bool,
) -> Result<usize, SyncError> {
    let rules = &job.rules;
    if !rules.block_allow.allows(schema, table) {
        return Ok(0);
    }
    let kind = match rows.first().map(|r| r.kind) {
        Some(RowKind::Insert) => EventKind::Insert,
        Some(RowKind::Update) => EventKind::Update,
        Some(RowKind::Delete) => EventKind::Delete,
        None => return Ok(0),
    };
    if rules.binlog_filter.decide(schema, table, kind, None) == Action::Ignore {
        return Ok(0);
    }
    let (target_schema, target_table) = rules
        .router
        .route(schema, table)
        .map_err(|e| SyncError::Rules(e.to_string()))?;
    let mapper = rules
        .column_mappings
        .mapper_for(schema, table)
        .map_err(|e| SyncError::Rules(e.to_string()))?;
    let mapped = match mapper {
        Some(m) => Some((
            columns
                .iter()
                .position(|c| c.name_str() == m.target_column())
                .ok_or_else(|| {
                    SyncError::Rules(format!(
                        "column mapping: column {} not found in `{schema}`.`{table}`",
                        m.target_column()
                    ))
                })?,
            m,
        )),
        None => None,
    };
    let count = rows.len();
    for mut change in rows {
        if let Some((position, mapper)) = mapped {
            for image in [change.before.as_mut(), change.after.as_mut()]
                .into_iter()
                .flatten()
            {
                if let Some(slot) = image.get_mut(position) {
                    let origin = match &*slot {
                        Value::Int(v) => ColumnValue::Int(*v),
                        Value::UInt(v) => ColumnValue::UInt(*v),
                        Value::NULL => continue,
                        Value::Bytes(b) => {
                            ColumnValue::Str(String::from_utf8_lossy(b).into_owned())
                        }
                        other => ColumnValue::Str(format!("{other:?}")),
                    };
                    let value =
                        mapper
                            .map_value(schema, table, position, &origin)
                            .map_err(|e| {
                                SyncError::Rules(format!(
                                    "column mapping of `{schema}`.`{table}`: {e}"
                                ))
                            })?;
                    *slot = match value {
                        ColumnValue::Int(v) => Value::Int(v),
                        ColumnValue::UInt(v) => Value::UInt(v),
                        ColumnValue::Str(s) => Value::Bytes(s.into_bytes()),
                        _ => Value::NULL,
                    };
                }
            }
        }
        builder.row(&target_schema, &target_table, columns, &change, safe);
    }
    Ok(count)
}
