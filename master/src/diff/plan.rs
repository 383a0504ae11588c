//! Which tables are compared: every upstream table a source of the task
//! selects (its block-allow list), grouped by the downstream table its
//! routes send it to. Pure: the table lists come from the servers.

use std::collections::BTreeMap;

use dm_proto::config::TaskConfig;
use dm_rules::{Fate, PipelineError, TaskRules};

use super::error::DiffError;
use dm_proto::sql::qualified;

/// One upstream table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub source: String,
    pub schema: String,
    pub table: String,
    /// The condition its source's copy takes rows by (the instance's
    /// `mydumpers.where`); only those rows are compared.
    pub filter: Option<String>,
}

impl Member {
    /// `source:`schema`.`table``, as the report names it.
    pub fn label(&self) -> String {
        format!("{}:{}", self.source, self.quoted())
    }

    /// `` `schema`.`table` ``.
    pub fn quoted(&self) -> String {
        qualified(&self.schema, &self.table)
    }

    /// What the comparison's queries read `FROM`: the table, or only its
    /// rows that meet the filter.
    pub fn rows_from(&self) -> String {
        rows_from(&self.quoted(), self.filter.as_deref())
    }
}

/// `table` itself, or a derived table of its rows that meet `filter` (the
/// comparison's queries name columns without a table, so they read either).
pub fn rows_from(table: &str, filter: Option<&str>) -> String {
    match filter {
        None => table.to_string(),
        Some(filter) => format!("(SELECT * FROM {table} WHERE ({filter})) AS filtered"),
    }
}

/// Each source's `mydumpers.where` in `task`, for the sources that have
/// one.
pub fn row_filters(task: &TaskConfig) -> BTreeMap<String, String> {
    task.mysql_instances
        .iter()
        .filter_map(|i| {
            let filter = task.mydumper_for(i).where_clause.trim().to_string();
            (!filter.is_empty()).then(|| (i.source_id.clone(), filter))
        })
        .collect()
}

/// One downstream table and what is merged into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub schema: String,
    pub table: String,
    pub members: Vec<Member>,
    /// Why the table cannot be compared, known from the rules alone (a
    /// column-mapping rule rewrites values on the way, expression filters
    /// drop rows).
    pub problem: Option<String>,
}

