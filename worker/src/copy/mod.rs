//! The full copy: dump and load as one streamed unit, resumable chunk by
//! chunk on any worker.
//!
//! ## Protocol
//!
//! 1. **Claim.** The worker claims the source in the downstream fence
//!    (see [`crate::downstream`]) with its binding epoch. From then on a
//!    worker that had the source before cannot commit anything.
//! 2. **Snapshots.** It opens one consistent snapshot per copier on the
//!    upstream (MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT` and the
//!    snapshot's exact binlog position, no lock), all at one position when
//!    it can (see `crate::upstream::mysql::open_snapshots`).
//! 3. **Plan.** If the source has no plan downstream yet, it lists the
//!    tables the block-allow list selects, routes each one, creates the
//!    target schemas and tables downstream, splits every table into
//!    integer-key chunks ([`plan`]), stores the tables' definitions read in
//!    the snapshot as the schema tracker's start (`sync::schemas`), and
//!    writes the plan to
//!    `<task>_copy_chunk` in one fenced transaction. A resumed copy reads the
//!    stored plan instead, so every worker copies the same chunks.
//! 4. **Copy.** Copiers take the chunks not yet done. Each reads its chunk
//!    in its snapshot (streamed, never a file), rewrites the rows with the
//!    column mappings, and writes them as multi-row `INSERT`s through a
//!    fenced downstream transaction, while the next rows are still being
//!    read (no statement longer than the downstream's `max_allowed_packet`
//!    allows: a row that cannot fit even alone stops the copy, naming it);
//!    the chunk's done-mark, with its row and byte counts and the
//!    snapshot's binlog position, commits in that same transaction. A chunk
//!    is therefore copied exactly once, whatever dies when.
//! 5. **Done** when every chunk is done. The sync unit starts from the
//!    earliest chunk position and replays idempotently up to the latest.
//!
//! The upstream is reached through [`CopySource`] (snapshots, the upstream
//! port) and
//! the downstream through [`Downstream`] (`save_copy_plan`, `begin_chunk`),
//! so the deterministic simulation runs this same code on its in-memory
//! databases.

mod chunks;
pub mod definition;
pub mod discover;
pub mod plan;
pub mod progress;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::downstream::{
    ChunkDone, Commit, Downstream, DownstreamError, MetaTables, OpenChunk, StoredChunk,
    StoredSchema,
};
use crate::lock;
use crate::schema::SchemaTracker;
use crate::sql::{self, push_literal, push_quoted, qualified, InsertBatcher, Literal, RowTooLarge};
use crate::upstream::expr_value::text_value;
use crate::upstream::{CopySnapshot, CopySource, UpstreamError};
use dm_proto::config::task::OnDuplicate;
use dm_rules::expr::{Row, Value as ExprValue};
use dm_rules::{ColumnValue, EventKind, Fate, Route, TaskRules};
use progress::CopyProgress;

/// Default rows per chunk (one downstream transaction each).
pub const DEFAULT_ROWS_PER_CHUNK: u64 = 20_000;
/// How often the worker logs the copy's progress.
pub const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// One source's copy within a task.
#[derive(Debug)]
pub struct CopyJob {
    pub task: String,
    pub source: String,
    pub epoch: u64,
    /// The upstream's snapshots.
    pub upstream: Arc<dyn CopySource>,
    pub downstream: Arc<dyn Downstream>,
    pub meta: MetaTables,
    pub rules: TaskRules,
    /// Parallel reader/writer pairs.
    pub copiers: usize,
    pub rows_per_chunk: u64,
    /// Size at which an INSERT statement is cut (the task's
    /// `statement-size`); the downstream's own limit caps it.
    pub statement_bytes: usize,
    /// What a row whose key is already downstream does (the task's
    /// `on-duplicate-logical`).
    pub on_duplicate: OnDuplicate,
    /// The condition every copied row meets (the instance's
    /// `mydumpers.where`, checked to parse); `None`: every row.
    pub row_filter: Option<String>,
    /// The subtask's metric handles (chunks and rows copied).
    pub metrics: Arc<crate::metrics::SubtaskMetrics>,
}

/// How a copy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyOutcome {
    /// Every chunk is done.
    Finished,
    /// A newer epoch owns the source: this worker must stop it.
    Fenced { by_epoch: u64 },
}

/// The copy's one error type.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
    #[error("rules: {0}")]
    Rules(String),
    #[error(transparent)]
    RowTooLarge(#[from] RowTooLarge),
    #[error("{0}")]
    Unexpected(String),
}

