//! Which fault comes next: a pure planner driven by a seeded RNG.
//!
//! Every few seconds the planner injects one fault, and it ends each fault
//! after a drawn while (restart a killed process, SIGCONT a stopped one,
//! cancel an eviction, heal a partition, start a stopped database again).
//! Evicting the leader (`operate-leader evict`) counts as disturbing that
//! master: leadership moves under load while every master stays up. At most one master,
//! one worker and one database are disturbed at a time, so a majority of
//! masters stays and a spare worker can take a source over: the run tests
//! failover, not the loss of a quorum. A SIGSTOP lasts longer than the
//! worker keepalive TTL, so the stopped process is taken for dead while it
//! still believes it owns its work.
//!
//! The databases are part of the world the cluster must survive: an
//! upstream shard is restarted cleanly (SIGTERM) or killed (SIGKILL) and
//! started again on its data directory and port after a few seconds (its
//! binlog goes on in a new file), and the downstream is stopped for a few
//! seconds (the sync retries by itself). A run owes at least one upstream
//! restart (clean or killed) and one downstream stop: if chance has not
//! brought them by a third and by three fifths of the run, the next fault
//! with the databases free is the one owed, so even a one-minute run has
//! both.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::Rng;

/// A process's state as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Up,
    /// Disturbed until the given time since the run started.
    Down(Duration),
}

/// One action on the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL the master that leads.
    KillLeader(usize),
    KillMaster(usize),
    StopMaster(usize),
    /// `operate-leader evict` of the master that leads: leadership moves
    /// under load; the master stays up.
    EvictLeader(usize),
    /// SIGKILL a worker that runs a source.
    KillWorker(usize),
    StopWorker(usize),
    PartitionWorker(usize),
    /// SIGTERM upstream shard `i` (0-based): a clean shutdown.
    RestartUpstream(usize),
    /// SIGKILL upstream shard `i`.
    CrashUpstream(usize),
    /// SIGTERM the downstream.
    StopDownstream,
    RestartMaster(usize),
    ResumeMaster(usize),
    /// `operate-leader cancel-evict` of the master.
    CancelEvict(usize),
    RestartWorker(usize),
    ResumeWorker(usize),
    HealWorker(usize),
    /// Start upstream shard `i` again on its data directory and port.
    StartUpstream(usize),
    StartDownstream,
}

impl Action {
    /// The action's kind, for the summary.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::KillLeader(_) => "kill-leader",
            Action::KillMaster(_) => "kill-master",
            Action::StopMaster(_) => "stop-master",
            Action::EvictLeader(_) => "evict-leader",
            Action::CancelEvict(_) => "cancel-evict",
            Action::KillWorker(_) => "kill-worker",
            Action::StopWorker(_) => "stop-worker",
            Action::PartitionWorker(_) => "partition-worker",
            Action::RestartUpstream(_) => "restart-upstream",
            Action::CrashUpstream(_) => "crash-upstream",
            Action::StopDownstream => "stop-downstream",
            Action::RestartMaster(_) | Action::RestartWorker(_) => "restart",
            Action::ResumeMaster(_) | Action::ResumeWorker(_) => "resume",
            Action::HealWorker(_) => "heal",
            Action::StartUpstream(_) | Action::StartDownstream => "start-database",
        }
    }

    /// The process it acts on, by name.
    pub fn process(&self) -> String {
        match *self {
            Action::KillLeader(i)
            | Action::KillMaster(i)
            | Action::StopMaster(i)
            | Action::EvictLeader(i)
            | Action::RestartMaster(i)
            | Action::ResumeMaster(i)
            | Action::CancelEvict(i) => format!("master{}", i + 1),
            Action::KillWorker(i)
            | Action::StopWorker(i)
            | Action::PartitionWorker(i)
            | Action::RestartWorker(i)
            | Action::ResumeWorker(i)
            | Action::HealWorker(i) => format!("worker{}", i + 1),
            Action::RestartUpstream(i) | Action::CrashUpstream(i) | Action::StartUpstream(i) => {
                format!("upstream{}", i + 1)
            }
            Action::StopDownstream | Action::StartDownstream => "downstream".into(),
        }
    }

    /// Whether it disturbs the cluster (rather than ending a disturbance).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Action::KillLeader(_)
                | Action::KillMaster(_)
                | Action::StopMaster(_)
                | Action::EvictLeader(_)
                | Action::KillWorker(_)
                | Action::StopWorker(_)
                | Action::PartitionWorker(_)
                | Action::RestartUpstream(_)
                | Action::CrashUpstream(_)
                | Action::StopDownstream
        )
    }
}

/// What the runner found out about the cluster before a fault.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// The master that leads, if one does.
    pub leader: Option<usize>,
    /// Workers that run a source.
    pub bound_workers: Vec<usize>,
}

