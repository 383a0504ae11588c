//! The master's one error type, mapped to gRPC status in one place.
//!
//! `Unavailable` means "not done, safe to send again (to this or another
//! master)": no leader, leadership moved, the leader cannot be reached.
//! dmctl retries exactly those.

use crate::state::Rejection;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// No leader is known (an election is running, or no quorum).
    #[error("no leader yet (election in progress or no quorum); retry")]
    NoLeader,
    /// The request was forwarded to a master that is not the leader.
    #[error("the leader changed while the request was forwarded; retry")]
    LeaderMoved,
    /// The leader (or the master forwarding to it) could not be reached.
    #[error("cannot reach the leader at {addr}: {reason}; retry")]
    LeaderUnreachable { addr: String, reason: String },
    /// A write did not commit in time (no quorum?). It may still commit.
    #[error("the change was not committed within {timeout_ms} ms (is a majority of masters up?); check and retry")]
    NotCommitted { timeout_ms: u64 },
    /// Raft reported an error.
    #[error("raft: {0}")]
    Raft(String),
    /// The state does not allow the change.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// The request itself is wrong.
    #[error("{0}")]
    InvalidRequest(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(String),
    /// A heartbeat from a worker the cluster does not know.
    #[error("worker {0} is not registered; register first")]
    UnknownWorker(String),
    /// Not available in this version.
    #[error("{0} is not supported by this version yet")]
    Unsupported(&'static str),
}

impl From<MasterError> for tonic::Status {
    fn from(err: MasterError) -> Self {
        let message = err.to_string();
        match err {
            MasterError::NoLeader
            | MasterError::LeaderMoved
            | MasterError::LeaderUnreachable { .. } => tonic::Status::unavailable(message),
            MasterError::NotCommitted { .. } => tonic::Status::deadline_exceeded(message),
            MasterError::Raft(_) | MasterError::Storage(_) => tonic::Status::internal(message),
            MasterError::Rejected(_) => tonic::Status::failed_precondition(message),
            MasterError::InvalidRequest(_) => tonic::Status::invalid_argument(message),
            MasterError::UnknownWorker(_) => tonic::Status::not_found(message),
            MasterError::Unsupported(_) => tonic::Status::unimplemented(message),
        }
    }
}
