//! The real-process fault runner: the real binaries on loopback, real
//! MariaDB servers, faults at random from a printed seed, and a verdict
//! on the data.
//!
//! A run starts three upstream shards (with initial data), one downstream,
//! three masters behind partition proxies and four workers (one spare, so a
//! stopped or partitioned worker's source moves to another worker while the
//! old one still believes it runs it), then a `task-mode: all` task merging
//! the shards' tables ([`schema`]: a plain table, one with generated
//! columns, one whose rows are padded). While the copy and then the binlog
//! sync run, the shards take a steady write load ([`load`]: a shard DDL,
//! sessions logging MINIMAL row images, now and then one transaction too
//! big for a lane to hold), and every few seconds the runner SIGKILLs the
//! leader, a master or a bound worker, SIGSTOPs a master or a worker for
//! longer than the keepalive TTL, cuts a worker off from the masters,
//! restarts an upstream shard cleanly or by SIGKILL (its binlog goes on in
//! a new file; the load connects again), or stops the downstream for a
//! few seconds ([`faults`] decides, [`topology`] carries out). Each fault
//! ends after a while: the process restarts, continues, is reconnected or
//! the database starts again.
//!
//! After the run the writes stop, every fault ends, and the runner waits
//! for the downstream to catch up ([`verify`]), then reports the faults by
//! kind, the replication lag seen from outside ([`lag`]), the time to
//! converge after the last fault, what `dmctl check-diff` found, and rows
//! applied twice outside the replay window ([`audit`]). A run passes when
//! check-diff compared every upstream row of every table and found none
//! differing, and no row was applied twice outside the replay window.

pub mod audit;
pub mod faults;
pub mod lag;
pub mod load;
pub mod owner;
pub mod proxy;
pub mod report;
pub mod schema;
pub mod session;
pub mod stages;
pub mod topology;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;

use dm_tests::HarnessError;
use faults::{Cluster, Planner, Shape, Timing};
use load::ShardLoad;
use report::{LoadTotals, Report};
use schema::TABLES;
use topology::{source_id, Topology};

/// The task's name.
pub const TASK: &str = "chaos";
/// Between two shards' shard DDLs.
const DDL_STAGGER: Duration = Duration::from_secs(2);

/// What a run does.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// How long faults are injected (the load runs as long).
    pub duration: Duration,
    pub masters: usize,
    pub workers: usize,
    pub sources: usize,
    /// Each shard starts with 2^this rows.
    pub initial_rows_log2: u32,
    /// The workers' `--keepalive-ttl`.
    pub ttl_secs: u64,
    /// How long the downstream may take to catch up after the run.
    pub converge_deadline: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seed: 1,
            duration: Duration::from_secs(60),
            masters: 3,
            workers: 4,
            sources: 3,
            initial_rows_log2: 17,
            ttl_secs: 2,
            converge_deadline: Duration::from_secs(180),
        }
    }
}

/// Why a run could not finish (a finished run that found differences is a
/// [`Report`] that did not pass).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Harness(HarnessError),
    #[error("{what}: {source}")]
    Sql {
        what: &'static str,
        #[source]
        source: mysql_async::Error,
    },
    #[error("{0}")]
    Check(String),
}

impl RunError {
    /// Maps a database error, naming what was being done.
    pub fn sql(what: &'static str) -> impl FnOnce(mysql_async::Error) -> RunError {
        move |source| RunError::Sql { what, source }
    }
}

/// The task file: every shard's `chaos.{t,g,p}_k` merged into
/// `chaos.{t,g,p}`. Its copy stops on a row already downstream
/// (`on-duplicate-logical: error`, not DM's default `replace`), so a chunk
/// copied twice shows instead of being overwritten.
pub fn task_yaml(sources: usize, downstream_port: u16) -> String {
    let mut yaml = format!(
        "name: {TASK}\ntask-mode: all\nshard-mode: pessimistic\n\
         ignore-checking-items: [\"auto_increment_ID\"]\n\
         target-database:\n  host: 127.0.0.1\n  port: {downstream_port}\n  user: root\n  password: \"\"\n\
         block-allow-list:\n  chaos:\n    do-dbs: [\"chaos\"]\n\
         routes:\n"
    );
    for merged in &TABLES {
        let p = merged.prefix;
        yaml.push_str(&format!(
            "  merge-{p}:\n    schema-pattern: \"chaos\"\n    table-pattern: \"{p}_*\"\n    \
             target-schema: \"chaos\"\n    target-table: \"{p}\"\n"
        ));
    }
    let rules = TABLES
        .iter()
        .map(|m| format!("\"merge-{}\"", m.prefix))
        .collect::<Vec<_>>()
        .join(", ");
    yaml.push_str("loaders:\n  strict:\n    on-duplicate-logical: error\nmysql-instances:\n");
    for k in 1..=sources {
        yaml.push_str(&format!(
            "  - source-id: \"{}\"\n    block-allow-list: \"chaos\"\n    route-rules: [{rules}]\n    \
             loader-config-name: \"strict\"\n",
            source_id(k)
        ));
    }
    yaml
}

/// How the planner paces faults for a worker TTL of `ttl`.
fn timing(ttl: Duration) -> Timing {
    let s = Duration::from_secs;
    Timing {
        gap: (Duration::from_millis(1500), s(3)),
        down: (s(1), s(4)),
        stopped: (ttl + s(1), ttl + s(5)),
    }
}

