//! Block-allow lists (`block-allow-list`, DM 1.x `black-white-list`): which
//! upstream schemas and tables a source migrates.
//!
//! Follows tidb-tools `pkg/filter` (915b22e4) as DM 2.0.7 uses it, plus the
//! system-schema check DM's loader and syncer make before consulting the list
//! (`filter.IsSystemSchema`):
//!
//! 1. A schema in [`SYSTEM_SCHEMAS`] (any case) is never migrated. This is
//!    tidb-tools' built-in list: `mysql`, `sys`, `information_schema`,
//!    `performance_schema`, `metrics_schema`, `inspection_schema` and DM's
//!    own heartbeat schema `dm_heartbeat`. DM's checkpoint schema
//!    (`meta-schema`, default `dm_meta`) lives downstream and is *not* on it.
//! 2. Schemas: if `do-dbs` is non-empty the schema must match one of its
//!    entries; otherwise, if `ignore-dbs` is non-empty it must match none.
//!    (`ignore-dbs` is not consulted at all when `do-dbs` is given.)
//! 3. Tables (skipped for schema-level statements, where the table name is
//!    empty): a table matching a `do-tables` entry is allowed; otherwise one
//!    matching an `ignore-tables` entry is refused; otherwise it is allowed
//!    only if `do-tables` is empty.
//! 4. Both 2 and 3 must allow. An empty list allows everything but 1.
//!
//! So `do-dbs` and `do-tables` combine with "and": with `do-dbs: [a]` and
//! `do-tables: [{db-name: b, tbl-name: t}]`, `b.t` is refused. And a
//! `do-tables`-only list still lets schema-level statements (`CREATE
//! DATABASE x`) through for every schema.
//!
//! Entries are wildcards or `~regex` (see [`super::pattern`]); a `do-tables`
//! entry matches when both its parts match. Unless `case-sensitive: true`,
//! names and entries are compared lower-cased. Empty entries are refused with
//! DM's messages.
//!
//! One difference from tidb-tools: there, an entry whose `db-name` is a regex
//! and whose `tbl-name` is a wildcard stores the wildcard in a trie shared
//! by all such entries of the list, so `[{~^a$, x}, {~^b$, y}]` also matches
//! `b.x`. Here each entry matches only its own pair.

use dm_proto::config::task::{BlockAllowList, TableRef};

use super::error::RuleError;
use super::pattern::{fold, NamePattern};

/// Schemas never migrated, upper-cased as tidb-tools spells them.
pub const SYSTEM_SCHEMAS: &[&str] = &[
    "DM_HEARTBEAT",
    "SYS",
    "MYSQL",
    "INFORMATION_SCHEMA",
    "INSPECTION_SCHEMA",
    "PERFORMANCE_SCHEMA",
    "METRICS_SCHEMA",
];

/// Whether `schema` is a system schema (case-insensitive).
pub fn is_system_schema(schema: &str) -> bool {
    let upper = schema.to_uppercase();
    SYSTEM_SCHEMAS.contains(&upper.as_str())
}

#[derive(Debug, Clone)]
struct TablePair {
    schema: NamePattern,
    table: NamePattern,
}

impl TablePair {
    fn matches(&self, schema: &str, table: &str) -> bool {
        self.schema.matches(schema) && self.table.matches(table)
    }
}

/// A compiled block-allow list.
#[derive(Debug, Clone)]
pub struct BlockAllow {
    case_sensitive: bool,
    do_dbs: Vec<NamePattern>,
    ignore_dbs: Vec<NamePattern>,
    do_tables: Vec<TablePair>,
    ignore_tables: Vec<TablePair>,
}

impl BlockAllow {
    /// A list that allows every non-system schema (an instance without a
    /// `block-allow-list`).
    pub fn allow_all() -> Self {
        BlockAllow {
            case_sensitive: false,
            do_dbs: Vec::new(),
            ignore_dbs: Vec::new(),
            do_tables: Vec::new(),
            ignore_tables: Vec::new(),
        }
    }