/// The compiled rules of every source of `task`, in the task's order.
pub fn rules(task: &TaskConfig) -> Result<Vec<TaskRules>, DiffError> {
    task.mysql_instances
        .iter()
        .map(|i| {
            TaskRules::for_source(task, &i.source_id).map_err(|e| DiffError::Rules {
                source_id: i.source_id.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

impl Target {
    /// The condition on the downstream table's rows: when every member is
    /// filtered, the rows any of their filters selects; otherwise none (a
    /// member copied whole may have sent any row).
    pub fn downstream_filter(&self) -> Option<String> {
        let mut filters: Vec<&str> = Vec::new();
        for member in &self.members {
            let filter = member.filter.as_deref()?;
            if !filters.contains(&filter) {
                filters.push(filter);
            }
        }
        match filters.as_slice() {
            [] => None,
            [one] => Some((*one).to_string()),
            many => Some(
                many.iter()
                    .map(|f| format!("({f})"))
                    .collect::<Vec<_>>()
                    .join(" OR "),
            ),
        }
    }
}

/// Sets each member's filter from its source's entry of `filters` (see
/// [`row_filters`]).
pub fn filter_members(targets: &mut [Target], filters: &BTreeMap<String, String>) {
    for member in targets.iter_mut().flat_map(|t| t.members.iter_mut()) {
        member.filter = filters.get(&member.source).cloned();
    }
}

/// The targets of the tables each source selected (`selected`, by source
/// id, already filtered by that source's block-allow list), in target order.
pub fn targets(
    rules: &[TaskRules],
    selected: &BTreeMap<String, Vec<(String, String)>>,
) -> Result<Vec<Target>, DiffError> {
    let mut targets: BTreeMap<(String, String), Target> = BTreeMap::new();
    for source in rules {
        let Some(tables) = selected.get(source.source_id()) else {
            continue;
        };
        for (schema, table) in tables {
            // A column-mapping rule that does not decide is the task's
            // problem, not the comparison's: the table is compared as routed.
            let (route, mapped, filtered) = match source.table(schema, table) {
                Ok(Fate::Routed(route)) => {
                    let mapped = route.mapped_column().map(str::to_string);
                    let filtered = route.filters_any_rows();
                    (route.target, mapped, filtered)
                }
                Ok(Fate::Dropped(_)) => continue,
                Err(PipelineError::Mapping { target, .. }) => (target, None, false),
                Err(PipelineError::Route(e)) => {
                    return Err(DiffError::Rules {
                        source_id: source.source_id().to_string(),
                        reason: format!("{} cannot be routed: {e}", qualified(schema, table)),
                    })
                }
            };
            let (to_schema, to_table) = route;
            let (key_schema, key_table) = source.target_key(&to_schema, &to_table);
            let key = (key_schema.into_owned(), key_table.into_owned());
            let target = targets.entry(key).or_insert_with(|| Target {
                schema: to_schema,
                table: to_table,
                members: Vec::new(),
                problem: None,
            });
            let member = Member {
                source: source.source_id().to_string(),
                schema: schema.clone(),
                table: table.clone(),
                filter: None,
            };
            if let Some(column) = mapped {
                target.problem.get_or_insert_with(|| {
                    format!(
                        "the column-mapping rules rewrite column {column} of {}, so upstream and downstream values differ by design; not comparable",
                        member.label()
                    )
                });
            }
            if filtered {
                target.problem.get_or_insert_with(|| {
                    format!(
                        "the expression-filter rules drop rows of {}, so upstream and downstream rows differ by design; not comparable",
                        member.label()
                    )
                });
            }
            target.members.push(member);
        }
    }
    Ok(targets.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = r#"
name: merge
task-mode: all
target-database: {host: "127.0.0.1", port: 4000, user: root, password: ""}
mysql-instances:
  - source-id: s1
    block-allow-list: app
    route-rules: [merge]
  - source-id: s2
    block-allow-list: app
    route-rules: [merge]
block-allow-list:
  app:
    do-dbs: ["app"]
routes:
  merge:
    schema-pattern: "app"
    table-pattern: "t_*"
    target-schema: "app"
    target-table: "t"
"#;

    fn names(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(s, t)| (s.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn shards_of_every_source_meet_in_their_target() {
        let task = TaskConfig::parse("task", TASK).expect("task parses");
        let rules = rules(&task).expect("rules compile");
        let mut selected = BTreeMap::new();
        selected.insert("s1".to_string(), names(&[("app", "t_1"), ("app", "u")]));
        selected.insert("s2".to_string(), names(&[("app", "t_2")]));
        let targets = targets(&rules, &selected).expect("routes");
        let shown: Vec<(String, Vec<String>)> = targets
            .iter()
            .map(|t| {
                (
                    qualified(&t.schema, &t.table),
                    t.members.iter().map(Member::label).collect(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                (
                    "`app`.`t`".to_string(),
                    vec!["s1:`app`.`t_1`".to_string(), "s2:`app`.`t_2`".to_string()]
                ),
                ("`app`.`u`".to_string(), vec!["s1:`app`.`u`".to_string()]),
            ]
        );
        assert!(targets.iter().all(|t| t.problem.is_none()));
    }

    #[test]
    fn the_downstream_is_filtered_only_when_every_member_is() {
        let member = |source: &str, filter: Option<&str>| Member {
            source: source.into(),
            schema: "app".into(),
            table: "t".into(),
            filter: filter.map(Into::into),
        };
        let target = |members| Target {
            schema: "app".into(),
            table: "t".into(),
            members,
            problem: None,
        };
        assert_eq!(
            target(vec![
                member("s1", Some("a = 1")),
                member("s2", Some("a = 1"))
            ])
            .downstream_filter(),
            Some("a = 1".into())
        );
        assert_eq!(
            target(vec![
                member("s1", Some("a = 1")),
                member("s2", Some("b = 2"))
            ])
            .downstream_filter(),
            Some("(a = 1) OR (b = 2)".into())
        );
        assert_eq!(
            target(vec![member("s1", Some("a = 1")), member("s2", None)]).downstream_filter(),
            None
        );
        assert_eq!(
            member("s1", Some("a = 1")).rows_from(),
            "(SELECT * FROM `app`.`t` WHERE (a = 1)) AS filtered"
        );
        assert_eq!(member("s1", None).rows_from(), "`app`.`t`");
    }
}
