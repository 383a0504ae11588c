//! The upstream port's one error type. Its texts are what `query-status`
//! shows when a copy or a sync stops on the upstream.

use crate::db_error::{DbError, DbFault};

/// MySQL's "could not find the first log file name in the binary log
/// index" / "the binlog position is gone" (`ER_MASTER_FATAL_ERROR_READING_BINLOG`).
const ER_MASTER_FATAL_ERROR_READING_BINLOG: u16 = 1236;

/// The upstream layer's one error type.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Opening a snapshot on the server at `addr` failed.
    #[error("upstream {addr}: {what}: {source}")]
    Database {
        addr: String,
        what: String,
        #[source]
        source: DbError,
    },
    #[error("upstream {addr}: {what}")]
    Unexpected { addr: String, what: String },
    /// A query or the binlog connection failed.
    #[error("upstream: {what}: {source}")]
    Query {
        what: String,
        #[source]
        source: DbError,
    },
    /// The upstream answered with something the copy cannot read.
    #[error("{0}")]
    Data(String),
    /// An event or a position that cannot be decoded.
    #[error("binlog: {0}")]
    Decode(String),
    /// A binlog position that the upstream does not have.
    #[error("binlog position: {0}")]
    Position(String),
}

impl UpstreamError {
    /// A failed query, `what` saying what it was for.
    pub(crate) fn query<E: Into<DbError>>(what: impl Into<String>) -> impl FnOnce(E) -> Self {
        let what = what.into();
        move |source| UpstreamError::Query {
            what,
            source: source.into(),
        }
    }

    fn database_error(&self) -> Option<&DbError> {
        match self {
            UpstreamError::Database { source, .. } | UpstreamError::Query { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }

    /// Whether the connection to the server was lost (I/O or the
    /// client's protocol): the same work may succeed on a new one.
    pub fn connection_lost(&self) -> bool {
        self.database_error().is_some_and(DbError::is_connection)
    }

    /// Whether reading the binlog again later may succeed: any failure to
    /// talk to the server, but not its refusal to serve the position.
    pub fn binlog_retryable(&self) -> bool {
        match self.database_error().map(DbError::fault) {
            Some(DbFault::Refused { code, .. }) => *code != ER_MASTER_FATAL_ERROR_READING_BINLOG,
            Some(_) => true,
            None => false,
        }
    }
}
