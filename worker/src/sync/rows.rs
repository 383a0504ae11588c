//! A row event on its way to the lanes: through the task's rules (the
//! one pipeline, `dm_rules::pipeline`: selection, event filter, route,
//! column mapping), shaped for its downstream table ([`super::targets`]),
//! and given a lane per change ([`super::route`]).

use std::sync::Arc;

use super::lane::Routed;
use super::route::{self, LaneChoice};
use super::targets::{self, Targets};
use super::{SyncError, SyncJob};
use crate::position::Position;
use crate::sql::qualified;
use crate::upstream::expr_value::binlog_value;
use crate::upstream::{Column, ColumnType, RowChange, RowKind, Value};
use dm_rules::expr::{Row, TimeZone, Value as ExprValue};
use dm_rules::{ColumnValue, EventKind, Fate, Route};

/// One row event as read.
#[derive(Debug)]
pub struct RowEvent<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub columns: &'a Arc<[Column]>,
    pub rows: Vec<RowChange>,
    /// Applied with idempotent statements.
    pub safe: bool,
    /// Where the event ends.
    pub end: &'a Position,
}

/// One row event, routed, shaped and with a lane per change; none when
/// the rules drop it.
pub async fn admit(
    job: &SyncJob,
    targets: &mut Targets,
    event: RowEvent<'_>,
) -> Result<Vec<(Routed, LaneChoice)>, SyncError> {
    let (routed, serial) = shaped(job, targets, event).await?;
    let Some(first) = routed.first() else {
        return Ok(Vec::new());
    };
    // One event, one table: its target and lane policy once.
    let target = qualified(&first.target_schema, &first.target_table);
    let lanes = job.lanes.max(1);
    Ok(routed
        .into_iter()
        .map(|r| {
            let choice = route::lane_of(&target, &r.columns, &r.change, lanes, serial);
            (r, choice)
        })
        .collect())
}

/// One row event's changes through the rules and shaped for their
/// downstream table (generated columns left out, images checked); whether
/// that table's changes must stay on one lane.
pub async fn shaped(
    job: &SyncJob,
    targets: &mut Targets,
    event: RowEvent<'_>,
) -> Result<(Vec<Routed>, bool), SyncError> {
    let RowEvent {
        schema,
        table,
        columns,
        rows,
        safe,
        end,
    } = event;
    let mut routed = route_rows(job, schema, table, columns, rows, safe, end)?;
    let Some(first) = routed.first() else {
        return Ok((routed, false));
    };
    let facts = targets
        .facts(&*job.downstream, &first.target_schema, &first.target_table)
        .await?;
    targets::prepare(&mut routed, &facts)?;
    Ok((routed, facts.serial))
}