impl CopyError {
    /// Whether running the copy again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            CopyError::Downstream(e) => e.is_transient(),
            CopyError::Upstream(e) => e.connection_lost(),
            _ => false,
        }
    }
}

/// Runs the copy to its end (or until fenced); `progress` is updated as
/// chunks commit.
pub async fn run(
    job: Arc<CopyJob>,
    progress: Arc<Mutex<CopyProgress>>,
) -> Result<CopyOutcome, CopyError> {
    job.downstream.prepare(&job.meta).await?;
    if let Commit::Fenced { by_epoch } = job
        .downstream
        .claim(&job.meta, &job.source, job.epoch)
        .await?
    {
        return Ok(CopyOutcome::Fenced { by_epoch });
    }
    let mut plan = job.downstream.copy_plan(&job.meta, &job.source).await?;
    let pending = plan.iter().filter(|c| c.done.is_none()).count();
    if !plan.is_empty() && pending == 0 {
        set_progress(&progress, &plan);
        return Ok(CopyOutcome::Finished);
    }
    let copiers = if plan.is_empty() {
        job.copiers
    } else {
        job.copiers.min(pending)
    }
    .max(1);
    let mut snapshots = job.upstream.open_snapshots(copiers).await?;
    let Some(first) = snapshots.first_mut() else {
        return Err(CopyError::Unexpected("no upstream snapshot".into()));
    };
    if plan.is_empty() {
        plan = match make_plan(&job, first.as_mut()).await? {
            Planned::Plan(plan) => plan,
            Planned::Fenced { by_epoch } => return Ok(CopyOutcome::Fenced { by_epoch }),
        };
        tracing::info!(task = %job.task, source = %job.source, chunks = plan.len(),
            position = %first.position(), "copy planned");
    } else {
        tracing::info!(task = %job.task, source = %job.source, chunks = plan.len(), pending,
            "resuming the copy: finished chunks are skipped");
    }
    set_progress(&progress, &plan);
    let max_statement_bytes = job.downstream.max_statement_bytes().await?;
    let mut columns = BTreeMap::new();
    let pending: VecDeque<StoredChunk> = plan.into_iter().filter(|c| c.done.is_none()).collect();
    let tables: BTreeSet<(String, String)> = pending
        .iter()
        .map(|c| (c.schema.clone(), c.table.clone()))
        .collect();
    for (schema, table) in tables {
        let names = first.writable_columns(&schema, &table).await?;
        let key = plan::identifying_key(&first.index_columns(&schema, &table).await?)
            .iter()
            .filter_map(|k| names.iter().position(|n| n == k))
            .collect();
        columns.insert((schema, table), Arc::new(TableColumns { names, key }));
    }
    let columns = Arc::new(columns);
    let queue = Arc::new(Mutex::new(pending));
    let mut copiers = JoinSet::new();
    for snapshot in snapshots {
        copiers.spawn(copier(
            job.clone(),
            max_statement_bytes,
            snapshot,
            queue.clone(),
            columns.clone(),
            progress.clone(),
        ));
    }
    let mut log = tokio::time::interval(PROGRESS_LOG_INTERVAL);
    log.tick().await;
    loop {
        tokio::select! {
            joined = copiers.join_next() => {
                let Some(joined) = joined else { break };
                let outcome = joined.map_err(|e| CopyError::Unexpected(format!("a copier stopped: {e}")))?;
                match outcome {
                    Ok(None) => {}
                    Ok(Some(by_epoch)) => return Ok(CopyOutcome::Fenced { by_epoch }),
                    Err(e) => return Err(e),
                }
            }
            _ = log.tick() => {
                let summary = lock(&progress).summary(Instant::now());
                tracing::info!(task = %job.task, source = %job.source, "copy progress: {summary}");
            }
        }
    }
    let summary = lock(&progress).summary(Instant::now());
    tracing::info!(task = %job.task, source = %job.source, "copy finished: {summary}");
    Ok(CopyOutcome::Finished)
}

fn set_progress(progress: &Mutex<CopyProgress>, plan: &[StoredChunk]) {
    lock(progress).load_plan(plan, Instant::now());
}

enum Planned {
    Plan(Vec<StoredChunk>),
    Fenced { by_epoch: u64 },
}

