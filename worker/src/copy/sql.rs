//! SQL text for the copy: identifiers, value literals and multi-row INSERTs.
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

use mysql_async::consts::ColumnType;
use mysql_async::Column;

/// The `sql_mode` of downstream copy sessions.
pub const DOWNSTREAM_SQL_MODE: &str = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES";

/// The `binary` character set id.
const BINARY_CHARSET: u16 = 63;

/// Backtick-quotes an identifier.
pub fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// `schema`.`table`, quoted.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote(schema), quote(table))
}

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
    /// The literal kind for a result column.
    pub fn of(column: &Column) -> Literal {
        Self::classify(column.column_type(), column.character_set())
    }

    /// Pure classification: column type and character set.
    pub fn classify(kind: ColumnType, charset: u16) -> Literal {
        use ColumnType::*;
        match kind {
            MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_YEAR => Literal::Number,
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE | MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2
            | MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => Literal::Text,
            MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => Literal::Timestamp,
            MYSQL_TYPE_BIT | MYSQL_TYPE_GEOMETRY => Literal::Hex,
            MYSQL_TYPE_ENUM | MYSQL_TYPE_SET => Literal::Text,
            _ if charset == BINARY_CHARSET => Literal::Hex,
            _ => Literal::Text,
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

/// Builds multi-row `INSERT` statements of at most about `max_bytes` each.
#[derive(Debug)]
pub struct InsertBatcher {
    prefix: Vec<u8>,
    max_bytes: usize,
    current: Vec<u8>,
    rows_in_current: usize,
}

impl InsertBatcher {
    /// `INSERT INTO target (columns) VALUES ...` statements.
    pub fn new(schema: &str, table: &str, columns: &[String], max_bytes: usize) -> Self {
        let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let prefix = format!(
            "INSERT INTO {} ({}) VALUES ",
            qualified(schema, table),
            cols.join(",")
        )
        .into_bytes();
        Self {
            current: Vec::with_capacity(max_bytes.min(1 << 20) + 1024),
            prefix,
            max_bytes: max_bytes.max(1),
            rows_in_current: 0,
        }
    }

    /// Starts a row; the caller appends its literals with [`Self::value`]
    /// and ends it with [`Self::end_row`].
    pub fn begin_row(&mut self) -> &mut Vec<u8> {
        if self.rows_in_current == 0 {
            self.current.clear();
            self.current.extend_from_slice(&self.prefix);
            self.current.push(b'(');
        } else {
            self.current.extend_from_slice(b",(");
        }
        &mut self.current
    }

    /// Separates two values of the current row.
    pub fn separator(&mut self) {
        self.current.push(b',');
    }

    /// The buffer of the current row.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.current
    }

    /// Ends the row; returns a full statement when the size limit is reached.
    pub fn end_row(&mut self) -> Option<Vec<u8>> {
        self.current.push(b')');
        self.rows_in_current += 1;
        (self.current.len() >= self.max_bytes).then(|| self.take())
    }

    /// The pending statement, if any row is waiting.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (self.rows_in_current > 0).then(|| self.take())
    }

    fn take(&mut self) -> Vec<u8> {
        self.rows_in_current = 0;
        std::mem::replace(
            &mut self.current,
            Vec::with_capacity(self.max_bytes.min(1 << 20) + 1024),
        )
    }
}

/// Turns `SHOW CREATE TABLE` output into a `CREATE TABLE IF NOT EXISTS` of
/// `schema`.`table` (the routed target). The server prints the statement in
/// a fixed form, `CREATE TABLE `name` (...`, so only that head is replaced.
pub fn create_table_as(show_create: &str, schema: &str, table: &str) -> Result<String, String> {
    let rest = show_create
        .strip_prefix("CREATE TABLE ")
        .ok_or_else(|| format!("not a CREATE TABLE statement: {}", head(show_create)))?;
    let after_name = skip_quoted_ident(rest)
        .ok_or_else(|| format!("no quoted table name in: {}", head(show_create)))?;
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {}{}",
        qualified(schema, table),
        after_name
    ))
}

