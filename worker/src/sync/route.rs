//! Which apply lane a row change goes to. Pure.
//!
//! Changes are spread over the lanes by a hash of the target table and the
//! row's primary key, so all changes of one row stay in one lane, in order.
//! A table without a primary key, or with other unique keys (whose order
//! across rows matters), is *serial*: all its changes go to one lane chosen
//! by the table. An update that moves a row to a key of another lane is a
//! *conflict*: its transaction is applied alone, between barriers.

use crate::sql::push_value;
use crate::upstream::{primary_key_positions, Column, RowChange, Value};

/// Where a change goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LaneChoice {
    Lane(usize),
    /// Its before and after images belong to different lanes.
    Conflict,
}

fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn table_hash(target: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325;
    fnv(&mut hash, target.as_bytes());
    hash
}

fn key_lane(
    target: &str,
    columns: &[Column],
    keys: &[usize],
    row: &[Value],
    lanes: usize,
) -> usize {
    let mut hash = table_hash(target);
    let mut text = Vec::new();
    for &i in keys {
        if let (Some(column), Some(value)) = (columns.get(i), row.get(i)) {
            text.clear();
            push_value(&mut text, value, column);
            fnv(&mut hash, &text);
            fnv(&mut hash, b"\0");
        }
    }
    (hash % lanes as u64) as usize
}

/// The lane of one change of the table routed to `target` (quoted,
/// qualified); `serial` when the table must stay on one lane.
pub fn lane_of(
    target: &str,
    columns: &[Column],
    change: &RowChange,
    lanes: usize,
    serial: bool,
) -> LaneChoice {
    if lanes <= 1 {
        return LaneChoice::Lane(0);
    }
    let keys = primary_key_positions(columns);
    if serial || keys.is_empty() {
        return LaneChoice::Lane((table_hash(target) % lanes as u64) as usize);
    }
    // A partial image without the key (an update's MINIMAL after image
    // when the key did not change) says nothing about the lane.
    let before = change
        .before
        .as_deref()
        .filter(|_| keys.iter().all(|i| change.before_has(*i)))
        .map(|r| key_lane(target, columns, &keys, r, lanes));
    let after = change
        .after
        .as_deref()
        .filter(|_| keys.iter().all(|i| change.after_has(*i)))
        .map(|r| key_lane(target, columns, &keys, r, lanes));
    match (before, after) {
        (Some(b), Some(a)) if a != b => LaneChoice::Conflict,
        (Some(l), _) | (None, Some(l)) => LaneChoice::Lane(l),
        // No image logged the key: where its row lives is unknown, so
        // its transaction runs alone.
        (None, None) => LaneChoice::Conflict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{ColumnType, RowKind};

    fn columns(keyed: bool) -> Vec<Column> {
        vec![
            Column::new("id", ColumnType::Integer).with_primary_key(keyed),
            Column::new("v", ColumnType::Integer),
        ]
    }

    fn change(before: Option<i64>, after: Option<i64>) -> RowChange {
        RowChange {
            kind: RowKind::Update,
            before: before.map(|id| vec![Value::Int(id), Value::Int(1)]),
            after: after.map(|id| vec![Value::Int(id), Value::Int(2)]),
            logged: None,
        }
    }

    #[test]
    fn one_rows_changes_share_a_lane_and_key_moves_conflict() {
        let cols = columns(true);
        let lane = |c: &RowChange| lane_of("`db`.`t`", &cols, c, 8, false);
        let insert = lane(&change(None, Some(5)));
        assert_eq!(lane(&change(Some(5), Some(5))), insert);
        assert_eq!(lane(&change(Some(5), None)), insert);
        let spread: std::collections::BTreeSet<_> =
            (0..64).map(|id| lane(&change(None, Some(id)))).collect();
        assert!(spread.len() > 4, "keys spread over lanes: {spread:?}");
        let moved = (0..64)
            .map(|id| lane(&change(Some(5), Some(id))))
            .filter(|c| *c == LaneChoice::Conflict)
            .count();
        assert!(moved > 0);
    }

    #[test]
    fn tables_without_a_key_or_marked_serial_stay_on_one_lane() {
        let plain = columns(false);
        let keyed = columns(true);
        let a = lane_of("`db`.`t`", &plain, &change(None, Some(1)), 8, false);
        let b = lane_of("`db`.`t`", &plain, &change(Some(1), Some(99)), 8, false);
        assert_eq!(a, b);
        let c = lane_of("`db`.`t`", &keyed, &change(Some(1), Some(99)), 8, true);
        assert_eq!(a, c);
        assert_eq!(
            lane_of("`db`.`t`", &keyed, &change(Some(1), Some(99)), 1, false),
            LaneChoice::Lane(0)
        );
    }
}
