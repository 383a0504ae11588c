//! Acknowledged requests survive: after the run, every source whose last
//! acknowledged request created it exists, and every source whose last
//! acknowledged request stopped it is gone, unless a later request with an
//! unknown outcome may have changed that; the same for masters evicted
//! from leading and evictions cancelled.

use std::collections::BTreeMap;

use dm_master::state::ClusterState;

use crate::sim::workload::{Op, Outcome, Record};

/// Violations of the final state against the journal.
pub fn check(records: &[Record], state: &ClusterState) -> Vec<String> {
    // Per source: (exists after its last acknowledged request, whether a
    // later request's outcome is unknown).
    let mut expected: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    let mut evicted: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for r in records {
        let (id, creates, into) = match &r.op {
            Op::CreateSource(id) => (id.as_str(), true, &mut expected),
            Op::StopSource(id) => (id.as_str(), false, &mut expected),
            Op::EvictMaster(name) => (name.as_str(), true, &mut evicted),
            Op::CancelEvict(name) => (name.as_str(), false, &mut evicted),
            Op::StartTask(_) => continue,
        };
        let expected = into;
        match r.outcome {
            Outcome::Acked => {
                expected.insert(id, (creates, false));
            }
            Outcome::Unknown(_) => {
                if let Some(e) = expected.get_mut(id) {
                    e.1 = true;
                }
            }
            Outcome::Refused(_) => {}
        }
    }
    let mut lost: Vec<String> = records
        .iter()
        .filter(|r| matches!(r.op, Op::StartTask(_)) && r.outcome == Outcome::Acked)
        .filter(|_| !state.tasks.contains_key("merge"))
        .map(|_| "task merge was acknowledged as started but is gone".to_string())
        .collect();
    lost.extend(
        evicted
            .into_iter()
            .filter(|(_, (_, unsure))| !unsure)
            .filter_map(|(name, (is_evicted, _))| {
                let found = !state.may_lead(name);
                (found != is_evicted).then(|| {
                    if is_evicted {
                        format!("master {name} was acknowledged as evicted but may lead")
                    } else {
                        format!("the eviction of master {name} was acknowledged as cancelled but stands")
                    }
                })
            }),
    );
    lost.extend(
        expected
            .into_iter()
            .filter(|(_, (_, unsure))| !unsure)
            .filter_map(|(id, (exists, _))| {
                let found = state.sources.contains_key(id);
                (found != exists).then(|| {
                    if exists {
                        format!("source {id} was acknowledged as created but is gone")
                    } else {
                        format!("source {id} was acknowledged as stopped but exists")
                    }
                })
            }),
    );
    lost
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(op: Op, outcome: Outcome) -> Record {
        Record {
            op,
            outcome,
            at: Duration::ZERO,
            after_faults: false,
        }
    }

    #[test]
    fn a_lost_acknowledged_create_is_a_violation_and_unknown_outcomes_are_not() {
        let records = [
            record(Op::CreateSource("a".into()), Outcome::Acked),
            record(Op::CreateSource("b".into()), Outcome::Acked),
            record(
                Op::StopSource("b".into()),
                Outcome::Unknown("timeout".into()),
            ),
            record(Op::CreateSource("c".into()), Outcome::Refused("bad".into())),
        ];
        let empty = ClusterState::default();
        assert_eq!(
            check(&records, &empty),
            ["source a was acknowledged as created but is gone"]
        );
    }
}
