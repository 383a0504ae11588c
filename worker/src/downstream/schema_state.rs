//! A stored state of a source's schema tracker (see `sync::schemas`):
//! the tracked definitions as they are at `position`, written fenced
//! before any checkpoint passes that position, so a run that resumes at a
//! checkpoint finds the state that belongs to it (the latest stored at or
//! before it).

use crate::position::Position;

/// One stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    /// Order of writing (assigned by the downstream; ignored when saving).
    pub seq: u64,
    /// Where in the binlog the state holds: after the statement that made
    /// it, or where it was seeded or replaced.
    pub position: Position,
    /// The highest `binlog-schema` operation applied to it.
    pub applied_op: u64,
    /// `SchemaTracker::to_text`.
    pub state: String,
}
