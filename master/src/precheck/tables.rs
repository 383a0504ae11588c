//! Decisions on the selected tables: `table_schema` (one table at a time)
//! and `auto_increment_ID` (the upstream tables merged into one downstream
//! table, across sources and within one).

use super::facts::{ColumnFacts, TableFacts};
use super::report::Severity;

/// `table_schema`: the table has a primary key, or a unique key whose
/// columns are all NOT NULL. Without one, an update or delete cannot name
/// its downstream row, and a replayed insert (safe mode, a resumed load)
/// duplicates rows instead of replacing them.
pub fn table_schema(table: &TableFacts) -> Option<String> {
    if has_identity(table) {
        return None;
    }
    let name = quoted(&table.schema, &table.name);
    Some(format!(
        "table_schema: {name} has neither a primary key nor a unique key on NOT NULL columns; \
         DM needs one to replicate updates and deletes exactly: \
         ALTER TABLE {name} ADD PRIMARY KEY (...), or leave the table out with the block-allow list"
    ))
}

/// Whether rows of `table` can be told apart by a key.
pub fn has_identity(table: &TableFacts) -> bool {
    table.indexes.iter().any(|index| {
        index.is_primary()
            || (index.unique
                && !index.columns.is_empty()
                && index
                    .columns
                    .iter()
                    .all(|c| column(table, c).is_some_and(|col| !col.nullable)))
    })
}

/// The auto-increment columns of `table` that are, alone, its primary key
/// or a unique key: the ids that would collide when tables merge (DM's
/// "auto-increment key"; an auto-increment column that is only part of a
/// key, or only indexed, does not make merged rows collide by itself).
pub fn auto_increment_keys(table: &TableFacts) -> Vec<&ColumnFacts> {
    table
        .columns
        .iter()
        .filter(|col| col.auto_increment)
        .filter(|col| {
            table.indexes.iter().any(|index| {
                (index.is_primary() || index.unique)
                    && matches!(index.columns.as_slice(), [only] if only.eq_ignore_ascii_case(&col.name))
            })
        })
        .collect()
}

/// The column-mapping rule that applies to an upstream table, as far as
/// `auto_increment_ID` cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// No rule applies.
    None,
    /// A rule applies: its expression is `partition id` or not, and the
    /// column it rewrites.
    Rule {
        partition_id: bool,
        target_column: String,
    },
    /// The rules cannot decide (more than one applies).
    Error(String),
}

/// One upstream table that goes to a downstream table.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    pub source: &'a str,
    pub table: &'a TableFacts,
    pub mapping: Mapping,
}

/// `auto_increment_ID` for the upstream tables `members` that all go to
/// downstream table `target` (schema, table). With two or more of them, the
/// same id from two tables would be the same downstream row, unless each
/// one's auto-increment key is rewritten by a `partition id` column mapping
/// (which needs BIGINT: the mapped ids use 64 bits) or the ids never
/// overlap (which only the user knows). Returns `(source, severity,
/// message)` for each table: a warning where ids may collide (DM warns
/// too), a failure where a mapping cannot work.
pub fn auto_increment_id(
    target: (&str, &str),
    members: &[Member<'_>],
) -> Vec<(String, Severity, String)> {
    if members.len() < 2 {
        return Vec::new();
    }
    let target = quoted(target.0, target.1);
    let others = members.len() - 1;
    let mut problems = Vec::new();
    for member in members {
        let name = quoted(&member.table.schema, &member.table.name);
        for key in auto_increment_keys(member.table) {
            let column = &key.name;
            let problem = match &member.mapping {
                Mapping::Error(e) => Some((
                    Severity::Fail,
                    format!(
                        "auto_increment_ID: {name} has auto-increment key `{column}` and is merged into {target}, \
                         but its column mapping is ambiguous ({e}): keep one column-mapping rule per table"
                    ),
                )),
                Mapping::Rule {
                    partition_id: true,
                    target_column,
                } if target_column.eq_ignore_ascii_case(column) => {
                    (key.data_type != "bigint").then(|| {
                        (
                            Severity::Fail,
                            format!(
                                "auto_increment_ID: {name} has a `partition id` column mapping on auto-increment key `{column}`, \
                                 but `{column}` is {}; partition ids need BIGINT: change `{column}` to BIGINT upstream and downstream",
                                key.data_type.to_uppercase()
                            ),
                        )
                    })
                }
                _ => Some((
                    Severity::Warn,
                    format!(
                        "auto_increment_ID: {name} has auto-increment key `{column}` and is merged with {others} other upstream \
                         table{} into {target}, so their ids may collide: add a `partition id` column mapping with \
                         target-column `{column}` for it, or make sure the ids never overlap \
                         (auto-increment-increment / auto-increment-offset) and add auto_increment_ID to ignore-checking-items",
                        if others == 1 { "" } else { "s" }
                    ),
                )),
            };
            if let Some((severity, message)) = problem {
                problems.push((member.source.to_string(), severity, message));
            }
        }
    }
    problems
}

fn column<'a>(table: &'a TableFacts, name: &str) -> Option<&'a ColumnFacts> {
    table
        .columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
}

