//! Bindings: a (source, epoch) pair names one worker, ever, on every
//! master; a master's next epoch never goes back.

use std::collections::BTreeMap;

use dm_master::state::ClusterState;

#[derive(Debug, Default)]
pub struct Bindings {
    owners: BTreeMap<(String, u64), String>,
    next_epoch: BTreeMap<String, u64>,
}

impl Bindings {
    pub fn observe(&mut self, name: &str, state: &ClusterState) -> Option<(&'static str, String)> {
        let previous = self.next_epoch.insert(name.to_string(), state.next_epoch);
        if previous.is_some_and(|p| p > state.next_epoch) {
            return Some((
                "epochs grow",
                format!(
                    "{name}'s next epoch went back from {previous:?} to {}",
                    state.next_epoch
                ),
            ));
        }
        for (source, binding) in &state.bindings {
            let key = (source.clone(), binding.epoch);
            match self.owners.get(&key) {
                Some(worker) if *worker != binding.worker => {
                    return Some((
                        "one worker per epoch",
                        format!(
                            "{source} epoch {} is bound to {worker} and, on {name}, to {}",
                            binding.epoch, binding.worker
                        ),
                    ))
                }
                Some(_) => {}
                None => {
                    self.owners.insert(key, binding.worker.clone());
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_master::state::Binding;

    fn state(next_epoch: u64, bindings: &[(&str, &str, u64)]) -> ClusterState {
        let mut s = ClusterState {
            next_epoch,
            ..ClusterState::default()
        };
        for (source, worker, epoch) in bindings {
            s.bindings.insert(
                source.to_string(),
                Binding {
                    worker: worker.to_string(),
                    epoch: *epoch,
                    bound_at_ms: 0,
                },
            );
        }
        s
    }

    #[test]
    fn an_epoch_bound_to_two_workers_is_a_violation() {
        let mut b = Bindings::default();
        assert_eq!(b.observe("m1", &state(3, &[("s1", "w1", 2)])), None);
        assert_eq!(b.observe("m2", &state(3, &[("s1", "w1", 2)])), None);
        let found = b.observe("m2", &state(3, &[("s1", "w2", 2)]));
        assert_eq!(found.map(|f| f.0), Some("one worker per epoch"));
    }

    #[test]
    fn an_epoch_going_back_is_a_violation() {
        let mut b = Bindings::default();
        assert_eq!(b.observe("m1", &state(5, &[])), None);
        assert_eq!(
            b.observe("m1", &state(4, &[])).map(|f| f.0),
            Some("epochs grow")
        );
    }
}
