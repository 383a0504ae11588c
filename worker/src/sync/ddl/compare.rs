//! A DDL the downstream refuses with "already exists" (duplicate column
//! 1060, duplicate key name 1061, table exists 1050, database exists
//! 1007): a replay of a statement that already ran, or a different
//! definition in the way? Pure: the caller reads the downstream's `SHOW
//! CREATE TABLE` ([`Check`] says which tables) and this module compares.
//!
//! Both sides are read by sqlparser (the statement, and the downstream's
//! definition) and compared on what makes a column: its type, its
//! nullability and its default, each in one canonical form (`INT` and
//! `int(11)` are one type, `BOOL` is `tinyint`, `DECIMAL` is
//! `decimal(10,0)`, a nullable column without a default defaults to NULL,
//! `'3'` and `3` are one default). Indexes compare by uniqueness and
//! columns, a whole table (`CREATE TABLE`) by its columns in order. What
//! the module cannot read it does not guess about: the caller pauses with
//! both texts.

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, CreateTable, CreateTableLikeKind, DataType, Expr,
    IndexColumn, ObjectName, ObjectNamePart, Statement, TableConstraint, UnaryOperator, Value,
};
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;

/// What must be compared for a statement refused with "already exists".
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Nothing a replay could differ in (`CREATE DATABASE`).
    Nothing,
    /// Compare with the downstream's definition of `table`.
    Table { table: (String, String), want: Want },
}

/// What the statement would have created in its table.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// These columns and indexes (an `ALTER TABLE ... ADD`); each must
    /// exist as the statement defines it.
    Added {
        columns: Vec<ColumnDef>,
        indexes: Vec<Index>,
    },
    /// The table as `CREATE TABLE` defines it: the same columns, in order.
    Table(Vec<ColumnDef>, Vec<String>),
    /// The table as a copy of another one (`CREATE TABLE t LIKE u`): the
    /// caller reads both definitions.
    Like(String, String),
}

/// An index by name: unique or not, on which columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub unique: bool,
    pub columns: Vec<String>,
}

impl std::fmt::Display for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unique = if self.unique { "UNIQUE " } else { "" };
        write!(
            f,
            "{unique}KEY `{}` ({})",
            self.name,
            self.columns.join(", ")
        )
    }
}

/// Why a refused statement is not taken as a replay: its effect cannot be
/// told, or the downstream holds something else. Printed in the pause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReplay {
    /// The statement cannot be read the way the comparison needs.
    #[error("{0}")]
    Unreadable(String),
    #[error("not one statement")]
    NotOneStatement,
    #[error("the statement adds no column or index")]
    AddsNothing,
    #[error("an index without a name")]
    UnnamedIndex,
    #[error("error {0} is no replay of this statement")]
    OtherCode(u16),
    #[error("unexpected name {0}")]
    UnexpectedName(String),
    #[error("`{0}` is not a qualified table name")]
    Unqualified(String),
    #[error("column `{0}` is not there downstream")]
    MissingColumn(String),
    #[error("column `{name}` exists downstream with another definition; statement: {statement}; downstream: {downstream}")]
    OtherColumn {
        name: String,
        statement: String,
        downstream: String,
    },
    #[error("index `{0}` is not there downstream")]
    MissingIndex(String),
    #[error("index `{name}` exists downstream with another definition; statement: {statement}; downstream: {downstream}")]
    OtherIndex {
        name: String,
        statement: String,
        downstream: String,
    },
    #[error("the table exists downstream with other columns; statement: ({statement}); downstream: ({downstream})")]
    OtherColumns {
        statement: String,
        downstream: String,
    },
    #[error("the copied table is not there")]
    NoCopiedTable,
    #[error("the downstream definition `{ddl}` does not parse: {error}")]
    DownstreamUnreadable { ddl: String, error: String },
    #[error("the downstream definition `{0}` is no CREATE TABLE")]
    NotCreateTable(String),
    /// What the statement would have created cannot be told.
    #[error("the statement cannot be compared: {0}")]
    Uncomparable(Box<NotReplay>),
    #[error("`{0}`.`{1}` is not there downstream")]
    MissingTable(String, String),
}