/// `` `schema`.`table` ``
pub fn quoted(schema: &str, table: &str) -> String {
    format!("`{schema}`.`{table}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::precheck::facts::IndexFacts;

    fn col(name: &str, data_type: &str, nullable: bool, auto_increment: bool) -> ColumnFacts {
        ColumnFacts {
            name: name.into(),
            data_type: data_type.into(),
            nullable,
            auto_increment,
        }
    }

    fn index(name: &str, unique: bool, columns: &[&str]) -> IndexFacts {
        IndexFacts {
            name: name.into(),
            unique,
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn table(
        schema: &str,
        name: &str,
        columns: Vec<ColumnFacts>,
        indexes: Vec<IndexFacts>,
    ) -> TableFacts {
        TableFacts {
            schema: schema.into(),
            name: name.into(),
            columns,
            indexes,
        }
    }

    /// The tutorial's `dmtest2.t1`, with `id` of type `id_type`.
    fn t1(id_type: &str) -> TableFacts {
        table(
            "dmtest2",
            "t1",
            vec![
                col("id", id_type, false, true),
                col("c", "char", true, false),
                col("port", "int", true, false),
            ],
            vec![index("PRIMARY", true, &["id"])],
        )
    }

    #[test]
    fn keys_that_identify_rows() {
        let cases = [
            (
                "primary key",
                table(
                    "a",
                    "t",
                    vec![col("id", "int", false, false)],
                    vec![index("PRIMARY", true, &["id"])],
                ),
                true,
            ),
            (
                "unique key on NOT NULL columns",
                table(
                    "a",
                    "t",
                    vec![col("a", "int", false, false), col("b", "int", false, false)],
                    vec![index("ab", true, &["a", "b"])],
                ),
                true,
            ),
            (
                "unique key with a nullable column",
                table(
                    "a",
                    "t",
                    vec![col("a", "int", false, false), col("b", "int", true, false)],
                    vec![index("ab", true, &["a", "b"])],
                ),
                false,
            ),
            (
                "only a plain index",
                table(
                    "a",
                    "t",
                    vec![col("a", "int", false, false)],
                    vec![index("ia", false, &["a"])],
                ),
                false,
            ),
            (
                "no index at all",
                table("a", "t", vec![col("a", "int", true, false)], vec![]),
                false,
            ),
            (
                "unique key on an expression",
                table(
                    "a",
                    "t",
                    vec![col("a", "int", false, false)],
                    vec![index("e", true, &[""])],
                ),
                false,
            ),
        ];
        for (what, table, passes) in cases {
            assert_eq!(table_schema(&table).is_none(), passes, "{what}");
        }
        let nokey = table("app", "nokey", vec![col("a", "int", true, false)], vec![]);
        assert_eq!(
            table_schema(&nokey).as_deref(),
            Some("table_schema: `app`.`nokey` has neither a primary key nor a unique key on NOT NULL columns; DM needs one to replicate updates and deletes exactly: ALTER TABLE `app`.`nokey` ADD PRIMARY KEY (...), or leave the table out with the block-allow list")
        );
    }

    #[test]
    fn auto_increment_keys_are_single_column_unique_keys() {
        assert_eq!(auto_increment_keys(&t1("bigint")).len(), 1);
        let composite = table(
            "a",
            "t",
            vec![
                col("id", "bigint", false, true),
                col("k", "int", false, false),
            ],
            vec![
                index("PRIMARY", true, &["id", "k"]),
                index("iid", false, &["id"]),
            ],
        );
        assert!(auto_increment_keys(&composite).is_empty());
        let unique = table(
            "a",
            "t",
            vec![
                col("k", "int", false, false),
                col("id", "bigint", false, true),
            ],
            vec![index("PRIMARY", true, &["k"]), index("uid", true, &["ID"])],
        );
        assert_eq!(auto_increment_keys(&unique).len(), 1);
        assert!(auto_increment_keys(&table(
            "a",
            "t",
            vec![col("id", "int", false, false)],
            vec![index("PRIMARY", true, &["id"])]
        ))
        .is_empty());
    }

    fn partition(column: &str) -> Mapping {
        Mapping::Rule {
            partition_id: true,
            target_column: column.into(),
        }
    }

    #[test]
    fn merged_auto_increment_keys() {
        let big = t1("bigint");
        let int = t1("int");
        let plain = table(
            "dmtest2",
            "t1",
            vec![col("id", "bigint", false, false)],
            vec![index("PRIMARY", true, &["id"])],
        );
        fn m<'a>(source: &'a str, table: &'a TableFacts, mapping: Mapping) -> Member<'a> {
            Member {
                source,
                table,
                mapping,
            }
        }
        let (big, int, plain) = (&big, &int, &plain);
        let prefix = Mapping::Rule {
            partition_id: false,
            target_column: "id".into(),
        };

        let cases: Vec<(&str, Vec<Member<'_>>, Vec<&str>)> = vec![
            ("one table alone", vec![m("s1", big, Mapping::None)], vec![]),
            (
                "three sources, no mappings",
                vec![
                    m("s1", big, Mapping::None),
                    m("s2", big, Mapping::None),
                    m("s3", big, Mapping::None),
                ],
                vec!["s1", "s2", "s3"],
            ),
            (
                "three sources, partition id on id (the tutorial's dmtask2)",
                vec![
                    m("s1", big, partition("id")),
                    m("s2", big, partition("id")),
                    m("s3", big, partition("ID")),
                ],
                vec![],
            ),
            (
                "one source without its mapping",
                vec![m("s1", big, partition("id")), m("s2", big, Mapping::None)],
                vec!["s2"],
            ),
            (
                "partition id on another column",
                vec![
                    m("s1", big, partition("other")),
                    m("s2", big, partition("id")),
                ],
                vec!["s1"],
            ),
            (
                "a mapping that is not partition id",
                vec![m("s1", big, prefix.clone()), m("s2", big, partition("id"))],
                vec!["s1"],
            ),
            (
                "partition id on INT",
                vec![m("s1", int, partition("id")), m("s2", int, partition("id"))],
                vec!["s1", "s2"],
            ),
            (
                "no auto-increment key",
                vec![m("s1", plain, Mapping::None), m("s2", plain, Mapping::None)],
                vec![],
            ),
            (
                "ambiguous mapping",
                vec![
                    m("s1", big, Mapping::Error("two rules".into())),
                    m("s2", big, partition("id")),
                ],
                vec!["s1"],
            ),
        ];
        for (what, members, failing) in cases {
            let got = auto_increment_id(("dmtest2", "t1"), &members);
            let sources: Vec<&str> = got.iter().map(|(s, _, _)| s.as_str()).collect();
            assert_eq!(sources, failing, "{what}: {got:?}");
        }

        let got = auto_increment_id(
            ("dmtest2", "t1"),
            &[
                m("mysql1", big, Mapping::None),
                m("mysql2", big, Mapping::None),
                m("mysql3", big, Mapping::None),
            ],
        );
        assert_eq!(got[0].1, Severity::Warn);
        assert_eq!(
            got[0].2,
            "auto_increment_ID: `dmtest2`.`t1` has auto-increment key `id` and is merged with 2 other upstream tables into `dmtest2`.`t1`, so their ids may collide: add a `partition id` column mapping with target-column `id` for it, or make sure the ids never overlap (auto-increment-increment / auto-increment-offset) and add auto_increment_ID to ignore-checking-items"
        );
        let got = auto_increment_id(
            ("dmtest2", "t1"),
            &[
                m("mysql1", int, partition("id")),
                m("mysql2", int, partition("id")),
            ],
        );
        assert_eq!(got[0].1, Severity::Fail);
        assert_eq!(
            got[0].2,
            "auto_increment_ID: `dmtest2`.`t1` has a `partition id` column mapping on auto-increment key `id`, but `id` is INT; partition ids need BIGINT: change `id` to BIGINT upstream and downstream"
        );
    }
}
