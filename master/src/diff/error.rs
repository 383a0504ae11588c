//! Why a comparison could not run at all. Problems of one table (no primary
//! key, a column missing downstream, a query that failed on it) are not
//! errors: they are reported on that table and the others are compared.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DiffError {
    /// The task's rules for a source do not compile or route a table.
    #[error("the task's rules for source {source_id} cannot be used: {reason}")]
    Rules { source_id: String, reason: String },
    /// A database could not be reached.
    #[error("cannot connect to the {which} ({addr}): {reason}")]
    Connect {
        which: String,
        addr: String,
        reason: String,
    },
    /// Listing the tables of a source failed.
    #[error("reading {what} from the {which} ({addr}) failed: {reason}")]
    Query {
        which: String,
        addr: String,
        what: &'static str,
        reason: String,
    },
    /// This build cannot compare data (the simulation has no servers).
    #[error("check-diff is not available here: {0}")]
    NotAvailable(String),
}

/// Why one table could not be compared (reported on that table; the diff
/// goes on with the others).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TableError {
    /// The plan found the table not comparable (see [`super::plan`]).
    #[error("{0}")]
    Planned(String),
    #[error("no upstream table is routed here")]
    NoMember,
    #[error("no connection to source {0}")]
    NoConnection(String),
    #[error(
        "{0} has no primary key: rows cannot be matched by key, so the table is not comparable"
    )]
    NoPrimaryKey(String),
    /// A merged shard lacks columns the first shard has.
    #[error("{member} lacks column(s) {columns} of {first}")]
    MemberLacks {
        member: String,
        columns: String,
        first: String,
    },
    #[error("{0} does not exist downstream")]
    MissingDownstream(String),
    #[error("the downstream table lacks column(s) {0}")]
    DownstreamLacks(String),
    /// A query on one side failed.
    #[error("the {which} ({addr}) failed a query: {reason}")]
    Query {
        which: String,
        addr: String,
        reason: String,
    },
    /// A checksum query answered something that is not a number.
    #[error("the {which} ({addr}) answered a checksum query with no number")]
    NoChecksum { which: String, addr: String },
}
