//! A task's expression filters for one source, by table.
//!
//! As DM (`syncer/expr_filter_group.go`): a rule names one table exactly
//! (no wildcards) and one kind of change. A row change is dropped when
//! any rule of its table and kind is TRUE over it (NULL is not TRUE). For
//! an update, a rule is TRUE when both its `update-old-value-expr` over
//! the old values and its `update-new-value-expr` over the new values are
//! (a rule with only one of them: that one), so two rules, one on the old
//! and one on the new values, drop an update when either is TRUE. An
//! insert's rules also decide which rows the full copy takes.

use std::collections::BTreeMap;

use dm_proto::config::task::ExpressionFilter;

use super::eval::Row;
use super::{ExprError, Expression};
use crate::binlog_filter::EventKind;
use crate::error::RuleError;
use crate::pattern::fold;

/// One rule's expression and where it came from, for errors.
#[derive(Debug, Clone, PartialEq)]
struct Named {
    rule: String,
    key: &'static str,
    expr: Expression,
    /// The expression as the rule writes it (for the copy's query).
    text: String,
}

impl Named {
    fn compile(rule: &str, key: &'static str, text: &str) -> Result<Option<Self>, RuleError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let expr = Expression::compile(text).map_err(|error| in_rule(rule, key, error))?;
        Ok(Some(Named {
            rule: rule.to_string(),
            key,
            expr,
            text: text.trim().to_string(),
        }))
    }

    fn is_true(&self, row: &Row<'_>) -> Result<bool, RuleError> {
        self.expr
            .is_true(row)
            .map_err(|error| in_rule(&self.rule, self.key, error))
    }
}

fn in_rule(rule: &str, key: &'static str, error: ExprError) -> RuleError {
    RuleError::Expression { key, error }.in_rule("expression-filter", rule)
}

/// The rules of one table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableFilters {
    insert: Vec<Named>,
    /// (old, new) of each update rule; a missing side is TRUE.
    update: Vec<(Option<Named>, Option<Named>)>,
    delete: Vec<Named>,
}

impl TableFilters {
    pub fn filters_inserts(&self) -> bool {
        !self.insert.is_empty()
    }

    pub fn filters_updates(&self) -> bool {
        !self.update.is_empty()
    }

    pub fn filters_deletes(&self) -> bool {
        !self.delete.is_empty()
    }

    /// The columns the rules for `kind` read (`Insert`, `Update`,
    /// `Delete`; none for other kinds).
    pub fn columns(&self, kind: EventKind) -> Vec<&str> {
        let named: Vec<&Named> = match kind {
            EventKind::Insert => self.insert.iter().collect(),
            EventKind::Update => self
                .update
                .iter()
                .flat_map(|(o, n)| o.iter().chain(n.iter()))
                .collect(),
            EventKind::Delete => self.delete.iter().collect(),
            _ => Vec::new(),
        };
        named.into_iter().flat_map(|n| n.expr.columns()).collect()
    }

    /// The condition a full copy's query can take to read only the rows
    /// the insert rules keep: `NOT ((expr) <=> TRUE)` for each rule, so a
    /// NULL verdict keeps the row as the evaluator does. Every function
    /// an expression may use is one the server has, with the same
    /// meaning, and the snapshot's sessions run in the task's timezone,
    /// so the server drops the rows the evaluator would; the copy still
    /// evaluates each row it reads, so a row the server keeps on an edge
    /// where the two differ is decided by the same evaluator as the sync.
    /// `None` without insert rules.
    pub fn copy_condition(&self) -> Option<String> {
        if self.insert.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .insert
            .iter()
            .map(|n| format!("NOT (({}) <=> TRUE)", n.text))
            .collect();
        Some(parts.join(" AND "))
    }

    /// Whether an inserted (or copied) row is dropped.
    pub fn drops_insert(&self, row: &Row<'_>) -> Result<bool, RuleError> {
        any_true(&self.insert, row)
    }

    /// Whether a deleted row is dropped.
    pub fn drops_delete(&self, row: &Row<'_>) -> Result<bool, RuleError> {
        any_true(&self.delete, row)
    }

    /// Whether an update from `old` to `new` is dropped.
    pub fn drops_update(&self, old: &Row<'_>, new: &Row<'_>) -> Result<bool, RuleError> {
        for (o, n) in &self.update {
            let old_true = match o {
                Some(o) => o.is_true(old)?,
                None => true,
            };
            if old_true
                && match n {
                    Some(n) => n.is_true(new)?,
                    None => true,
                }
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn any_true(rules: &[Named], row: &Row<'_>) -> Result<bool, RuleError> {
    for r in rules {
        if r.is_true(row)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The expression filters of one source of a task, by table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpressionFilters {
    case_sensitive: bool,
    tables: BTreeMap<(String, String), TableFilters>,
}

impl ExpressionFilters {
    /// Compiles `rules` (name, rule), in the instance's order.
    pub fn new<'a>(
        rules: impl IntoIterator<Item = (&'a str, &'a ExpressionFilter)>,
        case_sensitive: bool,
    ) -> Result<Self, RuleError> {
        let mut tables: BTreeMap<(String, String), TableFilters> = BTreeMap::new();
        for (name, rule) in rules {
            let key = (
                fold(&rule.schema, case_sensitive).into_owned(),
                fold(&rule.table, case_sensitive).into_owned(),
            );
            let insert = Named::compile(name, "insert-value-expr", &rule.insert_value_expr)?;
            let old = Named::compile(name, "update-old-value-expr", &rule.update_old_value_expr)?;
            let new = Named::compile(name, "update-new-value-expr", &rule.update_new_value_expr)?;
            let delete = Named::compile(name, "delete-value-expr", &rule.delete_value_expr)?;
            let table = tables.entry(key).or_default();
            table.insert.extend(insert);
            if old.is_some() || new.is_some() {
                table.update.push((old, new));
            }
            table.delete.extend(delete);
        }
        Ok(ExpressionFilters {
            case_sensitive,
            tables,
        })
    }

    /// The rules of `schema`.`table`, if it has any.
    pub fn for_table(&self, schema: &str, table: &str) -> Option<&TableFilters> {
        if self.tables.is_empty() {
            return None;
        }
        let key = (
            fold(schema, self.case_sensitive).into_owned(),
            fold(table, self.case_sensitive).into_owned(),
        );
        self.tables.get(&key)
    }
}
