//! The fault schedule: drawn from the seed before the run (pure), applied
//! to the simulation at its times.
//!
//! Every fault that breaks something is paired with the one that ends it
//! (a crashed host restarts, a partition heals, held messages are
//! released) a little later, and the last one ends before the fault window
//! closes; after that the cluster settles with nothing broken and the
//! liveness checks run.
//!
//! An upstream restart is over the moment it happens (the in-memory server
//! is back at once, as after a quick restart): every open binlog stream
//! ends and the binlog goes on in a new file, which the sync must reach
//! from its checkpoints in the old one. Restarts are drawn from their own
//! stream of the seed, 0-2 per seed at times of their own, so they add to
//! a seed's other faults rather than replace them.

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
    /// Restart a source's upstream server: its binlog streams end and its
    /// binlog continues in a new file.
    RestartUpstream(String),
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
            Fault::RestartUpstream(_) => "restart upstream",
        }
    }

    /// Whether it is over as it happens (no later fault ends it).
    pub fn ends_itself(&self) -> bool {
        matches!(self, Fault::RestartUpstream(_))
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
            Fault::RestartUpstream(s) => write!(f, "restart the upstream of {s}"),
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
    /// Sources, whose upstream servers may restart.
    pub sources: Vec<String>,
}

/// Draws a schedule: from `start` to `end`, a fault every 0.3-2 s, each
/// ended 0.2-3 s later (and no later than `end`), and 0-2 upstream
/// restarts. At least one fault.
pub fn schedule(seed: u64, hosts: &Hosts, start: Duration, end: Duration) -> Schedule {
    let mut out = host_faults(seed, hosts, start, end);
    upstream_restarts(seed, &hosts.sources, start, end, &mut out);
    out
}

/// 0-2 upstream restarts at times in `start..end`, each of a source drawn
/// from `sources`.
fn upstream_restarts(
    seed: u64,
    sources: &[String],
    start: Duration,
    end: Duration,
    out: &mut Schedule,
) {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0b1e_57a7);
    if sources.is_empty() || end <= start {
        return;
    }
    let window = u64::try_from((end - start).as_millis()).unwrap_or(u64::MAX);
    for _ in 0..rng.gen_range(0..=2) {
        let at = start + Duration::from_millis(rng.gen_range(0..window));
        let source = sources[rng.gen_range(0..sources.len())].clone();
        out.push(at, Fault::RestartUpstream(source));
    }
}

/// The faults on masters, workers and the network between them.
fn host_faults(seed: u64, hosts: &Hosts, start: Duration, end: Duration) -> Schedule {
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
            sources: vec!["s0".into(), "s1".into()],
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
            let injected =
                s.at.values()
                    .flatten()
                    .filter(|f| f.is_injection() && !f.ends_itself())
                    .count();
            let ended =
                s.at.values()
                    .flatten()
                    .filter(|f| !f.is_injection())
                    .count();
            assert_eq!(injected, ended, "seed {seed}");
            assert!(s.at.keys().all(|t| *t <= Duration::from_secs(10)));
        }
    }

    #[test]
    fn upstream_restarts_come_from_the_seed_and_hit_known_sources() {
        let restarts = |seed| {
            schedule(
                seed,
                &hosts(),
                Duration::from_secs(1),
                Duration::from_secs(10),
            )
            .at
            .into_iter()
            .flat_map(|(at, faults)| faults.into_iter().map(move |f| (at, f)))
            .filter(|(_, f)| matches!(f, Fault::RestartUpstream(_)))
            .collect::<Vec<_>>()
        };
        let mut seeds_with = 0;
        for seed in 0..50 {
            let r = restarts(seed);
            assert_eq!(r, restarts(seed), "seed {seed}");
            assert!(r.len() <= 2, "seed {seed}: {r:?}");
            for (at, f) in &r {
                assert!(*at >= Duration::from_secs(1) && *at < Duration::from_secs(10));
                assert!(f.is_injection() && f.ends_itself());
                if let Fault::RestartUpstream(s) = f {
                    assert!(hosts().sources.contains(s), "{s}");
                }
            }
            seeds_with += usize::from(!r.is_empty());
        }
        assert!((20..50).contains(&seeds_with), "{seeds_with} of 50 seeds");
    }
}
