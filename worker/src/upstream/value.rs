//! Row values and column metadata as the upstream port hands them out.
//!
//! A value is what a binlog row image holds for one column: NULL, an
//! integer (signed or not, as the column is), a float, a date-time or a
//! time, or bytes (strings, DECIMAL text, BIT, JSON text, TIMESTAMP as
//! epoch seconds, ENUM/SET as their member index / bit set). A column
//! says what its bytes are: its [`ColumnType`] and, for strings, the
//! character set they are in. The MySQL adapter converts the binlog's own
//! types into these (`mysql/rows.rs`); the in-memory upstream builds them
//! directly; the sync writes them as SQL literals (`crate::sql`).

use std::fmt;

/// One column's value in a row image.
#[derive(Clone, PartialEq, PartialOrd)]
pub enum Value {
    Null,
    Bytes(Vec<u8>),
    Int(i64),
    UInt(u64),
    Float(f32),
    Double(f64),
    /// year, month, day, hour, minutes, seconds, microseconds
    Date(u16, u8, u8, u8, u8, u8, u32),
    /// negative, days, hours, minutes, seconds, microseconds
    Time(bool, u32, u8, u8, u8, u32),
}

impl Value {
    /// The value as SQL text for messages and checks, in the MySQL client
    /// library's notation (numbers as printed, dates and times quoted,
    /// UTF-8 bytes as a quoted string escaped with backslashes unless
    /// `no_backslash_escape`, other bytes as `0x..`). Statements the sync
    /// writes use `crate::sql` instead.
    pub fn as_sql(&self, no_backslash_escape: bool) -> String {
        match *self {
            Value::Null => "NULL".into(),
            Value::Int(x) => x.to_string(),
            Value::UInt(x) => x.to_string(),
            Value::Float(x) => x.to_string(),
            Value::Double(x) => x.to_string(),
            Value::Date(y, m, d, 0, 0, 0, 0) => format!("'{y:04}-{m:02}-{d:02}'"),
            Value::Date(y, m, d, h, mi, s, 0) => {
                format!("'{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}'")
            }
            Value::Date(y, m, d, h, mi, s, us) => {
                format!("'{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'")
            }
            Value::Time(negative, days, h, mi, s, us) => {
                let sign = if negative { "-" } else { "" };
                let hours = days * 24 + u32::from(h);
                if us == 0 {
                    format!("'{sign}{hours:03}:{mi:02}:{s:02}'")
                } else {
                    format!("'{sign}{hours:03}:{mi:02}:{s:02}.{us:06}'")
                }
            }
            Value::Bytes(ref bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => escaped(text, no_backslash_escape),
                Err(_) => {
                    let mut out = String::from("0x");
                    for b in bytes {
                        out.push_str(&format!("{b:02X}"));
                    }
                    out
                }
            },
        }
    }
}

/// `input` quoted: `'` doubled, or backslash escapes.
fn escaped(input: &str, no_backslash_escape: bool) -> String {
    let mut out = String::with_capacity(input.len() + 2);
    out.push('\'');
    for c in input.chars() {
        match c {
            '\'' if no_backslash_escape => out.push_str("''"),
            _ if no_backslash_escape => out.push(c),
            '\x00' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' | '\'' | '"' => {
                out.push('\\');
                out.push(c);
            }
            '\x1a' => out.push_str("\\Z"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// How a value reads in logs and in column mappings of non-integer,
/// non-string values (`Date('2024-02-29')`, `Time('-026:03:04')`): the
/// MySQL client library's notation, which these texts have always been.
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Null => f.debug_tuple("Null").finish(),
            Value::Bytes(ref bytes) => {
                let mut debug = f.debug_tuple("Bytes");
                if bytes.len() <= 8 {
                    debug
                        .field(&String::from_utf8_lossy(bytes).replace('\n', "\\n"))
                        .finish()
                } else {
                    let head = bytes.get(..8).unwrap_or(bytes);
                    let head = String::from_utf8_lossy(head).replace('\n', "\\n");
                    debug.field(&format!("{head}..")).finish()
                }
            }
            Value::Int(ref v) => f.debug_tuple("Int").field(v).finish(),
            Value::UInt(ref v) => f.debug_tuple("UInt").field(v).finish(),
            Value::Float(ref v) => f.debug_tuple("Float").field(v).finish(),
            Value::Double(ref v) => f.debug_tuple("Double").field(v).finish(),
            Value::Date(y, m, d, 0, 0, 0, 0) => f
                .debug_tuple("Date")
                .field(&format!("'{y:04}-{m:02}-{d:02}'"))
                .finish(),
            Value::Date(y, m, d, h, mi, s, 0) => f
                .debug_tuple("Date")
                .field(&format!("'{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}'"))
                .finish(),
            Value::Date(y, m, d, h, mi, s, us) => f
                .debug_tuple("Date")
                .field(&format!(
                    "'{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'"
                ))
                .finish(),
            Value::Time(negative, days, h, mi, s, us) => {
                let sign = if negative { "-" } else { "" };
                let hours = days * 24 + u32::from(h);
                let text = if us == 0 {
                    format!("'{sign}{hours:03}:{mi:02}:{s:02}'")
                } else {
                    format!("'{sign}{hours:03}:{mi:02}:{s:02}.{us:06}'")
                };
                f.debug_tuple("Time").field(&text).finish()
            }
        }
    }
}

/// What a column's values are, as far as writing them back goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// TINYINT .. BIGINT, MEDIUMINT.
    Integer,
    /// FLOAT, DOUBLE.
    Float,
    /// DECIMAL (its values are the number's text).
    Decimal,
    Year,
    /// DATE: the date alone.
    Date,
    Time,
    DateTime,
    /// TIMESTAMP: an instant (epoch seconds in row images).
    Timestamp,
    Bit,
    Geometry,
    /// ENUM: a member index in row images.
    Enum,
    /// SET: a bit set of members in row images.
    Set,
    /// JSON: UTF-8 text.
    Json,
    /// Character and binary strings, BLOBs, and every other type: their
    /// bytes are in the column's character set.
    String,
}

