//! Row changes to downstream statements. Pure.
//!
//! Inserts of one table that follow each other become one multi-row
//! statement (up to a size limit). Updates and deletes find their row by
//! the primary key (every column when the table has none, `LIMIT 1`).
//!
//! No statement is longer than `max_bytes`, what the downstream accepts
//! (its `max_allowed_packet` less headroom): a row that would take a
//! multi-row insert past it starts the next statement, and a row whose
//! statement alone is longer is refused with [`RowTooLarge`], naming its
//! table and key.
//!
//! In *safe mode* every statement is idempotent, so replaying changes the
//! downstream already has is harmless: insert becomes `REPLACE`, update
//! becomes delete-by-old-key plus `REPLACE` of the new row, delete stays
//! delete. The sync unit runs in safe mode through the replay window after
//! a full copy (and always when the task asks for `safe-mode`).
//!
//! ## Partial images
//!
//! A session with `binlog_row_image=MINIMAL` (or `NOBLOB`) logs only some
//! columns (see `upstream::event`): an insert writes the columns it logged (the
//! others took their defaults upstream too); an update sets the columns
//! its after image logged, found by the key its before image logged; a
//! delete finds its row the same way. What cannot be written from the
//! logged columns is refused by [`check_images`] before anything is
//! applied, with DM's "upstream didn't log enough columns" error: a before
//! image without the whole key, or, in safe mode, an update that changes
//! the key without logging the whole new row (its `REPLACE` would lose the
//! columns it did not log). A safe-mode update that keeps its key is an
//! `UPDATE` of the logged columns, which is idempotent already.

use crate::sql::{push_value, qualified, quote, RowTooLarge};
use crate::upstream::{primary_key_positions, Column, RowChange, RowKind, Value};

/// Inserts share a statement while it is shorter than this.
const MERGE_BYTES: usize = 1 << 20;

/// Why a partial image cannot be applied.
pub const NOT_ENOUGH_COLUMNS: &str = "upstream didn't log enough columns in binlog";

/// What a partial row image lacks (DM's "upstream didn't log enough
/// columns").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotEnoughColumns {
    #[error("{NOT_ENOUGH_COLUMNS}: the before image lacks key column `{0}`")]
    BeforeLacksKey(String),
    #[error("{NOT_ENOUGH_COLUMNS}: an update of key column `{0}` logged only some columns of the new row, which safe mode must write whole")]
    KeyMovedPartially(String),
}

/// Checks that `change`'s images hold what its statements need (see the
/// module docs); `Err` says what is missing.
pub fn check_images(
    columns: &[Column],
    change: &RowChange,
    safe: bool,
) -> Result<(), NotEnoughColumns> {
    if change.logged.is_none() {
        return Ok(());
    }
    let keys = key_positions(columns);
    let needs_before = matches!(change.kind, RowKind::Update | RowKind::Delete);
    if needs_before {
        if let Some(missing) = keys.iter().find(|i| !change.before_has(**i)) {
            return Err(NotEnoughColumns::BeforeLacksKey(column_name(
                columns, *missing,
            )));
        }
    }
    if safe && change.kind == RowKind::Update && !change.after_is_full() {
        let moved = keys.iter().find(|i| {
            change.after_has(**i)
                && change.before.as_ref().and_then(|b| b.get(**i))
                    != change.after.as_ref().and_then(|a| a.get(**i))
        });
        if let Some(moved) = moved {
            return Err(NotEnoughColumns::KeyMovedPartially(column_name(
                columns, *moved,
            )));
        }
    }
    Ok(())
}

fn column_name(columns: &[Column], i: usize) -> String {
    columns
        .get(i)
        .map_or_else(|| format!("@{i}"), |c| c.name.clone())
}

/// The positions that find a row: the primary key's, or every column.
fn key_positions(columns: &[Column]) -> Vec<usize> {
    let keyed = primary_key_positions(columns);
    if keyed.is_empty() {
        (0..columns.len()).collect()
    } else {
        keyed
    }
}

