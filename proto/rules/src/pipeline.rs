//! The one way through a task's rules.
//!
//! Every part of the cluster that decides where data goes asks
//! [`TaskRules`] here, and nowhere else: the sync (row events and DDL), the
//! full copy (which tables, their targets, mapped values), `check-diff`'s
//! planner and the pre-checks. So they cannot disagree about which table
//! goes where.
//!
//! The order is DM's:
//!
//! 1. the system schemas DM never migrates, then the block-allow list
//!    ([`TaskRules::selects`]): a table that fails is not read at all;
//! 2. for an event, the binlog event filter (`filters`), which sees the
//!    event's kind and, for a statement, its text: the task's rules, then
//!    the source file's `filters`;
//! 3. the route (`routes`) to the downstream table;
//! 4. the column mapping (`column-mappings`) of the values, which a
//!    [`Route`] carries and applies one value at a time;
//! 5. the expression filters (`expression-filter`) of the row changes,
//!    which a [`Route`] also carries and decides one row at a time
//!    ([`Route::drops_insert`], [`Route::drops_update`],
//!    [`Route::drops_delete`]; the full copy asks `drops_insert` of each
//!    row it reads). Their expressions see the upstream values, before
//!    any column mapping.
//!
//! Each step either drops the table or event ([`Fate::Dropped`], with the
//! step that dropped it) or passes it on; a rule that cannot decide (two
//! routes match, two mappings match) is an error, as in DM, which names
//! the step ([`PipelineError`]).

use std::borrow::Cow;

use crate::binlog_filter::{Action, EventKind};
use crate::column_mapping::{ColumnMapper, ColumnValue};
use crate::error::RuleError;
use crate::expr::{Row, TableFilters};
use crate::pattern::fold;
use crate::task::TaskRules;

/// A rule that could not decide, by the step it belongs to. Displays as
/// the rule's own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// The routes (e.g. two rules of one level match).
    #[error("{0}")]
    Route(Box<RuleError>),
    /// The column mappings (e.g. two rules of one level match), of a table
    /// routed to `target`.
    #[error("{error}")]
    Mapping {
        target: (String, String),
        error: Box<RuleError>,
    },
}

/// What the rules make of a table, an event or a statement.
#[derive(Debug, Clone)]
pub enum Fate<'r> {
    /// Not migrated; which step dropped it.
    Dropped(Dropped),
    /// Migrated to the route's target.
    Routed(Route<'r>),
}

/// The step of the pipeline that dropped a table or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// A system schema, or not selected by the block-allow list.
    NotSelected,
    /// A binlog event filter ignores it.
    Filtered,
}

/// Where an upstream table goes, and how its values are rewritten.
#[derive(Debug, Clone)]
pub struct Route<'r> {
    /// The upstream schema and table.
    pub source: (String, String),
    /// The downstream schema and table.
    pub target: (String, String),
    mapper: Option<&'r ColumnMapper>,
    filters: Option<&'r TableFilters>,
}

impl<'r> Route<'r> {
    /// The column-mapping rule of this table, if one applies.
    pub fn mapper(&self) -> Option<&'r ColumnMapper> {
        self.mapper
    }

    /// The column a column-mapping rule rewrites, if one applies.
    pub fn mapped_column(&self) -> Option<&'r str> {
        self.mapper.map(ColumnMapper::target_column)
    }

    /// Whether an expression filter decides changes of `kind` (row
    /// images need converting only then).
    pub fn filters_rows(&self, kind: EventKind) -> bool {
        self.filters.is_some_and(|f| match kind {
            EventKind::Insert => f.filters_inserts(),
            EventKind::Update => f.filters_updates(),
            EventKind::Delete => f.filters_deletes(),
            _ => false,
        })
    }

    /// Whether expression filters may drop rows of this table (of any
    /// kind of change).
    pub fn filters_any_rows(&self) -> bool {
        self.filters.is_some()
    }

    /// The condition the full copy's query takes for this table's insert
    /// expression filters ([`TableFilters::copy_condition`]).
    pub fn copy_condition(&self) -> Option<String> {
        self.filters.and_then(TableFilters::copy_condition)
    }

    /// The columns the expression filters for `kind` read.
    pub fn filter_columns(&self, kind: EventKind) -> Vec<&'r str> {
        self.filters.map_or_else(Vec::new, |f| f.columns(kind))
    }

    /// Whether an expression filter drops an inserted (or copied) row.
    pub fn drops_insert(&self, row: &Row<'_>) -> Result<bool, RuleError> {
        self.filters.map_or(Ok(false), |f| f.drops_insert(row))
    }

    /// Whether an expression filter drops an update from `old` to `new`.
    pub fn drops_update(&self, old: &Row<'_>, new: &Row<'_>) -> Result<bool, RuleError> {
        self.filters.map_or(Ok(false), |f| f.drops_update(old, new))
    }

    /// Whether an expression filter drops a deleted row.
    pub fn drops_delete(&self, row: &Row<'_>) -> Result<bool, RuleError> {
        self.filters.map_or(Ok(false), |f| f.drops_delete(row))
    }

    /// The mapped value of the rewritten column (at `position` among the
    /// row's columns, for messages); the value itself without a rule.
    pub fn map_value(
        &self,
        position: usize,
        value: &ColumnValue,
    ) -> Result<ColumnValue, RuleError> {
        match self.mapper {
            Some(mapper) => mapper.map_value(&self.source.0, &self.source.1, position, value),
            None => Ok(value.clone()),
        }
    }
}

