//! Which key the cluster's passwords are encrypted under.
//!
//! Every master encrypts the passwords it is given with its own key
//! (`secret-key-path`, or DM's built-in one) before proposing them, and
//! hands its key to the workers that register through it. A master given
//! another key than the others would write passwords nobody else can
//! decrypt and hand workers a key that decrypts nothing, and a decryption
//! under the wrong key cannot be told from a right one (DM's format has no
//! checksum). So each write that carries passwords, and each registration,
//! first proposes the master's key check value: the first one is recorded,
//! a different one later is refused with a message that says what to fix.

use super::command::Rejection;
use super::ClusterState;

impl ClusterState {
    pub(super) fn record_key_check(&mut self, check: &str) -> Result<(), Rejection> {
        match &self.key_check {
            None => {
                self.key_check = Some(check.to_string());
                Ok(())
            }
            Some(recorded) if recorded == check => Ok(()),
            Some(recorded) => Err(Rejection::KeyMismatch {
                cluster: recorded.clone(),
                this: check.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::state::{ClusterState, Command, Rejection, Response};

    #[test]
    fn the_first_key_is_recorded_and_another_refused() {
        let mut state = ClusterState::default();
        let record = |check: &str| Command::RecordKeyCheck {
            check: check.into(),
        };
        assert_eq!(state.apply(&record("aa"), 1), Response::Done);
        assert_eq!(state.key_check.as_deref(), Some("aa"));
        assert_eq!(state.apply(&record("aa"), 2), Response::Done);
        assert_eq!(
            state.apply(&record("bb"), 3),
            Response::Rejected(Rejection::KeyMismatch {
                cluster: "aa".into(),
                this: "bb".into()
            })
        );
        assert_eq!(state.key_check.as_deref(), Some("aa"));
    }
}
