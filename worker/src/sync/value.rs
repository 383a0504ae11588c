//! Binlog row values as SQL literals.
//!
//! Row events carry typed values (integers, floats, dates) or bytes. Bytes
//! are written according to the column: DECIMAL as the number it is,
//! TIMESTAMP (epoch seconds, UTC) through `FROM_UNIXTIME` (the session runs
//! in UTC), ENUM and SET as their member index / bit set (the server
//! accepts numbers for both), BIT and geometry as hex numbers, and every
//! string as a hex string with its character set's introducer
//! (`_utf8mb4 X'..'`, `_binary X'..'`): the bytes arrive unchanged (no
//! escaping, any character set), the server converts them from the
//! upstream column's character set to the downstream column's, and where
//! the downstream column is a number the server reads the string as text
//! (`'12'` is 12, `'abc'` an error in strict mode), never as the number a
//! bare hex literal would be (`0x616263` is 6382179). A character set the
//! row event does not name (metadata off, or an id this client does not
//! know) is written as `_binary`: bytes kept as they are.

use mysql_async::consts::ColumnType;
use mysql_async::{Column, Value};
use mysql_common::collations::{Collation, CollationId};

use crate::copy::sql::{push_literal, push_quoted, Literal};

/// Appends `value` of `column` as a literal.
pub fn push_value(out: &mut Vec<u8>, value: &Value, column: &Column) {
    use ColumnType::*;
    let kind = column.column_type();
    match value {
        Value::NULL => out.extend_from_slice(b"NULL"),
        Value::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::UInt(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::Float(v) => out.extend_from_slice(format!("{v:?}").as_bytes()),
        Value::Double(v) => out.extend_from_slice(format!("{v:?}").as_bytes()),
        Value::Date(y, m, d, h, mi, s, us) => {
            let text = if kind == MYSQL_TYPE_DATE || kind == MYSQL_TYPE_NEWDATE {
                format!("{y:04}-{m:02}-{d:02}")
            } else if *us > 0 {
                format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
            };
            push_quoted(out, text.as_bytes());
        }
        Value::Time(negative, days, h, m, s, us) => {
            let hours = u64::from(*days) * 24 + u64::from(*h);
            let sign = if *negative { "-" } else { "" };
            let text = if *us > 0 {
                format!("{sign}{hours:02}:{m:02}:{s:02}.{us:06}")
            } else {
                format!("{sign}{hours:02}:{m:02}:{s:02}")
            };
            push_quoted(out, text.as_bytes());
        }
        Value::Bytes(bytes) => match kind {
            // The member index / bit set, little-endian.
            MYSQL_TYPE_ENUM | MYSQL_TYPE_SET => {
                let number = bytes
                    .iter()
                    .rev()
                    .fold(0u128, |n, b| (n << 8) | u128::from(*b));
                out.extend_from_slice(number.to_string().as_bytes());
            }
            // The zero TIMESTAMP is no instant: `FROM_UNIXTIME(0)` is
            // refused in strict mode, the zero literal is what it is.
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 if is_zero_epoch(bytes) => {
                out.extend_from_slice(b"'0000-00-00 00:00:00'");
            }
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => {
                out.extend_from_slice(b"FROM_UNIXTIME(");
                push_quoted(out, bytes);
                out.push(b')');
            }
            MYSQL_TYPE_BIT | MYSQL_TYPE_GEOMETRY => push_literal(out, Some(bytes), Literal::Hex),
            // JSON text is UTF-8 (a binary string is not a JSON document).
            MYSQL_TYPE_JSON => push_string(out, "utf8mb4", bytes),
            _ => match Literal::classify(kind, column.character_set()) {
                Literal::Number => push_literal(out, Some(bytes), Literal::Number),
                _ => push_collated(out, column.character_set(), bytes),
            },
        },
    }
}

/// Whether epoch-seconds text (`0`, `0.000`) is the zero TIMESTAMP.
fn is_zero_epoch(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| matches!(b, b'0' | b'.'))
}

/// A string of collation `id` (`binary` when unknown), byte for byte.
fn push_collated(out: &mut Vec<u8>, id: u16, bytes: &[u8]) {
    match CollationId::from(id) {
        CollationId::UNKNOWN_COLLATION_ID => push_string(out, "binary", bytes),
        known => push_string(out, Collation::resolve(known).charset(), bytes),
    }
}

/// `_charset X'hex'`: a string in `charset`, byte for byte.
fn push_string(out: &mut Vec<u8>, charset: &str, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'_');
    out.extend_from_slice(charset.as_bytes());
    out.extend_from_slice(b" X'");
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
    out.push(b'\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: Value, kind: ColumnType, charset: u16) -> String {
        let column = Column::new(kind).with_character_set(charset);
        let mut out = Vec::new();
        push_value(&mut out, &value, &column);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn literals_by_value_and_column() {
        use ColumnType::*;
        assert_eq!(
            text(Value::UInt(u64::MAX), MYSQL_TYPE_LONGLONG, 63),
            "18446744073709551615"
        );
        assert_eq!(text(Value::Int(-5), MYSQL_TYPE_LONG, 63), "-5");
        assert_eq!(text(Value::Double(0.1), MYSQL_TYPE_DOUBLE, 63), "0.1");
        assert_eq!(
            text(Value::Bytes(b"-12.340".to_vec()), MYSQL_TYPE_NEWDECIMAL, 63),
            "-12.340"
        );
        assert_eq!(
            text(
                Value::Date(2024, 2, 29, 13, 4, 5, 120),
                MYSQL_TYPE_DATETIME2,
                63
            ),
            "'2024-02-29 13:04:05.000120'"
        );
        assert_eq!(
            text(Value::Date(2024, 2, 29, 0, 0, 0, 0), MYSQL_TYPE_DATE, 63),
            "'2024-02-29'"
        );
        assert_eq!(
            text(Value::Time(true, 1, 2, 3, 4, 0), MYSQL_TYPE_TIME2, 63),
            "'-26:03:04'"
        );
        assert_eq!(
            text(
                Value::Bytes(b"1700000000.5".to_vec()),
                MYSQL_TYPE_TIMESTAMP2,
                63
            ),
            "FROM_UNIXTIME('1700000000.5')"
        );
        assert_eq!(
            text(Value::Bytes(vec![0, 255]), MYSQL_TYPE_BLOB, 63),
            "_binary X'00ff'"
        );
        assert_eq!(
            text(
                Value::Bytes("é'".as_bytes().to_vec()),
                MYSQL_TYPE_VARCHAR,
                45
            ),
            "_utf8mb4 X'c3a927'"
        );
        assert_eq!(text(Value::NULL, MYSQL_TYPE_VARCHAR, 45), "NULL");
        assert_eq!(
            text(Value::Bytes(b"0.000".to_vec()), MYSQL_TYPE_TIMESTAMP2, 63),
            "'0000-00-00 00:00:00'"
        );
        assert_eq!(text(Value::Bytes(vec![5]), MYSQL_TYPE_SET, 45), "5");
        assert_eq!(text(Value::Bytes(vec![1, 2]), MYSQL_TYPE_ENUM, 45), "513");
    }
}
