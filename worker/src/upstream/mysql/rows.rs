//! Binlog rows and result columns of the MySQL client library, in the
//! upstream port's vocabulary: row images as wide as their table, values
//! as [`Value`], column metadata as [`Column`].
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
//! never a guess (see `sql::dml`).
//!
//! Conversions keep every value as the library decoded it (the sync's
//! literals depend on it byte for byte): the library's column type
//! becomes a [`ColumnType`] (DATE and NEWDATE are one, as are the
//! TIMESTAMP, TIME and DATETIME pairs), the collation id the character set
//! it names (`None` for an id the library does not know, or none given).

use std::sync::Arc;

use mysql_async::binlog::events::{OptionalMetaExtractor, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::consts::{ColumnFlags, ColumnType as MySqlType};
use mysql_common::collations::{Collation, CollationId};

use crate::upstream::{Column, ColumnType, Value};

/// Every column of the table a table map describes, in table order, as
/// the row decoder names them (`@N` without FULL metadata).
pub fn table_columns(tme: &TableMapEvent<'_>) -> Result<Arc<[Column]>, TableMapError> {
    let meta = OptionalMetaExtractor::new(tme.iter_optional_meta())
        .map_err(|e| TableMapError::Metadata(e.to_string()))?;
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
            .map_err(|e| TableMapError::Column {
                column: i,
                error: e.to_string(),
            })?
            .ok_or(TableMapError::NoType(i))?;
        let unsigned = kind.is_numeric_type() && signedness.next().unwrap_or_default();
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
            Ok(Some(name)) => String::from_utf8_lossy(name.name_raw()).into_owned(),
            _ => format!("@{i}"),
        };
        let primary_key = primary
            .next_if(|next| next.as_ref().ok() == Some(&(i as u64)))
            .is_some();
        columns.push(Column {
            name,
            kind: column_type(kind),
            charset: charset_of(charset),
            primary_key,
            unsigned,
        });
    }
    Ok(columns.into())
}

/// The MEDIUMINT columns of a table map not known to be unsigned.
/// mysql_common reads every MEDIUMINT as its unsigned 24 bits, so a
/// signed column's negative values arrive 2^24 too large
/// ([`sign_extend_24`] brings them back; an unsigned column whose
/// signedness the binlog did not log then reads negative, as every other
/// integer does, until the schema tracker's definition says otherwise).
pub fn signed_mediumints(tme: &TableMapEvent<'_>, columns: &[Column]) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            !c.unsigned
                && matches!(
                    tme.get_column_type(*i),
                    Ok(Some(MySqlType::MYSQL_TYPE_INT24))
                )
        })
        .map(|(i, _)| i)
        .collect()
}

/// A signed MEDIUMINT's value read as unsigned 24 bits, sign-extended.
pub fn sign_extend_24(value: &mut Value) {
    if let Value::Int(v) = *value {
        if (1 << 23..1 << 24).contains(&v) {
            *value = Value::Int(v - (1 << 24));
        }
    }
}

/// Why a table map event's columns cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableMapError {
    #[error("the table map's metadata: {0}")]
    Metadata(String),
    #[error("column {column}: {error}")]
    Column { column: usize, error: String },
    #[error("column {0} has no type")]
    NoType(usize),
}

/// Why a row image cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the image holds fewer values than its bitmap marks")]
    Short,
    #[error("a JSON value: {0}")]
    Json(String),
}

/// A decoded image as wide as the table: the values of the columns
/// `logged` marks, in order, and NULL for the others.
pub fn widen(
    row: BinlogRow,
    logged: Option<&[bool]>,
    width: usize,
) -> Result<Vec<Value>, ImageError> {
    let mut values = row.unwrap().into_iter().map(binlog_value);
    let Some(logged) = logged else {
        return values.collect();
    };
    let mut wide = Vec::with_capacity(width);
    for present in logged.iter().take(width) {
        wide.push(if *present {
            values.next().ok_or(ImageError::Short)??
        } else {
            Value::Null
        });
    }
    Ok(wide)
}

fn binlog_value(v: BinlogValue<'static>) -> Result<Value, ImageError> {
    match v {
        BinlogValue::Value(v) => Ok(value(v)),
        other => mysql_async::Value::try_from(other)
            .map(value)
            .map_err(|e| ImageError::Json(e.to_string())),
    }
}

/// A value of the client library, unchanged.
pub fn value(v: mysql_async::Value) -> Value {
    use mysql_async::Value as V;
    match v {
        V::NULL => Value::Null,
        V::Bytes(b) => Value::Bytes(b),
        V::Int(i) => Value::Int(i),
        V::UInt(u) => Value::UInt(u),
        V::Float(f) => Value::Float(f),
        V::Double(d) => Value::Double(d),
        V::Date(y, m, d, h, mi, s, us) => Value::Date(y, m, d, h, mi, s, us),
        V::Time(neg, days, h, mi, s, us) => Value::Time(neg, days, h, mi, s, us),
    }
}

/// What a column of the library's `kind` is.
pub fn column_type(kind: MySqlType) -> ColumnType {
    use MySqlType::*;
    match kind {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG
        | MYSQL_TYPE_INT24 => ColumnType::Integer,
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => ColumnType::Float,
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => ColumnType::Decimal,
        MYSQL_TYPE_YEAR => ColumnType::Year,
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => ColumnType::Date,
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => ColumnType::Time,
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => ColumnType::DateTime,
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => ColumnType::Timestamp,
        MYSQL_TYPE_BIT => ColumnType::Bit,
        MYSQL_TYPE_GEOMETRY => ColumnType::Geometry,
        MYSQL_TYPE_ENUM => ColumnType::Enum,
        MYSQL_TYPE_SET => ColumnType::Set,
        MYSQL_TYPE_JSON => ColumnType::Json,
        _ => ColumnType::String,
    }
}

