//! Why the facts of one upstream could not be fetched.

use thiserror::Error;

/// Fetching one source's facts failed; the pre-check reports it as that
/// source's failure and checks nothing else on it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrecheckError {
    /// The task names a source the cluster does not have.
    #[error("does not exist; create it with `operate-source create`")]
    MissingSource,
    /// The connection failed (refused, bad password, unknown host, ...).
    #[error("cannot connect to the upstream {addr}: {reason}; the pre-check needs it: check the source's `from` settings and that the server is running")]
    Connect { addr: String, reason: String },
    /// A query the pre-check needs failed.
    #[error("reading {what} from the upstream {addr} failed: {reason}; the pre-check needs it: check that the user may run it")]
    Query {
        addr: String,
        what: &'static str,
        reason: String,
    },
    /// Nothing came back in time.
    #[error("the upstream {addr} did not answer the pre-check within {secs} s: check that the server is running and reachable from the masters")]
    Timeout { addr: String, secs: u64 },
}
