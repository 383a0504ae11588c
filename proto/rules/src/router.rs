//! Table routing (`routes`): where an upstream table goes downstream.
//!
//! Follows tidb-tools `pkg/table-router` (915b22e4) as DM 2.0.7 uses it:
//!
//! * A rule needs a `schema-pattern` and a `target-schema` (DM's messages).
//!   Without a `table-pattern` it is *schema level*, with one *table level*;
//!   two rules with the same pattern pair are refused when the router is
//!   built (see [`super::pattern`] for patterns and case folding).
//! * For a table (non-empty name): if table-level rules match, exactly one
//!   must (two or more is an error) and it decides; otherwise the schema-level
//!   rules decide, of which at most one may match.
//! * For a schema-level statement (empty table name) only schema-level rules
//!   count, so a table-level rule never renames a schema by itself: with only
//!   `{schema-pattern: shard_*, table-pattern: t_*, target-schema: all}`,
//!   `CREATE DATABASE shard_1` keeps its name.
//! * An empty `target-schema` / `target-table` of the deciding rule keeps the
//!   upstream name, in its original case; no match keeps both names. A
//!   schema-level rule keeps the table name (DM would use its
//!   `target-table` if one were set; our task validation refuses that).
//!
//! The ambiguity error repeats DM's text, with the two rules printed as Go's
//! `%+v` prints them.

use dm_proto::config::task::RouteRule;

use super::error::RuleError;
use super::pattern::{fold, TableSelector};

/// Compiled route rules of one source.
#[derive(Debug, Clone)]
pub struct Router {
    case_sensitive: bool,
    rules: TableSelector<RouteRule>,
}

impl Router {
    /// Builds a router; fails on an invalid or duplicate rule.
    pub fn new<'a>(
        rules: impl IntoIterator<Item = &'a RouteRule>,
        case_sensitive: bool,
    ) -> Result<Self, RuleError> {
        let mut selector = TableSelector::new("table router");
        for rule in rules {
            valid(rule)?;
            selector.insert(
                &rule.schema_pattern,
                &rule.table_pattern,
                case_sensitive,
                rule.clone(),
            )?;
        }
        Ok(Router {
            case_sensitive,
            rules: selector,
        })
    }

    /// A router without rules: every name stays.
    pub fn identity() -> Self {
        Router {
            case_sensitive: false,
            rules: TableSelector::new("table router"),
        }
    }

    /// Whether the router has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The downstream `(schema, table)` of upstream `schema`.`table`; an
    /// empty `table` routes a schema-level statement.
    pub fn route(&self, schema: &str, table: &str) -> Result<(String, String), RuleError> {
        let selected = self.rules.select(
            &fold(schema, self.case_sensitive),
            &fold(table, self.case_sensitive),
        );
        let (level, candidates) = if table.is_empty() || selected.table_level.is_empty() {
            ("schema", &selected.schema_level)
        } else {
            ("table", &selected.table_level)
        };
        if let [first, second, ..] = candidates.as_slice() {
            return Err(RuleError::AmbiguousRoute {
                schema: schema.to_string(),
                table: table.to_string(),
                level,
                count: candidates.len(),
                first: go_rule(first),
                second: go_rule(second),
            });
        }
        let (target_schema, target_table) = match candidates.first() {
            Some(rule) => (rule.target_schema.as_str(), rule.target_table.as_str()),
            None => ("", ""),
        };
        let target_schema = if target_schema.is_empty() {
            schema
        } else {
            target_schema
        };
        let target_table = if target_table.is_empty() {
            table
        } else {
            target_table
        };
        Ok((target_schema.to_string(), target_table.to_string()))
    }
}

fn valid(rule: &RouteRule) -> Result<(), RuleError> {
    if rule.schema_pattern.is_empty() {
        return Err(RuleError::InvalidRule(
            "schema pattern of table route rule should not be empty".into(),
        ));
    }
    if rule.target_schema.is_empty() {
        return Err(RuleError::InvalidRule(
            "target schema of table route rule should not be empty".into(),
        ));
    }
    Ok(())
}

