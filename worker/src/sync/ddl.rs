//! DDL from the binlog: classified, filtered and routed with the task's
//! rules, parsed with sqlparser (MySQL dialect) so names are rewritten in
//! the statement's syntax tree, never by text substitution.
//!
//! MariaDB writes DDL sqlparser does not know (`ADD COLUMN IF NOT EXISTS`,
//! `ALTER TABLE ... COMMENT`, `RENAME INDEX`, `ENGINE='InnoDB'`, ...):
//! such a statement is read from sqlparser's tokens instead ([`scan`]):
//! its kind and the places of its table names, which are the only bytes
//! replaced; the rest goes downstream as written. Either way every table
//! name the statement changes goes through the rules (block-allow list,
//! binlog event filters by event kind, routes), and the tables it only
//! refers to (`LIKE t`, `REFERENCES t`) are routed and qualified.
//!
//! Statements that are not schema changes (`GRANT`, `CREATE USER`,
//! `FLUSH`, ...) are skipped, as DM does. A schema change whose names
//! cannot be found pauses the subtask with the statement and why.

mod compare;
mod error;
mod scan;

pub use error::DdlError;

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, ColumnOption, CreateTableLikeKind, Ident, ObjectName,
    ObjectNamePart, ObjectType, RenameTableNameKind, SchemaName, Statement, TableConstraint,
};
use sqlparser::dialect::{Dialect, MySqlDialect};
use sqlparser::parser::Parser;

use super::{SyncError, SyncJob};
use crate::downstream::DownstreamError;
use dm_rules::{EventKind, Fate, PipelineError, TaskRules};
use scan::Role;

/// What to do with a DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdlPlan {
    Skip(&'static str),
    /// Statements to run downstream, names routed and qualified.
    Apply(Vec<PlannedDdl>),
}

/// One statement to run downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDdl {
    pub sql: String,
    pub kind: EventKind,
    /// The (routed) table a table-level statement changes first.
    pub table: Option<(String, String)>,
    /// That table's upstream name.
    pub source_table: Option<(String, String)>,
}

impl DdlPlan {
    /// The statements' text.
    pub fn statements(&self) -> Vec<String> {
        match self {
            DdlPlan::Skip(_) => Vec::new(),
            DdlPlan::Apply(s) => s.iter().map(|p| p.sql.clone()).collect(),
        }
    }
}

/// Server errors a replayed DDL meets because its work is already done:
/// "already dropped" ones (nothing left to compare) ...
const ALREADY_DROPPED: &[u16] = &[1008, 1051, 1091];
/// ... and "already exists" ones, a replay only if what exists is what the
/// statement would have created (see [`compare`]).
const ALREADY_EXISTS: &[u16] = &[1007, 1050, 1060, 1061];

/// Applies a DDL read at `schema` (the statement's default database);
/// `replaying`: inside a replay window (see [`execute`]).
pub async fn apply(
    job: &SyncJob,
    schema: &str,
    sql: &str,
    replaying: bool,
) -> Result<(), SyncError> {
    let plan = plan(&job.rules, schema, sql).map_err(|error| SyncError::Ddl {
        sql: sql.to_string(),
        error: error.to_string(),
    })?;
    execute(job, &plan.statements(), replaying).await
}

