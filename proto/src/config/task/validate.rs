//! Semantic checks of a parsed task, each naming the key it is about.
//!
//! serde already rejected unknown keys, wrong types and invalid enum values;
//! what is left is what a single key cannot say on its own: references
//! between sections, uniqueness, argument counts, ranges. The first problem
//! found is returned, in document order as far as practical.

use crate::config::ValueError;
use std::collections::{BTreeMap, HashMap};

use super::{
    BlockAllowList, ColumnMappingRule, ExpressionFilter, ImportMode, LoaderConfig,
    MappingExpression, MySqlInstance, RouteRule, TaskConfig, MAX_SOURCE_ID_LEN,
};
use crate::config::error::ConfigError;
use crate::config::yaml::KeyIndex;

/// Largest instance id of a `partition id` column mapping (4 bits).
pub const MAX_PARTITION_INSTANCE_ID: u64 = 15;

pub(super) fn validate(task: &TaskConfig, index: &KeyIndex) -> Result<(), ConfigError> {
    let fail = |path: &str, message: String| Err(index.invalid(path, message));

    if task.name.trim().is_empty() {
        return fail("name", "must not be empty; give the task a name".into());
    }
    if task.meta_schema.trim().is_empty() {
        return fail(
            "meta-schema",
            format!(
                "must not be empty (default `{}`)",
                super::DEFAULT_META_SCHEMA
            ),
        );
    }
    if let Err((path, message)) = task.target_database.validate("target-database") {
        return fail(&path, message);
    }
    if let Err(message) = check_time_zone(&task.timezone) {
        return fail("timezone", message.to_string());
    }
    if task.mysql_instances.is_empty() {
        return fail(
            "mysql-instances",
            "must list at least one source (`- source-id: ...`)".into(),
        );
    }

    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, instance) in task.mysql_instances.iter().enumerate() {
        let base = format!("mysql-instances[{i}]");
        let id = instance.source_id.as_str();
        if id.is_empty() {
            return fail(
                &format!("{base}.source-id"),
                "must not be empty; give the source-id of a source created with `operate-source create`".into(),
            );
        }
        if id.len() > MAX_SOURCE_ID_LEN {
            return fail(
                &format!("{base}.source-id"),
                format!(
                    "\"{id}\" is {} characters long; at most {MAX_SOURCE_ID_LEN} are allowed",
                    id.len()
                ),
            );
        }
        if let Some(first) = seen.insert(id, i) {
            let first_at = index.locate(&format!("mysql-instances[{first}].source-id"));
            let line = first_at
                .line
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            return fail(
                &format!("{base}.source-id"),
                format!("duplicate source-id \"{id}\" (already used by mysql-instances[{first}]{line}); each source may appear once in a task"),
            );
        }
        check_instance(task, instance, &base).map_err(|(p, m)| index.invalid(&p, m))?;
    }

    check_sections(task).map_err(|(p, m)| index.invalid(&p, m))?;
    check_unused(task).map_err(|(p, m)| index.invalid(&p, m))?;
    Ok(())
}

type Problem = (String, String);

fn check_instance(task: &TaskConfig, inst: &MySqlInstance, base: &str) -> Result<(), Problem> {
    // An incremental instance without `meta` is decided by the pre-check,
    // which knows whether it resumes at checkpoints or starts at a
    // `--start-time` (master `precheck::position::missing_meta`).
    match &inst.meta {
        Some(meta) if meta.binlog_name.is_empty() && meta.binlog_gtid.is_empty() => {
            return Err((
                format!("{base}.meta"),
                "needs `binlog-name` (with `binlog-pos`) or `binlog-gtid`".into(),
            ));
        }
        _ => {}
    }

    check_refs(
        &inst.route_rules,
        &task.routes,
        &format!("{base}.route-rules"),
        "route",
        "routes",
    )?;
    check_refs(
        &inst.filter_rules,
        &task.filters,
        &format!("{base}.filter-rules"),
        "filter",
        "filters",
    )?;
    check_refs(
        &inst.column_mapping_rules,
        &task.column_mappings,
        &format!("{base}.column-mapping-rules"),
        "column mapping",
        "column-mappings",
    )?;
    check_refs(
        &inst.expression_filters,
        &task.expression_filter,
        &format!("{base}.expression-filters"),
        "expression filter",
        "expression-filter",
    )?;
    if let Some(name) = &inst.block_allow_list {
        check_ref(
            name,
            &task.block_allow_list,
            &format!("{base}.block-allow-list"),
            "block-allow-list",
            "block-allow-list",
        )?;
    }

    check_unit(
        base,
        "mydumper",
        inst.mydumper_config_name.as_deref(),
        inst.mydumper.is_some(),
        &task.mydumpers,
    )?;
    check_unit(
        base,
        "loader",
        inst.loader_config_name.as_deref(),
        inst.loader.is_some(),
        &task.loaders,
    )?;
    check_unit(
        base,
        "syncer",
        inst.syncer_config_name.as_deref(),
        inst.syncer.is_some(),
        &task.syncers,
    )?;
    for (key, value) in [
        ("mydumper-thread", inst.mydumper_thread),
        ("loader-thread", inst.loader_thread),
        ("syncer-thread", inst.syncer_thread),
    ] {
        if value == Some(0) {
            return Err((format!("{base}.{key}"), "must be at least 1".into()));
        }
    }
    if let Some(cfg) = &inst.mydumper {
        positive(cfg.threads, &format!("{base}.mydumper.threads"))?;
        row_filter(&cfg.where_clause, &format!("{base}.mydumper.where"))?;
    }
    if let Some(cfg) = &inst.loader {
        check_loader(cfg, &format!("{base}.loader"))?;
    }
    if let Some(cfg) = &inst.syncer {
        positive(cfg.worker_count, &format!("{base}.syncer.worker-count"))?;
        positive(cfg.batch, &format!("{base}.syncer.batch"))?;
    }
    Ok(())
}

