//! The binlog sync unit: follows a source's binlog and applies every change
//! downstream exactly once.
//!
//! ## Exactly once, in parallel
//!
//! One reader reads the binlog through the upstream port
//! ([`crate::upstream`]) and puts each row change through the task's
//! rules; the changes go to `worker-count` apply lanes
//! ([`lane`]), chosen by table and primary key ([`route`]) so that one
//! row's changes stay in order on one lane. After every upstream
//! transaction the reader tells every lane where it ended (a boundary).
//! Each lane commits batches of whole transactions: a batch's statements
//! and the lane's checkpoint row (the position after its last transaction)
//! commit in one fenced downstream transaction (see [`crate::downstream`]).
//! After any crash the reader resumes at the earliest lane checkpoint and
//! each lane skips what its own checkpoint covers, so every change is
//! applied exactly once. A transaction that moves a row from one lane to
//! another, and every DDL, runs alone between barriers (all lanes commit
//! first).
//!
//! ## After a full copy
//!
//! Each copy chunk was read in a snapshot at its own binlog position. The
//! unit starts at the earliest of them and runs in *safe mode* (idempotent
//! statements, see [`crate::sql::dml`]) until it has passed the latest: replaying a
//! change a chunk already contains is harmless, and from the latest chunk
//! position on every change is new, so it is applied exactly once.
//!
//! ## DDL
//!
//! A DDL ends the batch before it (a barrier), is routed and filtered by the
//! task's rules ([`ddl`]) and applied, then the checkpoint moves past it.
//! If the worker dies between the two, the DDL is applied again on resume;
//! "already dropped" errors of a replayed DDL are taken as already
//! applied, "already exists" ones only when the downstream holds what the
//! statement creates (see [`ddl::execute`]).

pub mod ddl;
pub mod lane;
pub mod resume;
pub mod resync;
pub mod route;
pub mod shard;
pub mod shard_group;
pub mod status;
pub mod targets;
pub mod upstream_end;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::downstream::{CheckpointKey, Commit, Downstream, DownstreamError, MetaTables};
use crate::lock;
use crate::position::Position;
use crate::sql::qualified;
use crate::upstream::{BinlogSource, Column, Event, RowChange, RowKind, UpstreamError, Value};
use dm_rules::{Action, ColumnValue, EventKind, TaskRules};
use lane::{LaneMsg, Routed};
use route::LaneChoice;
use status::SyncProgress;

/// One source's sync within a task.
#[derive(Debug)]
pub struct SyncJob {
    pub task: String,
    pub source: String,
    pub epoch: u64,
    pub upstream: Arc<dyn BinlogSource>,
    /// Replica server id of the binlog connection.
    pub server_id: u32,
    pub downstream: Arc<dyn Downstream>,
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
    /// Parallel apply lanes (`syncer.worker-count`).
    pub lanes: usize,
    /// The longest statement the downstream accepts (see `sql::dml`).
    pub statement_bytes: usize,
    /// A sharded merge: table DDLs are coordinated through shard-DDL locks.
    pub sharded: bool,
    /// The leader's shard-DDL operation for this subtask.
    pub shard_ops: shard::Ops,
}

/// How a sync run ended (it never ends on its own otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Fenced { by_epoch: u64 },
}

/// The sync unit's one error type.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
    #[error("binlog: {0}")]
    Decode(String),
    /// A binlog position that the upstream does not have.
    #[error("binlog position: {0}")]
    Position(String),
    /// A row change that cannot be applied as logged.
    #[error("{table} at {at}: {error}; set binlog_row_image=FULL for the sessions that write it upstream, then start the task again from a position after these events")]
    Row {
        table: String,
        at: String,
        error: String,
    },
    #[error("rules: {0}")]
    Rules(String),
    #[error("shard DDL: {0}")]
    ShardDdl(String),
    #[error("DDL `{sql}` cannot be applied: {error}")]
    Ddl { sql: String, error: String },
    #[error(transparent)]
    RowTooLarge(#[from] crate::sql::RowTooLarge),
    #[error("the upstream closed the binlog stream")]
    Closed,
}

impl SyncError {
    /// Whether running again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Upstream(e) => e.binlog_retryable(),
            SyncError::Downstream(e) => e.is_transient(),
            SyncError::Closed => true,
            _ => false,
        }
    }
}

/// The reader's handle on the lanes.
struct Lanes {
    senders: Vec<mpsc::Sender<LaneMsg>>,
    tasks: JoinSet<Result<Option<u64>, SyncError>>,
}

