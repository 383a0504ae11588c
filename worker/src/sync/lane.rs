//! One apply lane: builds the statements of the changes it is given and
//! commits them in batches, each batch with the lane's checkpoint row in one
//! fenced transaction.
//!
//! The reader sends a lane its changes and, after every upstream
//! transaction, the transaction's end position (a boundary); a lane only
//! commits whole transactions, at a boundary, so its checkpoint means "every
//! change of this lane up to here is applied, and nothing after". On resume the reader starts at the smallest lane
//! checkpoint and each lane skips what its own checkpoint already covers.
//!
//! ## Transactions too big to hold
//!
//! A lane holds the changes of the open upstream transaction until its
//! boundary. Once they take more than [`MAX_OPEN_BYTES`] (a bulk `UPDATE`
//! of a million rows), the lane commits the batch before them and opens a
//! fenced downstream transaction for this one alone (`SyncTx`): its
//! statements are written in pieces of [`PIECE_BYTES`] as the changes
//! arrive, and the last piece commits with the checkpoint at the boundary.
//! Memory stays bounded whatever the upstream does, and the transaction is
//! still applied whole or not at all.

use std::sync::Arc;
use std::time::Duration;

// Batching decisions read tokio's clock, which a simulation drives.
use tokio::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::progress::Progress;
use super::resume::Skip;
use super::{SyncError, SyncJob};
use crate::downstream::{CheckpointKey, Commit, OpenSync, Position, SyncTx};
use crate::metrics::LaneMetrics;
use crate::sql::dml::DmlBuilder;
use crate::upstream::Column;

/// A batch is committed when the lane is idle this long.
const IDLE_FLUSH: Duration = Duration::from_millis(20);
/// The longest a change waits in a batch before the batch commits.
const MAX_DELAY: Duration = Duration::from_millis(20);
/// Checkpoint-only commits (nothing to apply) at most this often.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);
/// Memory an open upstream transaction's changes may take in a lane before
/// they are written in pieces (see the module docs).
pub const MAX_OPEN_BYTES: usize = 32 << 20;
/// SQL written to the downstream per piece of a big transaction.
const PIECE_BYTES: usize = 4 << 20;

/// A row change, routed and ready to apply.
#[derive(Debug, Clone)]
pub struct Routed {
    pub target_schema: String,
    pub target_table: String,
    pub columns: Arc<[Column]>,
    pub change: crate::upstream::RowChange,
    pub safe: bool,
    /// End of the row event that carried it.
    pub end: Position,
}

impl Routed {
    /// About how many bytes of memory the routed change takes.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.target_schema.len()
            + self.target_table.len()
            + self.end.binlog_name.len()
            + self.end.binlog_gtid.len()
            + self.change.approx_bytes()
    }
}

/// What the reader tells a lane.
#[derive(Debug)]
pub enum LaneMsg {
    Change(Box<Routed>),
    /// An upstream transaction ended here.
    Boundary {
        end: Position,
        timestamp: u32,
        /// This lane counts the transaction as finished when it commits
        /// (one lane per transaction that changed rows).
        counts: bool,
    },
    /// Commit everything up to the last boundary, then answer.
    Barrier(oneshot::Sender<()>),
}

/// A big transaction being written in pieces.
struct Streaming {
    tx: Box<dyn SyncTx>,
    builder: DmlBuilder,
    rows: usize,
    /// Pieces written so far (statements, for the batch metric).
    pieces: usize,
    began: std::time::Instant,
}

