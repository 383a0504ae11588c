//! Deterministic simulation of whole clusters.
//!
//! One seed decides everything: the workload (`dmctl` requests), the fault
//! schedule (crashes and restarts of masters, the leader and workers;
//! partitions master<->master and worker<->master, one-way too; held and
//! released messages; restarts of upstream servers, whose binlog then goes
//! on in a new file) and turmoil's own randomness (message latencies,
//! Raft's election timeouts). The real master and worker code runs on
//! turmoil's simulated network and clock ([`hosts`]); a master's Raft
//! store lives in memory outside its host, so a restarted master finds its
//! disk. Seeds without shard DDL start the task with the full copy
//! (`task-mode: all`) of rows already in the shards ([`data`]), so the
//! faults meet it mid-copy. Half the seeds ([`row_metadata`]) run with
//! upstreams whose row events carry no column names (MariaDB's
//! `binlog_row_metadata=NO_LOG`), so the sync decodes every row through
//! its schema tracker; the invariants are the same. After every step the [`invariants`] look at the
//! running masters;
//! when the faults are over the cluster must converge (liveness) and every
//! acknowledged request must have survived.
//!
//! A failing seed replays exactly: `chaos --seed N` prints its schedule
//! and what happened.

pub mod app;
pub mod data;
pub mod databases;
pub mod faults;
pub mod hosts;
pub mod invariants;
pub mod net;
pub mod workload;

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::Arc;

use dm_master::raft::{seed_raft_rng, MemDisk};
use dm_worker::databases::Databases;
use dm_worker::downstream::{Downstream, MetaTables, Position};
use dm_worker::upstream::BinlogSource;
use dm_worker_testkit::upstream::RowMetadata;
use openraft::ServerState;

use data::{SimDatabases, World, PRELOADED_ROWS};
use faults::{Fault, Hosts, Schedule};
use hosts::{
    master_config, master_name, run_master, run_worker, worker_config, worker_name, Registry,
};
use invariants::{Checker, Pending, Violation};
use workload::{Journal, Migration};

/// What one run looks like.
#[derive(Debug, Clone)]
pub struct Options {
    pub masters: usize,
    pub workers: usize,
    /// Faults happen between 1 s and this.
    pub fault_window: Duration,
    /// How long the cluster may take to converge after the last fault.
    pub settle_deadline: Duration,
    /// The downstream's epoch fence (off only to prove the checks fail).
    pub fence: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            masters: 3,
            workers: 4,
            fault_window: Duration::from_secs(12),
            settle_deadline: Duration::from_secs(30),
            fence: true,
        }
    }
}

/// The outcome of one seed.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub seed: u64,
    pub schedule: Schedule,
    pub violations: Vec<Violation>,
    /// What happened, in order (faults, requests, convergence).
    pub trace: Vec<String>,
    /// Simulated time from the last fault to convergence.
    pub converged_after: Option<Duration>,
    pub sim_time: Duration,
    /// Commits stalled on their way to the downstream.
    pub stalled_commits: u64,
    /// Whether the task started with the full copy.
    pub full_copy: bool,
    /// What the upstreams' row events carried.
    pub row_metadata: RowMetadata,
    /// Sources whose copy another worker took over midway.
    pub copies_taken_over: usize,
    /// Per source at the end: its lanes' checkpoints downstream.
    pub checkpoints: BTreeMap<String, Vec<Position>>,
}

/// Every source's lane checkpoints in the downstream.
fn checkpoints(world: &World) -> BTreeMap<String, Vec<Position>> {
    let meta = MetaTables {
        meta_schema: "dm_meta".into(),
        task: workload::TASK.into(),
    };
    world
        .upstreams
        .keys()
        .map(|source| {
            // The in-memory downstream answers at once: no runtime needed.
            let stored =
                futures::executor::block_on(world.downstream.lane_checkpoints(&meta, source))
                    .unwrap_or_default();
            (source.clone(), stored.into_values().collect())
        })
        .collect()
}

/// What a seed's upstreams log in their row events: `NO_LOG` (no column
/// names) for half the seeds. The seed's second bit decides, not its
/// first, which decides the shard count: both modes meet 2 and 3 shards.
pub fn row_metadata(seed: u64) -> RowMetadata {
    if (seed >> 1) & 1 == 1 {
        RowMetadata::NoLog
    } else {
        RowMetadata::Full
    }
}

