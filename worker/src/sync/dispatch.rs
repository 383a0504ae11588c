//! The reader's side of the apply lanes (see [`super::lane`]): starting
//! them, sending each its changes, telling every lane where an upstream
//! transaction ended (a boundary), and barriers (every lane commits what
//! it has before the reader goes on: before a DDL, around a transaction
//! applied alone).
//!
//! A lane that stops (an error, or fenced) closes its channel; the next
//! send then returns why it stopped, as the run's [`Stop`].

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::lane::{self, LaneMsg, Routed};
use super::progress::Progress;
use super::resume::Skip;
use super::{Stop, SyncError, SyncJob, SyncOutcome};
use crate::downstream::Position;

/// Changes a lane's channel holds before the reader waits for it.
const LANE_QUEUE: usize = 4096;

/// The running lanes.
pub struct Lanes {
    senders: Vec<mpsc::Sender<LaneMsg>>,
    tasks: JoinSet<Result<Option<u64>, SyncError>>,
    /// The first lane sent a change since the last boundary: the one that
    /// counts the transaction as finished once it commits its part.
    counting: Option<usize>,
}

impl Lanes {
    /// Starts one lane per entry of `skips` (what its checkpoint covers).
    pub fn start(job: &Arc<SyncJob>, skips: Vec<Option<Skip>>, progress: &Progress) -> Self {
        let mut lanes = Lanes {
            senders: Vec::with_capacity(skips.len()),
            tasks: JoinSet::new(),
            counting: None,
        };
        for (index, skip) in skips.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel(LANE_QUEUE);
            lanes.senders.push(tx);
            lanes
                .tasks
                .spawn(lane::run(index, job.clone(), skip, progress.clone(), rx));
        }
        lanes
    }

    /// Why a lane stopped: its error, or fenced. Waits until one does.
    pub async fn failure(&mut self) -> Stop {
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

    /// Sends `change` to `lane`.
    pub async fn change(&mut self, lane: usize, change: Routed) -> Result<(), Stop> {
        self.counting.get_or_insert(lane);
        self.send(lane, LaneMsg::Change(Box::new(change))).await
    }

    async fn send(&mut self, lane: usize, msg: LaneMsg) -> Result<(), Stop> {
        let Some(sender) = self.senders.get(lane) else {
            return Err(Err(SyncError::Decode(format!("no lane {lane}"))));
        };
        if sender.send(msg).await.is_err() {
            return Err(self.failure().await);
        }
        Ok(())
    }

    /// An upstream transaction ended at `end`, written at `timestamp`.
    pub async fn boundary(&mut self, end: &Position, timestamp: u32) -> Result<(), Stop> {
        let counting = self.counting.take();
        for lane in 0..self.senders.len() {
            self.send(
                lane,
                LaneMsg::Boundary {
                    end: end.clone(),
                    timestamp,
                    counts: counting == Some(lane),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Every lane commits what it has; returns when all did.
    pub async fn barrier(&mut self) -> Result<(), Stop> {
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
