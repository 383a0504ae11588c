//! Row images as wide as their table.
//!
//! A row event names the table's columns through its table map (types,
//! and with `binlog_row_metadata=FULL` names, signedness, character sets
//! and the primary key), and each image carries only the columns its
//! bitmap marks. With `binlog_row_image=FULL` (the default) both bitmaps
//! are full. A session may set `MINIMAL` (the before image holds only what
//! finds the row: the primary key, or every column without one; the after
//! image only the columns the statement set) or `NOBLOB`, whatever the
//! server's global says. Decoding a partial image as if it held every
//! column puts values under the wrong names, so every image is widened to
//! the table's width here and the columns it did not log are marked (see
//! [`Logged`]); what a statement needs and an image lacks is then an error,
//! never a guess (see `dml`).

use std::sync::Arc;

use mysql_async::binlog::events::{OptionalMetaExtractor, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::ColumnFlags;
use mysql_async::{Column, Value};

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

/// Every column of the table a table map describes, in table order, as
/// the row decoder names them (`@N` without FULL metadata).
pub fn table_columns(tme: &TableMapEvent<'_>) -> Result<Arc<[Column]>, String> {
    let meta = OptionalMetaExtractor::new(tme.iter_optional_meta())
        .map_err(|e| format!("the table map's metadata: {e}"))?;
    let mut signedness = meta.iter_signedness();
    let mut charsets = meta.iter_charset();
    let mut enum_charsets = meta.iter_enum_and_set_charset();
    let mut names = meta.iter_column_name();
    let mut primary = meta.iter_primary_key();
    let count = usize::try_from(tme.columns_count()).unwrap_or(usize::MAX);
    let mut columns = Vec::with_capacity(count.min(4096));
    for i in 0..count {
        let kind = tme
            .get_column_type(i)
            .map_err(|e| format!("column {i}: {e}"))?
            .ok_or_else(|| format!("column {i} has no type"))?;
        let mut flags = ColumnFlags::empty();
        if kind.is_numeric_type() && signedness.next().unwrap_or_default() {
            flags |= ColumnFlags::UNSIGNED_FLAG;
        }
        let charset = if kind.is_character_type() {
            charsets
                .next()
                .transpose()
                .ok()
                .flatten()
                .unwrap_or_default()
        } else if kind.is_enum_or_set_type() {
            enum_charsets
                .next()
                .transpose()
                .ok()
                .flatten()
                .unwrap_or_default()
        } else {
            0
        };
        let name = match names.next().transpose() {
            Ok(Some(name)) => name.name_raw().to_vec(),
            _ => format!("@{i}").into_bytes(),
        };
        if primary
            .next_if(|next| next.as_ref().ok() == Some(&(i as u64)))
            .is_some()
        {
            flags |= ColumnFlags::PRI_KEY_FLAG;
        }
        columns.push(
            Column::new(kind)
                .with_schema(tme.database_name_raw())
                .with_table(tme.table_name_raw())
                .with_org_table(tme.table_name_raw())
                .with_name(&name)
                .with_flags(flags)
                .with_character_set(charset),
        );
    }
    Ok(columns.into())
}

/// A decoded image as wide as the table: the values of the columns
/// `logged` marks, in order, and NULL for the others.
pub fn widen(row: BinlogRow, logged: Option<&[bool]>, width: usize) -> Result<Vec<Value>, String> {
    let mut values = row.unwrap().into_iter().map(value);
    let Some(logged) = logged else {
        return values.collect();
    };
    let mut wide = Vec::with_capacity(width);
    for present in logged.iter().take(width) {
        wide.push(if *present {
            values
                .next()
                .ok_or("the image holds fewer values than its bitmap marks")??
        } else {
            Value::NULL
        });
    }
    Ok(wide)
}

fn value(v: BinlogValue<'static>) -> Result<Value, String> {
    match v {
        BinlogValue::Value(v) => Ok(v),
        other => Value::try_from(other).map_err(|e| format!("a JSON value: {e}")),
    }
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
