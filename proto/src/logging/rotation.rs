//! The log file: rotated by size, old files removed by count and age, as
//! DM's `[log]` section asks (`max-size`, `max-backups`, `max-days`).
//!
//! The `file-rotate` crate does the work: before a line is written, a file
//! already past `max-size` is renamed to a backup `<log-file>.<local time>`
//! (`dm-master.log.2026-12-03T17-30-00`, with `.1`, `.2`, ... when several
//! rotate within one second) and a new file is started. After each rotation
//! the backups past the limits are removed. The crate's timestamp scheme
//! limits backups either by count or by age; [`Backups`] asks for both (a
//! backup goes when it is beyond `max-backups` *or* older than `max-days`),
//! as DM's rotation (lumberjack) does. Backups are judged by the time in
//! their names, so files from an earlier run of the daemon count too.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendTimestamp, DateFrom, FileLimit, SuffixScheme, TimestampSuffix};
use file_rotate::{ContentLimit, FileRotate};

use super::LoggingError;
use crate::config::LogFileConfig;

/// The local time in a backup's name (lexical order is time order; no `.`,
/// which the crate keeps for the same-second counter).
const BACKUP_TIME_FORMAT: &str = "%Y-%m-%dT%H-%M-%S";

/// The log file writer.
pub type RotatingFile = FileRotate<Backups>;

/// Which backups to keep: the newest `max_backups` (0: any number) that are
/// younger than `max-days`.
pub struct Backups {
    /// Names backups by time and judges their age.
    by_age: AppendTimestamp,
    max_backups: usize,
}

impl fmt::Debug for Backups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backups")
            .field("format", &self.by_age.format)
            .field("max_backups", &self.max_backups)
            .finish_non_exhaustive()
    }
}

impl Backups {
    fn new(cfg: &LogFileConfig) -> Self {
        let age = i64::try_from(cfg.max_days)
            .ok()
            .and_then(TimeDelta::try_days)
            .map_or(FileLimit::Unlimited, FileLimit::Age);
        Self {
            by_age: AppendTimestamp::with_format(BACKUP_TIME_FORMAT, age, DateFrom::Now),
            max_backups: usize::try_from(cfg.max_backups).unwrap_or(usize::MAX),
        }
    }
}

impl SuffixScheme for Backups {
    type Repr = TimestampSuffix;

    fn rotate_file(
        &mut self,
        basepath: &Path,
        newest_suffix: Option<&TimestampSuffix>,
        suffix: &Option<TimestampSuffix>,
    ) -> io::Result<TimestampSuffix> {
        self.by_age.rotate_file(basepath, newest_suffix, suffix)
    }

    fn parse(&self, suffix: &str) -> Option<TimestampSuffix> {
        self.by_age.parse(suffix)
    }

    /// `file_number` is 0 for the newest backup.
    fn too_old(&self, suffix: &TimestampSuffix, file_number: usize) -> bool {
        (self.max_backups != 0 && file_number >= self.max_backups)
            || self.by_age.too_old(suffix, file_number)
    }
}

/// Opens (creating it and its directory) the log file at `path`.
///
/// The directory and the file are checked here so that a path that cannot
/// be written is an error at start rather than lines lost later.
pub fn open(path: &Path, cfg: &LogFileConfig) -> Result<RotatingFile, LoggingError> {
    let path: PathBuf = std::path::absolute(path).map_err(|error| LoggingError::OpenFile {
        file: path.display().to_string(),
        error,
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|error| LoggingError::CreateDir {
            dir: dir.display().to_string(),
            error,
        })?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|error| LoggingError::OpenFile {
            file: path.display().to_string(),
            error,
        })?;
    let max_size_bytes = usize::try_from(cfg.max_size_bytes()).unwrap_or(usize::MAX);
    Ok(FileRotate::new(
        &path,
        Backups::new(cfg),
        ContentLimit::BytesSurpassed(max_size_bytes),
        Compression::None,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const MB: usize = 1024 * 1024;

    fn backups_of(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("dm.log."))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn backups_beyond_max_days_are_removed_at_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("dm.log.2020-01-01T00-00-00");
        std::fs::write(&old, "a line from 2020\n").expect("write");
        let recent = dir.path().join(format!(
            "dm.log.{}",
            (chrono::Local::now() - TimeDelta::hours(1)).format(BACKUP_TIME_FORMAT)
        ));
        std::fs::write(&recent, "a line from an hour ago\n").expect("write");
        let cfg = LogFileConfig {
            max_size: 1,
            max_days: 7,
            max_backups: 0,
        };
        let mut file = open(&dir.path().join("dm.log"), &cfg).expect("opens");
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        for _ in 0..=MB / line.len() {
            file.write_all(&line).expect("write");
        }
        assert_eq!(
            backups_of(dir.path()).len(),
            2,
            "the two old files before rotating"
        );
        file.write_all(b"past max-size\n").expect("write");
        let backups = backups_of(dir.path());
        assert!(
            !old.exists(),
            "older than max-days: removed; left {backups:?}"
        );
        assert!(
            recent.exists(),
            "younger than max-days: kept; left {backups:?}"
        );
        assert_eq!(
            backups.len(),
            2,
            "the hour-old one and the new one: {backups:?}"
        );
        let current = std::fs::read_to_string(dir.path().join("dm.log")).expect("read");
        assert_eq!(current, "past max-size\n");
    }
}