/// Runs routed DDL statements downstream. An "already dropped" error
/// means a replay and counts as applied; so does an "already exists"
/// error when the downstream's definition is what the statement would
/// have created. Otherwise the statement pauses the subtask, showing both
/// definitions, unless `replaying`: the binlog is being re-read from
/// before a full copy's snapshot (or after a change of the lane count),
/// where the downstream may already hold later changes of the same table;
/// there a difference is logged and the statement counts as applied.
pub async fn execute(
    job: &SyncJob,
    statements: &[String],
    replaying: bool,
) -> Result<(), SyncError> {
    for statement in statements.iter().cloned() {
        let refused = match job.downstream.execute(&statement).await {
            Ok(()) => {
                tracing::info!(task = %job.task, source = %job.source, ddl = %statement, "DDL applied");
                continue;
            }
            Err(e) => match e.refusal() {
                Some(refusal)
                    if ALREADY_DROPPED.contains(&refusal.code)
                        || ALREADY_EXISTS.contains(&refusal.code) =>
                {
                    refusal
                }
                _ if e.is_transient() => return Err(e.into()),
                _ => {
                    return Err(SyncError::Ddl {
                        sql: statement,
                        error: e.to_string(),
                    })
                }
            },
        };
        let verdict = if ALREADY_EXISTS.contains(&refused.code) {
            replayed(job, &statement, refused.code).await?
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => {
                tracing::info!(task = %job.task, source = %job.source, ddl = %statement, reason = %refused.message,
                    "DDL already applied downstream (replayed)");
            }
            Err(why) if replaying => {
                tracing::warn!(task = %job.task, source = %job.source, ddl = %statement, reason = %refused.message, %why,
                    "DDL already applied downstream (replayed before the copy's snapshot; the downstream holds a later definition)");
            }
            Err(why) => {
                return Err(SyncError::Ddl {
                    sql: statement,
                    error: format!(
                        "the downstream answers {} ({}) and it is no replay: {why}",
                        refused.code, refused.message
                    ),
                })
            }
        }
    }
    Ok(())
}

/// Whether the downstream holds what `statement`, refused with `code`,
/// would have created: `Ok(Err(why))` when not, or when it cannot tell.
async fn replayed(
    job: &SyncJob,
    statement: &str,
    code: u16,
) -> Result<Result<(), compare::NotReplay>, DownstreamError> {
    let dialect = MySqlDialect {};
    let (table, want) = match compare::check(&dialect, statement, code) {
        Ok(compare::Check::Nothing) => return Ok(Ok(())),
        Ok(compare::Check::Table { table, want }) => (table, want),
        Err(e) => return Ok(Err(compare::NotReplay::Uncomparable(Box::new(e)))),
    };
    let Some(existing) = job.downstream.show_create_table(&table.0, &table.1).await? else {
        return Ok(Err(compare::NotReplay::MissingTable(table.0, table.1)));
    };
    let like = match &want {
        compare::Want::Like(schema, name) => job.downstream.show_create_table(schema, name).await?,
        _ => None,
    };
    Ok(compare::compare(
        &dialect,
        &want,
        &existing,
        like.as_deref(),
    ))
}

/// Decides about one DDL (pure).
pub fn plan(rules: &TaskRules, schema: &str, sql: &str) -> Result<DdlPlan, DdlError> {
    let dialect = MySqlDialect {};
    let statements = match Parser::parse_sql(&dialect, sql) {
        Ok(s) if !s.iter().any(misparsed) => s,
        Ok(_) => return plan_scanned(rules, schema, sql, &dialect, "misread by the parser"),
        Err(e) => return plan_scanned(rules, schema, sql, &dialect, &e.to_string()),
    };
    let mut out = Vec::new();
    let mut filtered = false;
    for mut statement in statements {
        match route_statement(rules, schema, sql, &mut statement)? {
            Routed::Apply {
                kind,
                table,
                source_table,
            } => out.push(PlannedDdl {
                sql: statement.to_string(),
                kind,
                table,
                source_table,
            }),
            Routed::Filtered => filtered = true,
            Routed::NotDdl => {}
        }
    }
    Ok(planned(out, filtered))
}

/// A statement the MySQL dialect parses into something else: `CREATE
/// TABLE t2 (LIKE t)` becomes a table with a column named `LIKE`.
fn misparsed(statement: &Statement) -> bool {
    matches!(statement, Statement::CreateTable(ct)
        if ct.columns.iter().any(|c| c.name.quote_style.is_none() && c.name.value.eq_ignore_ascii_case("LIKE")))
}