/// The text after a leading backtick-quoted identifier.
fn skip_quoted_ident(text: &str) -> Option<&str> {
    let body = text.strip_prefix('`')?;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '`' {
            if chars.peek().is_some_and(|(_, n)| *n == '`') {
                chars.next();
                continue;
            }
            return body.get(i + 1..);
        }
    }
    None
}

fn head(text: &str) -> String {
    text.chars().take(60).collect()
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
        assert_eq!(Literal::classify(MYSQL_TYPE_LONGLONG, 63), Literal::Number);
        assert_eq!(Literal::classify(MYSQL_TYPE_BLOB, 63), Literal::Hex);
        assert_eq!(Literal::classify(MYSQL_TYPE_BLOB, 45), Literal::Text);
        assert_eq!(Literal::classify(MYSQL_TYPE_VAR_STRING, 63), Literal::Hex);
        assert_eq!(Literal::classify(MYSQL_TYPE_DATETIME, 63), Literal::Text);
        assert_eq!(
            Literal::classify(MYSQL_TYPE_TIMESTAMP2, 63),
            Literal::Timestamp
        );
        assert_eq!(
            literal(Some(b"2038-01-19 07:14:07.999999"), Literal::Timestamp),
            "FROM_UNIXTIME(UNIX_TIMESTAMP('2038-01-19 07:14:07.999999'))"
        );
        assert_eq!(
            literal(Some(b"0000-00-00 00:00:00"), Literal::Timestamp),
            "'0000-00-00 00:00:00'"
        );
        assert_eq!(literal(None, Literal::Timestamp), "NULL");
        assert_eq!(Literal::classify(MYSQL_TYPE_BIT, 63), Literal::Hex);
        assert_eq!(Literal::classify(MYSQL_TYPE_STRING, 45), Literal::Text);
    }

    #[test]
    fn inserts_are_cut_at_the_size_limit() {
        let mut b = InsertBatcher::new("db", "t", &["id".into(), "c".into()], 40);
        let mut statements = Vec::new();
        for i in 0..3 {
            b.begin_row();
            push_literal(b.buffer(), Some(i.to_string().as_bytes()), Literal::Number);
            b.separator();
            push_literal(b.buffer(), Some(b"x"), Literal::Text);
            statements.extend(b.end_row());
        }
        statements.extend(b.finish());
        let text: Vec<String> = statements
            .into_iter()
            .map(|s| String::from_utf8(s).unwrap())
            .collect();
        assert_eq!(
            text,
            [
                "INSERT INTO `db`.`t` (`id`,`c`) VALUES (0,'x')",
                "INSERT INTO `db`.`t` (`id`,`c`) VALUES (1,'x')",
                "INSERT INTO `db`.`t` (`id`,`c`) VALUES (2,'x')",
            ]
        );
        let mut big = InsertBatcher::new("db", "t", &["id".into()], 1000);
        for i in 0..3 {
            big.begin_row();
            push_literal(
                big.buffer(),
                Some(i.to_string().as_bytes()),
                Literal::Number,
            );
            assert!(big.end_row().is_none());
        }
        assert_eq!(
            String::from_utf8(big.finish().unwrap()).unwrap(),
            "INSERT INTO `db`.`t` (`id`) VALUES (0),(1),(2)"
        );
        assert!(big.finish().is_none());
    }

    #[test]
    fn create_table_is_renamed_to_the_route_target() {
        let show = "CREATE TABLE `t``1` (\n  `id` bigint(20) NOT NULL\n) ENGINE=InnoDB";
        assert_eq!(
            create_table_as(show, "merged", "t").unwrap(),
            "CREATE TABLE IF NOT EXISTS `merged`.`t` (\n  `id` bigint(20) NOT NULL\n) ENGINE=InnoDB"
        );
        assert!(create_table_as("CREATE VIEW `v` AS SELECT 1", "a", "b").is_err());
    }
}