impl ColumnType {
    /// Whether values are numbers the server prints as digits.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            ColumnType::Integer | ColumnType::Float | ColumnType::Decimal | ColumnType::Year
        )
    }
}

/// The character set of byte strings that are not text.
pub const BINARY: &str = "binary";

/// A column of a table as a row event or a chunk read describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The name (`@N`, counted from 0, when the upstream did not log
    /// names).
    pub name: String,
    pub kind: ColumnType,
    /// The character set of the values' bytes (`binary`: bytes that are
    /// no text); `None` when the upstream did not say.
    pub charset: Option<String>,
    /// Part of the primary key.
    pub primary_key: bool,
    pub unsigned: bool,
}

impl Column {
    /// A column named `name` of `kind`, no character set, no flags.
    pub fn new(name: impl Into<String>, kind: ColumnType) -> Self {
        Self {
            name: name.into(),
            kind,
            charset: None,
            primary_key: false,
            unsigned: false,
        }
    }

    pub fn with_charset(mut self, charset: &str) -> Self {
        self.charset = Some(charset.to_string());
        self
    }

    pub fn with_primary_key(mut self, primary_key: bool) -> Self {
        self.primary_key = primary_key;
        self
    }

    pub fn with_unsigned(mut self, unsigned: bool) -> Self {
        self.unsigned = unsigned;
        self
    }

    /// Whether the values are byte strings that are no text.
    pub fn is_binary(&self) -> bool {
        self.charset.as_deref() == Some(BINARY)
    }
}

/// The positions of `columns`' primary key, in table order (none for a
/// table without one).
pub fn primary_key_positions(columns: &[Column]) -> Vec<usize> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.primary_key)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_the_client_library_prints_them() {
        assert_eq!(format!("{:?}", Value::Null), "Null");
        assert_eq!(format!("{:?}", Value::Double(1.5)), "Double(1.5)");
        assert_eq!(format!("{:?}", Value::Float(0.25)), "Float(0.25)");
        assert_eq!(
            format!("{:?}", Value::Date(2024, 2, 29, 0, 0, 0, 0)),
            "Date(\"'2024-02-29'\")"
        );
        assert_eq!(
            format!("{:?}", Value::Date(2024, 2, 29, 13, 4, 5, 0)),
            "Date(\"'2024-02-29 13:04:05'\")"
        );
        assert_eq!(
            format!("{:?}", Value::Date(2024, 2, 29, 13, 4, 5, 120)),
            "Date(\"'2024-02-29 13:04:05.000120'\")"
        );
        assert_eq!(
            format!("{:?}", Value::Time(true, 1, 2, 3, 4, 0)),
            "Time(\"'-026:03:04'\")"
        );
        assert_eq!(
            format!("{:?}", Value::Time(false, 0, 2, 3, 4, 5)),
            "Time(\"'002:03:04.000005'\")"
        );
        assert_eq!(
            format!("{:?}", Value::Bytes(b"abcdefghij".to_vec())),
            "Bytes(\"abcdefgh..\")"
        );
    }
}
