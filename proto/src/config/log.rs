//! The `[log]` section of the dm-master and dm-worker files: how the log
//! file (`log-file`) rotates and how many old files are kept.
//!
//! Key names, units and defaults are DM's (its log package, after
//! pingcap/log's file settings): `max-size` in MB (MiB: 1024 × 1024 bytes),
//! `max-days` in days, `max-backups` a count. As in DM, `max-size = 0` and
//! `max-days = 0` mean the defaults (512 MB, 7 days) and `max-backups = 0`
//! keeps every old file that `max-days` allows.
//!
//! `log-rotate` (top level, DM 1.x: `"hour"` or `"day"`) is accepted but
//! has no effect: DM 2.x parses it and ignores it too (its flag is
//! commented out and nothing reads the value), rotating by size and age
//! only. A DM file with it behaves here as it did in DM 2.x; the daemon
//! says so in its log at start.

use serde::{Deserialize, Serialize};

/// DM's default `max-size`, in MB.
pub const DEFAULT_LOG_MAX_SIZE_MB: u64 = 512;
/// DM's default `max-days`.
pub const DEFAULT_LOG_MAX_DAYS: u64 = 7;

/// One MB as DM (and pingcap/log's rotation) counts it.
const BYTES_PER_MB: u64 = 1024 * 1024;

/// The `[log]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LogFileConfig {
    /// A log file past this many MB is renamed to a backup and a new one
    /// started (checked before each line, so a file ends on a whole line).
    pub max_size: u64,
    /// Backups older than this many days are removed.
    pub max_days: u64,
    /// At most this many backups are kept, the oldest removed first; 0: no
    /// limit by count.
    pub max_backups: u64,
}

impl Default for LogFileConfig {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_LOG_MAX_SIZE_MB,
            max_days: DEFAULT_LOG_MAX_DAYS,
            max_backups: 0,
        }
    }
}

impl LogFileConfig {
    /// DM's adjustment: zero size and zero days take the defaults.
    pub fn adjust(&mut self) {
        if self.max_size == 0 {
            self.max_size = DEFAULT_LOG_MAX_SIZE_MB;
        }
        if self.max_days == 0 {
            self.max_days = DEFAULT_LOG_MAX_DAYS;
        }
    }

    /// `max-size` in bytes.
    pub fn max_size_bytes(&self) -> u64 {
        self.max_size.saturating_mul(BYTES_PER_MB)
    }
}

/// What the daemon logs at start about a `log-rotate` value, which has no
/// effect; `None` when the key is absent or empty.
pub fn log_rotate_note(log_rotate: &str) -> Option<String> {
    (!log_rotate.is_empty()).then(|| {
        format!(
            "log-rotate = \"{log_rotate}\" has no effect (as in DM 2.x): the log file rotates by size ([log] max-size) and backups are kept by age and count ([log] max-days, max-backups)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_size_and_days_take_dms_defaults() {
        let mut cfg = LogFileConfig {
            max_size: 0,
            max_days: 0,
            max_backups: 0,
        };
        cfg.adjust();
        assert_eq!(cfg, LogFileConfig::default());
        assert_eq!(cfg.max_size_bytes(), 512 * 1024 * 1024);
    }

    #[test]
    fn log_rotate_is_reported_only_when_set() {
        assert_eq!(log_rotate_note(""), None);
        assert!(log_rotate_note("day")
            .is_some_and(|n| n.starts_with("log-rotate = \"day\" has no effect")));
    }
}
