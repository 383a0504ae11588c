//! The task pre-check that `check-task` and `start-task` run on the master
//! (DM's `checker.CheckSyncConfigFunc`): does each upstream of a task meet
//! what the dump, load and sync units will need, before anything runs?
//!
//! Items, with DM's names (`ignore-checking-items` skips them by these
//! names; `all` skips the whole pre-check):
//!
//! - **version**: MySQL >= 5.6.0 or MariaDB >= 10.1.2, the servers whose
//!   binlog and `SHOW` output DM understands.
//! - **server_id**: non-zero. A server with id 0 refuses replicas, so the
//!   sync unit could not read its binlog.
//! - **binlog_enable**: `log_bin` is ON; without a binlog there is nothing to
//!   replicate after the dump.
//! - **binlog_format**: ROW. The sync unit applies row events; statements
//!   (STATEMENT, or MIXED's statement events) cannot be replayed safely.
//! - **binlog_row_image**: FULL, so every row event carries whole rows (the
//!   downstream row is found, and rewritten, from all its columns). Servers
//!   without the variable always log full rows and are not checked.
//!   `binlog_row_metadata` is not checked (as in DM): with MariaDB's default
//!   `NO_LOG` or MySQL's `MINIMAL` row events carry no column names, and the
//!   sync decodes them against the definitions its schema tracker keeps.
//! - **replication_privilege**: REPLICATION SLAVE (read the binlog as a
//!   replica) and REPLICATION CLIENT (`SHOW MASTER STATUS`; MariaDB >= 10.5
//!   calls it BINLOG MONITOR), on `*.*`.
//! - **dump_privilege**: SELECT on every selected table and, on MySQL,
//!   RELOAD for the `FLUSH TABLES WITH READ LOCK` of a consistent dump.
//! - **table_schema** (a warning, as in DM): every table the block-allow
//!   list selects has a primary key or a unique key over NOT NULL columns,
//!   without which updates and deletes cannot name their downstream row
//!   exactly.
//! - **auto_increment_ID** (a warning, as in DM): when two or more upstream
//!   tables (of several sources, or of one) are routed to the same
//!   downstream table, those with an auto-increment key may write the same
//!   ids into it, unless a `partition id` column mapping rewrites that
//!   column (see the tutorial's dmtask2) or the ids never overlap (the
//!   tutorial's dmtask1, with `auto-increment-increment`). A `partition id`
//!   mapping on a column that is not BIGINT fails: the mapped ids need 64
//!   bits.
//! - **meta_position**: an incremental task's `meta` position exists on
//!   its upstream (not purged, not ahead of it); see [`position`]. Skipped
//!   for a source whose sync resumes at a checkpoint downstream.
//!
//! - **source_time_zone**: the server knows the task's `timezone` (the
//!   copy reads TIMESTAMP values in it; a named zone needs the server's
//!   time zone tables).
//!
//! And on the downstream, whatever the task ignores (it cannot run without
//! it; see [`target`]): **target_connection** (it answers, with the task's
//! user and password) and **target_session** (it accepts the session
//! variables and time zone the workers will set).
//!
//! Items belong to the units that need them: binlog items, `server_id` and
//! `replication_privilege` are checked only when the task syncs
//! (`incremental`, `all`), `dump_privilege` only when it dumps (`full`,
//! `all`). `schema_of_shard_tables` (same columns in every shard) is not
//! checked yet.
//!
//! Shape: [`facts::fetch`] and [`target::fetch`] are the only IO, one
//! connection per source and one to the downstream (all at once, each
//! bounded by [`facts::FETCH_TIMEOUT`]); [`evaluate`] and the item modules
//! ([`server`], [`grants`], [`tables`], [`position`], [`target`]) decide
//! purely from the fetched facts. A source that cannot be reached is one
//! failure and contributes no tables to `auto_increment_ID`.
//!
//! The outcome is one result per check that ran ([`report`]), each problem
//! naming its subject, the item and the fix, e.g. `source mysql1:
//! binlog_format is STATEMENT; the sync unit needs ROW: SET GLOBAL
//! binlog_format = ROW (and in the server config)`; `check-task` answers it
//! in DM's shape (results with state `fail` / `warn`, a summary).

mod error;
pub mod facts;
pub mod grants;
pub mod position;
pub mod report;
pub mod server;
pub mod tables;
pub mod target;

