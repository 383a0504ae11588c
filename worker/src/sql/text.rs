//! Value literals of text-protocol values and multi-row INSERTs.
//!
//! Rows are read with the text protocol, so every value arrives as the
//! bytes the server printed (or NULL). How a value is written back depends on
//! its column:
//!
//! - numbers (integers, decimals, floats, YEAR) are written as the server
//!   printed them, unquoted;
//! - binary data (binary strings, BLOBs, BIT, geometry: the `binary`
//!   character set, temporal types excepted) is written as a hex literal, so
//!   no byte is reinterpreted on the way;
//! - TIMESTAMP values are read as text in the session's time zone (the
//!   task's, on both servers) and written as
//!   `FROM_UNIXTIME(UNIX_TIMESTAMP('...'))`: the server turns the text into
//!   the instant and stores that instant, whatever the zone (a text
//!   literal is checked against the TIMESTAMP range in local time, so in a
//!   zone east of UTC the last hours before 2038-01-19 03:14:07 UTC could
//!   not be written); the zero value stays text;
//! - everything else (text in utf8mb4, dates and times, DECIMAL-free
//!   ENUM/SET, JSON) is a quoted string with MySQL's escapes.
//!
//! Downstream sessions run with a fixed `sql_mode` (no
//! `NO_BACKSLASH_ESCAPES`) so the escapes mean what they say, and with
//! `NO_AUTO_VALUE_ON_ZERO` so a key of 0 stays 0.

use dm_proto::config::task::OnDuplicate;

use crate::upstream::{Column, ColumnType};

/// The `sql_mode` of downstream copy sessions.
pub const DOWNSTREAM_SQL_MODE: &str = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES";

pub use dm_proto::sql::{qualified, quote};

/// How a column's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal {
    Number,
    Hex,
    Text,
    /// A TIMESTAMP as text in the session's time zone.
    Timestamp,
}

impl Literal {
    /// The literal kind for a column.
    pub fn of(column: &Column) -> Literal {
        Self::classify(column.kind, column.is_binary())
    }

    /// Pure classification: column type, and whether the column's
    /// character set is `binary`.
    pub fn classify(kind: ColumnType, binary: bool) -> Literal {
        match kind {
            ColumnType::Integer | ColumnType::Float | ColumnType::Decimal | ColumnType::Year => {
                Literal::Number
            }
            ColumnType::Date | ColumnType::Time | ColumnType::DateTime => Literal::Text,
            ColumnType::Timestamp => Literal::Timestamp,
            ColumnType::Bit | ColumnType::Geometry => Literal::Hex,
            ColumnType::Enum | ColumnType::Set => Literal::Text,
            ColumnType::Json | ColumnType::String if binary => Literal::Hex,
            ColumnType::Json | ColumnType::String => Literal::Text,
        }
    }
}

/// Appends `value` (NULL when `None`) as a literal of kind `kind`.
pub fn push_literal(out: &mut Vec<u8>, value: Option<&[u8]>, kind: Literal) {
    let Some(bytes) = value else {
        out.extend_from_slice(b"NULL");
        return;
    };
    match kind {
        Literal::Number if is_plain_number(bytes) => out.extend_from_slice(bytes),
        Literal::Hex if !bytes.is_empty() => {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"0x");
            for b in bytes {
                out.push(DIGITS[usize::from(b >> 4)]);
                out.push(DIGITS[usize::from(b & 0xf)]);
            }
        }
        Literal::Timestamp if !bytes.starts_with(b"0000-00-00") => {
            out.extend_from_slice(b"FROM_UNIXTIME(UNIX_TIMESTAMP(");
            push_quoted(out, bytes);
            out.extend_from_slice(b"))");
        }
        _ => push_quoted(out, bytes),
    }
}

/// Digits, sign, decimal point and exponent only (anything else is quoted).
fn is_plain_number(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && bytes.iter().any(u8::is_ascii_digit)
}

