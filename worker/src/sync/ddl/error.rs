//! Why a DDL cannot be planned: the sync's DDL layer's one error type.
//! Each variant prints the text the subtask's pause shows.

use dm_rules::PipelineError;

use super::scan::ScanError;

/// A DDL the sync cannot plan or coordinate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DdlError {
    /// Neither sqlparser nor the token scan could read the statement's
    /// table names.
    #[error(
        "{parse_error}; its table names could not be read from its tokens either: {scan_error}"
    )]
    Unreadable {
        parse_error: String,
        scan_error: ScanError,
    },
    /// A name of a form no table or schema has (`a.b.c`, an empty name,
    /// a placeholder).
    #[error("{0}")]
    Name(String),
    /// The task's rules cannot decide where a name goes.
    #[error(transparent)]
    Rules(#[from] PipelineError),
    /// A statement a sharded merge cannot coordinate.
    #[error("{0}")]
    Sharded(&'static str),
}