fn planned(out: Vec<PlannedDdl>, filtered: bool) -> DdlPlan {
    if !out.is_empty() {
        DdlPlan::Apply(out)
    } else if filtered {
        DdlPlan::Skip("filtered by the task's rules")
    } else {
        DdlPlan::Skip("not a schema change")
    }
}

/// A statement sqlparser refused: its kind and names from its tokens, the
/// text passed through with only the names rewritten (see [`scan`]).
fn plan_scanned(
    rules: &TaskRules,
    default_schema: &str,
    sql: &str,
    dialect: &dyn Dialect,
    parse_error: &str,
) -> Result<DdlPlan, DdlError> {
    let scanned = match scan::scan(dialect, sql) {
        Ok(scan::Scan::Ddl(s)) => s,
        Ok(scan::Scan::NotDdl) => return Ok(DdlPlan::Skip("not a schema change")),
        Err(scan_error) => {
            return Err(DdlError::Unreadable {
                parse_error: parse_error.to_string(),
                scan_error,
            })
        }
    };
    let mut names = Vec::with_capacity(scanned.names.len());
    for n in &scanned.names {
        let (schema, table) = match (n.role, n.parts.as_slice()) {
            (Role::Schema, []) => (default_schema.to_string(), String::new()),
            (Role::Schema, [schema]) => (schema.clone(), String::new()),
            (_, [table]) => (default_schema.to_string(), table.clone()),
            (_, [schema, table]) => (schema.clone(), table.clone()),
            _ => {
                return Err(DdlError::Name(format!(
                    "unexpected name {}",
                    n.parts.join(".")
                )))
            }
        };
        names.push(Named {
            role: n.role,
            schema,
            table,
        });
    }
    let Some(routed) = route_names(rules, scanned.kind, sql, &names)? else {
        return Ok(DdlPlan::Skip("filtered by the task's rules"));
    };
    let replacements = scanned
        .names
        .iter()
        .zip(&routed)
        .map(|(n, (schema, table))| {
            let text = if n.role == Role::Schema {
                quoted(schema).to_string()
            } else {
                format!("{}.{}", quoted(schema), quoted(table))
            };
            (n.span.clone(), text)
        })
        .collect();
    let statement = scan::rewrite(sql, scanned.end, replacements)
        .trim()
        .to_string();
    let (table, source_table) = first_table(&names, &routed);
    Ok(planned(
        vec![PlannedDdl {
            sql: statement,
            kind: scanned.kind,
            table,
            source_table,
        }],
        false,
    ))
}

/// (schema, table).
type TableName = (String, String);

/// The first table a statement changes: (routed, upstream).
fn first_table(names: &[Named], routed: &[TableName]) -> (Option<TableName>, Option<TableName>) {
    names
        .iter()
        .zip(routed)
        .find(|(n, _)| n.role == Role::Table)
        .map(|(n, r)| (Some(r.clone()), Some((n.schema.clone(), n.table.clone()))))
        .unwrap_or_default()
}

/// A name of a statement as the rules see it (`table` empty for a schema).
struct Named {
    role: Role,
    schema: String,
    table: String,
}

/// Every name of a statement of `kind` through the rules: `None` when a
/// table or schema it changes is filtered out, else each name's routed
/// (schema, table).
fn route_names(
    rules: &TaskRules,
    kind: EventKind,
    sql: &str,
    names: &[Named],
) -> Result<Option<Vec<TableName>>, DdlError> {
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let fate = match n.role {
            Role::Table => rules.statement(&n.schema, &n.table, kind, sql),
            Role::Schema => rules.statement(&n.schema, "", kind, sql),
            // A table the statement only reads (`LIKE t`) is routed, not
            // filtered.
            Role::Referenced => {
                let target = rules
                    .route(&n.schema, &n.table)
                    .map_err(|e| PipelineError::Route(Box::new(e)))?;
                out.push(target);
                continue;
            }
        };
        match fate? {
            Fate::Dropped(_) => return Ok(None),
            Fate::Routed(route) => out.push(route.target),
        }
    }
    Ok(Some(out))
}

