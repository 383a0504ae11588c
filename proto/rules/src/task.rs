//! One source's rules within a task, compiled.
//!
//! As DM's `TaskConfig.SubTaskConfigs` does, an instance's `route-rules`,
//! `filter-rules` and `column-mapping-rules` name entries of the task's
//! `routes`, `filters` and `column-mappings` (in the instance's order), and
//! its `block-allow-list` (or `black-white-list`) names one entry of the
//! task's lists; an instance without one migrates every non-system schema.
//! The task's `case-sensitive` applies to all of them. Errors carry the
//! section and rule name they come from.
//!
//! The source's own `filters` (its source file's binlog event filter
//! rules) apply to every task of the source, after the task's rules, as
//! DM appends them to each subtask's: [`TaskRules::with_source_filters`].
//! They are compiled apart from the task's, so a source rule may name the
//! same tables as a task rule; an event either set ignores is ignored.

use std::collections::BTreeMap;

use dm_proto::config::task::{BinlogEventRule, ColumnMappingRule, RouteRule};
use dm_proto::config::TaskConfig;

use super::binlog_filter::BinlogFilter;
use super::block_allow::BlockAllow;
use super::column_mapping::{ColumnMapper, ColumnMappings};
use super::error::RuleError;
use super::expr::{ExpressionFilters, TimeZone};
use super::router::Router;

/// The compiled rules of one source of a task. What they decide is asked
/// through the pipeline's methods (`crate::pipeline`), the only way
/// through them.
#[derive(Debug, Clone)]
pub struct TaskRules {
    source_id: String,
    pub(crate) case_sensitive: bool,
    pub(crate) block_allow: BlockAllow,
    pub(crate) router: Router,
    pub(crate) binlog_filter: BinlogFilter,
    /// The source file's `filters`, asked after the task's.
    pub(crate) source_filter: BinlogFilter,
    pub(crate) column_mappings: ColumnMappings,
    pub(crate) expression_filters: ExpressionFilters,
    /// The task's timezone, in which expressions see TIMESTAMP values.
    time_zone: TimeZone,
}

/// The rules `names` picks from `section`, each checked on its own first.
fn pick<'a, T>(
    names: &[String],
    section: &'a BTreeMap<String, T>,
    list: &'static str,
    section_key: &'static str,
    check: impl Fn(&T) -> Result<(), RuleError>,
) -> Result<Vec<(&'a str, &'a T)>, RuleError> {
    names
        .iter()
        .map(|name| {
            let (key, rule) =
                section
                    .get_key_value(name)
                    .ok_or_else(|| RuleError::UnknownRule {
                        list,
                        section: section_key,
                        name: name.clone(),
                    })?;
            check(rule).map_err(|e| e.in_rule(section_key, name))?;
            Ok((key.as_str(), rule))
        })
        .collect()
}