/// How long faults last.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Between two injected faults.
    pub gap: (Duration, Duration),
    /// A killed process (or a stopped database) stays down this long.
    pub down: (Duration, Duration),
    /// A stopped process or a partition lasts this long.
    pub stopped: (Duration, Duration),
}

/// The size of the cluster the planner disturbs.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub masters: usize,
    pub workers: usize,
    /// Upstream shards (each one MariaDB server).
    pub upstreams: usize,
}

/// Processes of one kind: their health and what ends each disturbance.
#[derive(Debug)]
struct Group {
    health: Vec<Health>,
    ends: Vec<Option<Action>>,
}

impl Group {
    fn new(n: usize) -> Self {
        Self {
            health: vec![Health::Up; n],
            ends: vec![None; n],
        }
    }

    fn free(&self) -> bool {
        !self.health.is_empty() && self.health.iter().all(|h| *h == Health::Up)
    }

    /// Marks process `i` disturbed until `until`, ended by `end`.
    fn disturb(&mut self, i: usize, until: Duration, end: Action) {
        if let (Some(h), Some(e)) = (self.health.get_mut(i), self.ends.get_mut(i)) {
            *h = Health::Down(until);
            *e = Some(end);
        }
    }

    fn next_end(&self) -> Option<Duration> {
        self.health
            .iter()
            .filter_map(|h| match h {
                Health::Down(until) => Some(*until),
                Health::Up => None,
            })
            .min()
    }

    fn ends(&mut self, due: &impl Fn(Duration) -> bool, out: &mut Vec<Action>) {
        for (health, end) in self.health.iter_mut().zip(&mut self.ends) {
            if let Health::Down(until) = *health {
                if due(until) {
                    *health = Health::Up;
                    out.extend(end.take());
                }
            }
        }
    }
}

/// The kinds of fault the planner draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    KillLeader,
    KillMaster,
    StopMaster,
    EvictLeader,
    KillWorker,
    StopWorker,
    PartitionWorker,
    RestartUpstream,
    CrashUpstream,
    StopDownstream,
}

/// A database fault a run must have, by when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    /// A restart of an upstream shard, clean or killed.
    UpstreamRestart,
    DownstreamStop,
}

impl Owed {
    fn paid_by(self, kind: Kind) -> bool {
        match self {
            Owed::UpstreamRestart => matches!(kind, Kind::RestartUpstream | Kind::CrashUpstream),
            Owed::DownstreamStop => kind == Kind::StopDownstream,
        }
    }
}

/// The planner: what is disturbed, and what comes next.
#[derive(Debug)]
pub struct Planner {
    masters: Group,
    workers: Group,
    /// Upstream shards, then the downstream: one disturbed at a time.
    databases: Group,
    next_fault: Duration,
    timing: Timing,
    /// Database faults the run still owes, each by a time.
    owed: Vec<(Owed, Duration)>,
}

fn draw(rng: &mut SmallRng, (lo, hi): (Duration, Duration)) -> Duration {
    if hi <= lo {
        return lo;
    }
    Duration::from_millis(rng.gen_range(lo.as_millis() as u64..=hi.as_millis() as u64))
}

impl Planner {
    /// A planner for a run of `run` whose first fault comes at
    /// `first_fault`.
    pub fn new(shape: Shape, timing: Timing, first_fault: Duration, run: Duration) -> Self {
        let mut owed = Vec::new();
        if shape.upstreams > 0 {
            owed.push((Owed::UpstreamRestart, run / 3));
            owed.push((Owed::DownstreamStop, run.mul_f64(0.6)));
        }
        Self {
            masters: Group::new(shape.masters),
            workers: Group::new(shape.workers),
            databases: Group::new(if shape.upstreams > 0 {
                shape.upstreams + 1
            } else {
                0
            }),
            next_fault: first_fault,
            timing,
            owed,
        }
    }

    /// Whether a new fault is due at `now` (the runner then looks up the
    /// [`Cluster`] facts for [`Planner::step`]).
    pub fn fault_due(&self, now: Duration) -> bool {
        now >= self.next_fault
    }

    /// When [`Planner::step`] has something to do next: the next fault, or
    /// the earliest end of a disturbance.
    pub fn next_event(&self) -> Duration {
        [&self.masters, &self.workers, &self.databases]
            .iter()
            .filter_map(|g| g.next_end())
            .fold(self.next_fault, Duration::min)
    }

    /// What to do at `now` (since the run started): disturbances that are
    /// over end, then maybe one new fault.
    pub fn step(&mut self, now: Duration, cluster: &Cluster, rng: &mut SmallRng) -> Vec<Action> {
        let mut actions = self.ends(|until| until <= now);
        if self.fault_due(now) {
            self.next_fault = now + draw(rng, self.timing.gap);
            if let Some(fault) = self.inject(now, cluster, rng) {
                actions.push(fault);
            }
        }
        actions
    }

