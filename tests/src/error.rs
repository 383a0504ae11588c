//! The one error type of the harness layer.
//!
//! Harness failures are usually environment problems (a missing package, a port race, a
//! server that refused to start), so every variant names the program, directory and/or port
//! involved, and startup failures carry the tail of the server's log: the test output alone
//! should be enough to see what went wrong, because the temp directory is gone by then.

use std::path::PathBuf;
use std::time::Duration;

/// Result alias for harness operations.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

/// Errors of the test harness.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A system program (e.g. `mariadbd`) is not installed.
    #[error("program `{program}` not found (searched PATH and {searched}); {hint}")]
    ProgramNotFound {
        program: String,
        searched: String,
        hint: String,
    },

    /// A binary of this workspace has not been built.
    #[error(
        "workspace binary `{name}` not found (looked at {searched}); \
         run `cargo build --workspace --bins` first"
    )]
    WorkspaceBinaryMissing { name: String, searched: String },

    /// An I/O operation of the harness itself failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    /// A child process could not be spawned.
    #[error("failed to spawn {name} (`{program}`): {source}")]
    Spawn {
        name: String,
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `mariadb-install-db` failed or hung.
    #[error("mariadb-install-db failed for {dir}: {reason}; output tail:\n{output}")]
    InstallDb {
        dir: PathBuf,
        reason: String,
        output: String,
    },

    /// A server process exited before it became ready.
    #[error("{} exited during startup ({status}) {server}", .server.name)]
    ExitedDuringStartup {
        status: String,
        server: Box<ServerReport>,
    },

    /// A server process did not become ready in time.
    #[error("{} not ready after {after:?}; last attempt: {last} {server}", .server.name)]
    StartupTimedOut {
        after: Duration,
        last: String,
        server: Box<ServerReport>,
    },

    /// Every port tried was taken by someone else before the server could bind it.
    #[error("{} could not bind a port after {attempts} attempts {server}", .server.name)]
    PortRetriesExhausted {
        attempts: u32,
        server: Box<ServerReport>,
    },

    /// A fixed port asked for is in use.
    #[error("port {0} on 127.0.0.1 is taken by another process; stop it, or run with free ports")]
    PortTaken(u16),

    /// No free port could be found on 127.0.0.1.
    #[error("no free TCP port on 127.0.0.1: {0}")]
    NoFreePort(String),

    /// A Unix socket path would exceed the kernel's limit (108 bytes).
    #[error(
        "socket path {path} is {len} bytes, longer than the 107 allowed; \
         point TMPDIR at a shorter directory"
    )]
    SocketPathTooLong { path: PathBuf, len: usize },

    /// A query against a harness-managed server failed.
    #[error("{what} on 127.0.0.1:{port} [dir {dir}]: {source}")]
    Mysql {
        what: String,
        port: u16,
        dir: PathBuf,
        #[source]
        source: Box<mysql_async::Error>,
    },

    /// Stopping a child process failed.
    #[error("failed to stop {name} (pid {pid}): {reason}")]
    Stop {
        name: String,
        pid: u32,
        reason: String,
    },

    /// A condition polled with [`crate::wait_until`] did not hold before its deadline.
    #[error("timed out after {after:?} ({attempts} attempts) waiting for {what}{}", last_attempt(.last))]
    Timeout {
        what: String,
        after: Duration,
        attempts: u32,
        last: Option<String>,
    },

    /// A background task of the harness panicked or was cancelled.
    #[error("harness task failed: {0}")]
    Task(String),
}

/// Which server failed, and the end of its log: the context of startup errors.
#[derive(Debug, Clone)]
pub struct ServerReport {
    /// E.g. "mariadbd server-id 2".
    pub name: String,
    /// The server's directory (already removed when the error is seen).
    pub dir: PathBuf,
    /// The port it was started on.
    pub port: u16,
    /// Its log file.
    pub log: PathBuf,
    /// The last lines of that log written by the failed attempt.
    pub tail: String,
}

impl std::fmt::Display for ServerReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[dir {}, port {}]; tail of {}:\n{}",
            self.dir.display(),
            self.port,
            self.log.display(),
            self.tail
        )
    }
}

impl HarnessError {
    /// Shorthand for [`HarnessError::Io`].
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

fn last_attempt(last: &Option<String>) -> String {
    match last {
        Some(why) => format!("; last attempt: {why}"),
        None => String::new(),
    }
}
