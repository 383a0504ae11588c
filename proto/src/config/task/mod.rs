//! Task files (`start-task task.yaml`), with DM 2.x's keys.
//!
//! A task names its downstream (`target-database`), its upstream sources
//! (`mysql-instances`, by source-id) and the rules each source's data goes
//! through. Parsing is strict, as in DM: an unknown key, a reference to a rule
//! that no section defines, or a section that no instance uses is an error
//! that names the file, line and key.
//!
//! DM 1.x keys that still appear in the wild (`black-white-list`, per-instance
//! `server-id`, `loaders.*.dir`, `enable-heartbeat`) are accepted so that old
//! task files, like the tutorial's, work unchanged.

pub mod row_filter;
mod rules;
mod units;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use rules::{
    BinlogEventRule, BlockAllowList, ColumnMappingRule, EventType, ExpressionFilter, FilterAction,
    MappingExpression, RouteRule, TableRef,
};
pub use units::{ImportMode, LoaderConfig, MydumperConfig, OnDuplicate, SyncerConfig};

use super::db::DbConfig;
use super::error::ConfigError;
use super::yaml::{self, KeyIndex};

/// The default schema that holds checkpoints downstream.
pub const DEFAULT_META_SCHEMA: &str = "dm_meta";

/// Longest source-id DM accepts (it is a `VARCHAR(32)` in checkpoint tables).
pub const MAX_SOURCE_ID_LEN: usize = 32;

/// A whole task file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TaskConfig {
    pub name: String,
    pub task_mode: TaskMode,
    #[serde(default)]
    pub shard_mode: ShardMode,
    /// Deprecated: `true` means `shard-mode: pessimistic` when shard-mode is unset.
    #[serde(default)]
    pub is_sharding: bool,
    #[serde(default)]
    pub ignore_checking_items: Vec<CheckingItem>,
    #[serde(default = "default_meta_schema")]
    pub meta_schema: String,
    #[serde(default)]
    pub enable_heartbeat: bool,
    /// Seconds.
    #[serde(default = "one")]
    pub heartbeat_update_interval: u32,
    /// Seconds.
    #[serde(default = "ten")]
    pub heartbeat_report_interval: u32,
    /// The time zone of the task's database sessions (`+08:00`,
    /// `Asia/Shanghai`): DATETIME defaults and `NOW()` downstream follow it.
    /// Empty means UTC.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timezone: String,
    #[serde(default)]
    pub case_sensitive: bool,
    pub target_database: DbConfig,
    pub mysql_instances: Vec<MySqlInstance>,
    #[serde(default)]
    pub online_ddl: bool,
    /// Deprecated (`gh-ost` or `pt`); accepted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub online_ddl_scheme: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow_table_rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trash_table_rules: Vec<String>,
    #[serde(default)]
    pub routes: BTreeMap<String, RouteRule>,
    #[serde(default)]
    pub filters: BTreeMap<String, BinlogEventRule>,
    #[serde(default)]
    pub column_mappings: BTreeMap<String, ColumnMappingRule>,
    #[serde(default)]
    pub expression_filter: BTreeMap<String, ExpressionFilter>,
    #[serde(default, alias = "black-white-list")]
    pub block_allow_list: BTreeMap<String, BlockAllowList>,
    #[serde(default)]
    pub mydumpers: BTreeMap<String, MydumperConfig>,
    #[serde(default)]
    pub loaders: BTreeMap<String, LoaderConfig>,
    #[serde(default)]
    pub syncers: BTreeMap<String, SyncerConfig>,
    #[serde(default = "yes")]
    pub clean_dump_file: bool,
    /// Deprecated; accepted and ignored.
    #[serde(default)]
    pub ansi_quotes: bool,
    /// Deprecated (use `start-task --remove-meta`); accepted.
    #[serde(default)]
    pub remove_meta: bool,
}

/// One upstream source of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MySqlInstance {
    pub source_id: String,
    /// Where an incremental task starts when no checkpoint exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// DM 1.x: the replication server-id per instance; now a source setting.
    /// Accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u32>,
    #[serde(default)]
    pub route_rules: Vec<String>,
    #[serde(default)]
    pub filter_rules: Vec<String>,
    #[serde(default)]
    pub column_mapping_rules: Vec<String>,
    #[serde(default)]
    pub expression_filters: Vec<String>,
    #[serde(
        default,
        alias = "black-white-list",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_allow_list: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mydumper_config_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mydumper: Option<MydumperConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mydumper_thread: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader_config_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<LoaderConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader_thread: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncer_config_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncer: Option<SyncerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syncer_thread: Option<u32>,
}

/// A binlog position to start from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Meta {
    #[serde(default)]
    pub binlog_name: String,
    #[serde(default = "four")]
    pub binlog_pos: u32,
    #[serde(default)]
    pub binlog_gtid: String,
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskMode {
    /// Consistent full copy only.
    Full,
    /// Binlog replication only, from `meta` or the checkpoint.
    Incremental,
    /// Full copy, then binlog replication from the copy's position.
    All,
}

/// How shard DDLs are coordinated when several sources merge into one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardMode {
    /// Not a sharded merge.
    #[default]
    #[serde(rename = "")]
    None,
    Pessimistic,
    Optimistic,
}

