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
//!   downstream row is found, and rewritten, from all its columns). Where the
//!   server has `binlog_row_metadata` (MariaDB >= 10.5, MySQL >= 8.0.14) it
//!   must be FULL too, so row events carry column names; this is checked
//!   under the same item. Servers without the variables always log full rows
//!   and are not checked.
//! - **replication_privilege**: REPLICATION SLAVE (read the binlog as a
//!   replica) and REPLICATION CLIENT (`SHOW MASTER STATUS`; MariaDB >= 10.5
//!   calls it BINLOG MONITOR), on `*.*`.
//! - **dump_privilege**: SELECT on every selected table and, on MySQL,
//!   RELOAD for the `FLUSH TABLES WITH READ LOCK` of a consistent dump.
//! - **table_schema**: every table the block-allow list selects has a primary
//!   key or a unique key over NOT NULL columns, without which updates and
//!   deletes cannot name their downstream row exactly.
//! - **auto_increment_ID**: when two or more upstream tables (of several
//!   sources, or of one) are routed to the same downstream table, those with
//!   an auto-increment key would write the same ids into it. Each such table
//!   needs a `partition id` column mapping on that column, which must be
//!   BIGINT (see the tutorial's dmtask2); a task whose ids cannot overlap
//!   (the tutorial's dmtask1, with `auto-increment-increment`) ignores the
//!   item.
//!
//! Items belong to the units that need them: binlog items, `server_id` and
//! `replication_privilege` are checked only when the task syncs
//! (`incremental`, `all`), `dump_privilege` only when it dumps (`full`,
//! `all`). `schema_of_shard_tables` (same columns in every shard) is not
//! checked yet.
//!
//! Shape: [`facts::fetch`] is the only IO, one connection per source (all
//! sources at once, each bounded by [`facts::FETCH_TIMEOUT`]); [`evaluate`]
//! and the item modules ([`server`], [`grants`], [`tables`]) decide purely
//! from the fetched facts. A source that cannot be reached is one failure
//! and contributes no tables to `auto_increment_ID`.
//!
//! Each failure is one line naming the source, the item and the fix, e.g.
//! `source mysql1: binlog_format is STATEMENT; the sync unit needs ROW: SET
//! GLOBAL binlog_format = ROW (and in the server config)`.

mod error;
pub mod facts;
pub mod grants;
pub mod server;
pub mod tables;

use std::collections::BTreeMap;
use std::fmt;

use dm_proto::config::task::{CheckingItem, MappingExpression};
use dm_proto::config::{SourceConfig, TaskConfig, TaskMode};
use dm_worker::rules::pattern::fold;
use dm_worker::rules::TaskRules;

pub use error::PrecheckError;
pub use facts::{ColumnFacts, IndexFacts, SourceFacts, TableFacts};

/// What `check-task` answers when nothing failed (DM's text).
pub const PASSED: &str = "pre-check is passed. ";

/// What a failure is about.
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
    /// Checked under `binlog_row_image`.
    BinlogRowMetadata,
    ReplicationPrivilege,
    DumpPrivilege,
    TableSchema,
    AutoIncrementId,
}

impl Item {
    /// The `ignore-checking-items` entry that skips this item; `None` for
    /// those only `all` skips.
    pub fn checking_item(self) -> Option<CheckingItem> {
        match self {
            Item::Connection | Item::Rules => None,
            Item::Version => Some(CheckingItem::Version),
            Item::ServerId => Some(CheckingItem::ServerId),
            Item::BinlogEnable => Some(CheckingItem::BinlogEnable),
            Item::BinlogFormat => Some(CheckingItem::BinlogFormat),
            Item::BinlogRowImage | Item::BinlogRowMetadata => Some(CheckingItem::BinlogRowImage),
            Item::ReplicationPrivilege => Some(CheckingItem::ReplicationPrivilege),
            Item::DumpPrivilege => Some(CheckingItem::DumpPrivilege),
            Item::TableSchema => Some(CheckingItem::TableSchema),
            Item::AutoIncrementId => Some(CheckingItem::AutoIncrementId),
        }
    }

    /// Whether `task` checks this item: not ignored, and needed by one of
    /// the task's units.
    pub fn enabled(self, task: &TaskConfig) -> bool {
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
            | Item::BinlogRowMetadata
            | Item::ReplicationPrivilege => syncs,
            Item::DumpPrivilege => dumps,
            Item::Connection
            | Item::Rules
            | Item::Version
            | Item::TableSchema
            | Item::AutoIncrementId => true,
        };
        needed && self.checking_item().is_none_or(|c| !task.ignores_check(c))
    }
}

/// One failed item of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub source: String,
    pub item: Item,
    /// What is wrong, why DM cares and the fix, without the source.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "source {}: {}", self.source, self.message)
    }
}

