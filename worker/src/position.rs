//! Where a subtask's changes come from: a binlog position (file, offset,
//! and the GTID position of the same place). The upstream port hands them
//! out with every event and snapshot; the downstream stores them in
//! checkpoints and chunk records; both see this one type.

use std::fmt;

/// Where a subtask's changes come from: a binlog position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub binlog_name: String,
    pub binlog_pos: u32,
    pub binlog_gtid: String,
}

impl Position {
    /// Order in the binlog: file, then offset (the GTID is not compared).
    pub fn binlog_cmp(&self, other: &Position) -> std::cmp::Ordering {
        (self.binlog_name.as_str(), self.binlog_pos)
            .cmp(&(other.binlog_name.as_str(), other.binlog_pos))
    }

    /// Whether `self` is at or before `other` in the binlog.
    pub fn at_or_before(&self, other: &Position) -> bool {
        self.binlog_cmp(other).is_le()
    }

    /// The earliest of `positions`.
    pub fn earliest<'a>(positions: impl IntoIterator<Item = &'a Position>) -> Option<&'a Position> {
        positions.into_iter().min_by(|a, b| a.binlog_cmp(b))
    }

    /// The latest of `positions`.
    pub fn latest<'a>(positions: impl IntoIterator<Item = &'a Position>) -> Option<&'a Position> {
        positions.into_iter().max_by(|a, b| a.binlog_cmp(b))
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.binlog_name, self.binlog_pos)?;
        if !self.binlog_gtid.is_empty() {
            write!(f, " gtid {}", self.binlog_gtid)?;
        }
        Ok(())
    }
}