/// The character set collation `id` belongs to; `None` when the library
/// does not know the id (or none was given: 0).
pub fn charset_of(id: u16) -> Option<String> {
    match CollationId::from(id) {
        CollationId::UNKNOWN_COLLATION_ID => None,
        known => Some(Collation::resolve(known).charset().to_string()),
    }
}

/// A result set's column.
pub fn column(c: &mysql_async::Column) -> Column {
    let flags = c.flags();
    Column {
        name: c.name_str().into_owned(),
        kind: column_type(c.column_type()),
        charset: charset_of(c.character_set()),
        primary_key: flags.contains(ColumnFlags::PRI_KEY_FLAG),
        unsigned: flags.contains(ColumnFlags::UNSIGNED_FLAG),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::Value as V;

    #[test]
    fn values_are_kept_as_decoded() {
        let cases = [
            V::NULL,
            V::Bytes(b"-12.340".to_vec()),
            V::Bytes(b"0123456789abcdef\n".to_vec()),
            V::Bytes(b"it's \\ \"q\" \r\n \x00 \x1a".to_vec()),
            V::Bytes(vec![0xff, 0x00, 0x10]),
            V::Double(1e300),
            V::Float(-1.5),
            V::Int(-5),
            V::UInt(u64::MAX),
            V::Float(0.25),
            V::Double(0.1),
            V::Date(2024, 2, 29, 0, 0, 0, 0),
            V::Date(2024, 2, 29, 13, 4, 5, 0),
            V::Date(2024, 2, 29, 13, 4, 5, 120),
            V::Time(true, 1, 2, 3, 4, 0),
            V::Time(false, 0, 2, 3, 4, 5),
        ];
        for v in cases {
            // Column mappings read non-integer, non-string values in this
            // notation: it stays the library's.
            assert_eq!(format!("{:?}", value(v.clone())), format!("{v:?}"));
            for no_backslash_escape in [false, true] {
                assert_eq!(
                    value(v.clone()).as_sql(no_backslash_escape),
                    v.as_sql(no_backslash_escape)
                );
            }
        }
        assert_eq!(value(V::UInt(u64::MAX)), Value::UInt(u64::MAX));
        assert_eq!(value(V::NULL), Value::Null);
        assert_eq!(
            std::mem::size_of::<Value>(),
            std::mem::size_of::<mysql_async::Value>()
        );
    }

    #[test]
    fn signed_mediumints_are_sign_extended() {
        for (raw, expected) in [
            (16_777_215, -1),
            (8_388_608, -8_388_608),
            (8_388_607, 8_388_607),
            (0, 0),
        ] {
            let mut v = Value::Int(raw);
            sign_extend_24(&mut v);
            assert_eq!(v, Value::Int(expected));
        }
    }

    #[test]
    fn column_types_and_charsets() {
        use MySqlType::*;
        for (kind, expected) in [
            (MYSQL_TYPE_LONGLONG, ColumnType::Integer),
            (MYSQL_TYPE_TINY, ColumnType::Integer),
            (MYSQL_TYPE_INT24, ColumnType::Integer),
            (MYSQL_TYPE_DOUBLE, ColumnType::Float),
            (MYSQL_TYPE_NEWDECIMAL, ColumnType::Decimal),
            (MYSQL_TYPE_YEAR, ColumnType::Year),
            (MYSQL_TYPE_NEWDATE, ColumnType::Date),
            (MYSQL_TYPE_DATE, ColumnType::Date),
            (MYSQL_TYPE_TIME2, ColumnType::Time),
            (MYSQL_TYPE_DATETIME2, ColumnType::DateTime),
            (MYSQL_TYPE_TIMESTAMP, ColumnType::Timestamp),
            (MYSQL_TYPE_TIMESTAMP2, ColumnType::Timestamp),
            (MYSQL_TYPE_BIT, ColumnType::Bit),
            (MYSQL_TYPE_GEOMETRY, ColumnType::Geometry),
            (MYSQL_TYPE_ENUM, ColumnType::Enum),
            (MYSQL_TYPE_SET, ColumnType::Set),
            (MYSQL_TYPE_JSON, ColumnType::Json),
            (MYSQL_TYPE_VARCHAR, ColumnType::String),
            (MYSQL_TYPE_VAR_STRING, ColumnType::String),
            (MYSQL_TYPE_STRING, ColumnType::String),
            (MYSQL_TYPE_BLOB, ColumnType::String),
        ] {
            assert_eq!(column_type(kind), expected, "{kind:?}");
        }
        // Charset introducers: the collation's character set; binary for
        // 63; none for an id the library does not know or 0 (no metadata).
        assert_eq!(charset_of(45).as_deref(), Some("utf8mb4"));
        assert_eq!(charset_of(33).as_deref(), Some("utf8mb3"));
        assert_eq!(charset_of(8).as_deref(), Some("latin1"));
        assert_eq!(charset_of(63).as_deref(), Some("binary"));
        assert_eq!(charset_of(0), None);
        let c = mysql_async::Column::new(MYSQL_TYPE_LONGLONG)
            .with_name(b"id")
            .with_flags(ColumnFlags::PRI_KEY_FLAG | ColumnFlags::UNSIGNED_FLAG)
            .with_character_set(63);
        let converted = column(&c);
        assert_eq!(converted.name, "id");
        assert!(converted.primary_key && converted.unsigned && converted.is_binary());
    }
}
