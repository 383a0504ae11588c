//! One apply lane: builds the statements of the changes it is given and
//! commits them in batches, each batch with the lane's checkpoint row in one
//! fenced transaction.
//!
//! The reader sends a lane its changes and, after every upstream
//! transaction, the transaction's end position (a boundary); a lane only
//! commits whole transactions, at a boundary, so its checkpoint means "every
//! change of this lane up to here is applied, and nothing after". On resume the reader starts at the smallest lane
//! checkpoint and each lane skips what its own checkpoint already covers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::dml::DmlBuilder;
use super::status::SyncProgress;
use super::{at_or_before, SyncError, SyncJob};
use crate::downstream::{CheckpointKey, Commit, Position};
use mysql_async::Column;

/// A batch is committed when the lane is idle this long.
const IDLE_FLUSH: Duration = Duration::from_millis(20);
/// The longest a change waits in a batch before the batch commits.
const MAX_DELAY: Duration = Duration::from_millis(20);
/// Checkpoint-only commits (nothing to apply) at most this often.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// A row change, routed and ready to apply.
#[derive(Debug, Clone)]
pub struct Routed {
    pub target_schema: String,
    pub target_table: String,
    pub columns: Arc<[Column]>,
    pub change: super::stream::RowChange,
    pub safe: bool,
    /// End of the row event that carried it.
    pub end: Position,
}

/// What the reader tells a lane.
#[derive(Debug)]
pub enum LaneMsg {
    Change(Box<Routed>),
    /// An upstream transaction ended here.
    Boundary {
        end: Position,
        timestamp: u32,
    },
    /// Commit everything up to the last boundary, then answer.
    Barrier(oneshot::Sender<()>),
}

/// Runs lane `index` until its channel closes; `Some(epoch)` when fenced.
pub async fn run(
    index: usize,
    job: Arc<SyncJob>,
    skip: Option<Position>,
    progress: Arc<Mutex<SyncProgress>>,
    mut rx: mpsc::Receiver<LaneMsg>,
) -> Result<Option<u64>, SyncError> {
    let key = CheckpointKey {
        meta_schema: job.meta.meta_schema.clone(),
        task: job.task.clone(),
        source: job.source.clone(),
        lane: u32::try_from(index).unwrap_or(u32::MAX),
    };
    let mut builder = DmlBuilder::new(job.statement_bytes);
    let mut rows = 0usize;
    // Changes of the transaction whose boundary has not come yet: never
    // committed before it, or the checkpoint would claim less than is applied.
    let mut open: Vec<Box<Routed>> = Vec::new();
    // When the oldest change of the batch was added.
    let mut first_pending: Option<Instant> = None;
    let mut boundary: Option<(Position, u32)> = None;
    let mut last_commit = Instant::now();
    let covered = |end: &Position| skip.as_ref().is_some_and(|s| at_or_before(end, s));
    loop {
        // Wait for more until idle, but never hold a change longer than
        // MAX_DELAY: a busy upstream must not delay a quiet lane's batch.
        let wait = match first_pending {
            Some(since) => IDLE_FLUSH.min(MAX_DELAY.saturating_sub(since.elapsed())),
            None => IDLE_FLUSH,
        };
        let msg = if boundary.is_some() {
            match tokio::time::timeout(wait, rx.recv()).await {
                Ok(msg) => msg,
                Err(_) => {
                    if rows > 0 || last_commit.elapsed() >= CHECKPOINT_INTERVAL {
                        if let Some(by) = flush(
                            &job,
                            &key,
                            index,
                            &mut builder,
                            &mut rows,
                            &mut boundary,
                            &progress,
                        )
                        .await?
                        {
                            return Ok(Some(by));
                        }
                        last_commit = Instant::now();
                        first_pending = None;
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(msg) = msg else {
            return Ok(None);
        };
        match msg {
            LaneMsg::Change(routed) => {
                if !covered(&routed.end) {
                    open.push(routed);
                }
            }
            LaneMsg::Boundary { end, timestamp } => {
                if covered(&end) {
                    open.clear();
                    continue;
                }
                // The transaction is complete: its changes join the batch.
                for routed in open.drain(..) {
                    builder.row(
                        &routed.target_schema,
                        &routed.target_table,
                        &routed.columns,
                        &routed.change,
                        routed.safe,
                    );
                    rows += 1;
                }
                if rows > 0 && first_pending.is_none() {
                    first_pending = Some(Instant::now());
                }
                boundary = Some((end, timestamp));
                if rows >= job.batch_rows || first_pending.is_some_and(|t| t.elapsed() >= MAX_DELAY)
                {
                    if let Some(by) = flush(
                        &job,
                        &key,
                        index,
                        &mut builder,
                        &mut rows,
                        &mut boundary,
                        &progress,
                    )
                    .await?
                    {
                        return Ok(Some(by));
                    }
                    last_commit = Instant::now();
                    first_pending = None;
                }
            }
            LaneMsg::Barrier(done) => {
                if let Some(by) = flush(
                    &job,
                    &key,
                    index,
                    &mut builder,
                    &mut rows,
                    &mut boundary,
                    &progress,
                )
                .await?
                {
                    return Ok(Some(by));
                }
                last_commit = Instant::now();
                first_pending = None;
                let _ = done.send(());
            }
        }
    }
}

/// Commits the lane's batch at its boundary; `Some(epoch)` when fenced.
async fn flush(
    job: &SyncJob,
    key: &CheckpointKey,
    index: usize,
    builder: &mut DmlBuilder,
    rows: &mut usize,
    boundary: &mut Option<(Position, u32)>,
    progress: &Mutex<SyncProgress>,
) -> Result<Option<u64>, SyncError> {
    let Some((end, timestamp)) = boundary.take() else {
        return Ok(None);
    };
    let statements = std::mem::replace(builder, DmlBuilder::new(job.statement_bytes)).finish();
    let applied = std::mem::take(rows) as u64;
    match job
        .downstream
        .commit_fenced(key, job.epoch, &end, &statements)
        .await?
    {
        Commit::Committed => {
            let mut p = progress.lock().unwrap_or_else(|p| p.into_inner());
            p.lane_committed(index, &end, applied, timestamp, Instant::now());
            Ok(None)
        }
        Commit::Fenced { by_epoch } => Ok(Some(by_epoch)),
    }
}