/// The condition the copy's queries of `schema`.`table` take: the
/// instance's `mydumpers.where` and the table's insert expression filters
/// (pushed into the query, so the snapshot sends only the rows kept and
/// the estimate counts them; the rows read are still evaluated).
fn table_condition(job: &CopyJob, schema: &str, table: &str) -> Result<Option<String>, CopyError> {
    let filters = match job
        .rules
        .table(schema, table)
        .map_err(|e| CopyError::Rules(e.to_string()))?
    {
        Fate::Routed(route) => route.copy_condition(),
        Fate::Dropped(_) => None,
    };
    Ok(match (job.row_filter.as_deref(), filters) {
        (Some(condition), Some(filters)) => Some(format!("({condition}) AND {filters}")),
        (Some(condition), None) => Some(condition.to_string()),
        (None, filters) => filters,
    })
}

/// Lists, routes and chunks the tables, creates their targets downstream
/// and stores the plan (fenced).
async fn make_plan(job: &CopyJob, snapshot: &mut dyn CopySnapshot) -> Result<Planned, CopyError> {
    let candidates = snapshot.list_tables(&job.rules).await?;
    if let Commit::Fenced { by_epoch } = seed_schemas(job, snapshot).await? {
        return Ok(Planned::Fenced { by_epoch });
    }
    let mut plan = Vec::new();
    let mut created = BTreeSet::new();
    for candidate in &candidates {
        let condition = table_condition(job, &candidate.schema, &candidate.table)?;
        let table = discover::plan(snapshot, &job.rules, candidate, condition.as_deref()).await?;
        let target = (table.target_schema.clone(), table.target_table.clone());
        if created.insert(target.clone()) {
            let show = snapshot.show_create(&table.schema, &table.table).await?;
            let create = definition::create_table_as(&show, &target.0, &target.1).map_err(|e| {
                CopyError::Unexpected(format!("{}: {e}", qualified(&table.schema, &table.table)))
            })?;
            job.downstream
                .execute(&format!(
                    "CREATE DATABASE IF NOT EXISTS {}",
                    sql::quote(&target.0)
                ))
                .await?;
            job.downstream.execute(&create).await?;
        }
        plan.extend(plan::plan_table(&table, job.rows_per_chunk));
    }
    create_empty_schemas(job, snapshot, &created).await?;
    match job
        .downstream
        .save_copy_plan(&job.meta, &job.source, job.epoch, &plan)
        .await?
    {
        Commit::Committed => Ok(Planned::Plan(plan)),
        Commit::Fenced { by_epoch } => Ok(Planned::Fenced { by_epoch }),
    }
}

/// Stores the definitions of the tables the rules select, read in the
/// snapshot, as the schema tracker's start at the snapshot's position (see
/// `sync::schemas`); fenced.
async fn seed_schemas(job: &CopyJob, snapshot: &mut dyn CopySnapshot) -> Result<Commit, CopyError> {
    let seed = snapshot.schema_seed(&job.rules).await?;
    let (tracker, left_out) = SchemaTracker::from_seed(&seed);
    for why in left_out {
        tracing::warn!(task = %job.task, source = %job.source, "the schema tracker does not follow {why}");
    }
    let state = StoredSchema {
        seq: 0,
        position: snapshot.position().clone(),
        applied_op: 0,
        state: tracker.to_text(),
    };
    Ok(job
        .downstream
        .save_schema_state(&job.meta, &job.source, job.epoch, &state, 1)
        .await?)
}

/// Creates downstream the (routed) schemas the rules select that have no
/// table to copy, as a dump of the whole schema would; `created` are the
/// target tables already created.
async fn create_empty_schemas(
    job: &CopyJob,
    snapshot: &mut dyn CopySnapshot,
    created: &BTreeSet<(String, String)>,
) -> Result<(), CopyError> {
    let mut targets: BTreeSet<String> = created.iter().map(|(s, _)| s.clone()).collect();
    for schema in snapshot.list_schemas(&job.rules).await? {
        let (target, _) = job
            .rules
            .route(&schema, "")
            .map_err(|e| CopyError::Rules(e.to_string()))?;
        if targets.insert(target.clone()) {
            job.downstream
                .execute(&format!(
                    "CREATE DATABASE IF NOT EXISTS {}",
                    sql::quote(&target)
                ))
                .await?;
        }
    }
    Ok(())
}

/// What the copy writes of a table.
#[derive(Debug)]
struct TableColumns {
    /// Every column but generated ones, in order.
    names: Vec<String>,
    /// Positions in `names` of the key that names a row in messages.
    key: Vec<usize>,
}

type Columns = BTreeMap<(String, String), Arc<TableColumns>>;