/// A row event's changes through the rules (filters, routes, column
/// mappings), ready for the lanes.
fn route_rows(
    job: &SyncJob,
    schema: &str,
    table: &str,
    columns: &Arc<[Column]>,
    rows: Vec<RowChange>,
    safe: bool,
    end: &Position,
) -> Result<Vec<Routed>, SyncError> {
    let kind = match rows.first().map(|r| r.kind) {
        Some(RowKind::Insert) => EventKind::Insert,
        Some(RowKind::Update) => EventKind::Update,
        Some(RowKind::Delete) => EventKind::Delete,
        None => return Ok(Vec::new()),
    };
    let route = match job
        .rules
        .rows(schema, table, kind)
        .map_err(|e| SyncError::Rules(e.to_string()))?
    {
        Fate::Dropped(_) => return Ok(Vec::new()),
        Fate::Routed(route) => route,
    };
    let mapped =
        match route.mapped_column() {
            Some(column) => Some(columns.iter().position(|c| c.name == column).ok_or_else(
                || {
                    SyncError::Rules(format!(
                        "column mapping: column {column} not found in `{schema}`.`{table}`"
                    ))
                },
            )?),
            None => None,
        };
    let (target_schema, target_table) = route.target.clone();
    let filter = match route.filters_rows(kind) {
        true => Some(
            RowFilter::new(job.rules.time_zone(), columns, &route.filter_columns(kind))
                .map_err(|e| SyncError::Rules(format!("`{schema}`.`{table}`: {e}")))?,
        ),
        false => None,
    };
    let mut out = Vec::with_capacity(rows.len());
    for mut change in rows {
        if let Some(filter) = &filter {
            if filter
                .drops(&route, kind, &change)
                .map_err(|e| SyncError::Rules(format!("`{schema}`.`{table}`: {e}")))?
            {
                continue;
            }
        }
        if let Some(position) = mapped {
            for image in [change.before.as_mut(), change.after.as_mut()]
                .into_iter()
                .flatten()
            {
                if let Some(slot) = image.get_mut(position) {
                    let origin = match &*slot {
                        Value::Int(v) => ColumnValue::Int(*v),
                        Value::UInt(v) => ColumnValue::UInt(*v),
                        Value::Null => continue,
                        Value::Bytes(b) => {
                            ColumnValue::Str(String::from_utf8_lossy(b).into_owned())
                        }
                        other => ColumnValue::Str(format!("{other:?}")),
                    };
                    let value = route.map_value(position, &origin).map_err(|e| {
                        SyncError::Rules(format!("column mapping of `{schema}`.`{table}`: {e}"))
                    })?;
                    *slot = match value {
                        ColumnValue::Int(v) => Value::Int(v),
                        ColumnValue::UInt(v) => Value::UInt(v),
                        ColumnValue::Str(s) => Value::Bytes(s.into_bytes()),
                        _ => Value::Null,
                    };
                }
            }
        }
        out.push(Routed {
            target_schema: target_schema.clone(),
            target_table: target_table.clone(),
            columns: columns.clone(),
            change,
            safe,
            end: end.clone(),
        });
    }
    Ok(out)
}

/// A table's row images as its expression filters see them.
#[derive(Debug)]
struct RowFilter<'a> {
    names: Vec<String>,
    columns: &'a [Column],
    /// Per column, whether an expression reads it (the others are not
    /// converted, and may be unlogged).
    read: Vec<bool>,
    zone: &'a TimeZone,
}

impl<'a> RowFilter<'a> {
    /// The filter of a table with `columns`, whose expressions read
    /// `reads`. Row images hold ENUM and SET values as member numbers, not
    /// the names an expression compares them with: such a column is
    /// refused rather than misread.
    fn new(zone: &'a TimeZone, columns: &'a [Column], reads: &[&str]) -> Result<Self, String> {
        for name in reads {
            let column = columns.iter().find(|c| c.name.eq_ignore_ascii_case(name));
            if let Some(c) = column.filter(|c| matches!(c.kind, ColumnType::Enum | ColumnType::Set))
            {
                return Err(format!(
                    "expression filters cannot read the ENUM/SET column `{}` in the sync (row images hold its member numbers, not its values)",
                    c.name
                ));
            }
        }
        Ok(RowFilter {
            names: columns.iter().map(|c| c.name.clone()).collect(),
            columns,
            read: columns
                .iter()
                .map(|c| reads.iter().any(|r| c.name.eq_ignore_ascii_case(r)))
                .collect(),
            zone,
        })
    }

    /// The values of `image` the expressions read (NULL for the others);
    /// `logged`: which columns a partial image holds.
    fn values(
        &self,
        image: Option<&Vec<Value>>,
        logged: Option<&Vec<bool>>,
    ) -> Result<Vec<ExprValue>, String> {
        let Some(image) = image else {
            return Err("a row image is missing".into());
        };
        image
            .iter()
            .zip(self.columns)
            .zip(&self.read)
            .enumerate()
            .map(|(i, ((v, c), read))| {
                if !read {
                    return Ok(ExprValue::Null);
                }
                if logged.is_some_and(|l| !l.get(i).copied().unwrap_or(false)) {
                    // An unlogged column would read as a value it does not have.
                    return Err(format!(
                        "expression filters read column `{}`, which the upstream did not log in a partial row image (binlog_row_image is not FULL)",
                        c.name
                    ));
                }
                binlog_value(v, c, self.zone).map_err(|e| e.to_string())
            })
            .collect()
    }