/// The outcome of a pre-check: the failures, in task order (per source,
/// then `auto_increment_ID` per downstream table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub failures: Vec<Failure>,
}

impl CheckReport {
    /// Whether every item passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for CheckReport {
    /// One failure per line, or [`PASSED`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failures.is_empty() {
            return f.write_str(PASSED);
        }
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

/// Items whose decisions need the selected tables.
const TABLE_ITEMS: [Item; 3] = [
    Item::TableSchema,
    Item::AutoIncrementId,
    Item::DumpPrivilege,
];

/// Runs the pre-check of `task` on its sources (`sources` holds their
/// configurations by source-id; an instance whose source is not there fails
/// as not existing). Never errors: what cannot be checked is a failure.
pub async fn check_task(
    databases: &dyn crate::databases::Databases,
    task: &TaskConfig,
    sources: &BTreeMap<String, SourceConfig>,
) -> CheckReport {
    let any_item = [
        Item::Version,
        Item::ServerId,
        Item::BinlogEnable,
        Item::BinlogFormat,
        Item::BinlogRowImage,
        Item::ReplicationPrivilege,
    ]
    .into_iter()
    .chain(TABLE_ITEMS)
    .any(|i| i.enabled(task));
    if !any_item {
        return CheckReport::default();
    }
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
        let facts = databases
            .source_facts(config, rules.as_ref().map(|r| &r.block_allow))
            .await;
        (id, facts)
    });
    let fetched = futures::future::join_all(fetches).await;
    let report = evaluate(task, &fetched);
    tracing::info!(task = %task.name, passed = report.passed(), failures = report.failures.len(), "task pre-check");
    report
}

/// The pure core: every enabled item of `task` decided on the facts fetched
/// per source (in the task's instance order).
pub fn evaluate(
    task: &TaskConfig,
    fetched: &[(String, Result<SourceFacts, PrecheckError>)],
) -> CheckReport {
    let mut failures = Vec::new();
    let mut fail = |source: &str, item: Item, message: String| {
        failures.push(Failure {
            source: source.to_string(),
            item,
            message,
        });
    };
    let on = |item: Item| item.enabled(task);
    let needs_rules = TABLE_ITEMS.iter().any(|i| i.enabled(task));

    // Per source: the server, the grants, the tables one by one.
    let mut routable = Vec::new();
    for (source, result) in fetched {
        let facts = match result {
            Ok(facts) => facts,
            Err(e) => {
                if on(Item::Connection) {
                    fail(source, Item::Connection, e.to_string());
                }
                continue;
            }
        };
        let version = facts.variable("version");
        let mariadb = version.is_some_and(server::is_mariadb);
        let server_items: [(Item, Option<String>); 6] = [
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
            (
                Item::BinlogRowMetadata,
                server::binlog_row_metadata(facts.variable("binlog_row_metadata")),
            ),
        ];
        for (item, message) in server_items {
            if let Some(message) = message.filter(|_| on(item)) {
                fail(source, item, message);
            }
        }
        if on(Item::ReplicationPrivilege) {
            if let Some(m) = grants::replication_privilege(&facts.grants, &facts.current_user) {
                fail(source, Item::ReplicationPrivilege, m);
            }
        }
        if on(Item::DumpPrivilege) {
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
                fail(source, Item::DumpPrivilege, m);
            }
        }
        if !needs_rules {
            continue;
        }
        let rules = match TaskRules::for_source(task, source) {
            Ok(rules) => rules,
            Err(e) => {
                fail(
                    source,
                    Item::Rules,
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
            for table in selected {
                if let Some(m) = tables::table_schema(table) {
                    fail(source, Item::TableSchema, m);
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
            for table in selected.iter() {
                let (schema, name) = match rules.router.route(&table.schema, &table.name) {
                    Ok(target) => target,
                    Err(e) => {
                        fail(
                            source,
                            Item::Rules,
                            format!(
                                "{} cannot be routed ({e}): fix the task's routes",
                                tables::quoted(&table.schema, &table.name)
                            ),
                        );
                        continue;
                    }
                };
                let mapping = match rules.column_mapper_for(&table.schema, &table.name) {
                    Ok(None) => tables::Mapping::None,
                    Ok(Some(mapper)) => tables::Mapping::Rule {
                        partition_id: mapper.rule().expression == MappingExpression::PartitionId,
                        target_column: mapper.target_column().to_string(),
                    },
                    Err(e) => tables::Mapping::Error(e.to_string()),
                };
                let key = (
                    fold(&schema, rules.case_sensitive).into_owned(),
                    fold(&name, rules.case_sensitive).into_owned(),
                );
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
            for (source, message) in tables::auto_increment_id((schema, name), members) {
                fail(&source, Item::AutoIncrementId, message);
            }
        }
    }
    CheckReport { failures }
}

#[cfg(test)]
mod tests;