    /// Compiles a list.
    pub fn new(list: &BlockAllowList, case_sensitive: bool) -> Result<Self, RuleError> {
        let dbs = |entries: &[String], what: &str| -> Result<Vec<NamePattern>, RuleError> {
            entries
                .iter()
                .map(|e| {
                    if e.is_empty() {
                        Err(RuleError::EmptyPattern(format!(
                            "{what} rule's DB string cannot be empty"
                        )))
                    } else {
                        NamePattern::parse(e, case_sensitive)
                    }
                })
                .collect()
        };
        let tables = |entries: &[TableRef], what: &str| -> Result<Vec<TablePair>, RuleError> {
            entries
                .iter()
                .map(|t| {
                    if t.db_name.is_empty() || t.tbl_name.is_empty() {
                        return Err(RuleError::EmptyPattern(format!(
                            "{what} rule's DB string or Table string cannot be empty"
                        )));
                    }
                    Ok(TablePair {
                        schema: NamePattern::parse(&t.db_name, case_sensitive)?,
                        table: NamePattern::parse(&t.tbl_name, case_sensitive)?,
                    })
                })
                .collect()
        };
        Ok(BlockAllow {
            case_sensitive,
            do_dbs: dbs(&list.do_dbs, "DoDB")?,
            do_tables: tables(&list.do_tables, "DoTables")?,
            ignore_dbs: dbs(&list.ignore_dbs, "IgnoreDB")?,
            ignore_tables: tables(&list.ignore_tables, "IgnoreTables")?,
        })
    }

    /// Whether `schema`.`table` is migrated. An empty `table` asks about a
    /// schema-level statement, like [`Self::allows_schema`].
    pub fn allows(&self, schema: &str, table: &str) -> bool {
        if is_system_schema(schema) {
            return false;
        }
        let schema = fold(schema, self.case_sensitive);
        let table = fold(table, self.case_sensitive);
        self.schema_passes(&schema) && self.table_passes(&schema, &table)
    }

    /// Whether statements on the schema itself (`CREATE DATABASE`, ...) and
    /// the schema as a whole pass the list.
    pub fn allows_schema(&self, schema: &str) -> bool {
        self.allows(schema, "")
    }

    fn schema_passes(&self, schema: &str) -> bool {
        if !self.do_dbs.is_empty() {
            self.do_dbs.iter().any(|p| p.matches(schema))
        } else {
            !self.ignore_dbs.iter().any(|p| p.matches(schema))
        }
    }

