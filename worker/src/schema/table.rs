//! A table's definition as the sync needs it to decode a row event that
//! carries no column names: the columns in order with what their bytes
//! mean, and the keys. Rendered back as `CREATE TABLE` text for people
//! (and read again by [`TableDef::from_create`]).

use serde::{Deserialize, Serialize};

use crate::upstream::value::{Column, ColumnType, BINARY};

/// A character set and, when it is not the set's default, a collation.
/// `utf8` is written `utf8mb3` (the set it stands for, as the servers
/// print it since MariaDB 10.6 and MySQL 8.0.30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Charset {
    pub charset: String,
    /// `None`: the character set's default collation.
    pub collation: Option<String>,
}

impl Charset {
    pub fn new(charset: &str, collation: Option<&str>) -> Self {
        let charset = charset.to_ascii_lowercase();
        let collation = collation.map(str::to_ascii_lowercase);
        Self {
            charset: if charset == "utf8" {
                "utf8mb3".into()
            } else {
                charset
            },
            collation: collation.map(|c| match c.strip_prefix("utf8_") {
                Some(rest) => format!("utf8mb3_{rest}"),
                None => c,
            }),
        }
    }

    /// The character set and collation a `CHARACTER SET` and a `COLLATE`
    /// clause name (either may be missing: a collation names its set in
    /// its first word, `utf8mb4_bin` is of `utf8mb4`); `None` when
    /// neither is there.
    pub fn from_clauses(charset: Option<&str>, collation: Option<&str>) -> Option<Self> {
        match (charset, collation) {
            (Some(c), collation) => Some(Self::new(c, collation)),
            (None, Some(collation)) => {
                let set = collation.split('_').next().unwrap_or(collation);
                Some(Self::new(set, Some(collation)))
            }
            (None, None) => None,
        }
    }
}

/// How a generated column is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Generated {
    /// Computed when read; not in row images.
    Virtual,
    /// Stored with the row.
    Stored,
}

/// One column of a tracked table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    /// The type as the statement wrote it (`INT(11) UNSIGNED`).
    pub sql_type: String,
    /// The type in one canonical form: lowercase, synonyms resolved,
    /// integer display widths dropped, implied lengths written out, no
    /// `unsigned` (`int`, `varchar(20)`, `decimal(10,0)`,
    /// `enum('a','b')`).
    pub type_name: String,
    pub unsigned: bool,
    /// The character set and collation of a text column (from the
    /// column, else the table's default); `binary` for byte strings;
    /// `None` for other types.
    pub charset: Option<Charset>,
    /// ENUM and SET members, in order.
    pub members: Vec<String>,
    pub nullable: bool,
    /// A generated column: how it is kept and its expression.
    pub generated: Option<(Generated, String)>,
}

impl ColumnDef {
    /// What the column's values are, in the upstream port's vocabulary.
    pub fn kind(&self) -> ColumnType {
        let base = self.type_name.split(['(', ' ']).next().unwrap_or_default();
        match base {
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => ColumnType::Integer,
            "float" | "double" => ColumnType::Float,
            "decimal" => ColumnType::Decimal,
            "year" => ColumnType::Year,
            "date" => ColumnType::Date,
            "time" => ColumnType::Time,
            "datetime" => ColumnType::DateTime,
            "timestamp" => ColumnType::Timestamp,
            "bit" => ColumnType::Bit,
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" => ColumnType::Geometry,
            "enum" => ColumnType::Enum,
            "set" => ColumnType::Set,
            "json" => ColumnType::Json,
            _ => ColumnType::String,
        }
    }
}

/// A named key and its columns, in key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub name: String,
    pub columns: Vec<String>,
}

/// A table's definition at one position of the binlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    pub schema: String,
    pub name: String,
    /// The tracker's change count when this definition was made: it grows
    /// with every change of the table (see [`super::SchemaTracker`]).
    pub version: u64,
    pub columns: Vec<ColumnDef>,
    /// The primary key's columns (empty: none).
    pub primary_key: Vec<String>,
    pub unique_keys: Vec<Key>,
    /// Keys that are not unique (kept so they can be dropped by name).
    pub indexes: Vec<Key>,
    /// The table's default character set.
    pub charset: Charset,
}

impl TableDef {
    /// The position of column `name` (names compare without case).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The columns as a row event would describe them, with the names it
    /// lacks.
    pub fn row_columns(&self) -> Vec<Column> {
        self.columns
            .iter()
            .map(|c| {
                let mut column = Column::new(c.name.clone(), c.kind())
                    .with_unsigned(c.unsigned)
                    .with_primary_key(
                        self.primary_key
                            .iter()
                            .any(|k| k.eq_ignore_ascii_case(&c.name)),
                    );
                column.charset = c.charset.as_ref().map(|s| s.charset.clone());
                column
            })
            .collect()
    }

    /// The definition as `CREATE TABLE` text (no defaults, comments or
    /// engine: only what the tracker keeps).
    pub fn to_create(&self) -> String {
        let mut lines: Vec<String> = self.columns.iter().map(column_sql).collect();
        if !self.primary_key.is_empty() {
            lines.push(format!("PRIMARY KEY ({})", names(&self.primary_key)));
        }
        for k in &self.unique_keys {
            lines.push(format!(
                "UNIQUE KEY {} ({})",
                quoted(&k.name),
                names(&k.columns)
            ));
        }
        for k in &self.indexes {
            lines.push(format!("KEY {} ({})", quoted(&k.name), names(&k.columns)));
        }
        let mut out = format!(
            "CREATE TABLE {} (\n  {}\n) DEFAULT CHARSET={}",
            quoted(&self.name),
            lines.join(",\n  "),
            self.charset.charset
        );
        if let Some(collation) = &self.charset.collation {
            out.push_str(&format!(" COLLATE={collation}"));
        }
        out
    }
}

fn column_sql(c: &ColumnDef) -> String {
    let mut out = format!("{} {}", quoted(&c.name), c.type_name);
    if c.unsigned {
        out.push_str(" unsigned");
    }
    match &c.charset {
        Some(set) if set.charset != BINARY => {
            out.push_str(&format!(" CHARACTER SET {}", set.charset));
            if let Some(collation) = &set.collation {
                out.push_str(&format!(" COLLATE {collation}"));
            }
        }
        _ => {}
    }
    if let Some((mode, expr)) = &c.generated {
        let mode = match mode {
            Generated::Virtual => "VIRTUAL",
            Generated::Stored => "STORED",
        };
        out.push_str(&format!(" GENERATED ALWAYS AS ({expr}) {mode}"));
    }
    if !c.nullable {
        out.push_str(" NOT NULL");
    }
    out
}

/// `name` in backquotes, backquotes doubled.
pub(crate) fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn names(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(",")
}