/// What became of one statement.
enum Routed {
    Apply {
        kind: EventKind,
        table: Option<TableName>,
        source_table: Option<TableName>,
    },
    Filtered,
    NotDdl,
}

/// Filters and routes one parsed statement in place.
fn route_statement(
    rules: &TaskRules,
    default_schema: &str,
    sql: &str,
    statement: &mut Statement,
) -> Result<Routed, DdlError> {
    let Some((kind, targets)) = targets(statement) else {
        return Ok(Routed::NotDdl);
    };
    if !targets.iter().any(|(role, _)| *role != Role::Referenced) {
        return Ok(Routed::NotDdl);
    }
    let mut names = Vec::with_capacity(targets.len());
    for (role, name) in &targets {
        let (schema, table) = match role {
            Role::Schema => (last_part(name)?, String::new()),
            Role::Table | Role::Referenced => split(name, default_schema)?,
        };
        names.push(Named {
            role: *role,
            schema,
            table,
        });
    }
    let Some(routed) = route_names(rules, kind, sql, &names)? else {
        return Ok(Routed::Filtered);
    };
    let (table, source_table) = first_table(&names, &routed);
    for ((role, name), (to_schema, to_table)) in targets.into_iter().zip(routed) {
        *name = match role {
            Role::Schema => ObjectName::from(vec![quoted(&to_schema)]),
            Role::Table | Role::Referenced => {
                ObjectName::from(vec![quoted(&to_schema), quoted(&to_table)])
            }
        };
    }
    Ok(Routed::Apply {
        kind,
        table,
        source_table,
    })
}

/// A parsed statement's kind and names; `None` when it is no table or
/// schema change.
fn targets(statement: &mut Statement) -> Option<(EventKind, Vec<(Role, &mut ObjectName)>)> {
    let table = |n| (Role::Table, n);
    Some(match statement {
        Statement::CreateTable(ct) => {
            let mut names = vec![table(&mut ct.name)];
            if let Some(
                CreateTableLikeKind::Plain(like) | CreateTableLikeKind::Parenthesized(like),
            ) = ct.like.as_mut()
            {
                names.push((Role::Referenced, &mut like.name));
            }
            references_in_columns(ct.columns.iter_mut(), &mut names);
            references_in_constraints(ct.constraints.iter_mut(), &mut names);
            (EventKind::CreateTable, names)
        }
        Statement::AlterTable(at) => {
            let mut kind = EventKind::AlterTable;
            let mut names = vec![table(&mut at.name)];
            for op in at.operations.iter_mut() {
                match op {
                    AlterTableOperation::RenameTable {
                        table_name: RenameTableNameKind::To(n) | RenameTableNameKind::As(n),
                    } => {
                        kind = EventKind::RenameTable;
                        names.push(table(n));
                    }
                    AlterTableOperation::AddConstraint { constraint, .. } => {
                        references_in_constraints(std::iter::once(constraint), &mut names)
                    }
                    AlterTableOperation::AddColumn { column_def, .. } => {
                        references_in_columns(std::iter::once(column_def), &mut names)
                    }
                    _ => {}
                }
            }
            (kind, names)
        }
        Statement::CreateIndex(ci) => (EventKind::CreateIndex, vec![table(&mut ci.table_name)]),
        Statement::Truncate(t) => (
            EventKind::TruncateTable,
            t.table_names
                .iter_mut()
                .map(|n| table(&mut n.name))
                .collect(),
        ),
        Statement::RenameTable(renames) => (
            EventKind::RenameTable,
            renames
                .iter_mut()
                .flat_map(|r| [table(&mut r.old_name), table(&mut r.new_name)])
                .collect(),
        ),
        Statement::Drop {
            object_type,
            names,
            table: on,
            ..
        } => match object_type {
            ObjectType::Table => (EventKind::DropTable, names.iter_mut().map(table).collect()),
            ObjectType::View => (EventKind::DropView, names.iter_mut().map(table).collect()),
            ObjectType::Index => (EventKind::DropIndex, vec![table(on.as_mut()?)]),
            ObjectType::Schema | ObjectType::Database => (
                EventKind::DropDatabase,
                names.iter_mut().map(|n| (Role::Schema, n)).collect(),
            ),
            _ => return None,
        },
        Statement::CreateDatabase { db_name, .. } => {
            (EventKind::CreateDatabase, vec![(Role::Schema, db_name)])
        }
        Statement::CreateSchema {
            schema_name: SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _),
            ..
        } => (EventKind::CreateDatabase, vec![(Role::Schema, name)]),
        _ => return None,
    })
}

