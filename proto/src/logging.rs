//! Log setup shared by dm-master and dm-worker: DM's `log-level`,
//! `log-file` and `log-format` keys on top of `tracing`.
//!
//! `RUST_LOG` overrides the level when set. openraft reports unreachable
//! peers at ERROR while a peer is merely restarting, so it is capped at WARN
//! unless `RUST_LOG` says otherwise.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

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

/// Installs the global subscriber. `log_file` empty means stderr.
pub fn init(level: &str, log_file: &str, format: &str) -> Result<(), LoggingError> {
    let level = if level == "fatal" { "error" } else { level };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},openraft=warn,h2=warn,hyper=warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = if log_file.is_empty() {
        match format {
            "json" => builder.json().with_writer(std::io::stderr).try_init(),
            _ => builder.with_writer(std::io::stderr).try_init(),
        }
    } else {
        if let Some(dir) = Path::new(log_file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|error| LoggingError::CreateDir {
                dir: dir.display().to_string(),
                error,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file)
            .map_err(|error| LoggingError::OpenFile {
                file: log_file.to_string(),
                error,
            })?;
        let writer = Mutex::new(file);
        match format {
            "json" => builder
                .json()
                .with_ansi(false)
                .with_writer(writer)
                .try_init(),
            _ => builder.with_ansi(false).with_writer(writer).try_init(),
        }
    };
    result.map_err(|e| LoggingError::Install(e.to_string()))
}
