//! What the worker runs: the sources the leader assigned it, each under the
//! epoch of its binding, and only while the lease is valid.
//!
//! The leader's answer is the whole truth (level-triggered): sources missing
//! from it are stopped, new ones (or new epochs) are started. When the lease
//! runs out, everything stops at once; the next answer starts it again.

use std::collections::BTreeMap;

use dm_proto::pb;

/// Why a source stopped when a newer epoch wrote downstream.
pub const FENCED: &str = "fenced by a newer epoch";

/// One source the worker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub epoch: u64,
    pub subtasks: Vec<String>,
}

/// A change of what runs, for the log (and later for the units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Started {
        source: String,
        epoch: u64,
    },
    Stopped {
        source: String,
        epoch: u64,
        why: &'static str,
    },
}

#[derive(Debug, Default)]
pub struct Assignments {
    running: BTreeMap<String, Running>,
    /// Sources stopped because a newer epoch wrote downstream.
    fenced: BTreeMap<String, u64>,
}

impl Assignments {
    /// Makes what runs match the leader's answer.
    pub fn apply(&mut self, answer: &[pb::SourceAssignment]) -> Vec<Change> {
        let mut changes = Vec::new();
        let wanted: BTreeMap<&str, &pb::SourceAssignment> =
            answer.iter().map(|a| (a.source.as_str(), a)).collect();
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(s, r)| wanted.get(s.as_str()).is_none_or(|a| a.epoch != r.epoch))
            .map(|(s, _)| s.clone())
            .collect();
        for source in stale {
            if let Some(r) = self.running.remove(&source) {
                changes.push(Change::Stopped {
                    source,
                    epoch: r.epoch,
                    why: "no longer assigned",
                });
            }
        }
        for (source, assignment) in wanted {
            if self
                .fenced
                .get(source)
                .is_some_and(|e| *e > assignment.epoch)
            {
                continue;
            }
            if !self.running.contains_key(source) {
                self.fenced.remove(source);
                self.running.insert(
                    source.to_string(),
                    Running {
                        epoch: assignment.epoch,
                        subtasks: assignment.subtasks.iter().map(|t| t.task.clone()).collect(),
                    },
                );
                changes.push(Change::Started {
                    source: source.to_string(),
                    epoch: assignment.epoch,
                });
            }
        }
        changes
    }

    /// Stops everything (the lease ran out).
    pub fn stop_all(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.running)
            .into_iter()
            .map(|(source, r)| Change::Stopped {
                source,
                epoch: r.epoch,
                why: "lease expired",
            })
            .collect()
    }

    /// Stops `source`: a newer epoch wrote downstream. It is reported until
    /// the leader assigns it anew under a newer epoch.
    /// A report about an older epoch (the source runs under `epoch` or a
    /// newer one here) changes nothing.
    pub fn fence(&mut self, source: &str, epoch: u64) -> Option<Change> {
        if self.running.get(source).is_some_and(|r| r.epoch >= epoch) {
            return None;
        }
        self.fenced.insert(source.to_string(), epoch);
        let r = self.running.remove(source)?;
        Some(Change::Stopped {
            source: source.to_string(),
            epoch: r.epoch,
            why: FENCED,
        })
    }

    /// What to report in the next heartbeat.
    pub fn reports(&self) -> Vec<pb::SourceReport> {
        let running = self.running.iter().map(|(source, r)| pb::SourceReport {
            source: source.clone(),
            epoch: r.epoch,
            subtasks: Vec::new(),
            fenced: false,
        });
        let fenced = self.fenced.iter().map(|(source, epoch)| pb::SourceReport {
            source: source.clone(),
            epoch: *epoch,
            subtasks: Vec::new(),
            fenced: true,
        });
        running.chain(fenced).collect()
    }

    pub fn running(&self) -> &BTreeMap<String, Running> {
        &self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(source: &str, epoch: u64) -> pb::SourceAssignment {
        pb::SourceAssignment {
            source: source.into(),
            epoch,
            source_config: String::new(),
            subtasks: Vec::new(),
        }
    }

    #[test]
    fn the_answer_is_the_whole_truth() {
        let mut a = Assignments::default();
        assert_eq!(
            a.apply(&[assign("s1", 1)]),
            [Change::Started {
                source: "s1".into(),
                epoch: 1
            }]
        );
        assert!(
            a.apply(&[assign("s1", 1)]).is_empty(),
            "same answer, no change"
        );
        assert_eq!(
            a.apply(&[assign("s1", 3), assign("s2", 2)]),
            [
                Change::Stopped {
                    source: "s1".into(),
                    epoch: 1,
                    why: "no longer assigned"
                },
                Change::Started {
                    source: "s1".into(),
                    epoch: 3
                },
                Change::Started {
                    source: "s2".into(),
                    epoch: 2
                },
            ]
        );
        assert_eq!(
            a.apply(&[]),
            [
                Change::Stopped {
                    source: "s1".into(),
                    epoch: 3,
                    why: "no longer assigned"
                },
                Change::Stopped {
                    source: "s2".into(),
                    epoch: 2,
                    why: "no longer assigned"
                },
            ]
        );
    }

    #[test]
    fn a_fenced_source_stays_stopped_until_the_fencing_epoch() {
        let mut a = Assignments::default();
        a.apply(&[assign("s1", 4)]);
        assert!(a.fence("s1", 6).is_some(), "epoch 6 claimed the source");
        assert!(
            a.apply(&[assign("s1", 4)]).is_empty(),
            "the fenced epoch does not restart"
        );
        assert!(a.reports().iter().any(|r| r.source == "s1" && r.fenced));
        assert_eq!(
            a.apply(&[assign("s1", 6)]),
            [Change::Started {
                source: "s1".into(),
                epoch: 6
            }],
            "the fencing epoch itself may be this worker's"
        );
    }

    #[test]
    fn a_late_fence_report_about_an_older_epoch_is_ignored() {
        let mut a = Assignments::default();
        a.apply(&[assign("s1", 5)]);
        assert!(a.fence("s1", 5).is_none());
        assert_eq!(a.running().get("s1").map(|r| r.epoch), Some(5));
        assert!(a.reports().iter().all(|r| !r.fenced));
    }

    #[test]
    fn the_lease_running_out_stops_everything() {
        let mut a = Assignments::default();
        a.apply(&[assign("s1", 1), assign("s2", 2)]);
        assert_eq!(a.stop_all().len(), 2);
        assert!(a.running().is_empty());
    }
}