/// A quoted string with MySQL's backslash escapes.
pub fn push_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'\'');
    for &b in bytes {
        match b {
            b'\'' => out.extend_from_slice(b"\\'"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1a => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
}

/// Builds multi-row `INSERT` statements: a statement is cut once it
/// reaches `target_bytes` (the task's `statement-size`), and never grows
/// past `max_bytes` (what the downstream accepts): a row that would take
/// it past goes into the next statement, alone if it must.
#[derive(Debug)]
pub struct InsertBatcher {
    prefix: Vec<u8>,
    target_bytes: usize,
    max_bytes: usize,
    current: Vec<u8>,
    rows_in_current: usize,
    /// Where the current row starts in `current` (its `(`, or the `,`
    /// before it).
    row_start: usize,
}

/// A row whose statement alone is longer than the downstream accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversized {
    /// The length of the row's statement.
    pub bytes: usize,
    pub max_bytes: usize,
}

/// The statement a copied row is written with, by what the task wants done
/// with a row whose key is already downstream (`on-duplicate-logical`).
pub fn insert_verb(on_duplicate: OnDuplicate) -> &'static str {
    match on_duplicate {
        OnDuplicate::Replace => "REPLACE",
        OnDuplicate::Ignore => "INSERT IGNORE",
        OnDuplicate::Error => "INSERT",
    }
}

impl InsertBatcher {
    /// `VERB INTO target (columns) VALUES ...` statements (`verb`: see
    /// [`insert_verb`]).
    pub fn new(
        verb: &str,
        schema: &str,
        table: &str,
        columns: &[String],
        target_bytes: usize,
        max_bytes: usize,
    ) -> Self {
        let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let prefix = format!(
            "{verb} INTO {} ({}) VALUES ",
            qualified(schema, table),
            cols.join(",")
        )
        .into_bytes();
        let max_bytes = max_bytes.max(1);
        let target_bytes = target_bytes.clamp(1, max_bytes);
        Self {
            current: Vec::with_capacity(target_bytes.min(1 << 20) + 1024),
            prefix,
            target_bytes,
            max_bytes,
            rows_in_current: 0,
            row_start: 0,
        }
    }

    /// Starts a row; the caller appends its literals to [`Self::buffer`],
    /// separated by [`Self::separator`], and ends it with [`Self::end_row`].
    pub fn begin_row(&mut self) {
        if self.rows_in_current == 0 {
            self.current.clear();
            self.current.extend_from_slice(&self.prefix);
            self.row_start = self.current.len();
            self.current.push(b'(');
        } else {
            self.row_start = self.current.len();
            self.current.extend_from_slice(b",(");
        }
    }

    /// Separates two values of the current row.
    pub fn separator(&mut self) {
        self.current.push(b',');
    }

    /// The buffer of the current row.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.current
    }

    /// Ends the row; returns the statements that are complete (none, one,
    /// or two when the row had to start a statement of its own), or
    /// `Oversized` when the row alone makes a statement longer than
    /// `max_bytes`.
    pub fn end_row(&mut self) -> Result<Vec<Vec<u8>>, Oversized> {
        self.current.push(b')');
        self.rows_in_current += 1;
        let mut done = Vec::new();
        if self.current.len() > self.max_bytes && self.rows_in_current > 1 {
            // The row moves to a statement of its own (without its comma).
            let row = self.current.get(self.row_start + 1..).unwrap_or_default();
            let mut next = Vec::with_capacity(self.prefix.len() + row.len());
            next.extend_from_slice(&self.prefix);
            next.extend_from_slice(row);
            self.current.truncate(self.row_start);
            done.push(std::mem::replace(&mut self.current, next));
            self.rows_in_current = 1;
            self.row_start = self.prefix.len();
        }
        if self.current.len() > self.max_bytes {
            return Err(Oversized {
                bytes: self.current.len(),
                max_bytes: self.max_bytes,
            });
        }
        if self.current.len() >= self.target_bytes {
            done.push(self.take());
        }
        Ok(done)
    }

    /// The pending statement, if any row is waiting.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (self.rows_in_current > 0).then(|| self.take())
    }

    fn take(&mut self) -> Vec<u8> {
        self.rows_in_current = 0;
        std::mem::replace(
            &mut self.current,
            Vec::with_capacity(self.target_bytes.min(1 << 20) + 1024),
        )
    }
}

/// A row that no statement can carry: its statement alone is longer than
/// the downstream accepts (`max_allowed_packet`, less headroom).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a row of {table}{key} needs a {bytes}-byte statement, more than the {max_bytes} bytes the \
     downstream accepts (its max_allowed_packet less headroom): raise max_allowed_packet on the \
     downstream, then resume the task"
)]
pub struct RowTooLarge {
    /// The table, quoted and qualified.
    pub table: String,
    /// ` with key ...` naming the row, or empty when the table has none.
    pub key: String,
    pub bytes: usize,
    pub max_bytes: usize,
}

