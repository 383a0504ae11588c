//! Configuration files and flags, the contract every program shares.
//!
//! - [`TaskConfig`]: task files given to `start-task` / `check-task` (YAML).
//! - [`SourceConfig`]: source files given to `operate-source create` (YAML).
//! - [`MasterConfig`], [`WorkerConfig`]: the `--config` TOML files of
//!   dm-master and dm-worker, with command-line flags over them.
//!
//! Key names, defaults and deprecated keys follow DM 2.x so existing files
//! work unchanged. Parsing is strict: every error names the file, line,
//! column and key, and says what would be valid ([`ConfigError`]).

mod addr;
pub mod at_rest;
mod daemon_args;
mod db;
pub mod duration;
mod error;
pub mod inventory;
mod log;
pub mod manifest;
mod master;
mod source;
pub mod task;
pub mod tls_files;
mod toml_file;
mod worker;
mod yaml;

pub use addr::{
    advertise_for, join_addresses, parse_host_port, parse_initial_cluster, parse_peer_url,
    split_list, unwrap_scheme, wrap_schemes, wrap_schemes_for_initial_cluster,
};
pub use daemon_args::DaemonArgs;
pub use db::{DbConfig, Security, MASKED_PASSWORD};
pub use error::{ConfigError, Location, ValueError};
pub use log::{log_rotate_note, LogFileConfig, DEFAULT_LOG_MAX_DAYS, DEFAULT_LOG_MAX_SIZE_MB};
pub use master::{DeployEntry, MasterArgs, MasterConfig, DEFAULT_MASTER_ADDR, DEFAULT_PEER_URLS};
pub use source::{CheckerConfig, Flavor, PurgeConfig, SourceConfig};
pub use task::{MySqlInstance, ShardMode, TaskConfig, TaskMode};

/// The first refused key (in document order) as an error at its place.
fn first_refusal(
    index: &yaml::KeyIndex,
    refusals: Vec<inventory::Refusal>,
) -> Result<(), ConfigError> {
    let first = refusals.into_iter().min_by_key(|r| {
        let at = index.locate(&r.path);
        (
            at.line.unwrap_or(usize::MAX),
            at.column.unwrap_or(usize::MAX),
        )
    });
    match first {
        Some(r) => Err(index.invalid(&r.path, r.message)),
        None => Ok(()),
    }
}
pub use worker::{
    WorkerArgs, WorkerConfig, DEFAULT_JOIN, DEFAULT_KEEPALIVE_TTL_SECS, DEFAULT_WORKER_ADDR,
};

/// Log levels the programs accept.
pub const LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error", "fatal"];

fn check_log_level(level: &str) -> Result<(), ValueError> {
    if LOG_LEVELS.contains(&level) {
        Ok(())
    } else {
        Err(ValueError::NotLogLevel(level.to_string()))
    }
}

fn check_log_format(format: &str) -> Result<(), ValueError> {
    match format {
        "text" | "json" => Ok(()),
        _ => Err(ValueError::NotLogFormat(format.to_string())),
    }
}

/// This machine's host name, for DM's default master name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