/// Builds the statements of a batch.
#[derive(Debug)]
pub struct DmlBuilder {
    /// The longest statement the downstream accepts.
    max_bytes: usize,
    statements: Vec<Vec<u8>>,
    /// The open multi-row insert and its text.
    open: Option<OpenInsert>,
}

/// A multi-row insert being built: rows join it while they go to the same
/// table, with the same verb and the same logged columns.
#[derive(Debug)]
struct OpenInsert {
    target: String,
    replace: bool,
    /// The logged columns of a partial image (`None`: every column).
    logged: Option<Vec<bool>>,
    text: Vec<u8>,
}

impl DmlBuilder {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes: max_bytes.max(1),
            statements: Vec::new(),
            open: None,
        }
    }

    /// Adds one row change of the table routed to `schema`.`table`; its
    /// images were checked with [`check_images`].
    pub fn row(
        &mut self,
        schema: &str,
        table: &str,
        columns: &[Column],
        change: &RowChange,
        safe: bool,
    ) -> Result<(), RowTooLarge> {
        let target = qualified(schema, table);
        match (change.kind, &change.before, &change.after) {
            (RowKind::Insert, _, Some(after)) => self.insert(&target, columns, change, after, safe),
            (RowKind::Update, Some(before), Some(after)) => {
                if safe && change.after_is_full() {
                    self.delete(&target, columns, change, before)?;
                    self.insert(&target, columns, change, after, true)
                } else {
                    self.update(&target, columns, change, before, after)
                }
            }
            (RowKind::Delete, Some(before), _) => self.delete(&target, columns, change, before),
            _ => Ok(()),
        }
    }

    /// Whether no statement is pending.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.open.is_none()
    }

    /// The bytes of SQL built so far.
    pub fn bytes(&self) -> usize {
        self.statements.iter().map(Vec::len).sum::<usize>()
            + self.open.as_ref().map_or(0, |o| o.text.len())
    }

    /// The statements, in order.
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        self.close();
        self.statements
    }

    fn close(&mut self) {
        if let Some(open) = self.open.take() {
            self.statements.push(open.text);
        }
    }

    fn insert(
        &mut self,
        target: &str,
        columns: &[Column],
        change: &RowChange,
        row: &[Value],
        replace: bool,
    ) -> Result<(), RowTooLarge> {
        let mut tuple = vec![b'('];
        let mut first = true;
        for (i, (value, column)) in row.iter().zip(columns).enumerate() {
            if !change.after_has(i) {
                continue;
            }
            if !first {
                tuple.push(b',');
            }
            first = false;
            push_value(&mut tuple, value, column);
        }
        tuple.push(b')');
        let logged = change.logged.as_ref().map(|l| l.after.clone());
        let (merge_bytes, max_bytes) = (MERGE_BYTES.min(self.max_bytes), self.max_bytes);
        let same = matches!(&self.open, Some(o) if o.target == target && o.replace == replace
            && o.logged == logged && o.text.len() < merge_bytes
            && o.text.len() + 1 + tuple.len() <= max_bytes);
        if !same {
            self.close();
            let names: Vec<String> = columns
                .iter()
                .enumerate()
                .filter(|(i, _)| change.after_has(*i))
                .map(|(_, c)| quote(&c.name))
                .collect();
            let verb = if replace { "REPLACE" } else { "INSERT" };
            let head = format!("{verb} INTO {target} ({}) VALUES ", names.join(","));
            let bytes = head.len() + tuple.len();
            if bytes > max_bytes {
                return Err(too_large(target, columns, row, bytes, max_bytes));
            }
            self.open = Some(OpenInsert {
                target: target.to_string(),
                replace,
                logged,
                text: head.into_bytes(),
            });
        }
        if let Some(open) = &mut self.open {
            if same {
                open.text.push(b',');
            }
            open.text.extend_from_slice(&tuple);
        }
        Ok(())
    }

    fn update(
        &mut self,
        target: &str,
        columns: &[Column],
        change: &RowChange,
        before: &[Value],
        after: &[Value],
    ) -> Result<(), RowTooLarge> {
        self.close();
        let mut text = format!("UPDATE {target} SET ").into_bytes();
        let mut first = true;
        for (i, (value, column)) in after.iter().zip(columns).enumerate() {
            if !change.after_has(i) {
                continue;
            }
            if !first {
                text.push(b',');
            }
            first = false;
            text.extend_from_slice(quote(&column.name).as_bytes());
            text.push(b'=');
            push_value(&mut text, value, column);
        }
        push_where(&mut text, columns, change, before);
        self.push(text, target, columns, before)
    }

    fn delete(
        &mut self,
        target: &str,
        columns: &[Column],
        change: &RowChange,
        before: &[Value],
    ) -> Result<(), RowTooLarge> {
        self.close();
        let mut text = format!("DELETE FROM {target}").into_bytes();
        push_where(&mut text, columns, change, before);
        self.push(text, target, columns, before)
    }

    /// Adds a statement of its own, unless it is longer than `max_bytes`.
    fn push(
        &mut self,
        text: Vec<u8>,
        target: &str,
        columns: &[Column],
        row: &[Value],
    ) -> Result<(), RowTooLarge> {
        if text.len() > self.max_bytes {
            return Err(too_large(target, columns, row, text.len(), self.max_bytes));
        }
        self.statements.push(text);
        Ok(())
    }
}