/// Runs one seed to the end.
pub fn run_seed(seed: u64, opts: &Options) -> SeedReport {
    seed_raft_rng(seed);
    let mut sim = turmoil::Builder::new()
        .simulation_duration(opts.fault_window + opts.settle_deadline + Duration::from_secs(60))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .tcp_capacity(65536)
        .rng_seed(seed)
        .build();
    let registry = Registry::default();
    let mut hosts = Hosts {
        masters: (0..opts.masters).map(master_name).collect(),
        workers: (0..opts.workers).map(worker_name).collect(),
        sources: Vec::new(),
    };
    for name in &hosts.masters {
        let cfg = master_config(name, opts.masters);
        let disk = MemDisk::default();
        let registry = registry.clone();
        sim.host(name.as_str(), move || {
            run_master(cfg.clone(), disk.clone(), registry.clone())
        });
    }
    let shards = 2 + usize::try_from(seed % 2).unwrap_or(0);
    let ddl = app::ddl_times(seed, shards, opts.fault_window);
    // A seed with shard DDL migrates incrementally (a shard DDL during the
    // full copy is not supported: the shards' snapshots would disagree on
    // the merged table's columns); the others copy rows first.
    let migration = if ddl.is_some() {
        Migration::Incremental
    } else {
        Migration::Full
    };
    let world = World::new(
        shards,
        if migration == Migration::Full {
            PRELOADED_ROWS
        } else {
            0
        },
        row_metadata(seed),
    );
    for (i, name) in hosts.workers.iter().enumerate() {
        let cfg = worker_config(name, opts.masters);
        let databases: Arc<dyn Databases> = Arc::new(SimDatabases::new(
            world.clone(),
            seed.wrapping_mul(31).wrapping_add(i as u64 + 1),
            opts.fence,
        ));
        sim.host(name.as_str(), move || {
            run_worker(cfg.clone(), databases.clone())
        });
    }
    let mut trace = Vec::new();
    let journal = Journal::default();
    let sources: Vec<String> = world.upstreams.keys().cloned().collect();
    hosts.sources = sources.clone();
    sim.client(
        "ctl",
        workload::run(seed, opts.masters, sources, migration, journal.clone()),
    );
    trace.push(format!("migration: {migration:?}"));
    trace.push(format!(
        "binlog row metadata: {}{}",
        row_metadata(seed),
        if row_metadata(seed) == RowMetadata::NoLog {
            " (no column names: rows decoded through the schema tracker)"
        } else {
            ""
        }
    ));
    if let Some(times) = &ddl {
        let at: Vec<u128> = times.iter().map(Duration::as_millis).collect();
        trace.push(format!("shard DDL on each shard at {at:?} ms"));
    }
    sim.client("app", app::run(seed, world.clone(), journal.clone(), ddl));

    let schedule = faults::schedule(seed, &hosts, Duration::from_secs(1), opts.fault_window);
    let mut due = schedule.at.clone().into_iter().peekable();
    let mut crashed_leaders: Vec<String> = Vec::new();
    let mut checker = Checker::default();
    let mut client_done;
    let mut converged_after = None;
    let mut last_reason;
    let mut last_leader: Option<String> = None;
    loop {
        let now = sim.elapsed();
        while let Some((_, faults)) = due.next_if(|(at, _)| *at <= now) {
            for fault in faults {
                let done = apply(&mut sim, &registry, &world, &fault, &mut crashed_leaders);
                trace.push(format!("{:>6} ms  {fault}{done}", now.as_millis()));
            }
        }
        let settled = due.peek().is_none() && now >= opts.fault_window;
        if settled && !*journal.settled.borrow() {
            journal.settled.send_replace(true);
            trace.push(format!("{:>6} ms  faults over", now.as_millis()));
        }
        match sim.step() {
            Ok(finished) => client_done = finished,
            Err(e) => {
                checker.violations.push(Violation {
                    invariant: "hosts run",
                    at: now,
                    detail: format!("a host stopped: {e}"),
                });
                break;
            }
        }
        let masters = registry.masters();
        checker.observe(now, &masters);
        let leader = masters
            .iter()
            .find(|(_, n)| n.raft.metrics().borrow().state == ServerState::Leader)
            .map(|(name, _)| name.clone());
        if leader != last_leader {
            if let Some(l) = &leader {
                trace.push(format!("{:>6} ms  leader {l}", now.as_millis()));
            }
            last_leader = leader;
        }
        if settled && now.as_millis() % 100 == 0 {
            let records = journal.records.borrow().clone();
            let converged =
                invariants::liveness::check(&masters, opts.masters, opts.workers, &records)
                    .and_then(|()| invariants::data::converged(&world, migration));
            match converged {
                Ok(()) if client_done => {
                    converged_after = Some(now.saturating_sub(opts.fault_window));
                    trace.push(format!(
                        "{:>6} ms  converged: {} rows merged, {} downstream commits, {} copy chunks, {} copies taken over midway",
                        now.as_millis(),
                        world.downstream_rows().len(),
                        world.downstream.commits(),
                        world.downstream.chunks_committed(),
                        world.downstream.copies_taken_over()
                    ));
                    break;
                }
                Ok(()) => last_reason = Pending("the client has not finished".into()),
                Err(reason) => last_reason = reason,
            }
            if now > opts.fault_window + opts.settle_deadline {
                checker.violations.push(Violation {
                    invariant: "liveness",
                    at: now,
                    detail: format!(
                        "no convergence {:?} after the faults: {last_reason}",
                        opts.settle_deadline
                    ),
                });
                break;
            }
        }
    }
    let records = journal.records.borrow().clone();
    for r in &records {
        trace.push(format!(
            "{:>6} ms  {:?} -> {:?}",
            r.at.as_millis(),
            r.op,
            r.outcome
        ));
    }
    for detail in invariants::data::anomalies(&world) {
        checker.violations.push(Violation {
            invariant: detail.0,
            at: sim.elapsed(),
            detail: detail.1,
        });
    }
    let masters = registry.masters();
    if let Some(node) = masters.values().next() {
        for detail in invariants::acked::check(&records, &node.state().state) {
            checker.violations.push(Violation {
                invariant: "acknowledged requests survive",
                at: sim.elapsed(),
                detail,
            });
        }
    }
    let checkpoints = checkpoints(&world);
    SeedReport {
        seed,
        schedule,
        checkpoints,
        violations: checker.violations,
        trace,
        converged_after,
        sim_time: sim.elapsed(),
        stalled_commits: world.downstream.stalled(),
        full_copy: migration == Migration::Full,
        row_metadata: row_metadata(seed),
        copies_taken_over: world.downstream.copies_taken_over(),
    }
}