/// Runs the cluster under faults and judges the data.
pub async fn run(options: &Options) -> Result<Report, RunError> {
    let setup = Instant::now();
    let mut topology = Topology::start(options).await?;
    let file = topology.dir.path().join(format!("{TASK}.yaml"));
    std::fs::write(
        &file,
        task_yaml(options.sources, topology.downstream.port()),
    )
    .map_err(|e| RunError::Check(format!("writing {}: {e}", file.display())))?;
    let answer = topology
        .addrs
        .dmctl(&["start-task", &file.display().to_string()])
        .await?;
    if answer["result"] != true {
        return Err(RunError::Check(format!("start-task: {answer}")));
    }
    println!(
        "cluster up and task started in {:.1} s; faults for {:?} from seed {}",
        setup.elapsed().as_secs_f64(),
        options.duration,
        options.seed
    );

    let started = Instant::now();
    let started_ms = dm_proto::clock::unix_ms();
    let stop_load = Arc::new(AtomicBool::new(false));
    let stop_watch = Arc::new(AtomicBool::new(false));
    let (copied_tx, copied) = tokio::sync::watch::channel(false);
    let mut loads = Vec::new();
    for (i, server) in topology.upstreams.iter().enumerate() {
        let shard = i + 1;
        // The shards reach the DDL a few seconds apart: pessimistic mode
        // holds each one at it until the last arrives, which is lag too.
        let ddl_after = options.duration.mul_f64(0.3) + DDL_STAGGER * shard as u32;
        loads.push(ShardLoad::start(
            server.opts(),
            shard,
            options.seed,
            ddl_after,
            copied.clone(),
            stop_load.clone(),
        ));
    }
    let samplers: Vec<_> = loads
        .iter()
        .map(|l| {
            tokio::spawn(lag::sample(
                topology.downstream.pool(),
                l.progress.clone(),
                stop_watch.clone(),
            ))
        })
        .collect();
    let watcher = tokio::spawn(stages::watch(
        topology.addrs.clone(),
        options.sources,
        stop_watch.clone(),
        copied_tx,
    ));

    let mut rng = SmallRng::seed_from_u64(options.seed);
    let ttl = Duration::from_secs(options.ttl_secs);
    let mut planner = Planner::new(
        Shape {
            masters: options.masters,
            workers: options.workers,
            upstreams: options.sources,
        },
        timing(ttl),
        Duration::from_secs(1),
        options.duration,
    );
    let mut kinds: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut faults = 0u32;
    while started.elapsed() < options.duration {
        let now = started.elapsed();
        let cluster = if planner.fault_due(now) {
            topology.facts().await
        } else {
            Cluster::default()
        };
        for action in planner.step(now, &cluster, &mut rng) {
            act(&mut topology, action, started, &mut kinds, &mut faults).await?;
        }
        // The schedule's next entry (time, not a condition, is what it waits for).
        let next = planner.next_event().min(options.duration);
        tokio::time::sleep(next.saturating_sub(started.elapsed())).await;
    }
    for action in planner.end_all() {
        act(&mut topology, action, started, &mut kinds, &mut faults).await?;
    }
    let last_fault = Instant::now();
    let run_time = started.elapsed();

    stop_load.store(true, Ordering::Relaxed);
    let mut load = LoadTotals::default();
    for shard in loads {
        let result = shard
            .task
            .await
            .map_err(|e| RunError::Check(format!("shard {} load: {e}", shard.shard)))?;
        result?;
        load.add(&shard.progress);
    }
    println!(
        "faults over and writes stopped after {:.1} s; waiting for the downstream",
        run_time.as_secs_f64()
    );
    let converged = verify::converge(&topology, options.converge_deadline).await;
    stop_watch.store(true, Ordering::Relaxed);
    let mut lags = Vec::new();
    for sampler in samplers {
        lags.extend(sampler.await.unwrap_or_default());
    }
    let seen = watcher.await.unwrap_or_default();
    let converged = converged?;
    let diff = verify::check_diff(&topology.addrs).await?;
    let twice = audit::applied_twice(&topology.downstream, &seen.copy_done_ms).await?;
    load.applied_in_pieces = topology.worker_log_lines(BIG_APPLIED_IN_PIECES);
    Ok(Report {
        seed: options.seed,
        run_time,
        faults,
        kinds,
        load,
        upstream_rows: converged.upstream_rows,
        lag_max: lags.iter().max().copied(),
        lag_p99: lag::percentile(&lags, 99),
        lag_samples: lags.len(),
        converge_after_last_fault: converged.at.saturating_duration_since(last_fault),
        diff,
        twice,
        copy_done_after: seen
            .copy_done_ms
            .iter()
            .map(|ms| Duration::from_millis(ms.saturating_sub(started_ms)))
            .collect(),
        errors_seen: seen.errors.into_iter().collect(),
    })
}

/// What a worker logs when a lane applies a transaction in pieces.
const BIG_APPLIED_IN_PIECES: &str = "a big upstream transaction: applying it in pieces";

/// Carries out one action and logs it.
async fn act(
    topology: &mut Topology,
    action: faults::Action,
    started: Instant,
    kinds: &mut BTreeMap<&'static str, u32>,
    faults: &mut u32,
) -> Result<(), RunError> {
    println!(
        "{:>7.1} s  {}  {:<17} {}",
        started.elapsed().as_secs_f64(),
        wall_clock(dm_proto::clock::unix_ms()),
        action.kind(),
        action.process()
    );
    topology.apply(action).await?;
    *kinds.entry(action.kind()).or_default() += 1;
    if action.is_fault() {
        *faults += 1;
    }
    Ok(())
}

/// `HH:MM:SS.mmm` (UTC) of a unix time, to match the processes' logs.
fn wall_clock(unix_ms: u64) -> String {
    let day_ms = unix_ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}