impl Lanes {
    /// Why a lane stopped: its error, or fenced.
    async fn failure(&mut self) -> Result<SyncOutcome, SyncError> {
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok(Ok(Some(by_epoch))) => return Ok(SyncOutcome::Fenced { by_epoch }),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(None)) => {}
                Err(e) => return Err(SyncError::Decode(format!("an apply lane stopped: {e}"))),
            }
        }
        Err(SyncError::Decode("the apply lanes stopped".into()))
    }

    async fn send(
        &mut self,
        lane: usize,
        msg: LaneMsg,
    ) -> Result<(), Result<SyncOutcome, SyncError>> {
        let Some(sender) = self.senders.get(lane) else {
            return Err(Err(SyncError::Decode(format!("no lane {lane}"))));
        };
        if sender.send(msg).await.is_err() {
            return Err(self.failure().await);
        }
        Ok(())
    }

    async fn boundary(
        &mut self,
        end: &Position,
        timestamp: u32,
    ) -> Result<(), Result<SyncOutcome, SyncError>> {
        for lane in 0..self.senders.len() {
            self.send(
                lane,
                LaneMsg::Boundary {
                    end: end.clone(),
                    timestamp,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Every lane commits what it has; returns when all did.
    async fn barrier(&mut self) -> Result<(), Result<SyncOutcome, SyncError>> {
        let mut acks = Vec::with_capacity(self.senders.len());
        for lane in 0..self.senders.len() {
            let (done, ack) = oneshot::channel();
            self.send(lane, LaneMsg::Barrier(done)).await?;
            acks.push(ack);
        }
        for ack in acks {
            if ack.await.is_err() {
                return Err(self.failure().await);
            }
        }
        Ok(())
    }
}

/// Changes of the open upstream transaction, waiting for its end.
#[derive(Default)]
struct Transaction {
    changes: Vec<(Routed, LaneChoice)>,
    /// About how much memory `changes` take.
    bytes: usize,
    conflict: bool,
    /// Too big to hold: streamed to lane 0 between barriers.
    serial: bool,
}

/// Runs the sync until fenced or an error.
pub async fn run(
    job: Arc<SyncJob>,
    progress: Arc<Mutex<SyncProgress>>,
) -> Result<SyncOutcome, SyncError> {
    match drive(job, progress).await {
        Ok(outcome) | Err(Ok(outcome)) => Ok(outcome),
        Err(Err(e)) => Err(e),
    }
}

type Stop = Result<SyncOutcome, SyncError>;

fn stop(e: impl Into<SyncError>) -> Stop {
    Err(e.into())
}

async fn drive(job: Arc<SyncJob>, progress: Arc<Mutex<SyncProgress>>) -> Result<SyncOutcome, Stop> {
    job.downstream.prepare(&job.meta).await.map_err(stop)?;
    if let Commit::Fenced { by_epoch } = job
        .downstream
        .claim(&job.meta, &job.source, job.epoch)
        .await
        .map_err(stop)?
    {
        return Ok(SyncOutcome::Fenced { by_epoch });
    }
    let lanes_n = job.lanes.max(1);
    let mut stored = job
        .downstream
        .lane_checkpoints(&job.meta, &job.source)
        .await
        .map_err(stop)?;
    if stored.is_empty() {
        // First start: every lane's checkpoint begins at the start, so a
        // lane that has not committed yet still resumes from there.
        for lane in 0..lanes_n {
            let key = CheckpointKey {
                meta_schema: job.meta.meta_schema.clone(),
                task: job.task.clone(),
                source: job.source.clone(),
                lane: lane as u32,
            };
            if let Commit::Fenced { by_epoch } = job
                .downstream
                .commit_fenced(&key, job.epoch, &job.start, &[])
                .await
                .map_err(stop)?
            {
                return Ok(SyncOutcome::Fenced { by_epoch });
            }
            stored.insert(lane as u32, job.start.clone());
        }
    }
    let files = job.upstream.files().await.map_err(stop)?;
    let resume::ResumePlan {
        mut from,
        skips,
        replay_until: relane_until,
        positions: per_lane,
    } = resume::plan(&stored, lanes_n, &job.start, &files).map_err(stop)?;
    // A sharding group's window within this source (see `shard_group`):
    // when its DDL already ran, the held rows are re-read first.
    let mut window = resync::load(&job).await.map_err(stop)?;
    let mut resync = None;
    if let Some(w) = window.as_ref() {
        if let (Some(until), Some(first)) = (w.until(), w.first()) {
            let lane0 = per_lane.first().cloned().unwrap_or_else(|| from.clone());
            tracing::info!(task = %job.task, source = %job.source, %first, %until,
                "the shard group's DDL already ran: re-reading its held rows first");
            resync = Some(resync::Resync::new(&job, until, lane0));
            if first.at_or_before(&from) {
                from = first;
            }
        }
    }
    let replay_until = match (&job.replay_until, relane_until) {
        (Some(a), Some(b)) => Some(if a.at_or_before(&b) { b } else { a.clone() }),
        (a, b) => a.clone().or(b),
    };
    *lock(&progress) = SyncProgress::new(Instant::now(), per_lane.clone());
    lock(&progress).shard_group = window.as_ref().map(shard_group::GroupWindow::status);
    tracing::info!(task = %job.task, source = %job.source, start = %from, lanes = lanes_n,
        replay_until = ?replay_until.as_ref().map(ToString::to_string), "binlog sync starting");

    let mut lanes = Lanes {
        senders: Vec::with_capacity(lanes_n),
        tasks: JoinSet::new(),
    };
    for (index, skip) in skips.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel(4096);
        lanes.senders.push(tx);
        lanes
            .tasks
            .spawn(lane::run(index, job.clone(), skip, progress.clone(), rx));
    }
    // Aborted when the run ends (the set is dropped).
    let mut background = JoinSet::new();
    background.spawn(upstream_end::follow(job.upstream.clone(), progress.clone()));
    let mut reader = job
        .upstream
        .open(job.server_id, &from)
        .await
        .map_err(stop)?;
    let mut targets = targets::Targets::default();
    let mut txn = Transaction::default();
    let mut ops = job.shard_ops.clone();
    shard::passed(&ops, &progress);
    loop {
        let next = tokio::select! {
            next = reader.next() => next.map_err(stop)?,
            failed = lanes.failure() => return Err(failed),
            Ok(()) = ops.changed() => {
                shard::passed(&ops, &progress);
                continue;
            }
        };
        let Some(located) = next else {
            return Err(Err(SyncError::Closed));
        };
        {
            let mut p = lock(&progress);
            p.read = located.end.clone();
            if located.timestamp > 0 && p.committed.binlog_pos == p.read.binlog_pos {
                p.lag_seconds = 0;
            }
        }
        if let Some(r) = resync.as_mut() {
            if r.covers(&located.end) {
                if let (
                    Some(w),
                    Event::Rows {
                        schema,
                        table,
                        columns,
                        rows,
                    },
                ) = (window.as_ref(), &located.event)
                {
                    if w.replays(schema, table, &located.end) {
                        let mut routed = route_rows(
                            &job,
                            schema,
                            table,
                            columns,
                            rows.clone(),
                            true,
                            &located.end,
                        )
                        .map_err(stop)?;
                        if let Some(first) = routed.first() {
                            let facts = targets
                                .facts(&*job.downstream, &first.target_schema, &first.target_table)
                                .await
                                .map_err(stop)?;
                            targets::prepare(&mut routed, &facts).map_err(stop)?;
                        }
                        r.add(routed).map_err(stop)?;
                    }
                }
                if matches!(located.event, Event::Commit) && r.is_full(job.batch_rows) {
                    if let Some(by_epoch) = r.flush(&job).await.map_err(stop)? {
                        return Ok(SyncOutcome::Fenced { by_epoch });
                    }
                }
                if !r.ends_at(&located.end) {
                    continue;
                }
            }
            // The window's end: the held rows are all applied; close it.
            if let Some(by_epoch) = r.flush(&job).await.map_err(stop)? {
                return Ok(SyncOutcome::Fenced { by_epoch });
            }
            if let Some(by_epoch) = resync::save(&job, None).await.map_err(stop)? {
                return Ok(SyncOutcome::Fenced { by_epoch });
            }
            tracing::info!(task = %job.task, source = %job.source, rows = r.rows, until = %r.until,
                "shard group window closed: held rows re-applied");
            let inside = r.covers(&located.end);
            lock(&progress).shard_group = None;
            window = None;
            resync = None;
            if inside {
                continue;
            }
        }
        match located.event {
            Event::Rows {
                schema,
                table,
                columns,
                rows,
            } => {
                if window
                    .as_ref()
                    .is_some_and(|w| w.holds(&schema, &table, &located.end))
                {
                    // Held: its table reached a shard DDL; re-read later.
                    continue;
                }
                let safe = job.always_safe
                    || replay_until
                        .as_ref()
                        .is_some_and(|until| located.end.at_or_before(until));
                let mut routed =
                    route_rows(&job, &schema, &table, &columns, rows, safe, &located.end)
                        .map_err(stop)?;
                // One event, one table: its target and lane policy once.
                let Some(first) = routed.first() else {
                    continue;
                };
                let target = qualified(&first.target_schema, &first.target_table);
                let facts = targets
                    .facts(&*job.downstream, &first.target_schema, &first.target_table)
                    .await
                    .map_err(stop)?;
                targets::prepare(&mut routed, &facts).map_err(stop)?;
                for r in routed {
                    let choice =
                        route::lane_of(&target, &r.columns, &r.change, lanes_n, facts.serial);
                    if txn.serial {
                        lanes.send(0, LaneMsg::Change(Box::new(r))).await?;
                        continue;
                    }
                    txn.conflict |= choice == LaneChoice::Conflict;
                    txn.bytes += r.approx_bytes();
                    txn.changes.push((r, choice));
                    if txn.changes.len() > MAX_HELD_CHANGES || txn.bytes > MAX_HELD_BYTES {
                        // Too big to hold: the rest of it goes to lane 0 alone.
                        lanes.barrier().await?;
                        txn.serial = true;
                        for (r, _) in std::mem::take(&mut txn.changes) {
                            lanes.send(0, LaneMsg::Change(Box::new(r))).await?;
                        }
                    }
                }
            }
            Event::Commit => {
                let done = std::mem::take(&mut txn);
                if done.serial || done.conflict {
                    if !done.serial {
                        lanes.barrier().await?;
                    }
                    for (r, _) in done.changes {
                        lanes.send(0, LaneMsg::Change(Box::new(r))).await?;
                    }
                    lanes.boundary(&located.end, located.timestamp).await?;
                    lanes.barrier().await?;
                } else {
                    for (r, choice) in done.changes {
                        let lane = match choice {
                            LaneChoice::Lane(l) => l,
                            LaneChoice::Conflict => 0,
                        };
                        lanes.send(lane, LaneMsg::Change(Box::new(r))).await?;
                    }
                    lanes.boundary(&located.end, located.timestamp).await?;
                }
            }
            Event::Query { schema, sql } => {
                // A DDL is a barrier: everything before it is applied first,
                // and every lane's checkpoint moves past it after.
                lanes.barrier().await?;
                // Re-read from before the downstream's state (see `ddl::execute`).
                let replaying = replay_until
                    .as_ref()
                    .is_some_and(|until| located.end.at_or_before(until));
                if job.sharded {
                    let at = located.end.clone();
                    let mut shard = ShardCtx {
                        lanes: &mut lanes,
                        ops: &mut ops,
                        progress: &progress,
                        window: &mut window,
                    };
                    if let Some(outcome) =
                        sharded_ddl(&job, &mut shard, &schema, &sql, at, replaying).await?
                    {
                        return Ok(outcome);
                    }
                } else {
                    ddl::apply(&job, &schema, &sql, replaying)
                        .await
                        .map_err(stop)?;
                }
                targets.clear();
                lanes.boundary(&located.end, located.timestamp).await?;
                lanes.barrier().await?;
                if job.sharded {
                    shard::done(&progress);
                }
                if let Some((until, first)) = window
                    .as_ref()
                    .and_then(|w| w.until().zip(w.first()))
                    .filter(|_| resync.is_none())
                {
                    // The group's DDL ran: re-read the held rows.
                    tracing::info!(task = %job.task, source = %job.source, from = %first, %until,
                        "re-reading the rows held by the shard group");
                    resync = Some(resync::Resync::new(&job, until, located.end.clone()));
                    drop(reader);
                    reader = job
                        .upstream
                        .open(job.server_id, &first)
                        .await
                        .map_err(stop)?;
                }
            }
            Event::Heartbeat => {
                let mut p = lock(&progress);
                if p.committed.binlog_pos == p.read.binlog_pos
                    && p.committed.binlog_name == p.read.binlog_name
                {
                    p.lag_seconds = 0;
                }
            }
            Event::Gtid(_) | Event::Other => {}
        }
    }
}

/// A DDL of a sharded merge (see [`shard`]): applied, skipped, or
/// coordinated through its lock, waiting until the leader says whether to
/// execute or skip it. The caller moves the checkpoints past it.
struct ShardCtx<'a> {
    lanes: &'a mut Lanes,
    ops: &'a mut shard::Ops,
    progress: &'a Mutex<SyncProgress>,
    window: &'a mut Option<shard_group::GroupWindow>,
}

async fn sharded_ddl(
    job: &SyncJob,
    ctx: &mut ShardCtx<'_>,
    schema: &str,
    sql: &str,
    at: Position,
    replaying: bool,
) -> Result<Option<SyncOutcome>, Stop> {
    let refused = |error: String| {
        stop(SyncError::Ddl {
            sql: sql.to_string(),
            error,
        })
    };
    let plan = ddl::plan(&job.rules, schema, sql).map_err(refused)?;
    let ddl = match shard::classify(plan).map_err(refused)? {
        shard::Sharded::Skip(why) => {
            tracing::debug!(task = %job.task, source = %job.source, %sql, why, "DDL skipped");
            return Ok(None);
        }
        shard::Sharded::Direct(statements) => {
            ddl::execute(job, &statements, replaying)
                .await
                .map_err(stop)?;
            return Ok(None);
        }
        shard::Sharded::Coordinate {
            schema,
            table,
            ddls,
            upstream,
        } => {
            let target = (schema, table);
            let step = resync::arrive(job, ctx.progress, ctx.window, upstream, &target, &ddls, &at)
                .await
                .map_err(stop)?;
            match step {
                Err(by_epoch) => return Ok(Some(SyncOutcome::Fenced { by_epoch })),
                // Other shard tables of this source have not reached it.
                Ok(resync::GroupStep::Waiting) => return Ok(None),
                Ok(resync::GroupStep::Single | resync::GroupStep::AllArrived) => {}
            }
            let (schema, table) = target;
            shard::ShardDdl {
                schema,
                table,
                ddls,
                at,
            }
        }
    };
    shard::arrived(ctx.progress, &job.task, &ddl);
    let op = tokio::select! {
        op = shard::wait_op(ctx.ops, &ddl.at) => op.map_err(stop)?,
        failed = ctx.lanes.failure() => return Err(failed),
    };
    if op.execute {
        let outcome = shard::execute_once(job, &ddl, &op.lock_id, replaying)
            .await
            .map_err(stop)?;
        if let Commit::Fenced { by_epoch } = outcome {
            return Ok(Some(SyncOutcome::Fenced { by_epoch }));
        }
    } else {
        tracing::info!(task = %job.task, source = %job.source, lock = %op.lock_id, "shard DDL skipped: the owner executed it");
    }
    if let Some(w) = ctx.window.as_mut() {
        // Recorded before the checkpoints pass the DDL: a successor then
        // knows to re-read the held rows.
        w.resolved(&ddl.at);
        if let Some(by_epoch) = resync::save(job, Some(w)).await.map_err(stop)? {
            return Ok(Some(SyncOutcome::Fenced { by_epoch }));
        }
    }
    Ok(None)
}

/// Changes held per upstream transaction before it is streamed serially.
const MAX_HELD_CHANGES: usize = 20_000;
/// Memory the changes of one upstream transaction may take in the reader
/// before it is streamed serially (the lane then bounds it, see `lane`).
const MAX_HELD_BYTES: usize = 16 << 20;

/// A row event's changes through the rules (filters, routes, column
/// mappings), ready for the lanes.
fn route_rows(
    job: &SyncJob,
    schema: &str,
    table: &str,
    columns: &Arc<[Column]>,
    rows: Vec<RowChange>,
    safe: bool,
    end: &Position,
) -> Result<Vec<Routed>, SyncError> {
    let rules = &job.rules;
    if !rules.block_allow.allows(schema, table) {
        return Ok(Vec::new());
    }
    let kind = match rows.first().map(|r| r.kind) {
        Some(RowKind::Insert) => EventKind::Insert,
        Some(RowKind::Update) => EventKind::Update,
        Some(RowKind::Delete) => EventKind::Delete,
        None => return Ok(Vec::new()),
    };
    if rules.binlog_filter.decide(schema, table, kind, None) == Action::Ignore {
        return Ok(Vec::new());
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
                .position(|c| c.name == m.target_column())
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
    let mut out = Vec::with_capacity(rows.len());
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
                        Value::Null => continue,
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
                        _ => Value::Null,
                    };
                }
            }
        }
        out.push(Routed {
            target_schema: target_schema.clone(),
            target_table: target_table.clone(),
            columns: columns.clone(),
            change,
            safe,
            end: end.clone(),
        });
    }
    Ok(out)
}