/// Applies one fault; returns a note for the trace.
fn apply(
    sim: &mut turmoil::Sim<'_>,
    registry: &Registry,
    world: &World,
    fault: &Fault,
    crashed_leaders: &mut Vec<String>,
) -> String {
    let crash = |sim: &mut turmoil::Sim<'_>, host: &str| {
        if sim.is_host_running(host) {
            sim.crash(host);
            registry.forget(host);
        }
    };
    match fault {
        Fault::Crash(h) => crash(sim, h),
        Fault::CrashLeader => {
            let leader = registry
                .masters()
                .into_iter()
                .find(|(_, n)| n.raft.metrics().borrow().state == ServerState::Leader)
                .map(|(name, _)| name);
            match leader {
                Some(l) => {
                    crash(sim, &l);
                    crashed_leaders.push(l.clone());
                    return format!(" ({l})");
                }
                None => return " (no leader now)".into(),
            }
        }
        Fault::Restart(h) => {
            if !sim.is_host_running(h.as_str()) {
                sim.bounce(h.as_str());
            }
        }
        Fault::RestartLeader => {
            if let Some(l) = crashed_leaders.pop() {
                if !sim.is_host_running(l.as_str()) {
                    sim.bounce(l.as_str());
                }
                return format!(" ({l})");
            }
        }
        Fault::Partition(a, b) => sim.partition(a.as_str(), b.as_str()),
        Fault::PartitionOneWay(a, b) => sim.partition_oneway(a.as_str(), b.as_str()),
        Fault::Repair(a, b) => sim.repair(a.as_str(), b.as_str()),
        Fault::Hold(a, b) => sim.hold(a.as_str(), b.as_str()),
        Fault::Release(a, b) => sim.release(a.as_str(), b.as_str()),
        Fault::RestartUpstream(source) => {
            if let Some(upstream) = world.upstreams.get(source) {
                upstream.restart();
                let files = futures::executor::block_on(upstream.files()).unwrap_or_default();
                return format!(
                    " (binlog now in {})",
                    files.last().cloned().unwrap_or_default()
                );
            }
        }
    }
    String::new()
}

/// Totals over many seeds.
#[derive(Debug, Default)]
pub struct Summary {
    pub seeds: usize,
    pub faults: BTreeMap<&'static str, usize>,
    pub failed: Vec<SeedReport>,
    pub converged_ms: Vec<u128>,
    /// Seeds whose task started with the full copy.
    pub full_copies: usize,
    /// Copies another worker took over midway, over every seed.
    pub copies_taken_over: usize,
    /// Per row metadata mode: seeds run and seeds with violations.
    pub by_metadata: BTreeMap<String, (usize, usize)>,
}

impl Summary {
    pub fn add(&mut self, report: SeedReport) {
        self.seeds += 1;
        for (kind, n) in report.schedule.kinds() {
            *self.faults.entry(kind).or_insert(0) += n;
        }
        *self.faults.entry("stalled commit").or_insert(0) +=
            usize::try_from(report.stalled_commits).unwrap_or(usize::MAX);
        if report.full_copy {
            self.full_copies += 1;
        }
        self.copies_taken_over += report.copies_taken_over;
        let mode = self
            .by_metadata
            .entry(report.row_metadata.to_string())
            .or_default();
        mode.0 += 1;
        if !report.violations.is_empty() {
            mode.1 += 1;
        }
        if let Some(c) = report.converged_after {
            self.converged_ms.push(c.as_millis());
        }
        if !report.violations.is_empty() {
            self.failed.push(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_the_seeds_log_no_column_names_with_either_shard_count() {
        let no_log = |seeds: &mut dyn Iterator<Item = u64>| {
            seeds
                .filter(|s| row_metadata(*s) == RowMetadata::NoLog)
                .count()
        };
        assert_eq!(no_log(&mut (0..200)), 100);
        // The first bit decides the shard count: both counts meet both modes.
        assert_eq!(no_log(&mut (0..200).filter(|s| s % 2 == 0)), 50);
        assert_eq!(no_log(&mut (0..200).filter(|s| s % 2 == 1)), 50);
    }
}