/// Go's `%+v` of a `*router.TableRule`.
fn go_rule(rule: &RouteRule) -> String {
    format!(
        "&{{SchemaPattern:{} TablePattern:{} TargetSchema:{} TargetTable:{}}}",
        rule.schema_pattern, rule.table_pattern, rule.target_schema, rule.target_table
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(schema: &str, table: &str, to_schema: &str, to_table: &str) -> RouteRule {
        RouteRule {
            schema_pattern: schema.into(),
            table_pattern: table.into(),
            target_schema: to_schema.into(),
            target_table: to_table.into(),
        }
    }

    fn route(r: &Router, schema: &str, table: &str) -> (String, String) {
        r.route(schema, table).unwrap()
    }

    fn pair(s: &str, t: &str) -> (String, String) {
        (s.to_string(), t.to_string())
    }

    #[test]
    fn table_rules_win_over_schema_rules() {
        let rules = [
            rule("shard_*", "", "merged", ""),
            rule("shard_*", "order_?", "merged", "orders"),
        ];
        let r = Router::new(&rules, false).unwrap();
        assert_eq!(route(&r, "shard_1", "order_1"), pair("merged", "orders"));
        // No table rule matches: the schema rule keeps the table name.
        assert_eq!(route(&r, "shard_1", "user"), pair("merged", "user"));
        // Schema-level statements only see schema rules.
        assert_eq!(route(&r, "shard_1", ""), pair("merged", ""));
        // No match keeps both names.
        assert_eq!(route(&r, "other", "order_1"), pair("other", "order_1"));
    }

    #[test]
    fn a_table_rule_alone_does_not_rename_the_schema_of_schema_statements() {
        let rules = [rule("shard_*", "t_*", "all", "t")];
        let r = Router::new(&rules, false).unwrap();
        assert_eq!(route(&r, "shard_1", "t_3"), pair("all", "t"));
        assert_eq!(route(&r, "shard_1", ""), pair("shard_1", ""));
    }

    #[test]
    fn empty_targets_keep_names_in_their_case() {
        let rules = [rule("Shard_*", "T_*", "merged", "")];
        let r = Router::new(&rules, false).unwrap();
        assert_eq!(route(&r, "SHARD_1", "t_Abc"), pair("merged", "t_Abc"));
        let r = Router::new(&rules, true).unwrap();
        assert_eq!(route(&r, "SHARD_1", "t_Abc"), pair("SHARD_1", "t_Abc"));
        assert_eq!(route(&r, "Shard_1", "T_Abc"), pair("merged", "T_Abc"));
    }

    #[test]
    fn two_matching_rules_of_one_level_are_an_error() {
        let rules = [
            rule("db*", "t*", "a", "x"),
            rule("db1", "t?", "b", "y"),
            rule("db*", "", "s1", ""),
            rule("d*", "", "s2", ""),
        ];
        let r = Router::new(&rules, false).unwrap();
        let err = r.route("db1", "t1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`db1`.`t1` matches 2 table route rules which is more than one.\n\
             The first two rules are &{SchemaPattern:db* TablePattern:t* TargetSchema:a TargetTable:x}, \
             &{SchemaPattern:db1 TablePattern:t? TargetSchema:b TargetTable:y}.\nIt's not supported"
        );
        // Only one table rule matches `t12`, so the schema rules are not asked.
        assert_eq!(route(&r, "db1", "t12"), pair("a", "x"));
        let err = r.route("db1", "").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`db1`.`` matches 2 schema route rules which is more than one."),
            "{err}"
        );
        let err = r.route("db1", "u").unwrap_err();
        assert!(matches!(
            err,
            RuleError::AmbiguousRoute {
                level: "schema",
                count: 2,
                ..
            }
        ));
    }

    #[test]
    fn invalid_and_duplicate_rules_are_refused() {
        let err = Router::new(&[rule("", "", "x", "")], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "schema pattern of table route rule should not be empty"
        );
        let err = Router::new(&[rule("a", "", "", "")], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target schema of table route rule should not be empty"
        );
        let err =
            Router::new(&[rule("a*", "b", "x", ""), rule("A*", "B", "y", "")], false).unwrap_err();
        assert!(matches!(err, RuleError::DuplicatePattern { .. }), "{err}");
        // Case-sensitive: different patterns.
        assert!(Router::new(&[rule("a*", "b", "x", ""), rule("A*", "B", "y", "")], true).is_ok());
        let err = Router::new(&[rule("a*b", "", "x", "")], false).unwrap_err();
        assert_eq!(err.to_string(), "pattern a*b not valid");
    }

    #[test]
    fn identity_router_keeps_everything() {
        let r = Router::identity();
        assert!(r.is_empty());
        assert_eq!(route(&r, "A", "B"), pair("A", "B"));
    }
}
