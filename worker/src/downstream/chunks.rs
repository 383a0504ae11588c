//! `<task>_copy_chunk`: the full copy's plan and progress, per source.
//!
//! The plan (every table's key-range chunks) is written once, in one fenced
//! transaction, before any row is copied; a resumed copy reads it back, so
//! every worker copies the same chunks whatever its own snapshot would have
//! planned. A chunk's done-mark (rows, bytes, and the binlog position of the
//! snapshot it was read in) commits in the transaction that writes its rows.
//!
//! The copy writes through the [`Downstream`](super::Downstream) trait:
//! `save_copy_plan` (one fenced transaction) and `begin_chunk`, a fenced
//! transaction ([`ChunkTx`]) that takes the chunk's `INSERT`s as they are
//! read and commits them with the done-mark, or not at all.

use super::{Call, Commit};
use crate::position::Position;

/// A chunk's open transaction, or the epoch that fenced it.
pub enum OpenChunk {
    Open(Box<dyn ChunkTx>),
    Fenced { by_epoch: u64 },
}

impl std::fmt::Debug for OpenChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenChunk::Open(_) => f.write_str("Open"),
            OpenChunk::Fenced { by_epoch } => write!(f, "Fenced {{ by_epoch: {by_epoch} }}"),
        }
    }
}

/// One chunk's fenced transaction: its rows, then its done-mark.
pub trait ChunkTx: Send {
    /// Runs one of the chunk's statements inside the transaction.
    fn write(&mut self, statement: Vec<u8>) -> Call<'_, ()>;

    /// Marks the chunk done with `done` and commits, unless a larger epoch
    /// claimed the source meanwhile (then nothing of it commits).
    fn commit(self: Box<Self>, done: ChunkDone) -> Call<'static, Commit>;
}

/// One chunk of the plan as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    pub schema: String,
    pub table: String,
    pub index: u32,
    pub target_schema: String,
    pub target_table: String,
    /// The integer key the chunk ranges over; `None`: the whole table.
    pub key_column: Option<String>,
    pub lower: Option<i128>,
    pub upper: Option<i128>,
    /// The table's estimated rows, divided over its chunks.
    pub estimate_rows: u64,
    /// Set once the chunk's rows committed.
    pub done: Option<ChunkDone>,
}

/// What a finished chunk recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkDone {
    pub rows: u64,
    pub bytes: u64,
    /// The binlog position of the snapshot the rows were read in.
    pub position: Position,
}