    fn table_passes(&self, schema: &str, table: &str) -> bool {
        if table.is_empty() {
            return true;
        }
        if self.do_tables.iter().any(|p| p.matches(schema, table)) {
            return true;
        }
        if self.ignore_tables.iter().any(|p| p.matches(schema, table)) {
            return false;
        }
        self.do_tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(db: &str, tbl: &str) -> TableRef {
        TableRef {
            db_name: db.into(),
            tbl_name: tbl.into(),
        }
    }

    fn list(
        do_dbs: &[&str],
        ignore_dbs: &[&str],
        do_tables: &[(&str, &str)],
        ignore_tables: &[(&str, &str)],
    ) -> BlockAllowList {
        BlockAllowList {
            do_dbs: do_dbs.iter().map(|s| s.to_string()).collect(),
            ignore_dbs: ignore_dbs.iter().map(|s| s.to_string()).collect(),
            do_tables: do_tables.iter().map(|(d, t2)| t(d, t2)).collect(),
            ignore_tables: ignore_tables.iter().map(|(d, t2)| t(d, t2)).collect(),
        }
    }

    struct Case {
        name: &'static str,
        list: BlockAllowList,
        case_sensitive: bool,
        /// (schema, table, allowed); table "" = schema level.
        checks: &'static [(&'static str, &'static str, bool)],
    }

    #[test]
    fn decision_table() {
        let cases = vec![
            Case {
                name: "empty list allows all but system schemas",
                list: BlockAllowList::default(),
                case_sensitive: false,
                checks: &[
                    ("foo", "bar", true),
                    ("foo", "", true),
                    ("mysql", "user", false),
                    ("INFORMATION_SCHEMA", "TABLES", false),
                    ("performance_schema", "", false),
                    ("sys", "x", false),
                    ("dm_heartbeat", "heartbeat", false),
                    ("metrics_schema", "m", false),
                    ("inspection_schema", "i", false),
                    ("dm_meta", "t_syncer_checkpoint", true),
                ],
            },
            Case {
                name: "do-dbs only",
                list: list(&["dmtest2", "shard_*"], &[], &[], &[]),
                case_sensitive: false,
                checks: &[
                    ("dmtest2", "t1", true),
                    ("DMTest2", "T1", true),
                    ("dmtest2", "", true),
                    ("shard_07", "t", true),
                    ("shard", "t", false),
                    ("dmtest1", "t1", false),
                    ("dmtest1", "", false),
                ],
            },
            Case {
                name: "do-dbs wins over ignore-dbs (ignore-dbs unused)",
                list: list(&["foo"], &["foo", "bar"], &[], &[]),
                case_sensitive: false,
                checks: &[
                    ("foo", "t", true),
                    ("foo", "", true),
                    ("bar", "t", false),
                    ("baz", "t", false),
                ],
            },
            Case {
                name: "ignore-dbs only",
                list: list(&[], &["foo1", "tmp_?"], &[], &[]),
                case_sensitive: false,
                checks: &[
                    ("foo", "bar", true),
                    ("foo1", "bar", false),
                    ("foo1", "", false),
                    ("tmp_a", "t", false),
                    ("tmp_ab", "t", true),
                ],
            },
            Case {
                name: "do-tables without regex",
                list: list(&[], &[], &[("foo", "bar1")], &[]),
                case_sensitive: false,
                checks: &[
                    ("foo", "bar", false),
                    ("foo", "bar1", true),
                    ("foo", "", true),
                    ("fff", "bar1", false),
                    // schema-level statements of any schema pass
                    ("fff", "", true),
                ],
            },
            Case {
                name: "do-tables with regexes",
                list: list(
                    &[],
                    &[],
                    &[
                        ("~^shard_[0-9]+$", "~^t_\\d+$"),
                        ("a?b?", "~f[0-9]"),
                        ("~t[0-8]", "a??"),
                    ],
                    &[],
                ),
                case_sensitive: false,
                checks: &[
                    ("shard_1", "t_22", true),
                    ("shard_1", "t_x", false),
                    ("shard_x", "t_1", false),
                    ("abbd", "f1", true),
                    ("abbd", "xf1x", true),
                    ("aaaa", "f2", false),
                    ("t1", "a01", true),
                    ("xt9", "a01", false),
                    ("t1", "a001", false),
                ],
            },
            Case {
                name: "ignore-tables only",
                list: list(&[], &[], &[], &[("foo", "bar"), ("~^foo", "~^sbtest-\\d")]),
                case_sensitive: false,
                checks: &[
                    ("foo", "bar", false),
                    ("foo", "bar1", true),
                    ("foo", "", true),
                    ("fff", "bar", true),
                    ("foo1", "sbtest-1", false),
                    ("foo1", "sbtest", true),
                ],
            },
            Case {
                name: "do-dbs regex with ignore-tables",
                list: list(&["~^foo"], &[], &[], &[("~^foo", "~^sbtest-\\d")]),
                case_sensitive: false,
                checks: &[
                    ("foo", "sbtest", true),
                    ("foo1", "sbtest-1", false),
                    ("foo2", "", true),
                    ("fff", "bar", false),
                ],
            },
            Case {
                name: "do-tables win over ignore-tables",
                list: list(&[], &[], &[("db", "t_*")], &[("db", "t_1*")]),
                case_sensitive: false,
                checks: &[("db", "t_1", true), ("db", "t_2", true), ("db", "x", false)],
            },
            Case {
                name: "do-dbs and do-tables combine with and",
                list: list(&["a"], &[], &[("b", "t"), ("a", "t")], &[]),
                case_sensitive: false,
                checks: &[
                    ("a", "t", true),
                    ("a", "u", false),
                    ("b", "t", false),
                    ("a", "", true),
                    ("b", "", false),
                ],
            },
            Case {
                name: "ignore-dbs then ignore-tables",
                list: list(&[], &["tmp"], &[], &[("app", "log_*")]),
                case_sensitive: false,
                checks: &[
                    ("tmp", "t", false),
                    ("app", "log_1", false),
                    ("app", "user", true),
                    ("other", "log_1", true),
                ],
            },
            Case {
                name: "case-insensitive folds names and patterns",
                list: list(&[], &["~^FOO"], &[], &[("~.*", "~FoO$"), ("a*", "A*")]),
                case_sensitive: false,
                checks: &[
                    ("FOO1", "a", false),
                    ("foo2", "b", false),
                    ("BoO3", "cFoO", false),
                    ("aB", "Ab", false),
                    ("AaB", "aab", false),
                    ("5", "5", true),
                ],
            },
            Case {
                name: "case-sensitive keeps case",
                list: list(&[], &["~^FOO"], &[], &[("~.*", "~FoO$"), ("a*", "A*")]),
                case_sensitive: true,
                checks: &[
                    ("FOO1", "a", false),
                    ("foo2", "b", true),
                    ("BoO3", "cFoo", true),
                    ("Foo4", "dfoO", true),
                    ("aB", "Ab", false),
                    ("AaB", "aab", true),
                    ("MySQL", "user", false),
                ],
            },
            Case {
                name: "regex schema with per-entry wildcard table",
                list: list(&[], &[], &[("~^a$", "x"), ("~^b$", "y")], &[]),
                case_sensitive: true,
                checks: &[
                    ("a", "x", true),
                    ("b", "y", true),
                    ("b", "x", false),
                    ("a", "y", false),
                ],
            },
        ];
        for case in cases {
            let ba = BlockAllow::new(&case.list, case.case_sensitive).unwrap();
            for &(schema, table, want) in case.checks {
                assert_eq!(
                    ba.allows(schema, table),
                    want,
                    "{}: `{schema}`.`{table}`",
                    case.name
                );
                if table.is_empty() {
                    assert_eq!(
                        ba.allows_schema(schema),
                        want,
                        "{}: schema {schema}",
                        case.name
                    );
                }
            }
        }
    }

    #[test]
    fn allow_all_still_skips_system_schemas() {
        let ba = BlockAllow::allow_all();
        assert!(ba.allows("app", "t"));
        assert!(!ba.allows("Mysql", "t"));
        assert!(!ba.allows_schema("information_schema"));
    }

    #[test]
    fn invalid_entries_are_refused_with_dm_messages() {
        let err = BlockAllow::new(&list(&[""], &[], &[], &[]), false).unwrap_err();
        assert_eq!(err.to_string(), "DoDB rule's DB string cannot be empty");
        let err = BlockAllow::new(&list(&[], &[""], &[], &[]), false).unwrap_err();
        assert_eq!(err.to_string(), "IgnoreDB rule's DB string cannot be empty");
        let err = BlockAllow::new(&list(&[], &[], &[("db", "")], &[]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DoTables rule's DB string or Table string cannot be empty"
        );
        let err = BlockAllow::new(&list(&[], &[], &[], &[("", "t")]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "IgnoreTables rule's DB string or Table string cannot be empty"
        );
        let err = BlockAllow::new(&list(&["*_x"], &[], &[], &[]), false).unwrap_err();
        assert_eq!(err.to_string(), "pattern *_x not valid");
        let err = BlockAllow::new(&list(&["~("], &[], &[], &[]), false).unwrap_err();
        assert!(matches!(err, RuleError::InvalidRegex { .. }));
    }
}