/// Builds a compiled set from named rules; when it fails, finds the rule
/// that makes it fail (alone, or together with the ones before it) to name
/// it in the error.
fn build<'a, T: 'a, R>(
    rules: &[(&'a str, &'a T)],
    section: &'static str,
    compile: impl Fn(&mut dyn Iterator<Item = &'a T>) -> Result<R, RuleError>,
) -> Result<R, RuleError> {
    match compile(&mut rules.iter().map(|(_, r)| *r)) {
        Ok(built) => Ok(built),
        Err(err) => {
            for end in 1..=rules.len() {
                if let Err(e) = compile(&mut rules[..end].iter().map(|(_, r)| *r)) {
                    let name = rules[end - 1].0;
                    return Err(e.in_rule(section, name));
                }
            }
            Err(err)
        }
    }
}

/// Compiles a source file's `filters` (what `operate-source create`
/// checks, and what [`TaskRules::with_source_filters`] asks); an error
/// names the failing rule by its place, `filters[i]`.
pub fn source_filters(
    rules: &[BinlogEventRule],
    case_sensitive: bool,
) -> Result<BinlogFilter, RuleError> {
    let names: Vec<String> = (0..rules.len()).map(|i| format!("filters[{i}]")).collect();
    let named: Vec<(&str, &BinlogEventRule)> =
        names.iter().map(String::as_str).zip(rules).collect();
    build(&named, "source", |rules| {
        BinlogFilter::new(rules, case_sensitive)
    })
}

impl TaskRules {
    /// Compiles the rules `source_id` runs with in `task`.
    pub fn for_source(task: &TaskConfig, source_id: &str) -> Result<Self, RuleError> {
        let instance = task
            .instance(source_id)
            .ok_or_else(|| RuleError::UnknownSource(source_id.to_string()))?;
        let cs = task.case_sensitive;

        let block_allow = match &instance.block_allow_list {
            None => BlockAllow::allow_all(),
            Some(name) => {
                let list =
                    task.block_allow_list
                        .get(name)
                        .ok_or_else(|| RuleError::UnknownRule {
                            list: "block-allow-list",
                            section: "block-allow-list",
                            name: name.clone(),
                        })?;
                BlockAllow::new(list, cs).map_err(|e| e.in_rule("block-allow-list", name))?
            }
        };

        let routes = pick(
            &instance.route_rules,
            &task.routes,
            "route-rules",
            "routes",
            |r: &RouteRule| Router::new([r], cs).map(drop),
        )?;
        let router = build(&routes, "routes", |rules| Router::new(rules, cs))?;

        let filters = pick(
            &instance.filter_rules,
            &task.filters,
            "filter-rules",
            "filters",
            |r| BinlogFilter::new([r], cs).map(drop),
        )?;
        let binlog_filter = build(&filters, "filters", |rules| BinlogFilter::new(rules, cs))?;

        let mappings = pick(
            &instance.column_mapping_rules,
            &task.column_mappings,
            "column-mapping-rules",
            "column-mappings",
            |r: &ColumnMappingRule| ColumnMapper::new(r, cs).map(drop),
        )?;
        let column_mappings = build(&mappings, "column-mappings", |rules| {
            ColumnMappings::new(rules, cs)
        })?;

        let expressions = pick(
            &instance.expression_filters,
            &task.expression_filter,
            "expression-filters",
            "expression-filter",
            |_| Ok(()),
        )?;
        let expression_filters = ExpressionFilters::new(expressions, cs)?;

        Ok(TaskRules {
            source_id: source_id.to_string(),
            case_sensitive: cs,
            block_allow,
            router,
            binlog_filter,
            source_filter: BinlogFilter::none(),
            column_mappings,
            expression_filters,
            time_zone: TimeZone::parse(task.session_time_zone()),
        })
    }

    /// These rules with the source file's `filters` (`rules`, in the
    /// file's order) asked after the task's own binlog event filter. An
    /// error names the source file's rule by its place (`filters[i]`).
    pub fn with_source_filters(mut self, rules: &[BinlogEventRule]) -> Result<Self, RuleError> {
        self.source_filter = source_filters(rules, self.case_sensitive)?;
        Ok(self)
    }

    /// The task's timezone, in which expression filters see TIMESTAMP
    /// values (the zone of the task's sessions).
    pub fn time_zone(&self) -> &TimeZone {
        &self.time_zone
    }

    /// The source these rules are for.
    pub fn source_id(&self) -> &str {
        &self.source_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, ColumnValue, EventKind};

    /// The tutorial's dmtask2, trimmed to the keys the rules use, plus a
    /// route and a filter for mysql3.
    const DMTASK2: &str = r#"
name: dmtask2
task-mode: all
target-database:
  host: "127.0.0.1"
  port: 4000
  user: "root"
  password: ""
column-mappings:
  mysql1:
    schema-pattern: "dmtest2"
    table-pattern: "t1"
    expression: "partition id"
    arguments: ["1", "", ""]
    source-column: "id"
    target-column: "id"
  mysql2:
    schema-pattern: "dmtest2"
    table-pattern: "t1"
    expression: "partition id"
    arguments: ["2", "", ""]
    source-column: "id"
    target-column: "id"
  mysql3:
    schema-pattern: "dmtest2"
    table-pattern: "t1"
    expression: "partition id"
    arguments: ["3", "", ""]
    source-column: "id"
    target-column: "id"
routes:
  merge:
    schema-pattern: "dmtest*"
    target-schema: "merged"
filters:
  no-drop:
    schema-pattern: "dmtest2"
    events: ["drop table", "truncate table"]
    action: Ignore
mysql-instances:
  - source-id: "mysql1"
    black-white-list: "dmtest2"
    column-mapping-rules: ["mysql1"]
  - source-id: "mysql2"
    black-white-list: "dmtest2"
    column-mapping-rules: ["mysql2"]
  - source-id: "mysql3"
    black-white-list: "dmtest2"
    column-mapping-rules: ["mysql3"]
    route-rules: ["merge"]
    filter-rules: ["no-drop"]
black-white-list:
  dmtest2:
    do-dbs: ["dmtest2"]
"#;

    fn task(text: &str) -> TaskConfig {
        TaskConfig::parse("task.yaml", text).unwrap()
    }

    #[test]
    fn tutorial_sources_map_372_apart() {
        let task = task(DMTASK2);
        for (source, want) in [
            ("mysql1", 576_460_752_303_423_860_i64),
            ("mysql2", 1_152_921_504_606_847_348),
            ("mysql3", 1_729_382_256_910_270_836),
        ] {
            let rules = TaskRules::for_source(&task, source).unwrap();
            assert!(rules.block_allow.allows("dmtest2", "t1"));
            assert!(!rules.block_allow.allows("dmtest1", "t1"));
            let mut row = vec![
                ColumnValue::Int(372),
                ColumnValue::Str("c".into()),
                ColumnValue::Int(3307),
            ];
            let mapped = rules
                .column_mappings
                .map_row("dmtest2", "t1", &["id", "c", "port"], &mut row)
                .unwrap();
            assert_eq!(mapped, Some(0));
            assert_eq!(row[0], ColumnValue::Int(want), "{source}");
        }
    }

    #[test]
    fn each_source_gets_only_its_rules() {
        let task = task(DMTASK2);
        let one = TaskRules::for_source(&task, "mysql1").unwrap();
        assert!(one.router.is_empty());
        assert!(one.binlog_filter.is_empty());
        assert_eq!(
            one.router.route("dmtest2", "t1").unwrap(),
            ("dmtest2".into(), "t1".into())
        );
        assert_eq!(
            one.binlog_filter
                .decide("dmtest2", "t1", EventKind::DropTable, Some("drop table t1")),
            Action::Do
        );

        let three = TaskRules::for_source(&task, "mysql3").unwrap();
        assert_eq!(three.source_id, "mysql3");
        assert!(!three.case_sensitive);
        assert_eq!(
            three.router.route("DMTest2", "T1").unwrap(),
            ("merged".into(), "T1".into())
        );
        assert_eq!(
            three.binlog_filter.decide(
                "dmtest2",
                "t1",
                EventKind::DropTable,
                Some("drop table t1")
            ),
            Action::Ignore
        );
        assert_eq!(
            three
                .binlog_filter
                .decide("dmtest2", "t1", EventKind::Insert, None),
            Action::Do
        );
        let mapper = three
            .column_mappings
            .mapper_for("dmtest2", "t1")
            .unwrap()
            .unwrap();
        assert_eq!(mapper.partition_args().unwrap().instance_id, "3");
        assert!(three
            .column_mappings
            .mapper_for("dmtest2", "t2")
            .unwrap()
            .is_none());
    }

    #[test]
    fn unknown_source_and_rule_names() {
        let task = task(DMTASK2);
        let err = TaskRules::for_source(&task, "mysql9").unwrap_err();
        assert_eq!(
            err.to_string(),
            "source mysql9 is not an instance of this task"
        );

        // Validation refuses unknown names in files; a config built in code
        // can still carry one.
        let mut bad = task.clone();
        bad.mysql_instances[0]
            .column_mapping_rules
            .push("nope".into());
        let err = TaskRules::for_source(&bad, "mysql1").unwrap_err();
        assert!(
            matches!(
                err,
                RuleError::UnknownRule {
                    section: "column-mappings",
                    ..
                }
            ),
            "{err}"
        );
        let mut bad = task.clone();
        bad.mysql_instances[0].block_allow_list = Some("nope".into());
        assert!(TaskRules::for_source(&bad, "mysql1").is_err());
    }

    #[test]
    fn two_mapping_rules_for_one_table_are_an_error_when_used() {
        let mut task = task(DMTASK2);
        task.mysql_instances[0].column_mapping_rules = vec!["mysql1".into()];
        // A second rule on the same table with a different pattern spelling.
        let mut other = task.column_mappings["mysql2"].clone();
        other.table_pattern = "t?".into();
        task.column_mappings.insert("other".into(), other);
        task.mysql_instances[0]
            .column_mapping_rules
            .push("other".into());
        let rules = TaskRules::for_source(&task, "mysql1").unwrap();
        let err = rules
            .column_mappings
            .mapper_for("dmtest2", "t1")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`dmtest2`.`t1` matches 2 table column mapping rules which should be one. It's not supported"
        );
        // `t2` only matches `t?`.
        assert!(rules
            .column_mappings
            .mapper_for("dmtest2", "t2")
            .unwrap()
            .is_some());
    }

    #[test]
    fn errors_name_the_rule() {
        let mut task = task(DMTASK2);
        // Same pattern pair as mysql1: refused when the set is built.
        task.mysql_instances[0]
            .column_mapping_rules
            .push("mysql2".into());
        let err = TaskRules::for_source(&task, "mysql1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column-mappings.mysql2: column mapping: pattern `dmtest2`.`t1` already exists"
        );

        let mut task = self::task(DMTASK2);
        task.column_mappings.get_mut("mysql1").unwrap().arguments =
            vec!["16".into(), "".into(), "".into()];
        let err = TaskRules::for_source(&task, "mysql1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "column-mappings.mysql1: strconv.ParseUint: parsing \"16\": value out of range"
        );

        let mut task = self::task(DMTASK2);
        task.block_allow_list.get_mut("dmtest2").unwrap().do_dbs = vec!["~(".into()];
        let err = TaskRules::for_source(&task, "mysql1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("block-allow-list.dmtest2: invalid regular expression"),
            "{err}"
        );
    }

    #[test]
    fn case_sensitive_tasks_keep_case() {
        let text = DMTASK2.replace("task-mode: all", "task-mode: all\ncase-sensitive: true");
        let task = task(&text);
        let rules = TaskRules::for_source(&task, "mysql3").unwrap();
        assert!(rules.case_sensitive);
        assert!(!rules.block_allow.allows("DMTEST2", "t1"));
        assert_eq!(
            rules.router.route("DMTEST2", "t1").unwrap(),
            ("DMTEST2".into(), "t1".into())
        );
        assert!(rules
            .column_mappings
            .mapper_for("DMTEST2", "t1")
            .unwrap()
            .is_none());
    }

    #[test]
    fn instances_without_lists_allow_everything_but_system_schemas() {
        let text = DMTASK2
            .replace("    black-white-list: \"dmtest2\"\n", "")
            .replace(
                "black-white-list:\n  dmtest2:\n    do-dbs: [\"dmtest2\"]\n",
                "",
            );
        let task = task(&text);
        let rules = TaskRules::for_source(&task, "mysql1").unwrap();
        assert!(rules.block_allow.allows("anything", "t"));
        assert!(!rules.block_allow.allows("mysql", "user"));
    }

    /// The `filters` of a source file whose `filters:` list is `rules`.
    fn source_filters_of(rules: &str) -> Vec<BinlogEventRule> {
        let text = format!(
            "source-id: s\nfrom:\n  host: 127.0.0.1\n  port: 3306\n  user: root\nfilters:\n{}",
            rules
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        dm_proto::config::SourceConfig::parse("source.yaml", &text)
            .unwrap()
            .filters
    }

    #[test]
    fn source_filters_apply_after_the_tasks_even_on_the_same_tables() {
        // mysql3's task rule ignores `drop table` and `truncate table` on
        // dmtest2; the source's rule, on the same pattern, ignores deletes.
        let source = source_filters_of(
            "- schema-pattern: \"dmtest2\"\n  events: [\"delete\"]\n  action: Ignore\n",
        );
        let rules = TaskRules::for_source(&task(DMTASK2), "mysql3")
            .unwrap()
            .with_source_filters(&source)
            .unwrap();
        let dropped = |kind| {
            matches!(
                rules.rows("dmtest2", "t1", kind).unwrap(),
                crate::Fate::Dropped(crate::Dropped::Filtered)
            )
        };
        assert!(dropped(EventKind::Delete));
        assert!(!dropped(EventKind::Insert));
        assert!(matches!(
            rules
                .statement(
                    "dmtest2",
                    "t1",
                    EventKind::TruncateTable,
                    "TRUNCATE TABLE t1"
                )
                .unwrap(),
            crate::Fate::Dropped(crate::Dropped::Filtered)
        ));
    }

    #[test]
    fn a_bad_source_filter_is_named_by_its_place() {
        let source = source_filters_of(
            "- schema-pattern: \"a\"\n  events: [\"delete\"]\n  action: Ignore\n\
             - schema-pattern: \"b\"\n  sql-pattern: [\"(\"]\n  action: Ignore\n",
        );
        let err = source_filters(&source, false).unwrap_err().to_string();
        assert!(err.starts_with("source.filters[1]: "), "{err}");
    }
}