use std::collections::BTreeMap;

use dm_proto::config::task::{CheckingItem, MappingExpression};
use dm_proto::config::{SourceConfig, TaskConfig, TaskMode};
use dm_rules::{Fate, PipelineError, TaskRules};

pub use dm_proto::check_result::PASSED;
pub use error::PrecheckError;
pub use facts::{ColumnFacts, FactsRequest, IndexFacts, SourceFacts, TableFacts};
pub use report::{CheckReport, CheckResult, Finding, Problem, Severity, Subject};
pub use target::TargetFacts;

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    /// The source exists and its server answers.
    Connection,
    /// The task's rules for the source compile and route every table.
    Rules,
    Version,
    ServerId,
    BinlogEnable,
    BinlogFormat,
    BinlogRowImage,
    ReplicationPrivilege,
    DumpPrivilege,
    TableSchema,
    AutoIncrementId,
    MetaPosition,
    /// The downstream answers as the task's user.
    TargetConnection,
    /// The downstream accepts the task's session settings.
    TargetSession,
    /// The source's server knows the task's time zone.
    SourceTimeZone,
}

impl Item {
    /// The `ignore-checking-items` entry that skips this item; `None` for
    /// those only `all` skips, or nothing does.
    pub fn checking_item(self) -> Option<CheckingItem> {
        match self {
            Item::Connection
            | Item::Rules
            | Item::TargetConnection
            | Item::TargetSession
            | Item::SourceTimeZone => None,
            Item::Version => Some(CheckingItem::Version),
            Item::ServerId => Some(CheckingItem::ServerId),
            Item::BinlogEnable => Some(CheckingItem::BinlogEnable),
            Item::BinlogFormat => Some(CheckingItem::BinlogFormat),
            Item::BinlogRowImage => Some(CheckingItem::BinlogRowImage),
            Item::ReplicationPrivilege => Some(CheckingItem::ReplicationPrivilege),
            Item::DumpPrivilege => Some(CheckingItem::DumpPrivilege),
            Item::TableSchema => Some(CheckingItem::TableSchema),
            Item::AutoIncrementId => Some(CheckingItem::AutoIncrementId),
            Item::MetaPosition => Some(CheckingItem::MetaPosition),
        }
    }

    /// The name results show: the `ignore-checking-items` spelling where
    /// there is one.
    pub fn name(self) -> &'static str {
        match self {
            Item::Connection => "source_connection",
            Item::Rules => "task_rules",
            Item::Version => "version",
            Item::ServerId => "server_id",
            Item::BinlogEnable => "binlog_enable",
            Item::BinlogFormat => "binlog_format",
            Item::BinlogRowImage => "binlog_row_image",
            Item::ReplicationPrivilege => "replication_privilege",
            Item::DumpPrivilege => "dump_privilege",
            Item::TableSchema => "table_schema",
            Item::AutoIncrementId => "auto_increment_ID",
            Item::MetaPosition => "meta_position",
            Item::TargetConnection => "target_connection",
            Item::TargetSession => "target_session",
            Item::SourceTimeZone => "source_time_zone",
        }
    }

    /// What the check asks.
    pub fn desc(self) -> &'static str {
        match self {
            Item::Connection => "check whether the source exists and its server answers",
            Item::Rules => "check whether the task's rules for the source compile",
            Item::Version => "check whether the server's version is supported",
            Item::ServerId => "check whether server_id is set",
            Item::BinlogEnable => "check whether the binlog is enabled",
            Item::BinlogFormat => "check whether binlog_format is ROW",
            Item::BinlogRowImage => "check whether binlog_row_image is FULL",
            Item::ReplicationPrivilege => "check the privileges the binlog replication needs",
            Item::DumpPrivilege => "check the privileges the full copy needs",
            Item::TableSchema => "check whether the selected tables have a primary or unique key",
            Item::AutoIncrementId => "check whether merged tables' auto-increment keys may collide",
            Item::MetaPosition => "check whether the meta position exists on the upstream",
            Item::TargetConnection => "check whether the downstream answers as the task's user",
            Item::TargetSession => {
                "check whether the downstream accepts the task's session settings"
            }
            Item::SourceTimeZone => "check whether the source's server knows the task's time zone",
        }
    }

    /// Whether `task` checks this item: not ignored, and needed by one of
    /// the task's units. The downstream's items always run.
    pub fn enabled(self, task: &TaskConfig) -> bool {
        if matches!(self, Item::TargetConnection | Item::TargetSession) {
            return true;
        }
        if task.ignores_check(CheckingItem::All) {
            return false;
        }
        let syncs = matches!(task.task_mode, TaskMode::Incremental | TaskMode::All);
        let dumps = matches!(task.task_mode, TaskMode::Full | TaskMode::All);
        let needed = match self {
            Item::ServerId
            | Item::BinlogEnable
            | Item::BinlogFormat
            | Item::BinlogRowImage
            | Item::ReplicationPrivilege => syncs,
            Item::DumpPrivilege => dumps,
            // Only an incremental task starts at its meta.
            Item::MetaPosition => task.task_mode == TaskMode::Incremental,
            Item::Connection
            | Item::Rules
            | Item::Version
            | Item::TableSchema
            | Item::AutoIncrementId
            | Item::SourceTimeZone
            | Item::TargetConnection
            | Item::TargetSession => true,
        };
        needed && self.checking_item().is_none_or(|c| !task.ignores_check(c))
    }
}

