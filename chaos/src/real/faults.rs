//! Which fault comes next: a pure planner driven by a seeded RNG.
//!
//! Every few seconds the planner injects one fault, and it ends each fault
//! after a drawn while (restart a killed process, SIGCONT a stopped one,
//! heal a partition). At most one master and one worker are disturbed at
//! a time, so a majority of masters stays and a spare worker can take a
//! source over: the run tests failover, not the loss of a quorum. A
//! SIGSTOP lasts longer than the worker keepalive TTL, so the stopped
//! process is taken for dead while it still believes it owns its work.

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
    /// SIGKILL a worker that runs a source.
    KillWorker(usize),
    StopWorker(usize),
    PartitionWorker(usize),
    RestartMaster(usize),
    ResumeMaster(usize),
    RestartWorker(usize),
    ResumeWorker(usize),
    HealWorker(usize),
}

impl Action {
    /// The action's kind, for the summary.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::KillLeader(_) => "kill-leader",
            Action::KillMaster(_) => "kill-master",
            Action::StopMaster(_) => "stop-master",
            Action::KillWorker(_) => "kill-worker",
            Action::StopWorker(_) => "stop-worker",
            Action::PartitionWorker(_) => "partition-worker",
            Action::RestartMaster(_) | Action::RestartWorker(_) => "restart",
            Action::ResumeMaster(_) | Action::ResumeWorker(_) => "resume",
            Action::HealWorker(_) => "heal",
        }
    }

    /// The process it acts on, by name.
    pub fn process(&self) -> String {
        match *self {
            Action::KillLeader(i)
            | Action::KillMaster(i)
            | Action::StopMaster(i)
            | Action::RestartMaster(i)
            | Action::ResumeMaster(i) => format!("master{}", i + 1),
            Action::KillWorker(i)
            | Action::StopWorker(i)
            | Action::PartitionWorker(i)
            | Action::RestartWorker(i)
            | Action::ResumeWorker(i)
            | Action::HealWorker(i) => format!("worker{}", i + 1),
        }
    }

    /// Whether it disturbs the cluster (rather than ending a disturbance).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Action::KillLeader(_)
                | Action::KillMaster(_)
                | Action::StopMaster(_)
                | Action::KillWorker(_)
                | Action::StopWorker(_)
                | Action::PartitionWorker(_)
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
    /// A killed process stays down this long.
    pub down: (Duration, Duration),
    /// A stopped process or a partition lasts this long.
    pub stopped: (Duration, Duration),
}

/// The planner: what is disturbed, and what comes next.
#[derive(Debug)]
pub struct Planner {
    masters: Vec<Health>,
    workers: Vec<Health>,
    /// What ends each disturbance, by process.
    master_end: Vec<Option<Action>>,
    worker_end: Vec<Option<Action>>,
    next_fault: Duration,
    timing: Timing,
}

/// Marks process `i` disturbed until `until`, ended by `end`.
fn disturb(
    health: &mut [Health],
    ends: &mut [Option<Action>],
    i: usize,
    until: Duration,
    end: Action,
) {
    if let (Some(h), Some(e)) = (health.get_mut(i), ends.get_mut(i)) {
        *h = Health::Down(until);
        *e = Some(end);
    }
}

fn draw(rng: &mut SmallRng, (lo, hi): (Duration, Duration)) -> Duration {
    if hi <= lo {
        return lo;
    }
    Duration::from_millis(rng.gen_range(lo.as_millis() as u64..=hi.as_millis() as u64))
}