/// What a statement refused with `code` would have created; `Err` when it
/// cannot be told (the statement does not parse, or makes nothing the
/// code is about).
pub fn check(dialect: &dyn Dialect, sql: &str, code: u16) -> Result<Check, NotReplay> {
    let statements =
        Parser::parse_sql(dialect, sql).map_err(|e| NotReplay::Unreadable(e.to_string()))?;
    let [statement] = statements.as_slice() else {
        return Err(NotReplay::NotOneStatement);
    };
    match (code, statement) {
        (1007, Statement::CreateDatabase { .. } | Statement::CreateSchema { .. }) => {
            Ok(Check::Nothing)
        }
        (1050, Statement::CreateTable(ct)) => {
            let table = split(&ct.name)?;
            let want = match &ct.like {
                Some(CreateTableLikeKind::Plain(l) | CreateTableLikeKind::Parenthesized(l)) => {
                    let (schema, like) = split(&l.name)?;
                    Want::Like(schema, like)
                }
                None => Want::Table(ct.columns.clone(), primary_key(ct)),
            };
            Ok(Check::Table { table, want })
        }
        (1060 | 1061, Statement::AlterTable(at)) => {
            let mut columns = Vec::new();
            let mut indexes = Vec::new();
            for op in &at.operations {
                match op {
                    AlterTableOperation::AddColumn { column_def, .. } => {
                        columns.push(column_def.clone())
                    }
                    AlterTableOperation::AddConstraint { constraint, .. } => {
                        indexes.extend(index_of(constraint))
                    }
                    _ => {}
                }
            }
            if columns.is_empty() && indexes.is_empty() {
                return Err(NotReplay::AddsNothing);
            }
            Ok(Check::Table {
                table: split(&at.name)?,
                want: Want::Added { columns, indexes },
            })
        }
        (1061, Statement::CreateIndex(ci)) => {
            let name = ci
                .name
                .as_ref()
                .map(last)
                .transpose()?
                .ok_or(NotReplay::UnnamedIndex)?;
            Ok(Check::Table {
                table: split(&ci.table_name)?,
                want: Want::Added {
                    columns: Vec::new(),
                    indexes: vec![Index {
                        name,
                        unique: ci.unique,
                        columns: index_columns(&ci.columns),
                    }],
                },
            })
        }
        _ => Err(NotReplay::OtherCode(code)),
    }
}

