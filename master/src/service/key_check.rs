//! The password-key check before what uses passwords (see
//! `state::key_check`): a write that carries passwords, or a registration
//! that hands a worker the key, first records this master's key check
//! value, or learns that the cluster's passwords are under another key and
//! answers so instead. What only reads passwords compares with the
//! recorded value.

use crate::error::MasterError;
use crate::node::Node;
use crate::state::{ClusterState, Command, Rejection, Response};

/// This master's key check value.
fn this_masters() -> String {
    dm_proto::secret::process_key().check_value()
}

/// Why this master must not read the passwords of `state`: another key
/// was recorded. `None` when none was or it is this master's.
pub fn mismatch(state: &ClusterState) -> Option<Rejection> {
    let this = this_masters();
    match &state.key_check {
        Some(cluster) if *cluster != this => Some(Rejection::KeyMismatch {
            cluster: cluster.clone(),
            this,
        }),
        _ => None,
    }
}

/// Records this master's key check value (the first one), or returns why
/// it is refused; a write only when the state does not hold it yet.
pub async fn ensure(node: &Node) -> Result<Option<Rejection>, MasterError> {
    let this = this_masters();
    if node.state().state.key_check.as_deref() == Some(this.as_str()) {
        return Ok(None);
    }
    Ok(
        match node.write(Command::RecordKeyCheck { check: this }).await? {
            Response::Rejected(why) => Some(why),
            _ => None,
        },
    )
}
