//! A lane's fenced transaction taken in pieces: the statements of one
//! upstream transaction too big to hold arrive a piece at a time
//! ([`SyncTx::write`]) and commit with the lane's checkpoint
//! ([`SyncTx::commit`]), or not at all. The fence is checked when it opens
//! and holds for its life (MySQL: the fence row's shared lock, which a
//! newer claim waits for and then kills), so a worker that lost its source
//! commits nothing of it. `commit_fenced` is the same transaction in one
//! piece.

use super::{Call, Commit};
use crate::position::Position;

/// A lane's open transaction, or the epoch that fenced it.
pub enum OpenSync {
    Open(Box<dyn SyncTx>),
    Fenced { by_epoch: u64 },
}

impl std::fmt::Debug for OpenSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenSync::Open(_) => f.write_str("Open"),
            OpenSync::Fenced { by_epoch } => write!(f, "Fenced {{ by_epoch: {by_epoch} }}"),
        }
    }
}

/// One lane's fenced transaction: statements, then the checkpoint.
pub trait SyncTx: Send {
    /// Runs `statements` inside the transaction, in order.
    fn write(&mut self, statements: Vec<Vec<u8>>) -> Call<'_, ()>;

    /// Moves the lane's checkpoint to `position` and commits.
    fn commit(self: Box<Self>, position: Position) -> Call<'static, Commit>;
}
