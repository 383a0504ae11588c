//! Per-unit settings of a task: `mydumpers`, `loaders`, `syncers` (shared
//! sections referenced by name from `mysql-instances`, or written inline).
//! Defaults are DM 2.x's.

use serde::{Deserialize, Serialize};

/// Full-copy read side (DM: mydumper / dumpling).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct MydumperConfig {
    /// Deprecated since DM 2.0; accepted and ignored.
    pub mydumper_path: String,
    /// Parallel readers.
    pub threads: u32,
    /// Target chunk size in MB (DM writes it as a string).
    pub chunk_filesize: String,
    pub statement_size: u64,
    /// Rows per chunk; 0 lets the worker choose.
    pub rows: u64,
    #[serde(rename = "where")]
    pub where_clause: String,
    pub skip_tz_utc: bool,
    pub extra_args: String,
}

impl Default for MydumperConfig {
    fn default() -> Self {
        Self {
            mydumper_path: String::new(),
            threads: 4,
            chunk_filesize: "64".to_string(),
            statement_size: 1_000_000,
            rows: 0,
            where_clause: String::new(),
            skip_tz_utc: true,
            extra_args: String::new(),
        }
    }
}

/// Full-copy write side (DM: loader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LoaderConfig {
    /// Parallel writers.
    pub pool_size: u32,
    /// Where DM 1.x/2.x kept dump files. Our copy streams chunks and keeps no
    /// dump files; the key is accepted for compatibility.
    pub dir: String,
    /// How rows are written: `logical` (SQL statements, DM's `sql`) is what
    /// the copy does; `physical` (DM's `loader`: TiDB Lightning's local
    /// backend) is refused by the task's validation.
    pub import_mode: ImportMode,
    /// What the copy does with a row whose key is already downstream.
    #[serde(alias = "on-duplicate")]
    pub on_duplicate_logical: OnDuplicate,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            pool_size: 16,
            dir: "./dumped_data".to_string(),
            import_mode: ImportMode::Logical,
            on_duplicate_logical: OnDuplicate::Replace,
        }
    }
}

/// `loaders.import-mode`, with DM's older spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportMode {
    #[serde(alias = "sql", alias = "")]
    Logical,
    #[serde(alias = "loader")]
    Physical,
}

/// `loaders.on-duplicate-logical`: a copied row whose primary or unique key
/// is already downstream overwrites it (`replace`, DM's default), leaves
/// it (`ignore`), or stops the copy with the duplicate-key error (`error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDuplicate {
    Replace,
    Ignore,
    Error,
}

/// Binlog replication (DM: syncer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SyncerConfig {
    /// Deprecated; accepted and ignored.
    pub meta_file: String,
    /// Parallel apply lanes.
    pub worker_count: u32,
    /// Changes per downstream statement batch.
    pub batch: u32,
    pub queue_size: u32,
    /// Seconds between checkpoint flushes in DM; ours commit the checkpoint
    /// with every batch, so this only bounds how often status is reported.
    pub checkpoint_flush_interval: u32,
    /// Deprecated; accepted and ignored.
    pub max_retry: u32,
    pub auto_fix_gtid: bool,
    pub enable_gtid: bool,
    pub disable_detect: bool,
    /// Always write idempotently (insert -> replace, update -> delete + replace).
    pub safe_mode: bool,
    /// Deprecated; accepted and ignored.
    pub enable_ansi_quotes: bool,
    /// DM: merge several changes of one row into one before applying.
    /// Accepted; the lanes apply every change of a row in binlog order, and
    /// the downstream ends the same either way.
    pub compact: bool,
    /// DM: one statement for several rows. Accepted; the lanes always put
    /// consecutive inserts of a table into multi-row statements.
    pub multiple_rows: bool,
}

impl Default for SyncerConfig {
    fn default() -> Self {
        Self {
            meta_file: String::new(),
            worker_count: 16,
            batch: 100,
            queue_size: 1024,
            checkpoint_flush_interval: 30,
            max_retry: 100,
            auto_fix_gtid: false,
            enable_gtid: false,
            disable_detect: false,
            safe_mode: false,
            enable_ansi_quotes: false,
            compact: false,
            multiple_rows: false,
        }
    }
}