/// Copies chunks from the queue until it is empty; `Some(epoch)` when
/// fenced.
async fn copier(
    job: Arc<CopyJob>,
    max_statement_bytes: usize,
    mut snapshot: Box<dyn CopySnapshot>,
    queue: Arc<Mutex<VecDeque<StoredChunk>>>,
    columns: Arc<Columns>,
    progress: Arc<Mutex<CopyProgress>>,
) -> Result<Option<u64>, CopyError> {
    loop {
        let next = lock(&queue).pop_front();
        let Some(chunk) = next else {
            return Ok(None);
        };
        let Some(cols) = columns.get(&(chunk.schema.clone(), chunk.table.clone())) else {
            return Err(CopyError::Unexpected(format!(
                "no columns known for {}",
                qualified(&chunk.schema, &chunk.table)
            )));
        };
        match copy_chunk(&job, max_statement_bytes, snapshot.as_mut(), &chunk, cols).await? {
            ChunkOutcome::Done(done) => {
                job.metrics.chunks_finished.inc();
                job.metrics.rows_copied.inc_by(done.rows);
                lock(&progress).chunk_done(
                    &chunk.schema,
                    &chunk.table,
                    done.rows,
                    done.bytes,
                    &done.position,
                );
            }
            ChunkOutcome::Fenced { by_epoch } => return Ok(Some(by_epoch)),
        }
    }
}

enum ChunkOutcome {
    Done(ChunkDone),
    Fenced { by_epoch: u64 },
}

/// What the rules do to a chunk's rows: the column mapping, and the
/// route whose insert expression filters decide which rows are copied.
struct ChunkRules<'a> {
    mapped: Option<Mapped<'a>>,
    filter: Option<Route<'a>>,
}

/// The one rewritten column of a table with a column mapping.
struct Mapped<'a> {
    position: usize,
    route: Route<'a>,
}

/// Reads one chunk in the snapshot and writes it, with its done-mark, in
/// one fenced downstream transaction.
async fn copy_chunk(
    job: &CopyJob,
    max_statement_bytes: usize,
    snapshot: &mut dyn CopySnapshot,
    chunk: &StoredChunk,
    table: &TableColumns,
) -> Result<ChunkOutcome, CopyError> {
    let columns = &table.names;
    let route = match job
        .rules
        .table(&chunk.schema, &chunk.table)
        .map_err(|e| CopyError::Rules(e.to_string()))?
    {
        Fate::Routed(route) => Some(route),
        Fate::Dropped(_) => None,
    };
    // The insert expression filters decide which rows are copied.
    let filter = route
        .as_ref()
        .filter(|r| r.filters_rows(EventKind::Insert))
        .cloned();
    let mapped = match route {
        Some(route) => match route.mapped_column() {
            Some(column) => Some(Mapped {
                position: columns.iter().position(|c| c == column).ok_or_else(|| {
                    CopyError::Rules(format!(
                        "column mapping: column {column} not found in {}",
                        qualified(&chunk.schema, &chunk.table)
                    ))
                })?,
                route,
            }),
            None => None,
        },
        None => None,
    };
    let mut tx = match job
        .downstream
        .begin_chunk(&job.meta, &job.source, job.epoch, chunk)
        .await?
    {
        OpenChunk::Open(tx) => tx,
        OpenChunk::Fenced { by_epoch } => return Ok(ChunkOutcome::Fenced { by_epoch }),
    };
    let position = snapshot.position().clone();
    let (statements, received) = mpsc::channel::<Vec<u8>>(2);
    let read = read_chunk(
        job,
        max_statement_bytes,
        snapshot,
        chunk,
        table,
        ChunkRules { mapped, filter },
        statements,
    );
    let write = async {
        // The writer owns the receiver: when a write fails it is dropped,
        // so the reader's next send fails instead of waiting forever.
        let mut received = received;
        while let Some(statement) = received.recv().await {
            tx.write(statement).await?;
        }
        Ok::<(), CopyError>(())
    };
    let (read, write) = tokio::join!(read, write);
    write?;
    let (rows, bytes) = read?;
    let done = ChunkDone {
        rows,
        bytes,
        position,
    };
    match tx.commit(done.clone()).await? {
        Commit::Committed => Ok(ChunkOutcome::Done(done)),
        Commit::Fenced { by_epoch } => Ok(ChunkOutcome::Fenced { by_epoch }),
    }
}

