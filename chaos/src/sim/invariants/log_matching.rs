//! Log matching: masters that applied the entry at an index applied the
//! same entry (same term and leader). openraft lets two candidates lead in
//! one term (its leader ids are (term, node)), so "one leader per term" is
//! not an invariant here; two different entries committed at one index
//! would be.

use std::collections::BTreeMap;

use dm_master::raft::{MasterNode, NodeId};
use openraft::RaftMetrics;

#[derive(Debug, Default)]
pub struct LogMatching {
    /// The entry each index was first seen applied with, and by whom.
    applied: BTreeMap<u64, (String, String)>,
}

impl LogMatching {
    pub fn observe(
        &mut self,
        name: &str,
        metrics: &RaftMetrics<NodeId, MasterNode>,
    ) -> Option<(&'static str, String)> {
        let id = metrics.last_applied?;
        let entry = format!("{}", id.leader_id);
        match self.applied.get(&id.index) {
            Some((first, by)) if *first != entry => Some((
                "log matching",
                format!(
                    "index {} was applied as {entry} on {name} and as {first} on {by}",
                    id.index
                ),
            )),
            Some(_) => None,
            None => {
                self.applied.insert(id.index, (entry, name.to_string()));
                None
            }
        }
    }
}
