//! The daemons' log setup writing past `[log] max-size`: the file rotates,
//! at most `max-backups` backups are kept, and no line is lost or split
//! across the kept files. (One test: it installs the process's global
//! subscriber.)

use dm_proto::config::LogFileConfig;

const MB: usize = 1024 * 1024;

/// `n` from a line ending in `line=n` (the event's field).
fn line_number(line: &str) -> u64 {
    line.rsplit("line=")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a whole test line: {line:?}"))
}

#[test]
fn a_log_written_past_max_size_rotates_and_keeps_max_backups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_file = dir.path().join("log").join("dm-worker.log");
    let cfg = LogFileConfig {
        max_size: 1,
        max_days: 7,
        max_backups: 2,
    };
    let guard =
        dm_proto::logging::init("info", log_file.to_str().expect("utf-8 path"), "text", &cfg)
            .expect("logging set up");
    let padding = "p".repeat(200);
    // About 4.6 MB: four rotations at 1 MB.
    let lines: u64 = 20_000;
    for line in 1..=lines {
        tracing::info!(padding = %padding, line);
    }
    drop(guard);

    let mut backups: Vec<_> = std::fs::read_dir(log_file.parent().expect("dir"))
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p != &log_file)
        .collect();
    backups.sort();
    assert_eq!(
        backups.len(),
        2,
        "max-backups = 2 after four rotations: {backups:?}"
    );
    let mut previous: Option<u64> = None;
    for path in backups.iter().chain(std::iter::once(&log_file)) {
        let text = std::fs::read_to_string(path).expect("read");
        let size = text.len();
        if path != &log_file {
            assert!(
                size > MB && size < MB + 400,
                "{}: a backup ends on the first whole line past 1 MB, has {size} bytes",
                path.display()
            );
        }
        for line in text.lines() {
            let n = line_number(line);
            if let Some(p) = previous {
                assert_eq!(n, p + 1, "{}: lines follow on", path.display());
            }
            previous = Some(n);
        }
    }
    assert_eq!(previous, Some(lines), "the last line is in the log file");
}