/// Streams a chunk's rows into INSERT statements for the writer; returns
/// the rows and bytes sent.
async fn read_chunk(
    job: &CopyJob,
    max_statement_bytes: usize,
    snapshot: &mut dyn CopySnapshot,
    chunk: &StoredChunk,
    table: &TableColumns,
    rules: ChunkRules<'_>,
    statements: mpsc::Sender<Vec<u8>>,
) -> Result<(u64, u64), CopyError> {
    let ChunkRules { mapped, filter } = rules;
    let columns = &table.names;
    let condition = table_condition(job, &chunk.schema, &chunk.table)?;
    let range = plan::key_range(chunk, condition.as_deref());
    let mut result = snapshot.chunk_rows(&range, columns).await?;
    let kinds: Vec<Literal> = result.columns().iter().map(Literal::of).collect();
    let mut batch = InsertBatcher::new(
        sql::insert_verb(job.on_duplicate),
        &chunk.target_schema,
        &chunk.target_table,
        columns,
        job.statement_bytes,
        max_statement_bytes,
    );
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut writer_gone = false;
    let names: Vec<String> = result.columns().iter().map(|c| c.name.clone()).collect();
    while let Some(values) = result.next_row().await? {
        if let Some(route) = &filter {
            let row: Vec<ExprValue> = values
                .iter()
                .zip(result.columns().iter())
                .map(|(v, c)| text_value(v.as_deref(), c))
                .collect();
            let dropped = route
                .drops_insert(&Row {
                    names: &names,
                    values: &row,
                })
                .map_err(|e| {
                    CopyError::Rules(format!("{}: {e}", qualified(&chunk.schema, &chunk.table)))
                })?;
            if dropped {
                continue;
            }
        }
        batch.begin_row();
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                batch.separator();
            }
            let raw = value.as_deref();
            let kind = kinds.get(i).copied().unwrap_or(Literal::Text);
            match &mapped {
                Some(m) if m.position == i => {
                    push_mapped(batch.buffer(), chunk, m, raw, i)?;
                }
                _ => push_literal(batch.buffer(), raw, kind),
            }
        }
        rows += 1;
        let done = batch.end_row().map_err(|too_large| RowTooLarge {
            table: qualified(&chunk.schema, &chunk.table),
            key: RowTooLarge::key_text(table.key.iter().filter_map(|&i| {
                let name = columns.get(i)?;
                let value = values.get(i)?.as_deref();
                Some((
                    name.as_str(),
                    sql::message_value(value, kinds.get(i).copied()),
                ))
            })),
            bytes: too_large.bytes,
            max_bytes: too_large.max_bytes,
        })?;
        for statement in done {
            bytes += statement.len() as u64;
            if statements.send(statement).await.is_err() {
                writer_gone = true;
                break;
            }
        }
        if writer_gone {
            break;
        }
    }
    if writer_gone {
        // The writer failed; its error is the one reported. Drain the
        // result so the snapshot stays usable.
        result.drain().await?;
        return Ok((rows, bytes));
    }
    if let Some(statement) = batch.finish() {
        bytes += statement.len() as u64;
        let _ = statements.send(statement).await;
    }
    Ok((rows, bytes))
}

/// Writes the column-mapped value of the target column.
fn push_mapped(
    out: &mut Vec<u8>,
    chunk: &StoredChunk,
    m: &Mapped<'_>,
    raw: Option<&[u8]>,
    position: usize,
) -> Result<(), CopyError> {
    let Some(raw) = raw else {
        out.extend_from_slice(b"NULL");
        return Ok(());
    };
    let text = std::str::from_utf8(raw).map_err(|_| {
        CopyError::Rules(format!(
            "column mapping: a value of {} is not text",
            qualified(&chunk.schema, &chunk.table)
        ))
    })?;
    let value = if let Ok(v) = text.parse::<i64>() {
        ColumnValue::Int(v)
    } else if let Ok(v) = text.parse::<u64>() {
        ColumnValue::UInt(v)
    } else {
        ColumnValue::Str(text.to_string())
    };
    let mapped = m.route.map_value(position, &value).map_err(|e| {
        CopyError::Rules(format!(
            "column mapping of {}: {e}",
            qualified(&chunk.schema, &chunk.table)
        ))
    })?;
    match mapped {
        ColumnValue::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        ColumnValue::UInt(v) => out.extend_from_slice(v.to_string().as_bytes()),
        ColumnValue::Null => out.extend_from_slice(b"NULL"),
        other => push_quoted(out, other.to_string().as_bytes()),
    }
    Ok(())
}