/// One lane's state between messages.
struct Lane {
    index: usize,
    job: Arc<SyncJob>,
    key: CheckpointKey,
    progress: Progress,
    builder: DmlBuilder,
    rows: usize,
    /// The last complete transaction's end and time.
    boundary: Option<(Position, u32)>,
    /// When the oldest change of the batch was added.
    first_pending: Option<Instant>,
    last_commit: Instant,
    /// The changes of the transaction whose boundary has not come yet:
    /// never committed before it, or the checkpoint would claim more than
    /// is applied.
    open: Vec<Routed>,
    /// About how much memory `open` takes.
    open_bytes: usize,
    /// The open transaction, when it is written in pieces.
    streaming: Option<Streaming>,
    /// Upstream transactions the batch completes (that this lane counts).
    transactions: u64,
    metrics: LaneMetrics,
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
        let applied = std::mem::take(&mut self.rows);
        let transactions = std::mem::take(&mut self.transactions);
        self.first_pending = None;
        self.last_commit = Instant::now();
        let began = std::time::Instant::now();
        match self
            .job
            .downstream
            .commit_fenced(&self.key, self.job.epoch, &end, &statements)
            .await?
        {
            Commit::Committed => {
                if applied > 0 {
                    self.metrics.committed(
                        applied,
                        statements.len(),
                        transactions,
                        began.elapsed().as_secs_f64(),
                    );
                }
                self.progress
                    .lane_committed(self.index, &end, applied as u64, timestamp);
                Ok(None)
            }
            Commit::Fenced { by_epoch } => Ok(Some(by_epoch)),
        }
    }

    /// Takes one change of the open transaction; `Some(epoch)` when fenced.
    async fn change(&mut self, routed: Box<Routed>) -> Result<Option<u64>, SyncError> {
        if let Some(s) = self.streaming.as_mut() {
            add(&mut s.builder, &routed)?;
            s.rows += 1;
            return self.write_piece(false).await.map(|()| None);
        }
        self.open_bytes += routed.approx_bytes();
        self.open.push(*routed);
        if self.open_bytes <= MAX_OPEN_BYTES {
            return Ok(None);
        }
        // Too big to hold: what came before commits on its own, then this
        // transaction goes to the downstream in pieces.
        if let Some(by) = self.flush().await? {
            return Ok(Some(by));
        }
        let tx = match self
            .job
            .downstream
            .begin_sync(&self.key, self.job.epoch)
            .await?
        {
            OpenSync::Open(tx) => tx,
            OpenSync::Fenced { by_epoch } => return Ok(Some(by_epoch)),
        };
        tracing::info!(task = %self.job.task, source = %self.job.source, lane = self.index,
            rows = self.open.len(), bytes = self.open_bytes,
            "a big upstream transaction: applying it in pieces");
        let mut streaming = Streaming {
            tx,
            builder: DmlBuilder::new(self.job.statement_bytes),
            rows: 0,
            pieces: 0,
            began: std::time::Instant::now(),
        };
        for routed in self.open.drain(..) {
            add(&mut streaming.builder, &routed)?;
            streaming.rows += 1;
        }
        self.open_bytes = 0;
        self.streaming = Some(streaming);
        self.write_piece(false).await.map(|()| None)
    }

    /// Writes the streaming transaction's statements once they make a
    /// piece (`all`: whatever there is).
    async fn write_piece(&mut self, all: bool) -> Result<(), SyncError> {
        let Some(s) = self.streaming.as_mut() else {
            return Ok(());
        };
        if s.builder.is_empty() || (!all && s.builder.bytes() < PIECE_BYTES) {
            return Ok(());
        }
        let piece =
            std::mem::replace(&mut s.builder, DmlBuilder::new(self.job.statement_bytes)).finish();
        s.pieces += piece.len();
        s.tx.write(piece).await?;
        Ok(())
    }

    /// The open transaction ended at `end`: held, it joins the batch;
    /// streamed, its last piece commits with the checkpoint.
    async fn boundary(
        &mut self,
        end: Position,
        timestamp: u32,
        counts: bool,
    ) -> Result<Option<u64>, SyncError> {
        if self.streaming.is_some() {
            self.write_piece(true).await?;
            let Some(s) = self.streaming.take() else {
                return Ok(None);
            };
            return match s.tx.commit(end.clone()).await? {
                Commit::Committed => {
                    self.metrics.committed(
                        s.rows,
                        s.pieces,
                        u64::from(counts),
                        s.began.elapsed().as_secs_f64(),
                    );
                    self.progress
                        .lane_committed(self.index, &end, s.rows as u64, timestamp);
                    self.last_commit = Instant::now();
                    Ok(None)
                }
                Commit::Fenced { by_epoch } => Ok(Some(by_epoch)),
            };
        }
        for routed in std::mem::take(&mut self.open) {
            add(&mut self.builder, &routed)?;
            self.rows += 1;
        }
        self.open_bytes = 0;
        self.transactions += u64::from(counts);
        if self.rows > 0 && self.first_pending.is_none() {
            self.first_pending = Some(Instant::now());
        }
        self.boundary = Some((end, timestamp));
        let due = self.first_pending.is_some_and(|t| t.elapsed() >= MAX_DELAY);
        if self.rows >= self.job.batch_rows || due {
            return self.flush().await;
        }
        Ok(None)
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
    skip: Option<Skip>,
    progress: Progress,
    mut rx: mpsc::Receiver<LaneMsg>,
) -> Result<Option<u64>, SyncError> {
    let key = CheckpointKey {
        meta_schema: job.meta.meta_schema.clone(),
        task: job.task.clone(),
        source: job.source.clone(),
        lane: u32::try_from(index).unwrap_or(u32::MAX),
    };
    let metrics = job.metrics.lane(index);
    let mut lane = Lane {
        metrics,
        transactions: 0,
        index,
        builder: DmlBuilder::new(job.statement_bytes),
        job,
        key,
        progress,
        rows: 0,
        boundary: None,
        first_pending: None,
        last_commit: Instant::now(),
        open: Vec::new(),
        open_bytes: 0,
        streaming: None,
    };
    let covered = |end: &Position| skip.as_ref().is_some_and(|s| s.covers(end));
    loop {
        let msg = if lane.boundary.is_some() {
            match tokio::time::timeout(lane.wait(), rx.recv()).await {
                Ok(msg) => msg,
                Err(_) => {
                    lane.metrics.queue(rx.len());
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
        let fenced = match msg {
            LaneMsg::Change(routed) => {
                if covered(&routed.end) {
                    None
                } else {
                    lane.change(routed).await?
                }
            }
            LaneMsg::Boundary {
                end,
                timestamp,
                counts,
            } => {
                lane.metrics.queue(rx.len());
                if covered(&end) {
                    lane.open.clear();
                    lane.open_bytes = 0;
                    None
                } else {
                    lane.boundary(end, timestamp, counts).await?
                }
            }
            LaneMsg::Barrier(done) => {
                if lane.streaming.is_some() {
                    return Err(SyncError::Decode(
                        "a barrier inside an upstream transaction".into(),
                    ));
                }
                let fenced = lane.flush().await?;
                let _ = done.send(());
                fenced
            }
        };
        if let Some(by) = fenced {
            return Ok(Some(by));
        }
    }
}

/// Adds one routed change to `builder`.
fn add(builder: &mut DmlBuilder, routed: &Routed) -> Result<(), SyncError> {
    builder.row(
        &routed.target_schema,
        &routed.target_table,
        &routed.columns,
        &routed.change,
        routed.safe,
    )?;
    Ok(())
}
