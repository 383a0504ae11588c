//! Log setup shared by dm-master and dm-worker: DM's `log-level`,
//! `log-file`, `log-format` keys and `[log]` section on top of `tracing`.
//!
//! - A log line never blocks the async runtime: the subscriber hands each
//!   formatted line to a writer thread (`tracing-appender`'s non-blocking
//!   writer) that writes it to stderr or to the log file. If the writer
//!   thread falls more than [`BUFFERED_LINES`] lines behind, further lines
//!   are dropped rather than stalling the daemon; how many is counted and
//!   printed on stderr at exit.
//! - The log file rotates by size and keeps backups by count and age
//!   ([`rotation`]).
//! - [`init`] returns a [`LogGuard`]: keep it for the life of the process;
//!   dropping it (at exit) writes out the lines still queued.
//!
//! `RUST_LOG` overrides the level when set. openraft reports unreachable
//! peers at ERROR while a peer is merely restarting, so it is capped at WARN
//! unless `RUST_LOG` says otherwise.

pub mod rotation;

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFileConfig;

/// Lines queued for the writer thread before new ones are dropped.
pub const BUFFERED_LINES: usize = 128_000;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("{dir}: cannot create the log directory: {error}")]
    CreateDir { dir: String, error: std::io::Error },
    #[error("{file}: cannot open the log file: {error}")]
    OpenFile { file: String, error: std::io::Error },
    /// A global subscriber is already installed.
    #[error("cannot install the logger: {0}")]
    Install(String),
}

/// Keeps the writer thread alive; on drop, writes out the queued lines and
/// reports any that were dropped.
#[must_use = "logging stops when the guard is dropped"]
#[derive(Debug)]
pub struct LogGuard {
    dropped: ErrorCounter,
    _writer: WorkerGuard,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let dropped = self.dropped.dropped_lines();
        if dropped > 0 {
            eprintln!(
                "{dropped} log lines were dropped: the log writer fell more than {BUFFERED_LINES} lines behind"
            );
        }
    }
}

/// Installs the global subscriber. `log_file` empty means stderr; a log
/// file rotates as `rotation` says.
pub fn init(
    level: &str,
    log_file: &str,
    format: &str,
    rotation: &LogFileConfig,
) -> Result<LogGuard, LoggingError> {
    let level = if level == "fatal" { "error" } else { level };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},openraft=warn,h2=warn,hyper=warn")));
    let to_file = !log_file.is_empty();
    let (writer, guard) = if to_file {
        non_blocking(rotation::open(std::path::Path::new(log_file), rotation)?)
    } else {
        non_blocking(std::io::stderr())
    };
    let dropped = writer.error_counter();
    install(writer, !to_file, format, filter)?;
    Ok(LogGuard {
        dropped,
        _writer: guard,
    })
}

/// A writer that queues each line for a thread writing to `sink`: a
/// stalled sink costs dropped lines (counted), never a stalled caller.
fn non_blocking<W: std::io::Write + Send + 'static>(sink: W) -> (NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .lossy(true)
        .thread_name("dm-log-writer")
        .finish(sink)
}

fn install(
    writer: NonBlocking,
    ansi: bool,
    format: &str,
    filter: EnvFilter,
) -> Result<(), LoggingError> {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(writer);
    let builder = if ansi {
        builder
    } else {
        builder.with_ansi(false)
    };
    let result = match format {
        "json" => builder.json().try_init(),
        _ => builder.try_init(),
    };
    result.map_err(|e| LoggingError::Install(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// A sink whose writes wait for the test to release the gate.
    struct Stalled(Arc<Mutex<()>>);

    impl io::Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            drop(self.0.lock());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_log_sink_never_blocks_the_caller_and_drops_are_counted() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock();
        let (writer, guard) = non_blocking(Stalled(Arc::clone(&gate)));
        let dropped = writer.error_counter();
        let extra = 1000;
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
            tracing::subscriber::with_default(subscriber, || {
                for line in 0..BUFFERED_LINES + extra {
                    tracing::info!(line, "a line");
                }
            });
            let _ = done.send(());
        });
        let returned = finished.recv_timeout(Duration::from_secs(60)).is_ok();
        drop(held);
        assert!(returned, "logging waited for the stalled sink");
        // The queue holds BUFFERED_LINES; the writer thread may hold one more.
        let lost = dropped.dropped_lines();
        assert!(
            (extra - 1..=extra).contains(&lost),
            "{lost} lines dropped, expected {extra} (or one fewer)"
        );
        drop(guard);
    }
}