    /// Ends every disturbance (the run is over).
    pub fn end_all(&mut self) -> Vec<Action> {
        self.ends(|_| true)
    }

    fn ends(&mut self, due: impl Fn(Duration) -> bool) -> Vec<Action> {
        let mut actions = Vec::new();
        self.masters.ends(&due, &mut actions);
        self.workers.ends(&due, &mut actions);
        self.databases.ends(&due, &mut actions);
        actions
    }

    /// The kind of the next fault: one owed and overdue when the databases
    /// are free, else one drawn among the free groups' kinds.
    fn pick(&mut self, now: Duration, rng: &mut SmallRng) -> Option<Kind> {
        let databases_free = self.databases.free();
        let overdue = self
            .owed
            .iter()
            .position(|(_, by)| *by <= now)
            .filter(|_| databases_free);
        let kind = match overdue {
            Some(i) => match self.owed.get(i)?.0 {
                Owed::UpstreamRestart if rng.gen_bool(0.5) => Kind::RestartUpstream,
                Owed::UpstreamRestart => Kind::CrashUpstream,
                Owed::DownstreamStop => Kind::StopDownstream,
            },
            None => {
                let mut kinds = Vec::new();
                if self.masters.free() {
                    kinds.extend([
                        Kind::KillLeader,
                        Kind::KillMaster,
                        Kind::StopMaster,
                        Kind::EvictLeader,
                    ]);
                }
                if self.workers.free() {
                    kinds.extend([Kind::KillWorker, Kind::StopWorker, Kind::PartitionWorker]);
                }
                if databases_free {
                    kinds.extend([
                        Kind::RestartUpstream,
                        Kind::CrashUpstream,
                        Kind::StopDownstream,
                    ]);
                }
                if kinds.is_empty() {
                    return None;
                }
                *kinds.get(rng.gen_range(0..kinds.len()))?
            }
        };
        self.owed.retain(|(owed, _)| !owed.paid_by(kind));
        Some(kind)
    }

