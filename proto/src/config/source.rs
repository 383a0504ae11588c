//! Source files (`operate-source create source.yaml`), with DM 2.x's keys.
//!
//! A source is one upstream MySQL or MariaDB server. Tasks refer to it by
//! `source-id`; the cluster binds each source to one worker at a time.

use serde::{Deserialize, Serialize};

use super::db::DbConfig;
use super::error::ConfigError;
use super::task::{BinlogEventRule, MAX_SOURCE_ID_LEN};
use super::yaml::{self, KeyIndex};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SourceConfig {
    pub source_id: String,
    #[serde(default)]
    pub enable_gtid: bool,
    #[serde(default)]
    pub auto_fix_gtid: bool,
    /// Deprecated in DM 2.0.2 (relay logs); accepted.
    #[serde(default)]
    pub enable_relay: bool,
    #[serde(default)]
    pub relay_binlog_name: String,
    #[serde(default)]
    pub relay_binlog_gtid: String,
    #[serde(default = "default_relay_dir")]
    pub relay_dir: String,
    #[serde(default)]
    pub meta_dir: String,
    /// `mysql` or `mariadb`; empty means detect from the server's version.
    #[serde(default)]
    pub flavor: Flavor,
    #[serde(default)]
    pub charset: String,
    /// Replication server-id used when reading the binlog; chosen at random
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u32>,
    pub from: DbConfig,
    #[serde(default)]
    pub purge: PurgeConfig,
    #[serde(default)]
    pub checker: CheckerConfig,
    #[serde(default)]
    pub case_sensitive: bool,
    /// Binlog event filters applied to every task of this source.
    #[serde(default)]
    pub filters: Vec<BinlogEventRule>,
    /// Deprecated; accepted and ignored.
    #[serde(default, skip_serializing)]
    pub tracer: Option<serde_yaml::Value>,
}

/// Upstream server kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flavor {
    /// Detect from `SELECT VERSION()`.
    #[default]
    #[serde(rename = "")]
    Detect,
    #[serde(rename = "mysql")]
    Mysql,
    #[serde(rename = "mariadb")]
    Mariadb,
}

/// Relay log purge settings (relay logs are accepted for compatibility).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct PurgeConfig {
    /// Seconds between purge checks.
    pub interval: u64,
    /// Hours after which relay files may be purged; 0 disables.
    pub expires: u64,
    /// GB of free disk below which relay files are purged.
    pub remain_space: u64,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        Self {
            interval: 3600,
            expires: 0,
            remain_space: 15,
        }
    }
}

/// Auto-resume of subtasks paused by an error. Durations are Go-style
/// strings (`5s`, `5m`, `1h30m`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct CheckerConfig {
    pub check_enable: bool,
    pub backoff_rollback: String,
    pub backoff_max: String,
    pub check_interval: String,
    pub backoff_min: String,
    pub backoff_jitter: bool,
    pub backoff_factor: f64,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        Self {
            check_enable: true,
            backoff_rollback: "5m".into(),
            backoff_max: "5m".into(),
            check_interval: "5s".into(),
            backoff_min: "1s".into(),
            backoff_jitter: true,
            backoff_factor: 2.0,
        }
    }
}

fn default_relay_dir() -> String {
    "relay-dir".to_string()
}

impl SourceConfig {
    /// Parses and validates a source file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let index = KeyIndex::new(file, text);
        index.check_duplicates()?;
        let source: SourceConfig = yaml::from_str(file, text)?;
        source
            .validate()
            .map_err(|(path, message)| index.invalid(&path, message))?;
        super::first_refusal(&index, super::inventory::source::source_refusals(&source))?;
        Ok(source)
    }

    /// Reads, parses and validates a source file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = super::error::read_file(path)?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// A commented sample file (`operate-source create -p`).
    pub fn sample() -> &'static str {
        include_str!("samples/source.yaml")
    }

    /// The source as YAML (what `get-config source` prints).
    pub fn to_yaml(&self) -> Result<String, ConfigError> {
        yaml::to_string(self)
    }

    /// Checks what serde cannot (for a config that did not come from a
    /// file, e.g. one sent over the network); returns the offending key path
    /// and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let id = &self.source_id;
        if id.is_empty() {
            return Err((
                "source-id".into(),
                "must not be empty; tasks refer to the source by it".into(),
            ));
        }
        if id.len() > MAX_SOURCE_ID_LEN {
            return Err((
                "source-id".into(),
                format!(
                    "\"{id}\" is {} characters long; at most {MAX_SOURCE_ID_LEN} are allowed",
                    id.len()
                ),
            ));
        }
        if self.server_id == Some(0) {
            return Err((
                "server-id".into(),
                "must not be 0 (MySQL refuses a replica with server-id 0); omit it to pick one at random".into(),
            ));
        }
        self.from.validate("from")?;
        for (key, value) in [
            ("checker.backoff-rollback", &self.checker.backoff_rollback),
            ("checker.backoff-max", &self.checker.backoff_max),
            ("checker.check-interval", &self.checker.check_interval),
            ("checker.backoff-min", &self.checker.backoff_min),
        ] {
            super::duration::parse(value).map_err(|e| (key.to_string(), e.to_string()))?;
        }
        if self.checker.backoff_factor < 1.0 {
            return Err((
                "checker.backoff-factor".into(),
                format!("is {}; must be at least 1", self.checker.backoff_factor),
            ));
        }
        Ok(())
    }
}