/// Items whose decisions need the selected tables.
const TABLE_ITEMS: [Item; 3] = [
    Item::TableSchema,
    Item::AutoIncrementId,
    Item::DumpPrivilege,
];

/// Items checked on each source's server.
const SOURCE_ITEMS: [Item; 11] = [
    Item::Version,
    Item::ServerId,
    Item::BinlogEnable,
    Item::BinlogFormat,
    Item::BinlogRowImage,
    Item::ReplicationPrivilege,
    Item::DumpPrivilege,
    Item::TableSchema,
    Item::AutoIncrementId,
    Item::MetaPosition,
    Item::SourceTimeZone,
];

/// The `meta` of `source` in `task` when its position is checked.
fn meta_to_check<'a>(
    task: &'a TaskConfig,
    source: &str,
) -> Option<&'a dm_proto::config::task::Meta> {
    if !Item::MetaPosition.enabled(task) {
        return None;
    }
    task.instance(source)?
        .meta
        .as_ref()
        .filter(|m| position::has_position(m))
}

/// Runs the pre-check of `task` on its sources (`sources` holds their
/// configurations by source-id; an instance whose source is not there fails
/// as not existing) and on its downstream. `removing_meta`: the task's
/// checkpoints are about to be removed (`start-task --remove-meta`), so
/// every source starts at its `meta`. `at_time`: the start is `--start-time`,
/// which takes the place of `meta` (see [`evaluate`]). Never errors: what
/// cannot be checked is a failure.
pub async fn check_task(
    databases: &dyn crate::databases::Databases,
    task: &TaskConfig,
    sources: &BTreeMap<String, SourceConfig>,
    removing_meta: bool,
    at_time: bool,
) -> CheckReport {
    let any_source_item = SOURCE_ITEMS.iter().any(|i| i.enabled(task));
    let needs_tables = TABLE_ITEMS.iter().any(|i| i.enabled(task));
    let fetches = task.mysql_instances.iter().map(|instance| async move {
        let id = instance.source_id.clone();
        let Some(config) = sources.get(&id) else {
            return (id, Err(PrecheckError::MissingSource));
        };
        // The block-allow list picks the tables to fetch; when the rules do
        // not compile, `evaluate` reports it and no tables are fetched.
        let rules = if needs_tables {
            TaskRules::for_source(task, &id).ok()
        } else {
            None
        };
        let request = FactsRequest {
            tables: rules.as_ref(),
            meta: meta_to_check(task, &id).filter(|_| !at_time),
            time_zone: Item::SourceTimeZone
                .enabled(task)
                .then(|| task.session_time_zone()),
        };
        let facts = databases.source_facts(config, request).await;
        (id, facts)
    });
    let sources_fetched = async {
        if any_source_item {
            futures::future::join_all(fetches).await
        } else {
            Vec::new()
        }
    };
    let (fetched, target) =
        futures::future::join(sources_fetched, databases.target_facts(task)).await;
    let report = evaluate(task, &fetched, &target, removing_meta, at_time);
    tracing::info!(
        task = %task.name,
        passed = report.passed(),
        failures = report.problems(Severity::Fail).len(),
        warnings = report.problems(Severity::Warn).len(),
        "task pre-check"
    );
    report
}