    fn inject(&mut self, now: Duration, cluster: &Cluster, rng: &mut SmallRng) -> Option<Action> {
        let kind = self.pick(now, rng)?;
        let down = now + draw(rng, self.timing.down);
        let stopped = now + draw(rng, self.timing.stopped);
        match kind {
            Kind::KillLeader | Kind::KillMaster | Kind::StopMaster | Kind::EvictLeader => {
                let mut i = rng.gen_range(0..self.masters.health.len());
                if matches!(kind, Kind::KillLeader | Kind::EvictLeader) {
                    i = cluster
                        .leader
                        .filter(|l| *l < self.masters.health.len())
                        .unwrap_or(i);
                }
                let (fault, until, end) = match kind {
                    Kind::KillLeader => (Action::KillLeader(i), down, Action::RestartMaster(i)),
                    Kind::KillMaster => (Action::KillMaster(i), down, Action::RestartMaster(i)),
                    Kind::EvictLeader => (Action::EvictLeader(i), stopped, Action::CancelEvict(i)),
                    _ => (Action::StopMaster(i), stopped, Action::ResumeMaster(i)),
                };
                self.masters.disturb(i, until, end);
                Some(fault)
            }
            Kind::KillWorker | Kind::StopWorker | Kind::PartitionWorker => {
                let n = self.workers.health.len();
                let mut i = rng.gen_range(0..n);
                let bound: Vec<usize> = cluster
                    .bound_workers
                    .iter()
                    .copied()
                    .filter(|w| *w < n)
                    .collect();
                if !bound.is_empty() {
                    i = bound
                        .get(rng.gen_range(0..bound.len()))
                        .copied()
                        .unwrap_or(i);
                }
                let (fault, until, end) = match kind {
                    Kind::KillWorker => (Action::KillWorker(i), down, Action::RestartWorker(i)),
                    Kind::StopWorker => (Action::StopWorker(i), stopped, Action::ResumeWorker(i)),
                    _ => (Action::PartitionWorker(i), stopped, Action::HealWorker(i)),
                };
                self.workers.disturb(i, until, end);
                Some(fault)
            }
            Kind::RestartUpstream | Kind::CrashUpstream => {
                // The last database is the downstream.
                let upstreams = self.databases.health.len().saturating_sub(1);
                let i = rng.gen_range(0..upstreams.max(1));
                let fault = if kind == Kind::RestartUpstream {
                    Action::RestartUpstream(i)
                } else {
                    Action::CrashUpstream(i)
                };
                self.databases.disturb(i, down, Action::StartUpstream(i));
                Some(fault)
            }
            Kind::StopDownstream => {
                let i = self.databases.health.len().saturating_sub(1);
                self.databases.disturb(i, down, Action::StartDownstream);
                Some(Action::StopDownstream)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn timing() -> Timing {
        let s = Duration::from_secs;
        Timing {
            gap: (s(2), s(3)),
            down: (s(1), s(4)),
            stopped: (s(3), s(6)),
        }
    }

    const SHAPE: Shape = Shape {
        masters: 3,
        workers: 4,
        upstreams: 3,
    };

    fn run_for(seed: u64, timing: Timing, secs: u64) -> Vec<(u64, Action)> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let run = Duration::from_secs(secs);
        let mut planner = Planner::new(SHAPE, timing, Duration::from_secs(1), run);
        let mut log = Vec::new();
        for ms in (0..secs * 1000).step_by(100) {
            let cluster = Cluster {
                leader: Some(1),
                bound_workers: vec![0, 2, 3],
            };
            let now = Duration::from_millis(ms);
            for a in planner.step(now, &cluster, &mut rng) {
                log.push((ms, a));
            }
            assert!(planner.next_event() > now, "nothing left due at {now:?}");
        }
        log.extend(planner.end_all().into_iter().map(|a| (secs * 1000, a)));
        log
    }

    fn run(seed: u64) -> Vec<(u64, Action)> {
        run_for(seed, timing(), 60)
    }

    #[test]
    fn a_seed_gives_one_schedule() {
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn every_fault_ends_and_one_master_and_one_database_at_most_are_out() {
        for seed in 0..20 {
            let log = run(seed);
            let faults = log.iter().filter(|(_, a)| a.is_fault()).count();
            let ends = log.len() - faults;
            assert!(faults >= 15, "{faults} faults in 60 s");
            assert_eq!(faults, ends, "{log:?}");
            let (mut masters_out, mut databases_out) = (0i32, 0i32);
            for (_, a) in &log {
                match a {
                    Action::KillLeader(_)
                    | Action::KillMaster(_)
                    | Action::StopMaster(_)
                    | Action::EvictLeader(_) => masters_out += 1,
                    Action::RestartMaster(_) | Action::ResumeMaster(_) | Action::CancelEvict(_) => {
                        masters_out -= 1
                    }
                    Action::RestartUpstream(_)
                    | Action::CrashUpstream(_)
                    | Action::StopDownstream => databases_out += 1,
                    Action::StartUpstream(_) | Action::StartDownstream => databases_out -= 1,
                    _ => {}
                }
                assert!((0..=1).contains(&masters_out), "{log:?}");
                assert!((0..=1).contains(&databases_out), "{log:?}");
            }
        }
    }

    #[test]
    fn evictions_of_the_leader_come_and_are_cancelled() {
        let log: Vec<Action> = (0..20).flat_map(run).map(|(_, a)| a).collect();
        let evictions = log.iter().filter(|a| **a == Action::EvictLeader(1)).count();
        let cancels = log.iter().filter(|a| **a == Action::CancelEvict(1)).count();
        assert!(evictions >= 20, "{evictions} evictions in 20 runs");
        assert_eq!(evictions, cancels);
    }

    #[test]
    fn each_database_fault_is_ended_by_starting_that_database() {
        let log = run(5);
        for (i, (_, a)) in log.iter().enumerate() {
            let end = match a {
                Action::RestartUpstream(k) | Action::CrashUpstream(k) => Action::StartUpstream(*k),
                Action::StopDownstream => Action::StartDownstream,
                _ => continue,
            };
            let next = log[i + 1..]
                .iter()
                .find(|(_, b)| matches!(b, Action::StartUpstream(_) | Action::StartDownstream));
            assert_eq!(next.map(|(_, b)| *b), Some(end), "{log:?}");
        }
    }

    /// The CI run (one minute, pacing of the runner) always restarts an
    /// upstream and stops the downstream, whatever the seed; so does a
    /// run with faults so rare that chance would often miss them.
    #[test]
    fn a_short_run_always_restarts_an_upstream_and_stops_the_downstream() {
        let s = Duration::from_secs;
        let runner = Timing {
            gap: (Duration::from_millis(1500), s(3)),
            down: (s(1), s(4)),
            stopped: (s(3), s(7)),
        };
        let sparse = Timing {
            gap: (s(8), s(12)),
            ..runner
        };
        for seed in 0..200 {
            for timing in [runner, sparse] {
                let log = run_for(seed, timing, 60);
                let restarts = log
                    .iter()
                    .filter(|(_, a)| {
                        matches!(a, Action::RestartUpstream(_) | Action::CrashUpstream(_))
                    })
                    .count();
                let stops = log
                    .iter()
                    .filter(|(_, a)| *a == Action::StopDownstream)
                    .count();
                assert!(restarts >= 1 && stops >= 1, "seed {seed}: {log:?}");
            }
        }
    }
}
