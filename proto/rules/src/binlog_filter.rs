//! Binlog event filters (`filters`): which row events and DDL statements of a
//! table are applied downstream.
//!
//! Follows tidb-tools `pkg/binlog-filter` (915b22e4) as DM 2.0.7 uses it:
//!
//! * Rules are selected by `(schema-pattern, table-pattern)` like routes (see
//!   [`super::pattern`]); duplicate pairs are refused. No matching rule: `Do`.
//! * Every matching rule (schema and table level alike) is checked; the first
//!   one that says `Ignore` decides, otherwise the event is done. For a rule:
//!   - if the event has a kind (anything but [`EventKind::Unclassified`]):
//!     an `Ignore` rule whose `events` match ignores it, and a `Do` rule
//!     whose `events` do **not** match ignores it too;
//!   - then, if there is SQL text (DDL; row events have none) and the rule has
//!     `sql-pattern`s: the same with "one of the patterns is found in the
//!     SQL" (patterns are joined with `|` and compiled case-insensitively).
//!
//!   So a `Do` rule lists everything it lets through, and a `Do` rule with
//!   only `sql-pattern`s ignores all row events of its tables.
//! * `events` are read in order, and the first entry that decides wins:
//!   `all` matches; `none` does not; for DDL `all ddl` matches and `none ddl`
//!   does not; for DML `all dml` / `none dml` likewise; a named kind matches
//!   itself. Hence `[none, insert]` matches nothing but `[insert, none]`
//!   matches inserts. An empty list matches nothing.

use dm_proto::config::task::{BinlogEventRule, EventType};
use regex::Regex;

use super::error::RuleError;
use super::pattern::{compile_regex, fold, TableSelector};

/// What to do with an event: `Do` (apply) or `Ignore` (skip).
pub use dm_proto::config::task::FilterAction as Action;

/// The kind of a binlog event, as DM classifies it for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Insert,
    Update,
    Delete,
    CreateDatabase,
    DropDatabase,
    CreateTable,
    DropTable,
    TruncateTable,
    RenameTable,
    CreateIndex,
    DropIndex,
    CreateView,
    DropView,
    AlterTable,
    /// A statement with no kind of its own (DM's `NullEvent`: e.g. `ALTER
    /// DATABASE`, `CREATE FUNCTION`, or SQL that did not parse). Only
    /// `sql-pattern`s apply to it.
    Unclassified,
}

impl EventKind {
    /// A row event.
    pub fn is_dml(self) -> bool {
        matches!(
            self,
            EventKind::Insert | EventKind::Update | EventKind::Delete
        )
    }

    /// A DDL with a kind of its own.
    pub fn is_ddl(self) -> bool {
        !self.is_dml() && self != EventKind::Unclassified
    }

    /// The name a rule's `events` uses for this kind.
    pub fn event_type(self) -> Option<EventType> {
        Some(match self {
            EventKind::Insert => EventType::Insert,
            EventKind::Update => EventType::Update,
            EventKind::Delete => EventType::Delete,
            EventKind::CreateDatabase => EventType::CreateDatabase,
            EventKind::DropDatabase => EventType::DropDatabase,
            EventKind::CreateTable => EventType::CreateTable,
            EventKind::DropTable => EventType::DropTable,
            EventKind::TruncateTable => EventType::TruncateTable,
            EventKind::RenameTable => EventType::RenameTable,
            EventKind::CreateIndex => EventType::CreateIndex,
            EventKind::DropIndex => EventType::DropIndex,
            EventKind::CreateView => EventType::CreateView,
            EventKind::DropView => EventType::DropView,
            EventKind::AlterTable => EventType::AlterTable,
            EventKind::Unclassified => return None,
        })
    }
}

#[derive(Debug, Clone)]
struct CompiledRule {
    events: Vec<EventType>,
    sql: Option<Regex>,
    action: Action,
}