/// The error for a row of `target` whose statement needs `bytes`, named by
/// its primary key's values in `row`.
fn too_large(
    target: &str,
    columns: &[Column],
    row: &[Value],
    bytes: usize,
    max_bytes: usize,
) -> RowTooLarge {
    let key = columns
        .iter()
        .zip(row)
        .filter(|(c, _)| c.primary_key)
        .map(|(c, v)| (c.name.clone(), v.as_sql(false)));
    RowTooLarge {
        table: target.to_string(),
        key: RowTooLarge::key_text(key),
        bytes,
        max_bytes,
    }
}

/// ` WHERE key = values LIMIT 1`: the primary key's columns, or every
/// column the before image logged.
fn push_where(text: &mut Vec<u8>, columns: &[Column], change: &RowChange, row: &[Value]) {
    let positions: Vec<usize> = key_positions(columns)
        .into_iter()
        .filter(|i| *i < row.len() && change.before_has(*i))
        .collect();
    text.extend_from_slice(b" WHERE ");
    for (n, i) in positions.iter().enumerate() {
        let (Some(column), Some(value)) = (columns.get(*i), row.get(*i)) else {
            continue;
        };
        if n > 0 {
            text.extend_from_slice(b" AND ");
        }
        text.extend_from_slice(quote(&column.name).as_bytes());
        text.extend_from_slice(b" <=> ");
        push_value(text, value, column);
    }
    text.extend_from_slice(b" LIMIT 1");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::ColumnType;

    fn columns() -> Vec<Column> {
        vec![
            Column::new("id", ColumnType::Integer).with_primary_key(true),
            Column::new("c", ColumnType::String).with_charset("utf8mb4"),
        ]
    }

    fn change(kind: RowKind, before: Option<(i64, &str)>, after: Option<(i64, &str)>) -> RowChange {
        let row = |(id, c): (i64, &str)| vec![Value::Int(id), Value::Bytes(c.as_bytes().to_vec())];
        RowChange {
            kind,
            before: before.map(row),
            after: after.map(row),
            logged: None,
        }
    }

    fn build(changes: &[RowChange], safe: bool) -> Vec<String> {
        let mut b = DmlBuilder::new(1 << 20);
        for c in changes {
            b.row("db", "t", &columns(), c, safe).unwrap();
        }
        b.finish()
            .into_iter()
            .map(|s| String::from_utf8(s).unwrap())
            .collect()
    }

    #[test]
    fn statements_in_order_with_inserts_merged() {
        let changes = [
            change(RowKind::Insert, None, Some((1, "a"))),
            change(RowKind::Insert, None, Some((2, "b"))),
            change(RowKind::Update, Some((1, "a")), Some((1, "z"))),
            change(RowKind::Delete, Some((2, "b")), None),
        ];
        assert_eq!(
            build(&changes, false),
            [
                "INSERT INTO `db`.`t` (`id`,`c`) VALUES (1,_utf8mb4 X'61'),(2,_utf8mb4 X'62')",
                "UPDATE `db`.`t` SET `id`=1,`c`=_utf8mb4 X'7a' WHERE `id` <=> 1 LIMIT 1",
                "DELETE FROM `db`.`t` WHERE `id` <=> 2 LIMIT 1",
            ]
        );
        assert_eq!(
            build(&changes, true),
            [
                "REPLACE INTO `db`.`t` (`id`,`c`) VALUES (1,_utf8mb4 X'61'),(2,_utf8mb4 X'62')",
                "DELETE FROM `db`.`t` WHERE `id` <=> 1 LIMIT 1",
                "REPLACE INTO `db`.`t` (`id`,`c`) VALUES (1,_utf8mb4 X'7a')",
                "DELETE FROM `db`.`t` WHERE `id` <=> 2 LIMIT 1",
            ]
        );
    }

    #[test]
    fn a_table_without_a_primary_key_matches_every_column() {
        let plain: Vec<Column> = columns()
            .into_iter()
            .map(|c| c.with_primary_key(false))
            .collect();
        let mut b = DmlBuilder::new(1 << 20);
        b.row(
            "db",
            "t",
            &plain,
            &change(RowKind::Delete, Some((3, "x")), None),
            false,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(b.finish().remove(0)).unwrap(),
            "DELETE FROM `db`.`t` WHERE `id` <=> 3 AND `c` <=> _utf8mb4 X'78' LIMIT 1"
        );
    }

    #[test]
    fn statements_stay_within_the_downstream_limit() {
        // Integer columns only: `(id,n)` is as long as its digits + 3.
        let columns = [
            Column::new("id", ColumnType::Integer).with_primary_key(true),
            Column::new("n", ColumnType::Integer),
        ];
        let row = |id: i64, n: i64| Some(vec![Value::Int(id), Value::Int(n)]);
        let insert = |id, n| RowChange {
            kind: RowKind::Insert,
            before: None,
            after: row(id, n),
            logged: None,
        };
        let build = |max, changes: &[RowChange]| {
            let mut b = DmlBuilder::new(max);
            for c in changes {
                b.row("db", "t", &columns, c, false)?;
            }
            Ok::<_, RowTooLarge>(
                b.finish()
                    .into_iter()
                    .map(|s| String::from_utf8(s).unwrap())
                    .collect::<Vec<_>>(),
            )
        };
        let head = "INSERT INTO `db`.`t` (`id`,`n`) VALUES ";
        assert_eq!(head.len(), 39);
        const BIG: i64 = 123_456_789_012;
        // Rows share a statement only while it stays within the limit; a
        // row that fits only alone goes alone.
        assert_eq!(
            build(
                60,
                &[insert(1, 1), insert(2, 2), insert(3, BIG), insert(4, 4)]
            )
            .unwrap(),
            [
                format!("{head}(1,1),(2,2)"),
                format!("{head}(3,{BIG})"),
                format!("{head}(4,4)"),
            ]
        );
        // Exactly at the limit is sent; one byte more never fits.
        assert_eq!(
            build(55, &[insert(3, BIG)]).unwrap(),
            [format!("{head}(3,{BIG})")]
        );
        assert_eq!(
            build(54, &[insert(1, 1), insert(7, BIG)]).unwrap_err(),
            RowTooLarge {
                table: "`db`.`t`".into(),
                key: " with key `id` = 7".into(),
                bytes: 55,
                max_bytes: 54,
            }
        );
        // Updates and deletes too.
        let update = RowChange {
            kind: RowKind::Update,
            before: row(9, 1),
            after: row(9, BIG),
            logged: None,
        };
        assert_eq!(build(40, &[update]).unwrap_err().key, " with key `id` = 9");
        let delete = RowChange {
            kind: RowKind::Delete,
            before: row(5, 1),
            after: None,
            logged: None,
        };
        assert!(build(44, std::slice::from_ref(&delete)).is_err());
        assert_eq!(
            build(45, &[delete]).unwrap(),
            ["DELETE FROM `db`.`t` WHERE `id` <=> 5 LIMIT 1"]
        );
    }
}