impl RowTooLarge {
    /// `key` as ` with key `a` = 1, `b` = 'x'` (each value shortened).
    pub fn key_text<S: AsRef<str>>(key: impl IntoIterator<Item = (S, String)>) -> String {
        let parts: Vec<String> = key
            .into_iter()
            .map(|(column, value)| format!("{} = {}", quote(column.as_ref()), shorten(&value)))
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(" with key {}", parts.join(", "))
        }
    }
}

/// A value read with the text protocol, as a message shows it: numbers as
/// printed, binary data in hex, anything else quoted.
pub fn message_value(value: Option<&[u8]>, kind: Option<Literal>) -> String {
    const MAX_BYTES: usize = 64;
    let Some(bytes) = value else {
        return "NULL".to_string();
    };
    let head = bytes.get(..MAX_BYTES).unwrap_or(bytes);
    match kind {
        Some(Literal::Number) => String::from_utf8_lossy(head).into_owned(),
        Some(Literal::Hex) => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}")
        }
        _ => format!("'{}'", String::from_utf8_lossy(head)),
    }
}

/// A value as it reads in a message: at most 64 characters.
fn shorten(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    if text.chars().count() <= MAX_CHARS {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(MAX_CHARS).collect();
        short.push_str("...");
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(value: Option<&[u8]>, kind: Literal) -> String {
        let mut out = Vec::new();
        push_literal(&mut out, value, kind);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_are_written_by_kind() {
        assert_eq!(literal(None, Literal::Text), "NULL");
        assert_eq!(literal(Some(b"-12.5e3"), Literal::Number), "-12.5e3");
        assert_eq!(
            literal(Some(b"18446744073709551615"), Literal::Number),
            "18446744073709551615"
        );
        assert_eq!(literal(Some(b"\x00\xff"), Literal::Hex), "0x00ff");
        assert_eq!(literal(Some(b""), Literal::Hex), "''");
        assert_eq!(
            literal(Some("it's a \\ \n \0 é".as_bytes()), Literal::Text),
            "'it\\'s a \\\\ \\n \\0 é'"
        );
        // Something unexpected in a numeric column is quoted, never spliced.
        assert_eq!(literal(Some(b"1); DROP"), Literal::Number), "'1); DROP'");
    }

    #[test]
    fn column_kinds() {
        use ColumnType::*;
        assert_eq!(Literal::classify(Integer, true), Literal::Number);
        assert_eq!(Literal::classify(String, true), Literal::Hex);
        assert_eq!(Literal::classify(String, false), Literal::Text);
        assert_eq!(Literal::classify(DateTime, true), Literal::Text);
        assert_eq!(Literal::classify(Timestamp, true), Literal::Timestamp);
        assert_eq!(
            literal(Some(b"2038-01-19 07:14:07.999999"), Literal::Timestamp),
            "FROM_UNIXTIME(UNIX_TIMESTAMP('2038-01-19 07:14:07.999999'))"
        );
        assert_eq!(
            literal(Some(b"0000-00-00 00:00:00"), Literal::Timestamp),
            "'0000-00-00 00:00:00'"
        );
        assert_eq!(literal(None, Literal::Timestamp), "NULL");
        assert_eq!(Literal::classify(Bit, true), Literal::Hex);
        // JSON follows its character set, as strings do.
        assert_eq!(Literal::classify(Json, true), Literal::Hex);
        assert_eq!(Literal::classify(Json, false), Literal::Text);
        assert_eq!(
            Literal::of(&Column::new("c", String).with_charset("binary")),
            Literal::Hex
        );
        assert_eq!(
            Literal::of(&Column::new("c", String).with_charset("utf8mb4")),
            Literal::Text
        );
        assert_eq!(Literal::of(&Column::new("c", String)), Literal::Text);
    }

    #[test]
    fn inserts_are_cut_at_the_size_limit() {
        let mut b = InsertBatcher::new("INSERT", "db", "t", &["id".into(), "c".into()], 40, 1000);
        let mut statements = Vec::new();
        for i in 0..3 {
            b.begin_row();
            push_literal(b.buffer(), Some(i.to_string().as_bytes()), Literal::Number);
            b.separator();
            push_literal(b.buffer(), Some(b"x"), Literal::Text);
            statements.extend(b.end_row().unwrap());
        }
        statements.extend(b.finish());
        assert_eq!(
            texts(statements),
            [
                "INSERT INTO `db`.`t` (`id`,`c`) VALUES (0,'x')",
                "INSERT INTO `db`.`t` (`id`,`c`) VALUES (1,'x')",
                "INSERT INTO `db`.`t` (`id`,`c`) VALUES (2,'x')",
            ]
        );
        let mut big = InsertBatcher::new("INSERT", "db", "t", &["id".into()], 1000, 1000);
        for i in 0..3 {
            big.begin_row();
            push_literal(
                big.buffer(),
                Some(i.to_string().as_bytes()),
                Literal::Number,
            );
            assert!(big.end_row().unwrap().is_empty());
        }
        assert_eq!(
            String::from_utf8(big.finish().unwrap()).unwrap(),
            "INSERT INTO `db`.`t` (`id`) VALUES (0),(1),(2)"
        );
        assert!(big.finish().is_none());
    }

    fn texts(statements: Vec<Vec<u8>>) -> Vec<String> {
        statements
            .into_iter()
            .map(|s| String::from_utf8(s).unwrap())
            .collect()
    }

    /// Rows of `value_len`-character values through a batcher, ending with
    /// `finish`; the first oversized row stops it.
    fn batch(target: usize, max: usize, value_lens: &[usize]) -> Result<Vec<String>, Oversized> {
        let mut b = InsertBatcher::new("INSERT", "d", "t", &["v".into()], target, max);
        let mut out = Vec::new();
        for (i, len) in value_lens.iter().enumerate() {
            b.begin_row();
            let value = char::from(b'a' + i as u8).to_string().repeat(*len);
            push_literal(b.buffer(), Some(value.as_bytes()), Literal::Number);
            out.extend(b.end_row()?);
        }
        out.extend(b.finish());
        Ok(texts(out))
    }

    #[test]
    fn no_insert_grows_past_the_downstream_limit() {
        // The prefix is 33 bytes; a row is its value's length + 4 (quotes
        // and parentheses), + 1 for the comma after the first.
        let prefix = "INSERT INTO `d`.`t` (`v`) VALUES ";
        assert_eq!(prefix.len(), 33);
        // Under the target, rows share a statement; a row that would take
        // it past the limit starts the next one, even under the target.
        assert_eq!(
            batch(1000, 60, &[5, 5, 15, 3]).unwrap(),
            [
                format!("{prefix}('aaaaa'),('bbbbb')"),
                format!("{prefix}('{}'),('ddd')", "c".repeat(15)),
            ]
        );
        // A row that fits only alone goes alone; at the target a statement
        // is cut.
        assert_eq!(
            batch(50, 60, &[2, 22, 2]).unwrap(),
            [
                format!("{prefix}('aa')"),
                format!("{prefix}('{}')", "b".repeat(22)),
                format!("{prefix}('cc')"),
            ]
        );
        // Exactly at the limit is still sent.
        assert_eq!(
            batch(1000, 60, &[23]).unwrap(),
            [format!("{prefix}('{}')", "a".repeat(23))]
        );
        assert_eq!(
            batch(1000, 60, &[2, 24]),
            Err(Oversized {
                bytes: 61,
                max_bytes: 60
            })
        );
    }

    #[test]
    fn a_row_too_large_names_its_table_and_key() {
        let e = RowTooLarge {
            table: qualified("app", "big"),
            key: RowTooLarge::key_text([
                ("id", "20".to_string()),
                ("k", format!("'{}'", "x".repeat(80))),
            ]),
            bytes: 100,
            max_bytes: 50,
        };
        assert_eq!(
            e.to_string(),
            format!(
                "a row of `app`.`big` with key `id` = 20, `k` = '{}... needs a 100-byte statement, \
                 more than the 50 bytes the downstream accepts (its max_allowed_packet less \
                 headroom): raise max_allowed_packet on the downstream, then resume the task",
                "x".repeat(63)
            )
        );
        assert_eq!(RowTooLarge::key_text::<&str>([]), "");
    }
}
