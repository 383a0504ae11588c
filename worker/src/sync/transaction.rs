//! Transaction assembly: the row changes of the open upstream transaction,
//! held in the reader until its commit, then dispatched.
//!
//! - Each change was given a lane by its table and key ([`super::route`]).
//!   At the commit they go to their lanes and every lane gets the
//!   boundary: the lanes apply the transaction in parallel, each its part.
//! - A transaction with a *conflict* (a change whose before and after
//!   images belong to different lanes) is applied alone: a barrier, all
//!   its changes to lane 0, the boundary, a barrier.
//! - A transaction too big to hold ([`MAX_HELD_CHANGES`],
//!   [`MAX_HELD_BYTES`]) is *serial*: after a barrier, what is held and
//!   every later change of it stream to lane 0 as they are read (lane 0
//!   then writes it in pieces, see [`super::lane`]); a barrier follows its
//!   boundary.

use super::dispatch::Lanes;
use super::lane::Routed;
use super::route::LaneChoice;
use super::Stop;
use crate::downstream::Position;

/// Changes held per upstream transaction before it is streamed serially.
pub const MAX_HELD_CHANGES: usize = 20_000;
/// Memory the changes of one upstream transaction may take in the reader
/// before it is streamed serially (the lane then bounds it, see `lane`).
pub const MAX_HELD_BYTES: usize = 16 << 20;

/// Changes of the open upstream transaction, waiting for its end.
#[derive(Debug, Default)]
pub struct Transaction {
    changes: Vec<(Routed, LaneChoice)>,
    /// About how much memory `changes` take.
    bytes: usize,
    conflict: bool,
    /// Too big to hold: streamed to lane 0 between barriers.
    serial: bool,
}

impl Transaction {
    /// Adds one row event's changes, each with its lane.
    pub async fn add(
        &mut self,
        lanes: &mut Lanes,
        changes: Vec<(Routed, LaneChoice)>,
    ) -> Result<(), Stop> {
        for (r, choice) in changes {
            if self.serial {
                lanes.change(0, r).await?;
                continue;
            }
            self.conflict |= choice == LaneChoice::Conflict;
            self.bytes += r.approx_bytes();
            self.changes.push((r, choice));
            if self.changes.len() > MAX_HELD_CHANGES || self.bytes > MAX_HELD_BYTES {
                // Too big to hold: the rest of it goes to lane 0 alone.
                lanes.barrier().await?;
                self.serial = true;
                for (r, _) in std::mem::take(&mut self.changes) {
                    lanes.change(0, r).await?;
                }
            }
        }
        Ok(())
    }

    /// The transaction committed upstream at `end` (written at
    /// `timestamp`): dispatches it and starts the next one.
    pub async fn commit(
        &mut self,
        lanes: &mut Lanes,
        end: &Position,
        timestamp: u32,
    ) -> Result<(), Stop> {
        let done = std::mem::take(self);
        if done.serial || done.conflict {
            if !done.serial {
                lanes.barrier().await?;
            }
            for (r, _) in done.changes {
                lanes.change(0, r).await?;
            }
            lanes.boundary(end, timestamp).await?;
            lanes.barrier().await?;
        } else {
            for (r, choice) in done.changes {
                let lane = match choice {
                    LaneChoice::Lane(l) => l,
                    LaneChoice::Conflict => 0,
                };
                lanes.change(lane, r).await?;
            }
            lanes.boundary(end, timestamp).await?;
        }
        Ok(())
    }
}