    /// Whether the route's expression filters drop `change` (of `kind`).
    fn drops(
        &self,
        route: &Route<'_>,
        kind: EventKind,
        change: &RowChange,
    ) -> Result<bool, String> {
        let logged_before = change.logged.as_deref().map(|l| &l.before);
        let logged_after = change.logged.as_deref().map(|l| &l.after);
        match kind {
            EventKind::Insert => {
                let after = self.values(change.after.as_ref(), logged_after)?;
                route
                    .drops_insert(&Row {
                        names: &self.names,
                        values: &after,
                    })
                    .map_err(|e| e.to_string())
            }
            EventKind::Update => {
                let before = self.values(change.before.as_ref(), logged_before)?;
                let after = self.values(change.after.as_ref(), logged_after)?;
                route
                    .drops_update(
                        &Row {
                            names: &self.names,
                            values: &before,
                        },
                        &Row {
                            names: &self.names,
                            values: &after,
                        },
                    )
                    .map_err(|e| e.to_string())
            }
            EventKind::Delete => {
                let before = self.values(change.before.as_ref(), logged_before)?;
                route
                    .drops_delete(&Row {
                        names: &self.names,
                        values: &before,
                    })
                    .map_err(|e| e.to_string())
            }
            _ => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Logged;
    use dm_proto::config::TaskConfig;
    use dm_rules::TaskRules;

    const TASK: &str = "name: t\ntask-mode: all\ntarget-database:\n  host: h\n  port: 1\n  user: u\nmysql-instances:\n  - source-id: s1\n    expression-filters: [old, new]\nexpression-filter:\n  old:\n    schema: app\n    table: t\n    update-old-value-expr: \"c > 10\"\n  new:\n    schema: app\n    table: t\n    update-old-value-expr: \"c = 1\"\n    update-new-value-expr: \"c = 2\"\n";

    fn update(before: i64, after: i64) -> RowChange {
        RowChange::full(
            RowKind::Update,
            Some(vec![Value::Int(1), Value::Int(before)]),
            Some(vec![Value::Int(1), Value::Int(after)]),
        )
    }

    #[test]
    fn an_update_is_dropped_by_one_rule_whose_sides_are_both_true() {
        let task = TaskConfig::parse("t.yaml", TASK).unwrap();
        let rules = TaskRules::for_source(&task, "s1").unwrap();
        let Fate::Routed(route) = rules.rows("app", "t", EventKind::Update).unwrap() else {
            panic!("routed");
        };
        assert!(route.filters_rows(EventKind::Update));
        assert!(!route.filters_rows(EventKind::Insert));
        let columns = [
            Column::new("id", ColumnType::Integer),
            Column::new("c", ColumnType::Integer),
        ];
        let filter = RowFilter::new(
            rules.time_zone(),
            &columns,
            &route.filter_columns(EventKind::Update),
        )
        .unwrap();
        let enums = [
            Column::new("id", ColumnType::Integer),
            Column::new("C", ColumnType::Enum),
        ];
        assert_eq!(
            RowFilter::new(rules.time_zone(), &enums, &route.filter_columns(EventKind::Update)).unwrap_err(),
            "expression filters cannot read the ENUM/SET column `C` in the sync (row images hold its member numbers, not its values)"
        );
        let drops = |b, a| {
            filter
                .drops(&route, EventKind::Update, &update(b, a))
                .unwrap()
        };
        assert!(drops(11, 0), "old c > 10");
        assert!(drops(1, 2), "old c = 1 and new c = 2");
        assert!(!drops(1, 3), "old c = 1 only");
        assert!(!drops(5, 2), "new c = 2 only");
        let mut minimal = update(11, 0);
        minimal.logged = Some(Arc::new(Logged {
            before: vec![false, true],
            after: vec![true, true],
        }));
        assert!(
            filter.drops(&route, EventKind::Update, &minimal).unwrap(),
            "a partial image holding every column read"
        );
        let mut partial = update(11, 0);
        partial.logged = Some(Arc::new(Logged {
            before: vec![true, false],
            after: vec![true, true],
        }));
        assert_eq!(
            filter.drops(&route, EventKind::Update, &partial).unwrap_err(),
            "expression filters read column `c`, which the upstream did not log in a partial row image (binlog_row_image is not FULL)"
        );
    }
}
