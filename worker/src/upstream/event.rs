//! The binlog as the upstream port hands it out: decoded events, each with
//! the position after it.
//!
//! A row event's images are as wide as its table. A session may log
//! partial images (`binlog_row_image` MINIMAL: the before image holds only
//! what finds the row, the after image only the columns the statement
//! set; or NOBLOB): decoding a partial image as if it held every column
//! puts values under the wrong names, so every image is widened to the
//! table's width and the columns it did not log are marked (see
//! [`Logged`]); what a statement needs and an image lacks is then an
//! error, never a guess (see `sql::dml`).

use std::sync::Arc;

use super::value::{Column, Value};
use crate::position::Position;

/// What a row change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Insert,
    Update,
    Delete,
}

/// One row of a row event: the before and/or after image, each as wide
/// as the event's columns.
#[derive(Debug, Clone)]
pub struct RowChange {
    pub kind: RowKind,
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
    /// Which columns each image logged, when one is partial (a session's
    /// `binlog_row_image` MINIMAL or NOBLOB); `None`: both are full.
    pub logged: Option<Arc<Logged>>,
}

impl RowChange {
    /// A change whose images are full.
    pub fn full(kind: RowKind, before: Option<Vec<Value>>, after: Option<Vec<Value>>) -> Self {
        Self {
            kind,
            before,
            after,
            logged: None,
        }
    }

    /// Whether the before image logged column `i`.
    pub fn before_has(&self, i: usize) -> bool {
        self.logged
            .as_ref()
            .is_none_or(|l| l.before.get(i).copied().unwrap_or(false))
    }

    /// Whether the after image logged column `i`.
    pub fn after_has(&self, i: usize) -> bool {
        self.logged
            .as_ref()
            .is_none_or(|l| l.after.get(i).copied().unwrap_or(false))
    }

    /// Whether the after image logged every column.
    pub fn after_is_full(&self) -> bool {
        self.logged
            .as_ref()
            .is_none_or(|l| l.after.iter().all(|x| *x))
    }

    /// About how many bytes of memory the change takes.
    pub fn approx_bytes(&self) -> usize {
        let image = |row: &Option<Vec<Value>>| -> usize {
            row.as_ref().map_or(0, |r| {
                r.iter()
                    .map(|v| {
                        std::mem::size_of::<Value>()
                            + match v {
                                Value::Bytes(b) => b.len(),
                                _ => 0,
                            }
                    })
                    .sum()
            })
        };
        std::mem::size_of::<Self>() + image(&self.before) + image(&self.after)
    }
}

/// A decoded binlog event.
#[derive(Debug, Clone)]
pub enum Event {
    /// The following transaction's GTID: MariaDB `domain-server-seq`, or
    /// MySQL `uuid:gno`.
    Gtid(String),
    /// Row changes of one table.
    Rows {
        schema: String,
        table: String,
        columns: Arc<[Column]>,
        rows: Vec<RowChange>,
    },
    /// A statement: DDL, or `BEGIN` / `COMMIT` of a non-transactional
    /// engine's transaction.
    Query { schema: String, sql: String },
    /// End of a transaction (XID).
    Commit,
    /// An idle upstream's heartbeat.
    Heartbeat,
    /// Anything else (format description, table maps, rotate, ...).
    Other,
}

/// An event and where it ends: resuming at `end` skips it.
#[derive(Debug, Clone)]
pub struct Located {
    pub event: Event,
    pub end: Position,
    /// Upstream time the event was written (Unix seconds; 0 if unknown).
    pub timestamp: u32,
}

/// Which columns the before and after images of a row event logged (`true`:
/// logged), when one of them is partial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub before: Vec<bool>,
    pub after: Vec<bool>,
}

impl Logged {
    /// From an event's bitmaps for `width` columns; `None` when every
    /// image it has is full.
    pub fn from_bitmaps(
        before: Option<Vec<bool>>,
        after: Option<Vec<bool>>,
        width: usize,
    ) -> Option<Arc<Logged>> {
        let full = |bits: &Option<Vec<bool>>| {
            bits.as_ref()
                .is_none_or(|b| b.len() >= width && b.iter().take(width).all(|x| *x))
        };
        if full(&before) && full(&after) {
            return None;
        }
        let widen = |bits: Option<Vec<bool>>| {
            let mut bits = bits.unwrap_or_else(|| vec![true; width]);
            bits.resize(width, false);
            bits
        };
        Some(Arc::new(Logged {
            before: widen(before),
            after: widen(after),
        }))
    }

    /// The same marks with the columns at `dropped` (ascending) removed.
    pub fn without(&self, dropped: &[usize]) -> Logged {
        Logged {
            before: without(&self.before, dropped),
            after: without(&self.after, dropped),
        }
    }
}

/// `items` without the positions in `dropped` (ascending).
pub fn without<T: Clone>(items: &[T], dropped: &[usize]) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| dropped.binary_search(i).is_err())
        .map(|(_, v)| v.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_images_need_no_marks_and_partial_ones_are_widened() {
        assert_eq!(
            Logged::from_bitmaps(Some(vec![true; 3]), Some(vec![true; 3]), 3),
            None
        );
        assert_eq!(Logged::from_bitmaps(None, Some(vec![true; 3]), 3), None);
        let partial = Logged::from_bitmaps(
            Some(vec![true, false, false]),
            Some(vec![false, true, false]),
            3,
        )
        .unwrap();
        assert_eq!(partial.before, [true, false, false]);
        assert_eq!(partial.after, [false, true, false]);
        let insert = Logged::from_bitmaps(None, Some(vec![true, false]), 2).unwrap();
        assert_eq!(insert.before, [true, true]);
        assert_eq!(partial.without(&[0]).after, [true, false]);
        assert_eq!(without(&["a", "b", "c", "d"], &[1, 3]), ["a", "c"]);
    }
}