/// Pre-check items that `ignore-checking-items` can name (DM's spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CheckingItem {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "dump_privilege")]
    DumpPrivilege,
    #[serde(rename = "replication_privilege")]
    ReplicationPrivilege,
    #[serde(rename = "version")]
    Version,
    #[serde(rename = "server_id")]
    ServerId,
    #[serde(rename = "binlog_enable")]
    BinlogEnable,
    #[serde(rename = "binlog_format")]
    BinlogFormat,
    #[serde(rename = "binlog_row_image")]
    BinlogRowImage,
    #[serde(rename = "table_schema")]
    TableSchema,
    #[serde(rename = "schema_of_shard_tables")]
    SchemaOfShardTables,
    #[serde(rename = "auto_increment_ID")]
    AutoIncrementId,
    /// An incremental task's `meta` position exists upstream.
    #[serde(rename = "meta_position")]
    MetaPosition,
}

fn with_time_zone(db: &mut crate::config::DbConfig, zone: &str) {
    db.session
        .retain(|k, _| !k.eq_ignore_ascii_case("time_zone"));
    db.session.insert("time_zone".into(), zone.into());
}

fn default_meta_schema() -> String {
    DEFAULT_META_SCHEMA.to_string()
}
fn one() -> u32 {
    1
}
fn ten() -> u32 {
    10
}
fn four() -> u32 {
    4
}
fn yes() -> bool {
    true
}

impl TaskConfig {
    /// Parses and validates a task file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let index = KeyIndex::new(file, text);
        index.check_duplicates()?;
        index.check_alias_pair("", "block-allow-list", "black-white-list")?;
        let mut task: TaskConfig = yaml::from_str(file, text)?;
        for i in 0..task.mysql_instances.len() {
            index.check_alias_pair(
                &format!("mysql-instances[{i}]"),
                "block-allow-list",
                "black-white-list",
            )?;
        }
        validate::validate(&task, &index)?;
        super::first_refusal(&index, super::inventory::task::task_refusals(&task))?;
        if task.is_sharding && task.shard_mode == ShardMode::None {
            task.shard_mode = ShardMode::Pessimistic;
        }
        if task.shard_mode != ShardMode::None {
            task.is_sharding = true;
        }
        Ok(task)
    }

    /// Reads, parses and validates a task file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = super::error::read_file(path)?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// The task as YAML (what `get-config task` prints).
    pub fn to_yaml(&self) -> Result<String, ConfigError> {
        yaml::to_string(self)
    }

    /// The `time_zone` of the task's sessions on the upstream and the
    /// downstream: `timezone`, else a `time_zone` in
    /// `target-database.session`, else UTC.
    pub fn session_time_zone(&self) -> &str {
        if !self.timezone.is_empty() {
            return &self.timezone;
        }
        self.target_database
            .session
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("time_zone"))
            .map_or("+00:00", |(_, v)| v.as_str())
    }

    /// `target-database` as the task's sessions use it: its `session` with
    /// `time_zone` set to [`Self::session_time_zone`].
    pub fn target_sessions(&self) -> crate::config::DbConfig {
        let mut db = self.target_database.clone();
        with_time_zone(&mut db, self.session_time_zone());
        db
    }

    /// `source` as the task's sessions on it use it: `from.session` with
    /// `time_zone` set to [`Self::session_time_zone`], so the copy reads
    /// TIMESTAMP values in the zone it writes them in.
    pub fn upstream_sessions(
        &self,
        source: &crate::config::SourceConfig,
    ) -> crate::config::SourceConfig {
        let mut source = source.clone();
        with_time_zone(&mut source.from, self.session_time_zone());
        source
    }

    /// Whether a pre-check item is skipped by `ignore-checking-items`.
    pub fn ignores_check(&self, item: CheckingItem) -> bool {
        self.ignore_checking_items
            .iter()
            .any(|i| *i == item || *i == CheckingItem::All)
    }

    /// The instance for `source_id`.
    pub fn instance(&self, source_id: &str) -> Option<&MySqlInstance> {
        self.mysql_instances
            .iter()
            .find(|i| i.source_id == source_id)
    }

    /// The dump settings an instance runs with: the named section or the
    /// inline block or the defaults, with `mydumper-thread` applied.
    pub fn mydumper_for(&self, instance: &MySqlInstance) -> MydumperConfig {
        let mut cfg = resolve(
            &self.mydumpers,
            instance.mydumper_config_name.as_deref(),
            instance.mydumper.as_ref(),
        );
        if let Some(threads) = instance.mydumper_thread {
            cfg.threads = threads;
        }
        cfg
    }

    /// The load settings an instance runs with (`loader-thread` applied).
    pub fn loader_for(&self, instance: &MySqlInstance) -> LoaderConfig {
        let mut cfg = resolve(
            &self.loaders,
            instance.loader_config_name.as_deref(),
            instance.loader.as_ref(),
        );
        if let Some(threads) = instance.loader_thread {
            cfg.pool_size = threads;
        }
        cfg
    }

    /// The sync settings an instance runs with (`syncer-thread` applied).
    pub fn syncer_for(&self, instance: &MySqlInstance) -> SyncerConfig {
        let mut cfg = resolve(
            &self.syncers,
            instance.syncer_config_name.as_deref(),
            instance.syncer.as_ref(),
        );
        if let Some(threads) = instance.syncer_thread {
            cfg.worker_count = threads;
        }
        cfg
    }
}

fn resolve<T: Clone + Default>(
    sections: &BTreeMap<String, T>,
    name: Option<&str>,
    inline: Option<&T>,
) -> T {
    name.and_then(|n| sections.get(n))
        .or(inline)
        .cloned()
        .unwrap_or_default()
}
