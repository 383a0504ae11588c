//! State machine safety: masters that applied the same log entry hold the
//! same cluster state.

use std::collections::BTreeMap;

use dm_master::raft::AppliedState;

#[derive(Debug, Default)]
pub struct StateSafety {
    /// Each applied log id's state, as JSON.
    seen: BTreeMap<String, String>,
    /// The last log id looked at per master (unchanged: nothing to do).
    last: BTreeMap<String, String>,
}

impl StateSafety {
    pub fn observe(
        &mut self,
        name: &str,
        applied: &AppliedState,
    ) -> Option<(&'static str, String)> {
        let id = format!("{:?}", applied.last_applied);
        if self.last.get(name) == Some(&id) {
            return None;
        }
        self.last.insert(name.to_string(), id.clone());
        let state = serde_json::to_string(&applied.state).unwrap_or_default();
        match self.seen.get(&id) {
            Some(first) if *first != state => Some((
                "state machine safety",
                format!(
                    "{name} applied {id} into a state other masters did not: {state} vs {first}"
                ),
            )),
            Some(_) => None,
            None => {
                self.seen.insert(id, state);
                None
            }
        }
    }
}
