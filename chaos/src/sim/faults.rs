//! The fault schedule: drawn from the seed before the run (pure), applied
//! to the simulation at its times.
//!
//! Every fault that breaks something is paired with the one that ends it
//! (a crashed host restarts, a partition heals, held messages are
//! released) a little later, and the last one ends before the fault window
//! closes; after that the cluster settles with nothing broken and the
//! liveness checks run.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// One fault, or the end of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Crash a master or worker host.
    Crash(String),
    /// Crash whichever master leads at that moment.
    CrashLeader,
    /// Start a crashed host again (from its disk, for a master).
    Restart(String),
    /// Start the master the matching `CrashLeader` crashed.
    RestartLeader,
    /// Drop every message between two hosts, both ways.
    Partition(String, String),
    /// Drop messages from the first host to the second only.
    PartitionOneWay(String, String),
    /// Heal a partition (both directions).
    Repair(String, String),
    /// Hold messages between two hosts (delivered on release, late).
    Hold(String, String),
    Release(String, String),
}

impl Fault {
    /// The kind, for the summary.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Crash(h) if h.starts_with('m') => "crash master",
            Fault::Crash(_) => "crash worker",
            Fault::CrashLeader => "crash leader",
            Fault::Restart(_) | Fault::RestartLeader => "restart",
            Fault::Partition(a, b) if a.starts_with('w') || b.starts_with('w') => {
                "partition worker-master"
            }
            Fault::Partition(..) => "partition master-master",
            Fault::PartitionOneWay(..) => "partition one-way",
            Fault::Repair(..) => "repair",
            Fault::Hold(..) => "hold messages",
            Fault::Release(..) => "release messages",
        }
    }

    /// Whether this breaks something (as opposed to ending a break).
    pub fn is_injection(&self) -> bool {
        !matches!(
            self,
            Fault::Restart(_) | Fault::RestartLeader | Fault::Repair(..) | Fault::Release(..)
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash(h) => write!(f, "crash {h}"),
            Fault::CrashLeader => write!(f, "crash the leader"),
            Fault::Restart(h) => write!(f, "restart {h}"),
            Fault::RestartLeader => write!(f, "restart the crashed leader"),
            Fault::Partition(a, b) => write!(f, "partition {a} <-> {b}"),
            Fault::PartitionOneWay(a, b) => write!(f, "partition {a} -> {b}"),
            Fault::Repair(a, b) => write!(f, "repair {a} <-> {b}"),
            Fault::Hold(a, b) => write!(f, "hold {a} <-> {b}"),
            Fault::Release(a, b) => write!(f, "release {a} <-> {b}"),
        }
    }
}

/// Faults by simulated time (several may share a millisecond, in order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    pub at: BTreeMap<Duration, Vec<Fault>>,
}

impl Schedule {
    pub fn injections(&self) -> usize {
        self.at
            .values()
            .flatten()
            .filter(|f| f.is_injection())
            .count()
    }

    /// Injections by kind.
    pub fn kinds(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for f in self.at.values().flatten().filter(|f| f.is_injection()) {
            *out.entry(f.kind()).or_insert(0) += 1;
        }
        out
    }

    fn push(&mut self, at: Duration, fault: Fault) {
        self.at.entry(at).or_default().push(fault);
    }
}

/// The hosts faults may hit.
#[derive(Debug, Clone)]
pub struct Hosts {
    pub masters: Vec<String>,
    pub workers: Vec<String>,
}

/// Draws a schedule: from `start` to `end`, a fault every 0.3-2 s, each
/// ended 0.2-3 s later (and no later than `end`). At least one fault.
pub fn schedule(seed: u64, hosts: &Hosts, start: Duration, end: Duration) -> Schedule {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed_fa17);
    let mut out = Schedule::default();
    let mut t = start;
    let pick = |rng: &mut SmallRng, from: &[String]| -> String {
        from[rng.gen_range(0..from.len())].clone()
    };
    while t < end {
        let lasts = Duration::from_millis(rng.gen_range(200..3000));
        let until = (t + lasts).min(end);
        let m = pick(&mut rng, &hosts.masters);
        let other = {
            let rest: Vec<String> = hosts.masters.iter().filter(|x| **x != m).cloned().collect();
            pick(&mut rng, &rest)
        };
        let w = pick(&mut rng, &hosts.workers);
        match rng.gen_range(0..8) {
            0 => {
                out.push(t, Fault::CrashLeader);
                out.push(until, Fault::RestartLeader);
            }
            1 => {
                out.push(t, Fault::Crash(m.clone()));
                out.push(until, Fault::Restart(m));
            }
            2 => {
                out.push(t, Fault::Crash(w.clone()));
                out.push(until, Fault::Restart(w));
            }
            3 => {
                out.push(t, Fault::Partition(m.clone(), other.clone()));
                out.push(until, Fault::Repair(m, other));
            }
            4 => {
                out.push(t, Fault::Partition(w.clone(), m.clone()));
                out.push(until, Fault::Repair(w, m));
            }
            5 => {
                let (from, to) = if rng.gen_bool(0.5) {
                    (w, m)
                } else {
                    (m, other)
                };
                out.push(t, Fault::PartitionOneWay(from.clone(), to.clone()));
                out.push(until, Fault::Repair(from, to));
            }
            6 => {
                out.push(t, Fault::Hold(m.clone(), other.clone()));
                out.push(until, Fault::Release(m, other));
            }
            _ => {
                out.push(t, Fault::Hold(w.clone(), m.clone()));
                out.push(until, Fault::Release(w, m));
            }
        }
        t += Duration::from_millis(rng.gen_range(300..2000));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Hosts {
        Hosts {
            masters: vec!["m1".into(), "m2".into(), "m3".into()],
            workers: vec!["w1".into(), "w2".into()],
        }
    }

    #[test]
    fn a_seed_always_draws_the_same_schedule() {
        let a = schedule(7, &hosts(), Duration::from_secs(1), Duration::from_secs(10));
        let b = schedule(7, &hosts(), Duration::from_secs(1), Duration::from_secs(10));
        assert_eq!(a, b);
        assert_ne!(
            a,
            schedule(8, &hosts(), Duration::from_secs(1), Duration::from_secs(10))
        );
    }

    #[test]
    fn every_fault_ends_within_the_window() {
        for seed in 0..50 {
            let s = schedule(
                seed,
                &hosts(),
                Duration::from_secs(1),
                Duration::from_secs(10),
            );
            assert!(s.injections() >= 1);
            let injected = s.at.values().flatten().filter(|f| f.is_injection()).count();
            let ended =
                s.at.values()
                    .flatten()
                    .filter(|f| !f.is_injection())
                    .count();
            assert_eq!(injected, ended, "seed {seed}");
            assert!(s.at.keys().all(|t| *t <= Duration::from_secs(10)));
        }
    }
}