impl CompiledRule {
    fn events_match(&self, kind: EventKind) -> bool {
        for &event in &self.events {
            match event {
                EventType::All => return true,
                EventType::None => return false,
                EventType::AllDdl if kind.is_ddl() => return true,
                EventType::NoneDdl if kind.is_ddl() => return false,
                EventType::AllDml if kind.is_dml() => return true,
                EventType::NoneDml if kind.is_dml() => return false,
                named if Some(named) == kind.event_type() => return true,
                _ => {}
            }
        }
        false
    }

    /// Whether this rule ignores the event.
    fn ignores(&self, kind: EventKind, sql: &str) -> bool {
        let ignores_when = |matched: bool| match self.action {
            Action::Ignore => matched,
            Action::Do => !matched,
        };
        if kind != EventKind::Unclassified && ignores_when(self.events_match(kind)) {
            return true;
        }
        if sql.is_empty() {
            return false;
        }
        match &self.sql {
            Some(re) => ignores_when(re.is_match(sql)),
            None => false,
        }
    }
}

/// Compiled binlog event filter rules of one source.
#[derive(Debug, Clone)]
pub struct BinlogFilter {
    case_sensitive: bool,
    rules: TableSelector<CompiledRule>,
}

impl BinlogFilter {
    /// Builds a filter; fails on a duplicate pattern pair, an invalid
    /// pattern or an SQL pattern that does not compile.
    pub fn new<'a>(
        rules: impl IntoIterator<Item = &'a BinlogEventRule>,
        case_sensitive: bool,
    ) -> Result<Self, RuleError> {
        let mut selector = TableSelector::new("binlog event filter");
        for rule in rules {
            let sql = if rule.sql_pattern.is_empty() {
                None
            } else {
                // Always case-insensitive, as in DM.
                Some(compile_regex(&rule.sql_pattern.join("|"), false)?)
            };
            let compiled = CompiledRule {
                events: rule.events.clone(),
                sql,
                action: rule.action,
            };
            selector.insert(
                &rule.schema_pattern,
                &rule.table_pattern,
                case_sensitive,
                compiled,
            )?;
        }
        Ok(BinlogFilter {
            case_sensitive,
            rules: selector,
        })
    }

    /// A filter without rules: everything is done.
    pub fn none() -> Self {
        BinlogFilter {
            case_sensitive: false,
            rules: TableSelector::new("binlog event filter"),
        }
    }

    /// Whether the filter has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// What to do with an event of `kind` on `schema`.`table` (either may be
    /// empty for statements without one); `sql` is the statement text of a
    /// DDL (`None` or empty for row events).
    pub fn decide(&self, schema: &str, table: &str, kind: EventKind, sql: Option<&str>) -> Action {
        let selected = self.rules.select(
            &fold(schema, self.case_sensitive),
            &fold(table, self.case_sensitive),
        );
        let sql = sql.unwrap_or("");
        if selected.all().any(|rule| rule.ignores(kind, sql)) {
            Action::Ignore
        } else {
            Action::Do
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind as K;

    fn rule(
        schema: &str,
        table: &str,
        events: &[EventType],
        sql: &[&str],
        action: Action,
    ) -> BinlogEventRule {
        BinlogEventRule {
            schema_pattern: schema.into(),
            table_pattern: table.into(),
            events: events.to_vec(),
            sql_pattern: sql.iter().map(|s| s.to_string()).collect(),
            action,
        }
    }

    fn filter(rules: &[BinlogEventRule]) -> BinlogFilter {
        BinlogFilter::new(rules, false).unwrap()
    }

    #[test]
    fn no_rule_means_do() {
        let f = filter(&[rule("app", "", &[EventType::All], &[], Action::Ignore)]);
        assert_eq!(f.decide("other", "t", K::Insert, None), Action::Do);
        assert_eq!(
            BinlogFilter::none().decide("a", "b", K::DropTable, Some("drop table b")),
            Action::Do
        );
    }

    #[test]
    fn event_groups() {
        use EventType as E;
        // (rule events, action, event, expected)
        let cases: &[(&[E], Action, EventKind, Action)] = &[
            (&[E::All], Action::Ignore, K::Insert, Action::Ignore),
            (&[E::All], Action::Ignore, K::DropTable, Action::Ignore),
            (&[E::AllDml], Action::Ignore, K::Delete, Action::Ignore),
            (&[E::AllDml], Action::Ignore, K::CreateTable, Action::Do),
            (
                &[E::AllDdl],
                Action::Ignore,
                K::TruncateTable,
                Action::Ignore,
            ),
            (&[E::AllDdl], Action::Ignore, K::Update, Action::Do),
            (&[E::None], Action::Ignore, K::Insert, Action::Do),
            (&[E::NoneDdl], Action::Ignore, K::DropDatabase, Action::Do),
            (
                &[E::NoneDml, E::Insert],
                Action::Ignore,
                K::Insert,
                Action::Do,
            ),
            (
                &[E::Insert, E::NoneDml],
                Action::Ignore,
                K::Insert,
                Action::Ignore,
            ),
            (&[E::None, E::Insert], Action::Ignore, K::Insert, Action::Do),
            (
                &[E::NoneDdl, E::Insert],
                Action::Ignore,
                K::Insert,
                Action::Ignore,
            ),
            (
                &[E::Insert, E::Update],
                Action::Ignore,
                K::Update,
                Action::Ignore,
            ),
            (
                &[E::Insert, E::Update],
                Action::Ignore,
                K::Delete,
                Action::Do,
            ),
            (
                &[E::AlterTable],
                Action::Ignore,
                K::AlterTable,
                Action::Ignore,
            ),
            (
                &[E::CreateIndex, E::DropIndex],
                Action::Ignore,
                K::DropIndex,
                Action::Ignore,
            ),
            (
                &[E::RenameTable],
                Action::Ignore,
                K::RenameTable,
                Action::Ignore,
            ),
            (
                &[E::CreateView, E::DropView],
                Action::Ignore,
                K::DropView,
                Action::Ignore,
            ),
            (&[], Action::Ignore, K::Insert, Action::Do),
            // A Do rule lets through only what it lists.
            (
                &[E::Insert, E::CreateTable],
                Action::Do,
                K::Insert,
                Action::Do,
            ),
            (
                &[E::Insert, E::CreateTable],
                Action::Do,
                K::Delete,
                Action::Ignore,
            ),
            (
                &[E::Insert, E::CreateTable],
                Action::Do,
                K::DropTable,
                Action::Ignore,
            ),
            (&[E::AllDml], Action::Do, K::CreateTable, Action::Ignore),
            (&[], Action::Do, K::Insert, Action::Ignore),
            // Unclassified statements skip the event check.
            (&[E::All], Action::Ignore, K::Unclassified, Action::Do),
            (&[], Action::Do, K::Unclassified, Action::Do),
        ];
        for &(events, action, kind, want) in cases {
            let f = filter(&[rule("db", "t", events, &[], action)]);
            assert_eq!(
                f.decide("db", "t", kind, None),
                want,
                "{events:?} {action:?} {kind:?}"
            );
        }
    }

    #[test]
    fn sql_patterns() {
        let ignore = filter(&[rule(
            "db",
            "",
            &[],
            &["^DROP\\s+TABLE", "^TRUNCATE"],
            Action::Ignore,
        )]);
        assert_eq!(
            ignore.decide("db", "t", K::DropTable, Some("drop table t")),
            Action::Ignore
        );
        assert_eq!(
            ignore.decide("db", "t", K::TruncateTable, Some("TRUNCATE t")),
            Action::Ignore
        );
        assert_eq!(
            ignore.decide("db", "t", K::AlterTable, Some("alter table t add c int")),
            Action::Do
        );
        assert_eq!(
            ignore.decide("db", "t", K::Unclassified, Some("drop table t")),
            Action::Ignore
        );
        // Row events carry no SQL: the pattern does not apply.
        assert_eq!(ignore.decide("db", "t", K::Insert, None), Action::Do);
        assert_eq!(ignore.decide("db", "t", K::Insert, Some("")), Action::Do);

        // A Do rule: events and SQL must both match.
        let allow = filter(&[rule(
            "db",
            "t",
            &[EventType::AllDdl],
            &["ADD COLUMN"],
            Action::Do,
        )]);
        assert_eq!(
            allow.decide(
                "db",
                "t",
                K::AlterTable,
                Some("alter table t add column c int")
            ),
            Action::Do
        );
        assert_eq!(
            allow.decide(
                "db",
                "t",
                K::AlterTable,
                Some("alter table t drop column c")
            ),
            Action::Ignore
        );
        assert_eq!(allow.decide("db", "t", K::Insert, None), Action::Ignore);
        assert_eq!(
            allow.decide(
                "db",
                "t",
                K::Unclassified,
                Some("alter table t add column c int")
            ),
            Action::Do
        );

        // A Do rule with only SQL patterns ignores every row event.
        let only_sql = filter(&[rule("db", "t", &[], &["^create"], Action::Do)]);
        assert_eq!(only_sql.decide("db", "t", K::Insert, None), Action::Ignore);
        assert_eq!(
            only_sql.decide("db", "t", K::Unclassified, Some("CREATE FUNCTION f()")),
            Action::Do
        );
    }

    #[test]
    fn ignore_wins_over_do() {
        let rules = [
            rule("db*", "", &[EventType::All], &[], Action::Do),
            rule("db*", "t_*", &[EventType::Delete], &[], Action::Ignore),
        ];
        let f = filter(&rules);
        assert_eq!(f.decide("db1", "t_1", K::Insert, None), Action::Do);
        assert_eq!(f.decide("db1", "t_1", K::Delete, None), Action::Ignore);
        assert_eq!(f.decide("db1", "other", K::Delete, None), Action::Do);
        // Both levels are consulted: a schema-level Ignore also applies to
        // tables with table-level Do rules.
        let rules = [
            rule("db", "", &[EventType::DropTable], &[], Action::Ignore),
            rule("db", "t", &[EventType::All], &[], Action::Do),
        ];
        let f = filter(&rules);
        assert_eq!(
            f.decide("db", "t", K::DropTable, Some("drop table t")),
            Action::Ignore
        );
        assert_eq!(f.decide("db", "t", K::Update, None), Action::Do);
    }

    #[test]
    fn case_folding_of_names() {
        let rules = [rule(
            "App_*",
            "Log",
            &[EventType::AllDml],
            &[],
            Action::Ignore,
        )];
        let f = BinlogFilter::new(&rules, false).unwrap();
        assert_eq!(f.decide("APP_1", "LOG", K::Insert, None), Action::Ignore);
        let f = BinlogFilter::new(&rules, true).unwrap();
        assert_eq!(f.decide("APP_1", "LOG", K::Insert, None), Action::Do);
        assert_eq!(f.decide("App_1", "Log", K::Insert, None), Action::Ignore);
        // SQL patterns are case-insensitive either way.
        let rules = [rule("db", "", &[], &["DROP"], Action::Ignore)];
        let f = BinlogFilter::new(&rules, true).unwrap();
        assert_eq!(
            f.decide("db", "t", K::Unclassified, Some("drop view v")),
            Action::Ignore
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        let err =
            BinlogFilter::new(&[rule("db", "", &[], &["("], Action::Ignore)], false).unwrap_err();
        assert!(matches!(err, RuleError::InvalidRegex { .. }), "{err}");
        let rules = [
            rule("db", "t", &[EventType::All], &[], Action::Ignore),
            rule("DB", "T", &[EventType::Insert], &[], Action::Do),
        ];
        let err = BinlogFilter::new(&rules, false).unwrap_err();
        assert!(matches!(err, RuleError::DuplicatePattern { .. }), "{err}");
    }
}