/// Compares what the statement wants with the downstream's definition
/// (`existing`, and for `LIKE` the copied table's, `like`): `Err` says how
/// they differ, showing both.
pub fn compare(
    dialect: &dyn Dialect,
    want: &Want,
    existing: &str,
    like: Option<&str>,
) -> Result<(), NotReplay> {
    let there = parse_table(dialect, existing)?;
    match want {
        Want::Added { columns, indexes } => {
            for c in columns {
                match there
                    .columns
                    .iter()
                    .find(|d| d.name.value.eq_ignore_ascii_case(&c.name.value))
                {
                    None => return Err(NotReplay::MissingColumn(c.name.value.clone())),
                    Some(d) if canon(d, &primary_key(&there)) != canon(c, &[]) => {
                        return Err(NotReplay::OtherColumn {
                            name: c.name.value.clone(),
                            statement: c.to_string(),
                            downstream: d.to_string(),
                        })
                    }
                    Some(_) => {}
                }
            }
            let present = indexes_of(&there);
            for i in indexes {
                match present
                    .iter()
                    .find(|p| p.name.eq_ignore_ascii_case(&i.name))
                {
                    None => return Err(NotReplay::MissingIndex(i.name.clone())),
                    Some(p) if p.unique != i.unique || p.columns != i.columns => {
                        return Err(NotReplay::OtherIndex {
                            name: i.name.clone(),
                            statement: i.to_string(),
                            downstream: p.to_string(),
                        })
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        }
        Want::Table(columns, primary) => same_columns(columns, primary, &there),
        Want::Like(..) => {
            let copied = parse_table(dialect, like.ok_or(NotReplay::NoCopiedTable)?)?;
            same_columns(&copied.columns, &primary_key(&copied), &there)
        }
    }
}

/// `want` (columns, primary key) and `there` have the same columns.
fn same_columns(
    want: &[ColumnDef],
    primary: &[String],
    there: &CreateTable,
) -> Result<(), NotReplay> {
    let there_primary = primary_key(there);
    let differs = want.len() != there.columns.len()
        || want.iter().zip(&there.columns).any(|(w, t)| {
            !w.name.value.eq_ignore_ascii_case(&t.name.value)
                || canon(w, primary) != canon(t, &there_primary)
        });
    if differs {
        let list = |cs: &[ColumnDef]| {
            cs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(NotReplay::OtherColumns {
            statement: list(want),
            downstream: list(&there.columns),
        });
    }
    Ok(())
}

fn parse_table(dialect: &dyn Dialect, ddl: &str) -> Result<CreateTable, NotReplay> {
    let statements =
        Parser::parse_sql(dialect, ddl).map_err(|e| NotReplay::DownstreamUnreadable {
            ddl: ddl.to_string(),
            error: e.to_string(),
        })?;
    match statements.into_iter().next() {
        Some(Statement::CreateTable(ct)) => Ok(ct),
        _ => Err(NotReplay::NotCreateTable(ddl.to_string())),
    }
}

/// The columns of the table's primary key (lowercase).
fn primary_key(ct: &CreateTable) -> Vec<String> {
    let mut out: Vec<String> = ct
        .constraints
        .iter()
        .filter_map(|c| match c {
            TableConstraint::PrimaryKey(pk) => Some(index_columns(&pk.columns)),
            _ => None,
        })
        .flatten()
        .collect();
    out.extend(
        ct.columns
            .iter()
            .filter(|c| {
                c.options
                    .iter()
                    .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)))
            })
            .map(|c| c.name.value.to_lowercase()),
    );
    out
}

fn index_of(constraint: &TableConstraint) -> Option<Index> {
    let (name, unique, columns) = match constraint {
        TableConstraint::Index(i) => (i.name.as_ref(), false, &i.columns),
        TableConstraint::Unique(u) => (u.index_name.as_ref().or(u.name.as_ref()), true, &u.columns),
        TableConstraint::FulltextOrSpatial(f) => (f.opt_index_name.as_ref(), false, &f.columns),
        _ => return None,
    };
    Some(Index {
        name: name?.value.clone(),
        unique,
        columns: index_columns(columns),
    })
}

fn indexes_of(ct: &CreateTable) -> Vec<Index> {
    ct.constraints.iter().filter_map(index_of).collect()
}

/// An index's columns, lowercase, without quotes (prefix lengths kept).
fn index_columns(columns: &[IndexColumn]) -> Vec<String> {
    columns
        .iter()
        .map(|c| c.column.expr.to_string().replace('`', "").to_lowercase())
        .collect()
}

/// A column's type, nullability and default, canonical.
#[derive(Debug, PartialEq, Eq)]
struct Canon {
    data_type: String,
    nullable: bool,
    default: Option<String>,
}

fn canon(c: &ColumnDef, primary: &[String]) -> Canon {
    let mut nullable = !primary.contains(&c.name.value.to_lowercase());
    let mut default = None;
    let mut auto_increment = false;
    for o in &c.options {
        match &o.option {
            ColumnOption::Null => nullable = true,
            ColumnOption::NotNull | ColumnOption::PrimaryKey(_) => nullable = false,
            ColumnOption::Default(e) => default = Some(canonical_default(e)),
            ColumnOption::DialectSpecific(tokens) => {
                auto_increment |= tokens
                    .iter()
                    .any(|t| t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT"))
            }
            _ => {}
        }
    }
    if default.is_none() && nullable && !auto_increment {
        default = Some("null".into());
    }
    Canon {
        data_type: canonical_type(&c.data_type),
        nullable,
        default,
    }
}

/// A type in one form: lowercase, synonyms resolved, integer display
/// widths dropped, implied lengths written out.
fn canonical_type(data_type: &DataType) -> String {
    let words = crate::schema::type_words::type_words(data_type);
    let mut out = match words.base.as_str() {
        "json" => "longtext".to_string(),
        _ => words.name(),
    };
    if words.unsigned || words.zerofill {
        out.push_str(" unsigned");
    }
    if words.zerofill {
        out.push_str(" zerofill");
    }
    out
}

/// A default value in one form: numbers without redundant zeros (quoted
/// or not), strings quoted, NULL and the current-time functions by name.
fn canonical_default(e: &Expr) -> String {
    match e {
        Expr::Nested(inner) => canonical_default(inner),
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => number(n).unwrap_or_else(|| n.clone()),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                number(s).unwrap_or_else(|| format!("'{s}'"))
            }
            Value::Null => "null".into(),
            Value::Boolean(b) => u8::from(*b).to_string(),
            other => other.to_string().to_lowercase(),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => {
            let inner = canonical_default(expr);
            number(&format!("-{inner}")).unwrap_or_else(|| format!("-{inner}"))
        }
        other => {
            let text = other.to_string().to_lowercase();
            let (name, args) = text.split_once('(').unwrap_or((&text, ")"));
            let args = args.trim_end_matches(')');
            match name {
                "current_timestamp" | "now" | "localtime" | "localtimestamp" => {
                    if args.is_empty() {
                        "current_timestamp".into()
                    } else {
                        format!("current_timestamp({args})")
                    }
                }
                _ => text,
            }
        }
    }
}

/// A decimal number in its shortest form (`1.50` -> `1.5`, `-0` -> `0`).
fn number(text: &str) -> Option<String> {
    let t = text.trim();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    };
    Some(if body == "0" {
        body
    } else {
        format!("{sign}{body}")
    })
}