impl TaskRules {
    /// Whether `schema`.`table` is read at all: not a system schema, and
    /// selected by the block-allow list. An empty `table` asks about the
    /// schema itself, as [`Self::selects_schema`].
    pub fn selects(&self, schema: &str, table: &str) -> bool {
        self.block_allow.allows(schema, table)
    }

    /// Whether statements on `schema` itself, and the schema as a whole,
    /// are selected.
    pub fn selects_schema(&self, schema: &str) -> bool {
        self.block_allow.allows_schema(schema)
    }

    /// The downstream `(schema, table)` of `schema`.`table`, whether or not
    /// it is selected (a statement routes the tables it only refers to,
    /// such as the source of `CREATE TABLE ... LIKE`). An empty `table`
    /// routes the schema.
    pub fn route(&self, schema: &str, table: &str) -> Result<(String, String), RuleError> {
        self.router.route(schema, table)
    }

    /// A table's fate in the full copy, `check-diff` and the pre-checks:
    /// selection, route and column mapping.
    pub fn table(&self, schema: &str, table: &str) -> Result<Fate<'_>, PipelineError> {
        if !self.selects(schema, table) {
            return Ok(Fate::Dropped(Dropped::NotSelected));
        }
        self.routed(schema, table)
    }

    /// A row event's fate in the sync: selection, the event filter for
    /// `kind`, route and column mapping.
    pub fn rows(
        &self,
        schema: &str,
        table: &str,
        kind: EventKind,
    ) -> Result<Fate<'_>, PipelineError> {
        if !self.selects(schema, table) {
            return Ok(Fate::Dropped(Dropped::NotSelected));
        }
        if self.filtered(schema, table, kind, None) {
            return Ok(Fate::Dropped(Dropped::Filtered));
        }
        self.routed(schema, table)
    }

    /// The fate of a statement `sql` of `kind` on `schema`.`table` (an
    /// empty `table`: on the schema itself): selection, the event filter
    /// with the statement's text, route. Column mappings do not apply to
    /// statements.
    pub fn statement(
        &self,
        schema: &str,
        table: &str,
        kind: EventKind,
        sql: &str,
    ) -> Result<Fate<'_>, PipelineError> {
        if !self.selects(schema, table) {
            return Ok(Fate::Dropped(Dropped::NotSelected));
        }
        if self.filtered(schema, table, kind, Some(sql)) {
            return Ok(Fate::Dropped(Dropped::Filtered));
        }
        Ok(Fate::Routed(Route {
            source: (schema.to_string(), table.to_string()),
            target: self
                .route(schema, table)
                .map_err(|e| PipelineError::Route(Box::new(e)))?,
            mapper: None,
            filters: None,
        }))
    }

    /// The key two routed names share when they name one downstream table
    /// (or schema): folded to lower case unless the task is case-sensitive.
    pub fn target_key<'a>(&self, schema: &'a str, table: &'a str) -> (Cow<'a, str>, Cow<'a, str>) {
        (
            fold(schema, self.case_sensitive),
            fold(table, self.case_sensitive),
        )
    }

    /// Whether the task's binlog event filter, or then the source's,
    /// ignores the event.
    fn filtered(&self, schema: &str, table: &str, kind: EventKind, sql: Option<&str>) -> bool {
        [&self.binlog_filter, &self.source_filter]
            .iter()
            .any(|filter| filter.decide(schema, table, kind, sql) == Action::Ignore)
    }

    fn routed(&self, schema: &str, table: &str) -> Result<Fate<'_>, PipelineError> {
        let target = self
            .route(schema, table)
            .map_err(|e| PipelineError::Route(Box::new(e)))?;
        let mapper = match self.column_mappings.mapper_for(schema, table) {
            Ok(mapper) => mapper,
            Err(error) => {
                return Err(PipelineError::Mapping {
                    target,
                    error: Box::new(error),
                })
            }
        };
        Ok(Fate::Routed(Route {
            source: (schema.to_string(), table.to_string()),
            target,
            mapper,
            filters: self.expression_filters.for_table(schema, table),
        }))
    }
}

#[cfg(test)]
mod tests {
    use dm_proto::config::TaskConfig;

    use super::*;