/// Tables named by `REFERENCES` in column definitions.
fn references_in_columns<'a>(
    columns: impl Iterator<Item = &'a mut ColumnDef>,
    names: &mut Vec<(Role, &'a mut ObjectName)>,
) {
    for column in columns {
        for option in column.options.iter_mut() {
            if let ColumnOption::ForeignKey(fk) = &mut option.option {
                names.push((Role::Referenced, &mut fk.foreign_table));
            }
        }
    }
}

/// Tables named by `FOREIGN KEY ... REFERENCES` constraints.
fn references_in_constraints<'a>(
    constraints: impl Iterator<Item = &'a mut TableConstraint>,
    names: &mut Vec<(Role, &'a mut ObjectName)>,
) {
    for constraint in constraints {
        if let TableConstraint::ForeignKey(fk) = constraint {
            names.push((Role::Referenced, &mut fk.foreign_table));
        }
    }
}

fn quoted(name: &str) -> Ident {
    Ident::with_quote('`', name)
}

fn part(p: &ObjectNamePart) -> Result<String, DdlError> {
    match p {
        ObjectNamePart::Identifier(ident) => Ok(ident.value.clone()),
        other => Err(DdlError::Name(format!("unsupported name part {other}"))),
    }
}

fn last_part(name: &ObjectName) -> Result<String, DdlError> {
    name.0
        .last()
        .map(part)
        .transpose()?
        .ok_or_else(|| DdlError::Name("empty name".to_string()))
}

