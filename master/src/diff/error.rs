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
