//! `operate-leader evict|cancel-evict`: the masters that must not lead.
//! Pure.
//!
//! The set is replicated so that every master knows whether it may stand
//! for election, also after a restart: an evicted master keeps voting and
//! replicating, but its election timer is off (see the `leadership`
//! module), and a leader that finds itself evicted hands leadership to an
//! up-to-date voter.
//!
//! A cluster must always keep a master able to lead, so an eviction that
//! would leave no voter eligible is refused. The command carries the voter
//! names the leader saw when proposing it: membership lives in openraft, not
//! in this state, and `apply` must decide from its inputs alone.

use super::{ClusterState, Rejection};

impl ClusterState {
    /// Evicts `name`, unless every other voter in `voters` is evicted.
    pub(super) fn evict_leader(&mut self, name: &str, voters: &[String]) -> Result<(), Rejection> {
        if !voters.iter().any(|v| v == name) {
            return Err(Rejection::NotAVoter(name.to_string()));
        }
        let eligible_after = voters
            .iter()
            .filter(|v| *v != name && !self.evicted_masters.contains(*v))
            .count();
        if eligible_after == 0 {
            return Err(Rejection::LastEligibleMaster(name.to_string()));
        }
        self.evicted_masters.insert(name.to_string());
        Ok(())
    }

    /// Cancels the eviction of `name`, or of every master when `None`.
    pub(super) fn cancel_evict_leader(&mut self, name: Option<&str>) {
        match name {
            Some(name) => {
                self.evicted_masters.remove(name);
            }
            None => self.evicted_masters.clear(),
        }
    }

    /// Whether the master `name` may stand for election.
    pub fn may_lead(&self, name: &str) -> bool {
        !self.evicted_masters.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ClusterState, Command, Rejection, Response};

    fn voters() -> Vec<String> {
        ["m1", "m2", "m3"].iter().map(|s| s.to_string()).collect()
    }

    fn evict(state: &mut ClusterState, name: &str) -> Response {
        state.apply(
            &Command::EvictLeader {
                name: name.into(),
                voters: voters(),
            },
            1,
        )
    }

    #[test]
    fn the_last_eligible_master_cannot_be_evicted() {
        let mut state = ClusterState::default();
        assert_eq!(evict(&mut state, "m1"), Response::Done);
        assert_eq!(evict(&mut state, "m1"), Response::Done, "idempotent");
        assert_eq!(evict(&mut state, "m2"), Response::Done);
        assert_eq!(
            evict(&mut state, "m3"),
            Response::Rejected(Rejection::LastEligibleMaster("m3".into()))
        );
        assert!(!state.may_lead("m1") && !state.may_lead("m2") && state.may_lead("m3"));
        assert_eq!(
            evict(&mut state, "m9"),
            Response::Rejected(Rejection::NotAVoter("m9".into()))
        );
    }

    #[test]
    fn cancelling_one_or_all() {
        let mut state = ClusterState::default();
        evict(&mut state, "m1");
        evict(&mut state, "m2");
        state.apply(
            &Command::CancelEvictLeader {
                name: Some("m1".into()),
            },
            2,
        );
        assert!(state.may_lead("m1") && !state.may_lead("m2"));
        state.apply(&Command::CancelEvictLeader { name: None }, 3);
        assert!(state.evicted_masters.is_empty());
    }
}