/// `names` must each be defined in `section`, once.
fn check_refs<T>(
    names: &[String],
    section: &BTreeMap<String, T>,
    path: &str,
    what: &str,
    section_key: &str,
) -> Result<(), Problem> {
    for (j, name) in names.iter().enumerate() {
        if names[..j].contains(name) {
            return Err((
                format!("{path}[{j}]"),
                format!("{what} rule \"{name}\" is listed twice"),
            ));
        }
        check_ref(name, section, &format!("{path}[{j}]"), what, section_key)?;
    }
    Ok(())
}

fn check_ref<T>(
    name: &str,
    section: &BTreeMap<String, T>,
    path: &str,
    what: &str,
    section_key: &str,
) -> Result<(), Problem> {
    if section.contains_key(name) {
        return Ok(());
    }
    let defined = if section.is_empty() {
        format!("the task has no `{section_key}` section")
    } else {
        format!(
            "`{section_key}` defines: {}",
            section.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    Err((
        path.to_string(),
        format!("{what} rule \"{name}\" is not defined; {defined}"),
    ))
}

fn check_unit<T>(
    base: &str,
    unit: &str,
    name: Option<&str>,
    has_inline: bool,
    sections: &BTreeMap<String, T>,
) -> Result<(), Problem> {
    let name_key = format!("{base}.{unit}-config-name");
    if let Some(name) = name {
        if has_inline {
            return Err((
                format!("{base}.{unit}"),
                format!("set either `{unit}-config-name` or an inline `{unit}` block, not both"),
            ));
        }
        let section_key = format!("{unit}s");
        if !sections.contains_key(name) {
            let defined = if sections.is_empty() {
                format!("the task has no `{section_key}` section")
            } else {
                format!(
                    "`{section_key}` defines: {}",
                    sections.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            return Err((
                name_key,
                format!("{unit} config \"{name}\" is not defined; {defined}"),
            ));
        }
    }
    Ok(())
}

/// `where` (a mydumper section's row filter): empty, or one SQL condition.
fn row_filter(condition: &str, path: &str) -> Result<(), Problem> {
    if condition.trim().is_empty() {
        return Ok(());
    }
    super::row_filter::check(condition).map_err(|reason| (path.to_string(), reason))
}

fn positive(value: u32, path: &str) -> Result<(), Problem> {
    if value == 0 {
        return Err((path.to_string(), "must be at least 1".into()));
    }
    Ok(())
}

fn check_sections(task: &TaskConfig) -> Result<(), Problem> {
    for (name, rule) in &task.routes {
        check_route(rule, &format!("routes.{name}"))?;
    }
    for (name, rule) in &task.filters {
        let base = format!("filters.{name}");
        non_empty(&rule.schema_pattern, &format!("{base}.schema-pattern"))?;
        for (j, pattern) in rule.sql_pattern.iter().enumerate() {
            check_regex(pattern, format!("{base}.sql-pattern[{j}]"))?;
        }
    }
    for (name, rule) in &task.column_mappings {
        check_column_mapping(rule, &format!("column-mappings.{name}"))?;
    }
    for (name, rule) in &task.expression_filter {
        check_expression_filter(rule, &format!("expression-filter.{name}"))?;
    }
    for (name, list) in &task.block_allow_list {
        check_block_allow_list(list, &format!("block-allow-list.{name}"))?;
    }
    for (name, cfg) in &task.mydumpers {
        positive(cfg.threads, &format!("mydumpers.{name}.threads"))?;
        row_filter(&cfg.where_clause, &format!("mydumpers.{name}.where"))?;
    }
    for (name, cfg) in &task.loaders {
        check_loader(cfg, &format!("loaders.{name}"))?;
    }
    for (name, cfg) in &task.syncers {
        positive(cfg.worker_count, &format!("syncers.{name}.worker-count"))?;
        positive(cfg.batch, &format!("syncers.{name}.batch"))?;
    }
    Ok(())
}

fn check_loader(cfg: &LoaderConfig, path: &str) -> Result<(), Problem> {
    positive(cfg.pool_size, &format!("{path}.pool-size"))?;
    if cfg.import_mode == ImportMode::Physical {
        return Err((
            format!("{path}.import-mode"),
            "physical import (TiDB Lightning's local backend) is not supported: the full copy writes rows as SQL statements; set import-mode: logical".into(),
        ));
    }
    Ok(())
}

fn non_empty(value: &str, path: &str) -> Result<(), Problem> {
    if value.trim().is_empty() {
        return Err((path.to_string(), "must not be empty".into()));
    }
    Ok(())
}

/// A regular expression must compile; the error is kept on one line.
fn check_regex(pattern: &str, path: String) -> Result<(), Problem> {
    match regex::Regex::new(pattern) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            let reason = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or("cannot be compiled");
            Err((
                path,
                format!("\"{pattern}\" is not a valid regular expression: {reason}"),
            ))
        }
    }
}

fn check_route(rule: &RouteRule, base: &str) -> Result<(), Problem> {
    non_empty(&rule.schema_pattern, &format!("{base}.schema-pattern"))?;
    non_empty(&rule.target_schema, &format!("{base}.target-schema"))?;
    if rule.table_pattern.is_empty() && !rule.target_table.is_empty() {
        return Err((
            format!("{base}.target-table"),
            "needs a `table-pattern`: a schema-level route (no table-pattern) moves whole schemas and cannot name a target table".into(),
        ));
    }
    Ok(())
}

fn check_column_mapping(rule: &ColumnMappingRule, base: &str) -> Result<(), Problem> {
    non_empty(&rule.schema_pattern, &format!("{base}.schema-pattern"))?;
    non_empty(&rule.target_column, &format!("{base}.target-column"))?;
    let args = &rule.arguments;
    match rule.expression {
        MappingExpression::PartitionId => {
            if args.len() != 3 && args.len() != 4 {
                return Err((
                    format!("{base}.arguments"),
                    format!(
                        "`partition id` takes 3 or 4 arguments [instance id, schema prefix, table prefix, (separator)], got {}",
                        args.len()
                    ),
                ));
            }
            let instance = args[0].as_str();
            if !instance.is_empty() {
                match instance.parse::<u64>() {
                    Err(_) => {
                        return Err((
                            format!("{base}.arguments[0]"),
                            format!("instance id \"{instance}\" is not a number; give an integer from 0 to {MAX_PARTITION_INSTANCE_ID}, or \"\" to reserve no instance bits"),
                        ))
                    }
                    Ok(id) if id > MAX_PARTITION_INSTANCE_ID => {
                        return Err((
                            format!("{base}.arguments[0]"),
                            format!("instance id {id} does not fit in 4 bits; give an integer from 0 to {MAX_PARTITION_INSTANCE_ID}"),
                        ))
                    }
                    Ok(_) => {}
                }
            }
        }
        MappingExpression::AddPrefix | MappingExpression::AddSuffix => {
            if args.len() != 1 {
                let what = if rule.expression == MappingExpression::AddPrefix {
                    "add prefix` takes 1 argument [prefix]"
                } else {
                    "add suffix` takes 1 argument [suffix]"
                };
                return Err((
                    format!("{base}.arguments"),
                    format!("`{what}, got {}", args.len()),
                ));
            }
        }
    }
    Ok(())
}

fn check_expression_filter(rule: &ExpressionFilter, base: &str) -> Result<(), Problem> {
    non_empty(&rule.schema, &format!("{base}.schema"))?;
    non_empty(&rule.table, &format!("{base}.table"))?;
    let kinds = [
        !rule.insert_value_expr.is_empty(),
        !rule.update_old_value_expr.is_empty() || !rule.update_new_value_expr.is_empty(),
        !rule.delete_value_expr.is_empty(),
    ];
    let count = kinds.iter().filter(|k| **k).count();
    if count != 1 {
        return Err((
            base.to_string(),
            format!("needs exactly one kind of expression (insert-value-expr, update-old-value-expr / update-new-value-expr, or delete-value-expr), found {count}"),
        ));
    }
    Ok(())
}

fn check_block_allow_list(list: &BlockAllowList, base: &str) -> Result<(), Problem> {
    let check_pattern = |pattern: &str, path: String| -> Result<(), Problem> {
        if let Some(re) = pattern.strip_prefix('~') {
            check_regex(re, path)?;
        } else if pattern.is_empty() {
            return Err((path, "must not be empty".into()));
        }
        Ok(())
    };
    for (key, dbs) in [("do-dbs", &list.do_dbs), ("ignore-dbs", &list.ignore_dbs)] {
        for (j, db) in dbs.iter().enumerate() {
            check_pattern(db, format!("{base}.{key}[{j}]"))?;
        }
    }
    for (key, tables) in [
        ("do-tables", &list.do_tables),
        ("ignore-tables", &list.ignore_tables),
    ] {
        for (j, table) in tables.iter().enumerate() {
            check_pattern(&table.db_name, format!("{base}.{key}[{j}].db-name"))?;
            check_pattern(&table.tbl_name, format!("{base}.{key}[{j}].tbl-name"))?;
        }
    }
    Ok(())
}

/// DM rejects global sections that no instance references
/// (ErrConfigGlobalConfigsUnused): they are almost always a typo.
fn check_unused(task: &TaskConfig) -> Result<(), Problem> {
    let insts = &task.mysql_instances;
    let unused = |section: &str,
                  names: Vec<&String>,
                  used: &dyn Fn(&MySqlInstance, &str) -> bool,
                  list_key: &str| {
        for name in names {
            if !insts.iter().any(|i| used(i, name)) {
                return Err((
                    format!("{section}.{name}"),
                    format!("\"{name}\" is defined but no mysql-instance uses it; reference it in `{list_key}` or remove it"),
                ));
            }
        }
        Ok(())
    };
    unused(
        "routes",
        task.routes.keys().collect(),
        &|i, n| i.route_rules.iter().any(|r| r == n),
        "route-rules",
    )?;
    unused(
        "filters",
        task.filters.keys().collect(),
        &|i, n| i.filter_rules.iter().any(|r| r == n),
        "filter-rules",
    )?;
    unused(
        "column-mappings",
        task.column_mappings.keys().collect(),
        &|i, n| i.column_mapping_rules.iter().any(|r| r == n),
        "column-mapping-rules",
    )?;
    unused(
        "expression-filter",
        task.expression_filter.keys().collect(),
        &|i, n| i.expression_filters.iter().any(|r| r == n),
        "expression-filters",
    )?;
    unused(
        "block-allow-list",
        task.block_allow_list.keys().collect(),
        &|i, n| i.block_allow_list.as_deref() == Some(n),
        "block-allow-list",
    )?;
    unused(
        "mydumpers",
        task.mydumpers.keys().collect(),
        &|i, n| i.mydumper_config_name.as_deref() == Some(n),
        "mydumper-config-name",
    )?;
    unused(
        "loaders",
        task.loaders.keys().collect(),
        &|i, n| i.loader_config_name.as_deref() == Some(n),
        "loader-config-name",
    )?;
    unused(
        "syncers",
        task.syncers.keys().collect(),
        &|i, n| i.syncer_config_name.as_deref() == Some(n),
        "syncer-config-name",
    )?;
    Ok(())
}

/// `timezone`: empty (UTC), an offset such as `+08:00`, or a named zone the
/// servers know (`Asia/Shanghai`); not `SYSTEM`/`Local`, which would make
/// the sessions' zone depend on where the servers run.
fn check_time_zone(zone: &str) -> Result<(), ValueError> {
    if zone.is_empty() {
        return Ok(());
    }
    if zone.eq_ignore_ascii_case("SYSTEM") || zone.eq_ignore_ascii_case("Local") {
        return Err(ValueError::LocalTimeZone(zone.to_string()));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | ':' | '/' | '_');
    if !zone.chars().all(allowed) {
        return Err(ValueError::NotTimeZone(zone.to_string()));
    }
    Ok(())
}