/// (schema, table) of a possibly unqualified name.
fn split(name: &ObjectName, default_schema: &str) -> Result<(String, String), DdlError> {
    match name.0.as_slice() {
        [table] => Ok((default_schema.to_string(), part(table)?)),
        [schema, table] => Ok((part(schema)?, part(table)?)),
        _ => Err(DdlError::Name(format!("unexpected name {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_proto::config::TaskConfig;

    fn rules() -> TaskRules {
        let task = TaskConfig::parse(
            "t.yaml",
            r#"
name: t
task-mode: all
target-database: {host: "127.0.0.1", port: 4000, user: "root"}
mysql-instances:
  - source-id: "s1"
    block-allow-list: "only-app"
    route-rules: ["merge"]
    filter-rules: ["no-truncate", "no-alter"]
block-allow-list:
  only-app:
    do-dbs: ["app*"]
routes:
  merge:
    schema-pattern: "app*"
    table-pattern: "t*"
    target-schema: "merged"
    target-table: "t"
filters:
  no-truncate:
    schema-pattern: "app*"
    events: ["truncate table"]
    action: Ignore
  no-alter:
    schema-pattern: "app9"
    events: ["alter table"]
    action: Ignore
"#,
        )
        .unwrap();
        TaskRules::for_source(&task, "s1").unwrap()
    }

    fn apply(sql: &str) -> DdlPlan {
        DdlPlan::Apply(vec![PlannedDdl {
            sql: sql.into(),
            kind: EventKind::Unclassified,
            table: None,
            source_table: None,
        }])
    }

    #[test]
    fn ddls_are_routed_filtered_or_refused() {
        let r = rules();
        let cases: &[(&str, &str, Result<DdlPlan, ()>)] = &[
            (
                "app1",
                "ALTER TABLE t1 ADD COLUMN c2 INT",
                Ok(apply("ALTER TABLE `merged`.`t` ADD COLUMN c2 INT")),
            ),
            (
                "other",
                "CREATE TABLE app2.t7 (id INT PRIMARY KEY)",
                Ok(apply("CREATE TABLE `merged`.`t` (id INT PRIMARY KEY)")),
            ),
            (
                "app1",
                "DROP TABLE IF EXISTS `x` /* generated by server */",
                Ok(apply("DROP TABLE IF EXISTS `app1`.`x`")),
            ),
            (
                "app1",
                "TRUNCATE TABLE t1",
                Ok(DdlPlan::Skip("filtered by the task's rules")),
            ),
            (
                "other",
                "CREATE TABLE t1 (id INT)",
                Ok(DdlPlan::Skip("filtered by the task's rules")),
            ),
            (
                "app1",
                "GRANT ALL ON *.* TO 'u'@'%'",
                Ok(DdlPlan::Skip("not a schema change")),
            ),
            ("app1", "CREATE TABLE t1 (id INT", Err(())),
            // The table a LIKE copies is qualified (and routed) too.
            (
                "app1",
                "CREATE TABLE u2 LIKE u",
                Ok(apply("CREATE TABLE `app1`.`u2` LIKE `app1`.`u`")),
            ),
            (
                "other",
                "CREATE TABLE IF NOT EXISTS app1.u2 (LIKE app1.t3)",
                Ok(apply("CREATE TABLE IF NOT EXISTS `app1`.`u2` (LIKE `merged`.`t`)")),
            ),
            (
                "app1",
                "ALTER TABLE u ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES p (id)",
                Ok(apply("ALTER TABLE `app1`.`u` ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES `app1`.`p`(id)")),
            ),
            (
                "app1",
                "ALTER TABLE u RENAME TO u2",
                Ok(apply("ALTER TABLE `app1`.`u` RENAME TO `app1`.`u2`")),
            ),
            (
                "app9",
                "ALTER TABLE u ADD COLUMN c INT",
                Ok(DdlPlan::Skip("filtered by the task's rules")),
            ),
        ];
        for (schema, sql, expected) in cases {
            let got = plan(&r, schema, sql).map_err(|_| ()).map(|p| match p {
                DdlPlan::Apply(_) => DdlPlan::Apply(
                    p.statements()
                        .into_iter()
                        .map(|sql| PlannedDdl {
                            sql,
                            kind: EventKind::Unclassified,
                            table: None,
                            source_table: None,
                        })
                        .collect(),
                ),
                skip => skip,
            });
            assert_eq!(&got, expected, "{sql}");
        }
    }

    /// (default schema, statement, expected: (statement, kind, routed
    /// table, upstream table) or why it is skipped).
    type Case = (
        &'static str,
        &'static str,
        Result<
            (
                &'static str,
                EventKind,
                Option<(&'static str, &'static str)>,
                Option<(&'static str, &'static str)>,
            ),
            &'static str,
        >,
    );

    #[test]
    fn ddl_the_parser_refuses_passes_through_with_its_names_routed() {
        let r = rules();
        let merged = Some(("merged", "t"));
        let cases: &[Case] = &[
            (
                "app1",
                "ALTER TABLE t1 ADD COLUMN IF NOT EXISTS c INT",
                Ok(("ALTER TABLE `merged`.`t` ADD COLUMN IF NOT EXISTS c INT", EventKind::AlterTable, merged, Some(("app1", "t1")))),
            ),
            (
                "x",
                "ALTER TABLE app1.t1 COMMENT 'it''s t1' /* t1 */;",
                Ok(("ALTER TABLE `merged`.`t` COMMENT 'it''s t1' /* t1 */", EventKind::AlterTable, merged, Some(("app1", "t1")))),
            ),
            (
                "app1",
                "alter table `t1` rename index a to b",
                Ok(("alter table `merged`.`t` rename index a to b", EventKind::AlterTable, merged, Some(("app1", "t1")))),
            ),
            (
                "app1",
                "ALTER TABLE u ENGINE=InnoDB",
                Ok(("ALTER TABLE `app1`.`u` ENGINE=InnoDB", EventKind::AlterTable, Some(("app1", "u")), Some(("app1", "u")))),
            ),
            (
                "app1",
                "ALTER ONLINE IGNORE TABLE IF EXISTS u WAIT 2 ADD KEY IF NOT EXISTS k (c)",
                Ok(("ALTER ONLINE IGNORE TABLE IF EXISTS `app1`.`u` WAIT 2 ADD KEY IF NOT EXISTS k (c)", EventKind::AlterTable, Some(("app1", "u")), Some(("app1", "u")))),
            ),
            (
                "app1",
                "ALTER TABLE u COMMENT 'x', RENAME AS u2",
                Ok(("ALTER TABLE `app1`.`u` COMMENT 'x', RENAME AS `app1`.`u2`", EventKind::RenameTable, Some(("app1", "u")), Some(("app1", "u")))),
            ),
            (
                "app1",
                "ALTER TABLE u ADD COLUMN IF NOT EXISTS p INT REFERENCES p2 (id)",
                Ok(("ALTER TABLE `app1`.`u` ADD COLUMN IF NOT EXISTS p INT REFERENCES `app1`.`p2` (id)", EventKind::AlterTable, Some(("app1", "u")), Some(("app1", "u")))),
            ),
            (
                "other",
                "CREATE TABLE app2.t7 (id INT, g INT AS (id + 1) PERSISTENT) ENGINE='InnoDB' PAGE_COMPRESSED=1",
                Ok(("CREATE TABLE `merged`.`t` (id INT, g INT AS (id + 1) PERSISTENT) ENGINE='InnoDB' PAGE_COMPRESSED=1", EventKind::CreateTable, merged, Some(("app2", "t7")))),
            ),
            (
                "app1",
                "CREATE TABLE IF NOT EXISTS u2 (LIKE t1) ENGINE=InnoDB TRANSACTIONAL=1",
                Ok(("CREATE TABLE IF NOT EXISTS `app1`.`u2` (LIKE `merged`.`t`) ENGINE=InnoDB TRANSACTIONAL=1", EventKind::CreateTable, Some(("app1", "u2")), Some(("app1", "u2")))),
            ),
            (
                "app1",
                "CREATE TABLE u (c VARCHAR(5) CHECK (c LIKE 'x%'), n INT ZEROFILL)",
                Ok((
                    "CREATE TABLE `app1`.`u` (c VARCHAR(5) CHECK (c LIKE 'x%'), n INT ZEROFILL)",
                    EventKind::CreateTable,
                    Some(("app1", "u")),
                    Some(("app1", "u")),
                )),
            ),
            (
                "app1",
                "CREATE FULLTEXT INDEX f ON t1 (c)",
                Ok(("CREATE FULLTEXT INDEX f ON `merged`.`t` (c)", EventKind::CreateIndex, merged, Some(("app1", "t1")))),
            ),
            (
                "app1",
                "DROP INDEX i ON t1 ALGORITHM=INPLACE",
                Ok(("DROP INDEX i ON `merged`.`t` ALGORITHM=INPLACE", EventKind::DropIndex, merged, Some(("app1", "t1")))),
            ),
            (
                "app1",
                "RENAME TABLE IF EXISTS u WAIT 3 TO u2, app2.v TO w",
                Ok(("RENAME TABLE IF EXISTS `app1`.`u` WAIT 3 TO `app1`.`u2`, `app2`.`v` TO `app1`.`w`", EventKind::RenameTable, Some(("app1", "u")), Some(("app1", "u")))),
            ),
            (
                "app1",
                "DROP TABLE IF EXISTS u, `u 2` WAIT 5",
                Ok(("DROP TABLE IF EXISTS `app1`.`u`, `app1`.`u 2` WAIT 5", EventKind::DropTable, Some(("app1", "u")), Some(("app1", "u")))),
            ),
            (
                "app1",
                "ALTER DATABASE CHARACTER SET utf8mb4",
                Ok(("ALTER DATABASE `app1` CHARACTER SET utf8mb4", EventKind::Unclassified, None, None)),
            ),
            (
                "x",
                "ALTER SCHEMA app3 DEFAULT COLLATE utf8mb4_bin",
                Ok(("ALTER SCHEMA `app3` DEFAULT COLLATE utf8mb4_bin", EventKind::Unclassified, None, None)),
            ),
            // Not a character but the name moves: byte offsets stay right.
            (
                "app1",
                "ALTER TABLE /* é */\n  `t1` COMMENT 'ü'",
                Ok(("ALTER TABLE /* é */\n  `merged`.`t` COMMENT 'ü'", EventKind::AlterTable, merged, Some(("app1", "t1")))),
            ),
            (
                "app1",
                "ALTER TABLE t1 COMMENT 'x'; -- done",
                Ok((
                    "ALTER TABLE `merged`.`t` COMMENT 'x'",
                    EventKind::AlterTable,
                    merged,
                    Some(("app1", "t1")),
                )),
            ),
            // The rules apply as to any DDL.
            ("other", "ALTER TABLE t1 COMMENT 'x'", Err("filtered by the task's rules")),
            ("app9", "ALTER TABLE t1 COMMENT 'x'", Err("filtered by the task's rules")),
            ("app9", "CREATE TABLE t1 (id INT) ENGINE='InnoDB'", Ok(("CREATE TABLE `merged`.`t` (id INT) ENGINE='InnoDB'", EventKind::CreateTable, merged, Some(("app9", "t1"))))),
            ("other", "ALTER DATABASE other CHARACTER SET utf8mb4", Err("filtered by the task's rules")),
            ("app1", "RENAME TABLE u NOWAIT TO mysql.u", Err("filtered by the task's rules")),
            // Not a table or schema change.
            ("app1", "ALTER EVENT e DISABLE", Err("not a schema change")),
            ("app1", "CREATE TRIGGER tr BEFORE INSERT ON t1 FOR EACH ROW SET NEW.c = 1", Err("not a schema change")),
            ("app1", "OPTIMIZE TABLE t1", Err("not a schema change")),
            (
                "app1",
                "CREATE PROCEDURE p() SELECT 'unterminated",
                Err("not a schema change"),
            ),
        ];
        for (schema, sql, expected) in cases {
            let got = plan(&r, schema, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
            let want = match expected {
                Ok((text, kind, table, source)) => DdlPlan::Apply(vec![PlannedDdl {
                    sql: text.to_string(),
                    kind: *kind,
                    table: table.map(|(s, t)| (s.into(), t.into())),
                    source_table: source.map(|(s, t)| (s.into(), t.into())),
                }]),
                Err(why) => DdlPlan::Skip(why),
            };
            assert_eq!(got, want, "{sql}");
        }
    }

    #[test]
    fn a_schema_change_whose_names_cannot_be_read_is_refused() {
        let r = rules();
        for sql in [
            "ALTER TABLE",
            "ALTER TABLE t1 COMMENT 'x'; DROP TABLE t1",
            "ALTER TABLE /*!50100 t1 */ COMMENT 'x'",
            "RENAME TABLE u u2 NOWAIT",
            "CREATE FULLTEXT INDEX f (c)",
            "ALTER TABLE t1 COMMENT 'unterminated",
        ] {
            let error = plan(&r, "app1", sql).expect_err(sql);
            assert!(
                matches!(error, DdlError::Unreadable { .. })
                    && error
                        .to_string()
                        .contains("could not be read from its tokens"),
                "{sql}: {error}"
            );
        }
    }
}
