//! Why the facts of one upstream, or of the downstream, could not be
//! fetched.

use thiserror::Error;

/// Fetching one source's (or the downstream's) facts failed; the pre-check
/// reports it as that subject's failure and checks nothing else on it.
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
    /// The downstream refused the connection (wrong password, unknown
    /// host, nothing listening, ...).
    #[error("cannot connect to the downstream {addr}: {reason}; check target-database's host, port, user and password, and that the server runs and is reachable from the masters")]
    TargetConnect { addr: String, reason: String },
    /// A query on the downstream failed.
    #[error("reading {what} from the downstream {addr} failed: {reason}; the pre-check needs it: check that target-database's user may run it")]
    TargetQuery {
        addr: String,
        what: &'static str,
        reason: String,
    },
    /// The downstream did not answer in time.
    #[error("the downstream {addr} did not answer within {secs} s; check target-database's host and port, and that the server runs and is reachable from the masters")]
    TargetTimeout { addr: String, secs: u64 },
}
