//! Shard-DDL locks: a lock (one id, created once) has one owner, the same
//! on every master at every step, as long as every member stays in the
//! task (the simulation never removes one).

use std::collections::BTreeMap;

use dm_master::state::ClusterState;

#[derive(Debug, Default)]
pub struct ShardLocks {
    /// (lock id, created at) -> (owner, where first seen).
    owners: BTreeMap<(String, u64), (String, String)>,
}

impl ShardLocks {
    pub fn observe(&mut self, name: &str, state: &ClusterState) -> Option<(&'static str, String)> {
        for (id, lock) in &state.shard_ddl_locks {
            let key = (id.clone(), lock.created_at_ms);
            match self.owners.get(&key) {
                Some((owner, seen)) if *owner != lock.owner => {
                    return Some((
                        "one owner per lock",
                        format!(
                            "lock {id} is owned by {owner} on {seen} and by {} on {name}",
                            lock.owner
                        ),
                    ))
                }
                Some(_) => {}
                None => {
                    self.owners
                        .insert(key, (lock.owner.clone(), name.to_string()));
                }
            }
        }
        None
    }
}