/// The pure core: every enabled item of `task` decided on the facts fetched
/// per source (in the task's instance order) and on the downstream.
pub fn evaluate(
    task: &TaskConfig,
    fetched: &[(String, Result<SourceFacts, PrecheckError>)],
    target: &Result<TargetFacts, PrecheckError>,
    removing_meta: bool,
    at_time: bool,
) -> CheckReport {
    let mut report = CheckReport::default();
    let on = |item: Item| item.enabled(task);
    let needs_rules = TABLE_ITEMS.iter().any(|i| i.enabled(task));

    // The downstream.
    let downstream = Subject::Target(target::address(task));
    let checkpointed = match target {
        Ok(facts) => {
            report.ran(&downstream, Item::TargetConnection);
            let session = report.ran(&downstream, Item::TargetSession);
            for message in target::target_session(task, facts) {
                session.findings.push(Finding {
                    severity: Severity::Fail,
                    message,
                });
            }
            Some(&facts.checkpointed)
        }
        Err(e) => {
            report.found(
                &downstream,
                Item::TargetConnection,
                Severity::Fail,
                e.to_string(),
            );
            None
        }
    };

    // An incremental source needs a start position: its checkpoints (it
    // resumes), `--start-time`, or `meta`. Not an item one can ignore: a
    // start without one would have to guess.
    if task.task_mode == TaskMode::Incremental && !at_time {
        for instance in &task.mysql_instances {
            let resumes =
                !removing_meta && checkpointed.is_none_or(|c| c.contains(&instance.source_id));
            if instance.meta.is_none() && !resumes {
                let subject = Subject::Source(instance.source_id.clone());
                report.ran(&subject, Item::MetaPosition);
                report.found(
                    &subject,
                    Item::MetaPosition,
                    Severity::Fail,
                    position::MISSING_META.to_string(),
                );
            }
        }
    }

    // Per source: the server, the grants, the tables one by one.
    let mut routable = Vec::new();
    for (source, result) in fetched {
        let subject = Subject::Source(source.clone());
        let facts = match result {
            Ok(facts) => facts,
            Err(e) => {
                if on(Item::Connection) {
                    report.found(&subject, Item::Connection, Severity::Fail, e.to_string());
                }
                continue;
            }
        };
        let version = facts.variable("version");
        let mariadb = version.is_some_and(server::is_mariadb);
        let server_items: [(Item, Option<String>); 5] = [
            (Item::Version, server::version(version)),
            (
                Item::ServerId,
                server::server_id(facts.variable("server_id")),
            ),
            (
                Item::BinlogEnable,
                server::binlog_enable(facts.variable("log_bin")),
            ),
            (
                Item::BinlogFormat,
                server::binlog_format(facts.variable("binlog_format")),
            ),
            (
                Item::BinlogRowImage,
                server::binlog_row_image(facts.variable("binlog_row_image")),
            ),
        ];
        for (item, message) in server_items {
            if !on(item) {
                continue;
            }
            let result = report.ran(&subject, item);
            if let Some(message) = message {
                result.findings.push(Finding {
                    severity: Severity::Fail,
                    message,
                });
            }
        }
        if on(Item::ReplicationPrivilege) {
            report.ran(&subject, Item::ReplicationPrivilege);
            if let Some(m) = grants::replication_privilege(&facts.grants, &facts.current_user) {
                report.found(&subject, Item::ReplicationPrivilege, Severity::Fail, m);
            }
        }
        if on(Item::DumpPrivilege) {
            report.ran(&subject, Item::DumpPrivilege);
            let names: Option<Vec<(String, String)>> = facts.tables.as_ref().map(|tables| {
                tables
                    .iter()
                    .map(|t| (t.schema.clone(), t.name.clone()))
                    .collect()
            });
            if let Some(m) = grants::dump_privilege(
                &facts.grants,
                &facts.current_user,
                mariadb,
                names.as_deref(),
            ) {
                report.found(&subject, Item::DumpPrivilege, Severity::Fail, m);
            }
        }
        if on(Item::SourceTimeZone) {
            report.ran(&subject, Item::SourceTimeZone);
            if let Some(why) = &facts.time_zone_refused {
                report.found(
                    &subject,
                    Item::SourceTimeZone,
                    Severity::Fail,
                    format!(
                        "timezone {} is unknown to the upstream: {why}: load its time zone tables (mariadb-tzinfo-to-sql) or give an offset such as \"+08:00\"",
                        task.session_time_zone()
                    ),
                );
            }
        }
        // A source with a checkpoint resumes there, unless it is removed.
        let resumes = !removing_meta && checkpointed.is_some_and(|c| c.contains(source));
        if at_time && resumes {
            // `--start-time` replaces `meta`, which a resume ignores: the
            // time would be ignored silently.
            report.ran(&subject, Item::MetaPosition);
            report.found(
                &subject,
                Item::MetaPosition,
                Severity::Fail,
                format!(
                    "meta_position: the downstream holds checkpoints of task {} for this source, and a start resumes from them; --start-time applies to a start without checkpoints: add --remove-meta to begin at the time, or leave out --start-time to resume",
                    task.name
                ),
            );
        }
        if let (Some(meta), Some(binlog), false) = (
            meta_to_check(task, source).filter(|_| !at_time),
            &facts.binlog,
            resumes,
        ) {
            report.ran(&subject, Item::MetaPosition);
            if let Some(m) = position::meta_position(meta, binlog) {
                report.found(&subject, Item::MetaPosition, Severity::Fail, m);
            }
        }
        if !needs_rules {
            continue;
        }
        let rules = match TaskRules::for_source(task, source) {
            Ok(rules) => rules,
            Err(e) => {
                report.found(
                    &subject,
                    Item::Rules,
                    Severity::Fail,
                    format!(
                        "the task's rules for this source do not compile ({e}): fix the task file"
                    ),
                );
                continue;
            }
        };
        let Some(selected) = &facts.tables else {
            continue;
        };
        if on(Item::TableSchema) {
            report.ran(&subject, Item::TableSchema);
            for table in selected {
                if let Some(m) = tables::table_schema(table) {
                    report.found(&subject, Item::TableSchema, Severity::Warn, m);
                }
            }
        }
        routable.push((source.as_str(), rules, selected));
    }

    // Across sources: the upstream tables merged into each downstream table.
    if on(Item::AutoIncrementId) {
        let mut targets: BTreeMap<(String, String), (String, String, Vec<tables::Member<'_>>)> =
            BTreeMap::new();
        for (source, rules, selected) in &routable {
            let subject = Subject::Source(source.to_string());
            report.ran(&subject, Item::AutoIncrementId);
            for table in selected.iter() {
                let (target, mapping) = match rules.table(&table.schema, &table.name) {
                    Ok(Fate::Routed(route)) => {
                        let mapping = match route.mapper() {
                            None => tables::Mapping::None,
                            Some(mapper) => tables::Mapping::Rule {
                                partition_id: mapper.rule().expression
                                    == MappingExpression::PartitionId,
                                target_column: mapper.target_column().to_string(),
                            },
                        };
                        (route.target, mapping)
                    }
                    Ok(Fate::Dropped(_)) => continue,
                    Err(PipelineError::Mapping { target, error }) => {
                        (target, tables::Mapping::Error(error.to_string()))
                    }
                    Err(PipelineError::Route(e)) => {
                        report.found(
                            &subject,
                            Item::Rules,
                            Severity::Fail,
                            format!(
                                "{} cannot be routed ({e}): fix the task's routes",
                                tables::quoted(&table.schema, &table.name)
                            ),
                        );
                        continue;
                    }
                };
                let (schema, name) = target;
                let (key_schema, key_table) = rules.target_key(&schema, &name);
                let key = (key_schema.into_owned(), key_table.into_owned());
                targets
                    .entry(key)
                    .or_insert_with(|| (schema, name, Vec::new()))
                    .2
                    .push(tables::Member {
                        source,
                        table,
                        mapping,
                    });
            }
        }
        for (schema, name, members) in targets.values() {
            for (source, severity, message) in tables::auto_increment_id((schema, name), members) {
                report.found(
                    &Subject::Source(source),
                    Item::AutoIncrementId,
                    severity,
                    message,
                );
            }
        }
    }
    report
}

#[cfg(test)]
mod tests;
