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
use std::time::Duration;

// Batching decisions read tokio's clock, which a simulation drives.
use tokio::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::dml::DmlBuilder;
use super::status::SyncProgress;
use super::{SyncError, SyncJob};
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

/// One lane's state between messages.
struct Lane {
    index: usize,
    job: Arc<SyncJob>,
    key: CheckpointKey,
    progress: Arc<Mutex<SyncProgress>>,
    builder: DmlBuilder,
    rows: usize,
    /// The last complete transaction's end and time.
    boundary: Option<(Position, u32)>,
    /// When the oldest change of the batch was added.
    first_pending: Option<Instant>,
    last_commit: Instant,
}

impl Lane {
    /// Commits the batch at its boundary; `Some(epoch)` when fenced.
    async fn flush(&mut self) -> Result<Option<u64>, SyncError> {
        let Some((end, timestamp)) = self.boundary.take() else {
            return Ok(None);
        };
        let statements =
            std::mem::replace(&mut self.builder, DmlBuilder::new(self.job.statement_bytes))
                .finish();
        let applied = std::mem::take(&mut self.rows) as u64;
        self.first_pending = None;
        self.last_commit = Instant::now();
        match self
            .job
            .downstream
            .commit_fenced(&self.key, self.job.epoch, &end, &statements)
            .await?
        {
            Commit::Committed => {
                let mut p = crate::lock(&self.progress);
                p.lane_committed(
                    self.index,
                    &end,
                    applied,
                    timestamp,
                    std::time::Instant::now(),
                );
                Ok(None)
            }
            Commit::Fenced { by_epoch } => Ok(Some(by_epoch)),
        }
    }

    /// How long to wait for more before committing: until idle, but never
    /// holding a change longer than MAX_DELAY (a busy upstream must not
    /// delay a quiet lane's batch).
    fn wait(&self) -> Duration {
        match self.first_pending {
            Some(since) => IDLE_FLUSH.min(MAX_DELAY.saturating_sub(since.elapsed())),
            None => IDLE_FLUSH,
        }
    }
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
    let mut lane = Lane {
        index,
        builder: DmlBuilder::new(job.statement_bytes),
        job,
        key,
        progress,
        rows: 0,
        boundary: None,
        first_pending: None,
        last_commit: Instant::now(),
    };
    // Changes of the transaction whose boundary has not come yet: never
    // committed before it, or the checkpoint would claim more than is applied.
    let mut open: Vec<Box<Routed>> = Vec::new();
    let covered = |end: &Position| skip.as_ref().is_some_and(|s| end.at_or_before(s));
    loop {
        let msg = if lane.boundary.is_some() {
            match tokio::time::timeout(lane.wait(), rx.recv()).await {
                Ok(msg) => msg,
                Err(_) => {
                    if lane.rows > 0 || lane.last_commit.elapsed() >= CHECKPOINT_INTERVAL {
                        if let Some(by) = lane.flush().await? {
                            return Ok(Some(by));
                        }
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
                    lane.builder.row(
                        &routed.target_schema,
                        &routed.target_table,
                        &routed.columns,
                        &routed.change,
                        routed.safe,
                    )?;
                    lane.rows += 1;
                }
                if lane.rows > 0 && lane.first_pending.is_none() {
                    lane.first_pending = Some(Instant::now());
                }
                lane.boundary = Some((end, timestamp));
                let due = lane.first_pending.is_some_and(|t| t.elapsed() >= MAX_DELAY);
                if lane.rows >= lane.job.batch_rows || due {
                    if let Some(by) = lane.flush().await? {
                        return Ok(Some(by));
                    }
                }
            }
            LaneMsg::Barrier(done) => {
                if let Some(by) = lane.flush().await? {
                    return Ok(Some(by));
                }
                let _ = done.send(());
            }
        }
    }
}
