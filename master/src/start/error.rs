//! Why a master did not start. Each variant's text is the step that failed;
//! the lower layer's error is its source, so `{:#}` prints the whole chain
//! (`opening the data dir d: sled: ...`).

use dm_proto::config::ValueError;

use crate::raft::{NodeId, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// An address of the configuration does not parse.
    #[error(transparent)]
    Address(#[from] ValueError),
    /// `peer-urls` or `advertise-peer-urls` lists nothing.
    #[error("{0} is empty")]
    NoUrl(&'static str),
    /// openraft refused the Raft settings.
    #[error("raft settings")]
    RaftSettings(#[source] Box<openraft::ConfigError>),
    /// The Raft stores could not be opened.
    #[error("opening the data dir {dir}")]
    DataDir {
        dir: String,
        #[source]
        source: Box<StoreError>,
    },
    /// Raft did not start, or stopped while the master joined its group.
    #[error("{doing}")]
    Raft {
        doing: &'static str,
        #[source]
        source: Box<openraft::error::Fatal<NodeId>>,
    },
    /// An address could not be bound.
    #[error("listening on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// `initialize` failed for another reason than "already initialized".
    #[error("initializing the raft group: {0}")]
    Initialize(String),
    /// A master in `--join` refused to add this one.
    #[error("joining through {addr}: {reason}")]
    JoinRefused { addr: String, reason: String },
    /// `--v1-sources-path` could not be listed.
    #[error("--v1-sources-path {dir}: cannot list the directory")]
    V1SourcesRead {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    /// `--v1-sources-path` holds DM 1.x source files, which cannot be imported.
    #[error("--v1-sources-path {dir} holds {files}: importing a DM 1.x cluster (its sources and its workers' subtasks) is not supported; add each source with `dmctl operate-source create FILE`, start its tasks with `dmctl start-task`, and empty the directory or start dm-master without --v1-sources-path")]
    V1SourcesImport { dir: String, files: String },
    /// `secret-key-path` names no readable 64-hex-digit key.
    #[error(transparent)]
    SecretKey(#[from] dm_proto::secret::KeyFileError),
    /// `ssl-ca`, `ssl-cert` or `ssl-key` cannot be used (the file and why).
    #[error(transparent)]
    Tls(#[from] dm_proto::tls::TlsError),
    /// No master in `--join` answered in time.
    #[error("no master in --join added this master within {secs} s: {last_error}")]
    JoinTimeout { secs: u64, last_error: String },
}
