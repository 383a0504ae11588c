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

use super::text::{push_literal, push_quoted, Literal};
use crate::upstream::{Column, ColumnType, Value, BINARY};

/// Appends `value` of `column` as a literal.
pub fn push_value(out: &mut Vec<u8>, value: &Value, column: &Column) {
    let kind = column.kind;
    match value {
        Value::Null => out.extend_from_slice(b"NULL"),
        Value::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::UInt(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Value::Float(v) => out.extend_from_slice(format!("{v:?}").as_bytes()),
        Value::Double(v) => out.extend_from_slice(format!("{v:?}").as_bytes()),
        Value::Date(y, m, d, h, mi, s, us) => {
            let text = if kind == ColumnType::Date {
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
            ColumnType::Enum | ColumnType::Set => {
                let number = bytes
                    .iter()
                    .rev()
                    .fold(0u128, |n, b| (n << 8) | u128::from(*b));
                out.extend_from_slice(number.to_string().as_bytes());
            }
            // The zero TIMESTAMP is no instant: `FROM_UNIXTIME(0)` is
            // refused in strict mode, the zero literal is what it is.
            ColumnType::Timestamp if is_zero_epoch(bytes) => {
                out.extend_from_slice(b"'0000-00-00 00:00:00'");
            }
            ColumnType::Timestamp => {
                out.extend_from_slice(b"FROM_UNIXTIME(");
                push_quoted(out, bytes);
                out.push(b')');
            }
            ColumnType::Bit | ColumnType::Geometry => push_literal(out, Some(bytes), Literal::Hex),
            // JSON text is UTF-8 (a binary string is not a JSON document).
            ColumnType::Json => push_string(out, "utf8mb4", bytes),
            _ => match Literal::of(column) {
                Literal::Number => push_literal(out, Some(bytes), Literal::Number),
                _ => push_string(out, column.charset.as_deref().unwrap_or(BINARY), bytes),
            },
        },
    }
}

/// Whether epoch-seconds text (`0`, `0.000`) is the zero TIMESTAMP.
fn is_zero_epoch(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| matches!(b, b'0' | b'.'))
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

    fn text(value: Value, kind: ColumnType, charset: Option<&str>) -> String {
        let mut column = Column::new("c", kind);
        column.charset = charset.map(str::to_string);
        let mut out = Vec::new();
        push_value(&mut out, &value, &column);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn literals_by_value_and_column() {
        use ColumnType::*;
        let bin = Some("binary");
        let utf8 = Some("utf8mb4");
        assert_eq!(
            text(Value::UInt(u64::MAX), Integer, bin),
            "18446744073709551615"
        );
        assert_eq!(text(Value::Int(-5), Integer, bin), "-5");
        assert_eq!(text(Value::Double(0.1), Float, bin), "0.1");
        assert_eq!(
            text(Value::Bytes(b"-12.340".to_vec()), Decimal, bin),
            "-12.340"
        );
        assert_eq!(
            text(Value::Date(2024, 2, 29, 13, 4, 5, 120), DateTime, bin),
            "'2024-02-29 13:04:05.000120'"
        );
        assert_eq!(
            text(Value::Date(2024, 2, 29, 0, 0, 0, 0), Date, bin),
            "'2024-02-29'"
        );
        assert_eq!(
            text(Value::Time(true, 1, 2, 3, 4, 0), Time, bin),
            "'-26:03:04'"
        );
        assert_eq!(
            text(Value::Bytes(b"1700000000.5".to_vec()), Timestamp, bin),
            "FROM_UNIXTIME('1700000000.5')"
        );
        assert_eq!(
            text(Value::Bytes(vec![0, 255]), String, bin),
            "_binary X'00ff'"
        );
        assert_eq!(
            text(Value::Bytes("é'".as_bytes().to_vec()), String, utf8),
            "_utf8mb4 X'c3a927'"
        );
        // A character set the row event did not name: bytes as they are.
        assert_eq!(
            text(Value::Bytes(b"ab".to_vec()), String, None),
            "_binary X'6162'"
        );
        assert_eq!(text(Value::Null, String, utf8), "NULL");
        assert_eq!(
            text(Value::Bytes(b"0.000".to_vec()), Timestamp, bin),
            "'0000-00-00 00:00:00'"
        );
        assert_eq!(text(Value::Bytes(vec![5]), Set, utf8), "5");
        assert_eq!(text(Value::Bytes(vec![1, 2]), Enum, utf8), "513");
        assert_eq!(text(Value::Bytes(vec![1, 2]), Bit, bin), "0x0102");
        assert_eq!(
            text(Value::Bytes(br#"{"a":1}"#.to_vec()), Json, bin),
            "_utf8mb4 X'7b2261223a317d'"
        );
    }
}