fn last(name: &ObjectName) -> Result<String, NotReplay> {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => Ok(i.value.clone()),
        _ => Err(NotReplay::UnexpectedName(name.to_string())),
    }
}

/// (schema, table) of a routed (qualified) name.
fn split(name: &ObjectName) -> Result<(String, String), NotReplay> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(s), ObjectNamePart::Identifier(t)] => {
            Ok((s.value.clone(), t.value.clone()))
        }
        _ => Err(NotReplay::Unqualified(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;

    const D: MySqlDialect = MySqlDialect {};

    /// A downstream table as MariaDB's `SHOW CREATE TABLE` prints it.
    const THERE: &str = "CREATE TABLE `t` (
  `id` int(11) NOT NULL,
  `c` int(11) DEFAULT NULL,
  `n` int(10) unsigned NOT NULL DEFAULT 3,
  `d` decimal(5,2) DEFAULT 1.50,
  `v` varchar(10) NOT NULL DEFAULT 'x',
  `b` tinyint(1) DEFAULT NULL,
  `ts` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (`id`),
  UNIQUE KEY `uv` (`v`),
  KEY `ic` (`c`,`n`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci";

    fn verdict(sql: &str, code: u16) -> Result<(), NotReplay> {
        let Check::Table { table, want } = check(&D, sql, code)? else {
            return Ok(());
        };
        assert_eq!(table, ("db".into(), "t".into()));
        compare(&D, &want, THERE, Some(THERE))
    }

    #[test]
    fn a_replay_matches_whatever_the_spelling() {
        for (sql, code) in [
            ("ALTER TABLE `db`.`t` ADD COLUMN c INT", 1060),
            ("ALTER TABLE `db`.`t` ADD COLUMN c INTEGER NULL DEFAULT NULL", 1060),
            ("ALTER TABLE `db`.`t` ADD COLUMN n INT UNSIGNED NOT NULL DEFAULT '3'", 1060),
            ("ALTER TABLE `db`.`t` ADD COLUMN d DECIMAL(5,2) DEFAULT 1.5", 1060),
            ("ALTER TABLE `db`.`t` ADD v VARCHAR(10) NOT NULL DEFAULT 'x', ADD COLUMN b BOOL", 1060),
            ("ALTER TABLE `db`.`t` ADD COLUMN ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP", 1060),
            ("ALTER TABLE `db`.`t` ADD INDEX ic (c, n)", 1061),
            ("ALTER TABLE `db`.`t` ADD UNIQUE KEY uv (`v`)", 1061),
            ("CREATE UNIQUE INDEX uv ON `db`.`t` (v)", 1061),
            (
                "CREATE TABLE `db`.`t` (id INT PRIMARY KEY, c INT, n INT UNSIGNED NOT NULL DEFAULT 3, d DEC(5,2) DEFAULT 1.5, v VARCHAR(10) NOT NULL DEFAULT 'x', b BOOLEAN, ts TIMESTAMP NOT NULL DEFAULT now() ON UPDATE now(), UNIQUE KEY uv (v), KEY ic (c, n))",
                1050,
            ),
            ("CREATE TABLE `db`.`t` LIKE `db`.`u`", 1050),
            ("CREATE DATABASE `db`", 1007),
        ] {
            assert_eq!(verdict(sql, code), Ok(()), "{sql}");
        }
    }

    #[test]
    fn another_definition_is_shown_with_the_downstreams() {
        let cases = [
            (
                "ALTER TABLE `db`.`t` ADD COLUMN c VARCHAR(10)",
                1060,
                "column `c` exists downstream with another definition; statement: c VARCHAR(10); downstream: `c` INT(11) DEFAULT NULL",
            ),
            (
                "ALTER TABLE `db`.`t` ADD COLUMN c INT NOT NULL",
                1060,
                "statement: c INT NOT NULL; downstream: `c` INT(11) DEFAULT NULL",
            ),
            ("ALTER TABLE `db`.`t` ADD COLUMN n INT UNSIGNED NOT NULL DEFAULT 4", 1060, "DEFAULT 4"),
            ("ALTER TABLE `db`.`t` ADD COLUMN c INT, ADD COLUMN z INT", 1060, "column `z` is not there downstream"),
            ("ALTER TABLE `db`.`t` ADD INDEX ic (c)", 1061, "index `ic` exists downstream with another definition; statement: KEY `ic` (c); downstream: KEY `ic` (c, n)"),
            ("ALTER TABLE `db`.`t` ADD INDEX uv (v)", 1061, "UNIQUE KEY `uv`"),
            ("CREATE TABLE `db`.`t` (id INT PRIMARY KEY)", 1050, "the table exists downstream with other columns; statement: (id INT PRIMARY KEY); downstream: (`id` INT(11) NOT NULL, `c`"),
        ];
        for (sql, code, shown) in cases {
            let error = verdict(sql, code).expect_err(sql).to_string();
            assert!(error.contains(shown), "{sql}: {error}");
        }
    }

    /// The in-memory downstream (the simulation's) shows definitions a
    /// replay compares equal with.
    #[test]
    fn the_in_memory_downstream_shows_what_was_created() {
        use dm_worker_testkit::downstream::engine::Engine;
        let mut e = Engine::default();
        let statements = [
            ("CREATE DATABASE `db`", 1007),
            ("CREATE TABLE `db`.`t` (id BIGINT NOT NULL, c VARCHAR(40), UNIQUE KEY uc (c), PRIMARY KEY (id))", 1050),
            ("ALTER TABLE `db`.`t` ADD COLUMN `x` VARCHAR(64) NOT NULL DEFAULT 'v'", 1060),
            ("CREATE INDEX ix ON `db`.`t` (x, c)", 1061),
        ];
        for (sql, code) in statements {
            e.execute(sql).expect(sql);
            assert_eq!(e.execute(sql).map_err(|e| e.code), Err(code), "{sql}");
            let existing = e
                .tables
                .get(&("db".into(), "t".into()))
                .map(|t| t.definition("t"));
            match check(&D, sql, code).expect(sql) {
                Check::Nothing => {}
                Check::Table { want, .. } => {
                    let existing = existing.expect("the table");
                    assert_eq!(
                        compare(&D, &want, &existing, None),
                        Ok(()),
                        "{sql}\n{existing}"
                    );
                }
            }
        }
    }

    #[test]
    fn what_cannot_be_read_is_not_guessed() {
        assert!(check(&D, "ALTER TABLE `db`.`t` ADD COLUMN z INT ZEROFILL", 1060).is_err());
        assert!(check(&D, "ALTER TABLE `db`.`t` DROP COLUMN c", 1060).is_err());
        assert!(check(&D, "RENAME TABLE `db`.`a` TO `db`.`t`", 1050).is_err());
        let Ok(Check::Table { want, .. }) =
            check(&D, "ALTER TABLE `db`.`t` ADD COLUMN c INT", 1060)
        else {
            panic!("a check");
        };
        let error = compare(&D, &want, "CREATE TABLE `t` (`c` int(5) ZEROFILL)", None)
            .expect_err("unparsable downstream");
        assert!(
            matches!(error, NotReplay::DownstreamUnreadable { .. })
                && error.to_string().contains("does not parse"),
            "{error}"
        );
    }

    #[test]
    fn types_and_defaults_have_one_form() {
        let ty = |sql: &str| {
            let Ok(Check::Table {
                want: Want::Added { columns, .. },
                ..
            }) = check(&D, &format!("ALTER TABLE `a`.`b` ADD COLUMN x {sql}"), 1060)
            else {
                panic!("{sql}");
            };
            canon(&columns[0], &[])
        };
        assert_eq!(ty("INT(11)").data_type, "int");
        assert_eq!(ty("BIGINT(20) UNSIGNED").data_type, "bigint unsigned");
        assert_eq!(ty("NUMERIC").data_type, "decimal(10,0)");
        assert_eq!(ty("DECIMAL(7)").data_type, "decimal(7,0)");
        assert_eq!(ty("CHAR").data_type, "char(1)");
        assert_eq!(
            ty("ENUM('a','B')").data_type,
            ty("enum('a', 'B')").data_type
        );
        assert_eq!(ty("INT DEFAULT -0.0").default.as_deref(), Some("0"));
        assert_eq!(ty("INT DEFAULT '-010'").default.as_deref(), Some("-10"));
        assert_eq!(
            ty("VARCHAR(3) DEFAULT 'a b'").default.as_deref(),
            Some("'a b'")
        );
        assert_eq!(ty("INT NOT NULL").default, None);
        assert_eq!(ty("INT AUTO_INCREMENT").default, None);
    }
}