impl Planner {
    pub fn new(masters: usize, workers: usize, timing: Timing, first_fault: Duration) -> Self {
        Self {
            masters: vec![Health::Up; masters],
            workers: vec![Health::Up; workers],
            master_end: vec![None; masters],
            worker_end: vec![None; workers],
            next_fault: first_fault,
            timing,
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
        self.masters
            .iter()
            .chain(&self.workers)
            .filter_map(|h| match h {
                Health::Down(until) => Some(*until),
                Health::Up => None,
            })
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
        for (health, end) in self
            .masters
            .iter_mut()
            .zip(&mut self.master_end)
            .chain(self.workers.iter_mut().zip(&mut self.worker_end))
        {
            if let Health::Down(until) = *health {
                if due(until) {
                    *health = Health::Up;
                    actions.extend(end.take());
                }
            }
        }
        actions
    }

    fn inject(&mut self, now: Duration, cluster: &Cluster, rng: &mut SmallRng) -> Option<Action> {
        let master_free = self.masters.iter().all(|h| *h == Health::Up);
        let worker_free = self.workers.iter().all(|h| *h == Health::Up);
        let mut kinds: Vec<u8> = Vec::new();
        if master_free && !self.masters.is_empty() {
            kinds.extend([0, 1, 2]);
        }
        if worker_free && !self.workers.is_empty() {
            kinds.extend([3, 4, 5]);
        }
        if kinds.is_empty() {
            return None;
        }
        let kind = kinds.get(rng.gen_range(0..kinds.len())).copied()?;
        let down = now + draw(rng, self.timing.down);
        let stopped = now + draw(rng, self.timing.stopped);
        if kind < 3 {
            let mut i = rng.gen_range(0..self.masters.len());
            if kind == 0 {
                i = cluster
                    .leader
                    .filter(|l| *l < self.masters.len())
                    .unwrap_or(i);
            }
            let (fault, until, end) = match kind {
                0 => (Action::KillLeader(i), down, Action::RestartMaster(i)),
                1 => (Action::KillMaster(i), down, Action::RestartMaster(i)),
                _ => (Action::StopMaster(i), stopped, Action::ResumeMaster(i)),
            };
            self.disturb_master(i, until, end);
            Some(fault)
        } else {
            let mut i = rng.gen_range(0..self.workers.len());
            let bound: Vec<usize> = cluster
                .bound_workers
                .iter()
                .copied()
                .filter(|w| *w < self.workers.len())
                .collect();
            if !bound.is_empty() {
                i = bound
                    .get(rng.gen_range(0..bound.len()))
                    .copied()
                    .unwrap_or(i);
            }
            let (fault, until, end) = match kind {
                3 => (Action::KillWorker(i), down, Action::RestartWorker(i)),
                4 => (Action::StopWorker(i), stopped, Action::ResumeWorker(i)),
                _ => (Action::PartitionWorker(i), stopped, Action::HealWorker(i)),
            };
            self.disturb_worker(i, until, end);
            Some(fault)
        }
    }

    fn disturb_master(&mut self, i: usize, until: Duration, end: Action) {
        disturb(&mut self.masters, &mut self.master_end, i, until, end);
    }

    fn disturb_worker(&mut self, i: usize, until: Duration, end: Action) {
        disturb(&mut self.workers, &mut self.worker_end, i, until, end);
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

    fn run(seed: u64) -> Vec<(u64, Action)> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut planner = Planner::new(3, 4, timing(), Duration::from_secs(1));
        let mut log = Vec::new();
        for ms in (0..60_000).step_by(100) {
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
        log.extend(planner.end_all().into_iter().map(|a| (60_000, a)));
        log
    }

    #[test]
    fn a_seed_gives_one_schedule() {
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn every_fault_ends_and_one_master_at_most_is_out() {
        let log = run(3);
        let faults = log.iter().filter(|(_, a)| a.is_fault()).count();
        let ends = log.len() - faults;
        assert!(faults >= 15, "{faults} faults in 60 s");
        assert_eq!(faults, ends, "{log:?}");
        let mut masters_out = 0i32;
        for (_, a) in &log {
            match a {
                Action::KillLeader(_) | Action::KillMaster(_) | Action::StopMaster(_) => {
                    masters_out += 1
                }
                Action::RestartMaster(_) | Action::ResumeMaster(_) => masters_out -= 1,
                _ => {}
            }
            assert!((0..=1).contains(&masters_out), "{log:?}");
        }
    }
}