    /// Two sources merged into one table: `s1` through a route, a filter
    /// that ignores deletes and drops, and a partition-id mapping; `s2`
    /// with two mappings that both match `db`.`t`.
    const TASK: &str = r#"
name: merge
task-mode: all
target-database: {host: "127.0.0.1", port: 4000, user: "root", password: ""}
block-allow-list:
  only-db: {do-dbs: ["db"]}
routes:
  merge: {schema-pattern: "db", table-pattern: "t*", target-schema: "all", target-table: "T"}
filters:
  no-delete: {schema-pattern: "db", table-pattern: "t*", events: ["delete", "drop table"], action: Ignore}
column-mappings:
  id1: {schema-pattern: "db", table-pattern: "t*", expression: "partition id", arguments: ["1", "", ""], source-column: "id", target-column: "id"}
  id2: {schema-pattern: "db", table-pattern: "t?", expression: "partition id", arguments: ["2", "", ""], source-column: "id", target-column: "id"}
mysql-instances:
  - {source-id: "s1", block-allow-list: "only-db", route-rules: ["merge"], filter-rules: ["no-delete"], column-mapping-rules: ["id1"]}
  - {source-id: "s2", block-allow-list: "only-db", route-rules: ["merge"], column-mapping-rules: ["id1", "id2"]}
"#;

    fn rules(source: &str) -> TaskRules {
        let task = TaskConfig::parse("task.yaml", TASK).unwrap();
        TaskRules::for_source(&task, source).unwrap()
    }

    fn target<'a>(fate: &'a Fate<'_>) -> &'a (String, String) {
        match fate {
            Fate::Routed(route) => &route.target,
            Fate::Dropped(d) => panic!("dropped: {d:?}"),
        }
    }

    #[test]
    fn system_schemas_and_the_block_allow_list_come_first() {
        let r = rules("s1");
        for (schema, table) in [("mysql", "user"), ("other", "t1")] {
            assert!(!r.selects(schema, table));
            for fate in [
                r.table(schema, table).unwrap(),
                r.rows(schema, table, EventKind::Insert).unwrap(),
                r.statement(
                    schema,
                    table,
                    EventKind::CreateTable,
                    "CREATE TABLE x (a INT)",
                )
                .unwrap(),
            ] {
                assert!(
                    matches!(fate, Fate::Dropped(Dropped::NotSelected)),
                    "{fate:?}"
                );
            }
        }
        assert!(r.selects_schema("db"));
        assert!(!r.selects_schema("information_schema"));
    }

    #[test]
    fn the_event_filter_drops_events_not_tables() {
        let r = rules("s1");
        assert_eq!(target(&r.table("db", "t1").unwrap()).1, "T");
        assert!(matches!(
            r.rows("db", "t1", EventKind::Delete).unwrap(),
            Fate::Dropped(Dropped::Filtered)
        ));
        assert!(matches!(
            r.statement("db", "t1", EventKind::DropTable, "DROP TABLE t1")
                .unwrap(),
            Fate::Dropped(Dropped::Filtered)
        ));
        let insert = r.rows("db", "t1", EventKind::Insert).unwrap();
        assert_eq!(target(&insert), &("all".to_string(), "T".to_string()));
    }

    #[test]
    fn a_route_carries_its_column_mapping() {
        let r = rules("s1");
        let Fate::Routed(route) = r.rows("db", "t2", EventKind::Update).unwrap() else {
            panic!("dropped")
        };
        assert_eq!(route.source, ("db".to_string(), "t2".to_string()));
        assert_eq!(route.mapped_column(), Some("id"));
        let mapped = route.map_value(0, &ColumnValue::Int(5)).unwrap();
        assert_ne!(mapped, ColumnValue::Int(5));
        // A statement is never mapped.
        let ddl = r
            .statement(
                "db",
                "t2",
                EventKind::AlterTable,
                "ALTER TABLE t2 ADD c INT",
            )
            .unwrap();
        let Fate::Routed(ddl) = ddl else {
            panic!("dropped")
        };
        assert_eq!(ddl.mapped_column(), None);
        assert_eq!(
            ddl.map_value(0, &ColumnValue::Int(5)).unwrap(),
            ColumnValue::Int(5)
        );
    }

    #[test]
    fn an_undecided_mapping_names_its_step_and_keeps_the_target() {
        let r = rules("s2");
        match r.table("db", "t1") {
            Err(PipelineError::Mapping { target, error }) => {
                assert_eq!(target, ("all".to_string(), "T".to_string()));
                assert!(matches!(*error, RuleError::AmbiguousColumnMapping { .. }));
            }
            other => panic!("{other:?}"),
        }
        // Tables only: the schema has no mapping to decide.
        assert!(r
            .statement("db", "", EventKind::CreateDatabase, "CREATE DATABASE db")
            .is_ok());
    }

    #[test]
    fn target_keys_fold_unless_case_sensitive() {
        let r = rules("s1");
        assert_eq!(
            r.target_key("All", "T"),
            (Cow::Borrowed("all"), Cow::Borrowed("t"))
        );
    }
}
