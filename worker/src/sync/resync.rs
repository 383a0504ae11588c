//! The IO half of a sharding group within a source (the state is
//! [`super::shard_group`]): finding the group's members upstream, saving
//! the window downstream, and re-applying the held rows after the DDL.
//!
//! The re-read does not go through the apply lanes: their checkpoints are
//! already past every re-read row and must not move back. Its batches
//! commit fenced, rewriting lane 0's checkpoint unchanged, while the lanes
//! are idle (nothing after the window is read before it closes).

use std::collections::BTreeSet;

use super::lane::Routed;
use super::progress::Progress;
use super::shard_group::{Arrival, GroupWindow, TableName};
use super::{SyncError, SyncJob};
use crate::downstream::{CheckpointKey, Commit, Position};
use crate::sql::dml::DmlBuilder;

/// How a coordinated DDL stands within its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupStep {
    /// The source has one table merged into the target: no window.
    Single,
    Waiting,
    AllArrived,
}

/// The source's tables (after the block-allow list) routed to `target`.
async fn members(job: &SyncJob, target: &TableName) -> Result<BTreeSet<TableName>, SyncError> {
    let tables = job.upstream.tables(&job.rules).await?;
    let mut out = BTreeSet::new();
    for (schema, table) in tables {
        let routed = job
            .rules
            .route(&schema, &table)
            .map_err(|e| SyncError::Rules(e.to_string()))?;
        if routed == *target {
            out.insert((schema, table));
        }
    }
    Ok(out)
}

/// Saves the window (`None`: closes it); `Some(epoch)` when fenced.
pub async fn save(job: &SyncJob, window: Option<&GroupWindow>) -> Result<Option<u64>, SyncError> {
    let state = window.map(GroupWindow::encode);
    match job
        .downstream
        .save_shard_group(&job.meta, &job.source, job.epoch, state.as_deref())
        .await?
    {
        Commit::Committed => Ok(None),
        Commit::Fenced { by_epoch } => Ok(Some(by_epoch)),
    }
}

/// The source's open window, if any.
pub async fn load(job: &SyncJob) -> Result<Option<GroupWindow>, SyncError> {
    match job.downstream.shard_group(&job.meta, &job.source).await? {
        Some(text) => GroupWindow::decode(&text)
            .map(Some)
            .map_err(|e| SyncError::ShardDdl(e.to_string())),
        None => Ok(None),
    }
}

/// `upstream` reached `ddls` (routed to `target`) at `at`: opens or
/// advances the source's window and saves it. `Err(Ok(epoch))`: fenced.
pub async fn arrive(
    job: &SyncJob,
    progress: &Progress,
    window: &mut Option<GroupWindow>,
    upstream: TableName,
    target: &TableName,
    ddls: &[String],
    at: &Position,
) -> Result<Result<GroupStep, u64>, SyncError> {
    let arrival = match window.as_mut() {
        Some(w) => w
            .arrive(upstream.clone(), target, ddls, at)
            .map_err(|e| SyncError::ShardDdl(e.to_string()))?,
        None => {
            let members = members(job, target).await?;
            if members.iter().all(|m| *m == upstream) {
                return Ok(Ok(GroupStep::Single));
            }
            let (w, arrival) =
                GroupWindow::open(target.clone(), ddls.to_vec(), members, upstream.clone(), at);
            *window = Some(w);
            arrival
        }
    };
    if let Some(by_epoch) = save(job, window.as_ref()).await? {
        return Ok(Err(by_epoch));
    }
    let status = window.as_ref().map(GroupWindow::status);
    let (synced, unsynced) = status
        .as_ref()
        .map(|s| (s.synced.clone(), s.unsynced.clone()))
        .unwrap_or_default();
    progress.shard_group(status);
    tracing::info!(task = %job.task, source = %job.source, table = %format!("{}.{}", upstream.0, upstream.1),
        ?synced, ?unsynced, %at, "shard table reached the DDL");
    Ok(Ok(match arrival {
        Arrival::Waiting => GroupStep::Waiting,
        Arrival::AllArrived => GroupStep::AllArrived,
    }))
}

/// Held rows being re-applied, up to the window's end.
#[derive(Debug)]
pub struct Resync {
    pub until: Position,
    key: CheckpointKey,
    /// Lane 0's checkpoint, rewritten unchanged by each batch.
    lane0: Position,
    builder: DmlBuilder,
    /// Rows re-applied so far, and since the last commit.
    pub rows: usize,
    pending: usize,
}

impl Resync {
    pub fn new(job: &SyncJob, until: Position, lane0: Position) -> Self {
        Self {
            until,
            key: CheckpointKey {
                meta_schema: job.meta.meta_schema.clone(),
                task: job.task.clone(),
                source: job.source.clone(),
                lane: 0,
            },
            lane0,
            builder: DmlBuilder::new(job.statement_bytes),
            rows: 0,
            pending: 0,
        }
    }

    /// Whether a re-read event ending at `end` is inside the window.
    pub fn covers(&self, end: &Position) -> bool {
        end.at_or_before(&self.until)
    }

    /// Whether `end` is the window's last event (the last member's DDL).
    pub fn ends_at(&self, end: &Position) -> bool {
        end.binlog_name == self.until.binlog_name && end.binlog_pos == self.until.binlog_pos
    }

    pub fn add(&mut self, routed: Vec<Routed>) -> Result<(), SyncError> {
        for r in routed {
            self.builder.row(
                &r.target_schema,
                &r.target_table,
                &r.columns,
                &r.change,
                true,
            )?;
            self.rows += 1;
            self.pending += 1;
        }
        Ok(())
    }

    /// Whether a batch is due (`syncer.batch` rows pending).
    pub fn is_full(&self, batch_rows: usize) -> bool {
        self.pending >= batch_rows.max(1)
    }

    /// Commits what is pending; `Some(epoch)` when fenced.
    pub async fn flush(&mut self, job: &SyncJob) -> Result<Option<u64>, SyncError> {
        if self.builder.is_empty() {
            return Ok(None);
        }
        let statements =
            std::mem::replace(&mut self.builder, DmlBuilder::new(job.statement_bytes)).finish();
        self.pending = 0;
        match job
            .downstream
            .commit_fenced(&self.key, job.epoch, &self.lane0, &statements)
            .await?
        {
            Commit::Committed => Ok(None),
            Commit::Fenced { by_epoch } => Ok(Some(by_epoch)),
        }
    }
}
