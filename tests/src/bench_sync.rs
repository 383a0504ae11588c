//! `sync`: the same binlog applied by a native MariaDB replica (single
//! threaded, then with `slave_parallel_threads`) and by our cluster, each
//! into its own server, one after the other on this machine.
//!
//! 1. sysbench `oltp_write_only` writes a fixed number of transactions on
//!    the upstream (4 row changes each: two updates, a delete, an insert)
//!    while nothing replicates, so every replicator then applies the same
//!    binlog from the same position, schema creation included.
//! 2. Each replicator is started at that position and timed until it has
//!    applied everything up to the binlog's end (native: `SHOW SLAVE
//!    STATUS`; ours: every apply lane's checkpoint row in `dm_meta`). All copies are then
//!    compared with the upstream (row count and checksum).
//!    With `--compare-row-metadata NO_LOG` (or MINIMAL) a second upstream
//!    logging that row metadata (no column names in row events) and a third
//!    logging FULL get the same workload, and our sync of each into its own
//!    downstream is timed right after the first, in that order: the
//!    figures and the compared rate over FULL's (the mean of the FULL runs
//!    before and after, so a drift of the shared machine's speed cancels)
//!    are printed. With `--compare-scrape-ms N` the compared run is the
//!    same FULL workload while every master's and worker's `/metrics` is
//!    fetched every N ms (what a Prometheus scraping the cluster costs).
//!    A sync that pauses, or whose checkpoint stops moving for
//!    a minute, fails the run with the reason instead of waiting.
//! 3. Lag: with our sync caught up, sysbench writes at a fixed rate while a
//!    probe inserts a numbered row every 20 ms upstream and watches for it
//!    downstream; the probe's arrival delays give p50 / p99.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::cluster::{create_source, dmctl, paused_subtask, wait_bound, Workers};
use crate::error::{HarnessError, Result};
use crate::mariadb::{MariaDb, MariaDbOptions, RowMetadata};
use crate::wait::{wait_until, Check};

/// Row changes per `oltp_write_only` transaction.
pub const ROWS_PER_TRANSACTION: u64 = 4;
const TABLE_SIZE: u64 = 10_000;

/// Results of a sync run.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub transactions: u64,
    pub native_single_ms: f64,
    pub native_parallel_ms: f64,
    pub parallel_threads: u32,
    /// Ours with the upstream logging FULL row metadata.
    pub ours_ms: f64,
    /// Ours with the same workload from an upstream logging other row
    /// metadata, when asked for.
    pub compared: Option<ComparedRun>,
    pub offered_txn_per_sec: u32,
    pub lag_ms: Vec<f64>,
}

/// What the compared run changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The upstream logs this `binlog_row_metadata`.
    RowMetadata(RowMetadata),
    /// Every master's and worker's `/metrics` fetched at this interval.
    Scraped { every_ms: u64 },
}

impl std::fmt::Display for Compare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compare::RowMetadata(metadata) => write!(f, "binlog_row_metadata={metadata}"),
            Compare::Scraped { every_ms } => write!(f, "/metrics scraped every {every_ms} ms"),
        }
    }
}

/// Our sync of the same workload with one thing changed ([`Compare`]),
/// and once more with FULL metadata, unscraped, after it.
#[derive(Debug, Clone)]
pub struct ComparedRun {
    /// What the compared run changes.
    pub what: Compare,
    /// Time to apply the workload, or why the run failed.
    pub ours_ms: std::result::Result<f64, String>,
    /// The FULL run after it: time, or why it failed.
    pub full_again_ms: std::result::Result<f64, String>,
}

impl ComparedRun {
    /// The compared run's rate over FULL's (the mean time of the FULL runs
    /// before and after it, `full_before_ms` and [`Self::full_again_ms`]):
    /// 1.0 is as fast, 0.9 is 10% slower. `None` when a run failed.
    pub fn ratio(&self, full_before_ms: f64) -> Option<f64> {
        let compared = self.ours_ms.as_ref().ok()?;
        let again = self.full_again_ms.as_ref().ok()?;
        Some((full_before_ms + again) / 2.0 / compared.max(0.001))
    }
}

fn err(what: &str) -> impl FnOnce(mysql_async::Error) -> HarnessError + '_ {
    move |e| HarnessError::Task(format!("{what}: {e}"))
}

fn sysbench(server: &MariaDb, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("sysbench");
    cmd.arg("oltp_write_only")
        .args([
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            "--mysql-user=root",
        ])
        .arg(format!("--mysql-port={}", server.port()))
        .args(["--mysql-db=sbtest", "--tables=1"])
        .arg(format!("--table-size={TABLE_SIZE}"))
        .args(args)
        .stdout(std::process::Stdio::null());
    cmd
}

fn run(mut cmd: std::process::Command, what: &str) -> Result<()> {
    let status = cmd
        .status()
        .map_err(|e| HarnessError::io(format!("running {what}"), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(HarnessError::Task(format!("{what} failed: {status}")))
    }
}

async fn master_position(server: &MariaDb) -> Result<(String, u64)> {
    let mut conn = server.conn().await?;
    let row: Option<mysql_async::Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(err("SHOW MASTER STATUS"))?;
    row.and_then(|r| Some((r.get::<String, _>(0)?, r.get::<u64, _>(1)?)))
        .ok_or_else(|| HarnessError::Task("no binlog position".into()))
}

async fn fingerprint(server: &MariaDb) -> Result<(u64, String)> {
    let mut conn = server.conn().await?;
    let row: Option<(u64, String)> = conn
        .query_first(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', id, k, c, pad))), 0) AS CHAR) FROM sbtest.sbtest1",
        )
        .await
        .map_err(err("fingerprint"))?;
    row.ok_or_else(|| HarnessError::Task("no fingerprint".into()))
}

/// Starts a native replica of `upstream` at `from` and times it to `to`.
async fn native(
    replica: &MariaDb,
    upstream: &MariaDb,
    from: &(String, u64),
    to: &(String, u64),
    threads: u32,
) -> Result<f64> {
    let mut conn = replica.conn().await?;
    conn.query_drop(format!("SET GLOBAL slave_parallel_threads = {threads}"))
        .await
        .map_err(err("slave_parallel_threads"))?;
    if threads > 0 {
        conn.query_drop("SET GLOBAL slave_parallel_mode = 'optimistic'")
            .await
            .map_err(err("slave_parallel_mode"))?;
    }
    conn.query_drop(format!(
        "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', \
         MASTER_PASSWORD = '', MASTER_LOG_FILE = '{}', MASTER_LOG_POS = {}",
        upstream.port(),
        from.0,
        from.1
    ))
    .await
    .map_err(err("CHANGE MASTER TO"))?;
    let started = Instant::now();
    conn.query_drop("START SLAVE")
        .await
        .map_err(err("START SLAVE"))?;
    let conn = tokio::sync::Mutex::new(conn);
    wait_until(
        "the native replica caught up",
        Duration::from_secs(1800),
        Duration::from_millis(5),
        || async {
            let mut conn = conn.lock().await;
            let row: Option<mysql_async::Row> = conn.query_first("SHOW SLAVE STATUS").await.ok()?;
            let row = row?;
            let file: String = row.get("Relay_Master_Log_File")?;
            let pos: u64 = row.get("Exec_Master_Log_Pos")?;
            (file == to.0 && pos >= to.1).then_some(())
        },
    )
    .await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// The upstream's binlog between the sysbench workload's start and end,
/// and what the upstream holds after it.
struct Workload {
    from: (String, u64),
    to: (String, u64),
    expected: (u64, String),
}

/// Writes `transactions` sysbench transactions on `upstream` (schema
/// creation included) while nothing replicates.
async fn workload(upstream: &MariaDb, transactions: u64) -> Result<Workload> {
    let from = master_position(upstream).await?;
    crate::tutorial::run_sql(upstream, &["CREATE DATABASE sbtest"]).await?;
    run(sysbench(upstream, &["prepare"]), "sysbench prepare")?;
    run(
        sysbench(
            upstream,
            &[
                "--threads=4",
                "--time=0",
                &format!("--events={transactions}"),
                "run",
            ],
        ),
        "sysbench run",
    )?;
    let to = master_position(upstream).await?;
    let expected = fingerprint(upstream).await?;
    Ok(Workload { from, to, expected })
}

/// How long our sync may go without its checkpoint moving before the run
/// is failed (it is not going to finish).
const STALL: Duration = Duration::from_secs(60);

/// How often the timed wait asks for the task's status (a paused subtask
/// fails the run at once).
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// Our cluster applying `load`'s binlog of source `source` into
/// `downstream` (task `task`, task-mode incremental from the load's
/// start), timed until every apply lane's checkpoint reaches its end; then
/// checked against the upstream. Fails, rather than waits on, a subtask
/// that pauses or a checkpoint that stops moving for [`STALL`].
async fn ours(
    addrs: &str,
    dir: &std::path::Path,
    task: &str,
    source: &str,
    downstream: &MariaDb,
    load: &Workload,
) -> Result<f64> {
    let (from, to) = (&load.from, &load.to);
    let yaml = format!(
        "name: {task}\ntask-mode: incremental\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {}\n  user: \"root\"\n  password: \"\"\n\
mysql-instances:\n  - source-id: \"{source}\"\n    block-allow-list: \"sb\"\n    meta:\n      binlog-name: \"{}\"\n      binlog-pos: {}\n\
block-allow-list:\n  sb:\n    do-dbs: [\"sbtest\"]\n",
        downstream.port(),
        from.0,
        from.1
    );
    let started = Instant::now();
    crate::scenario::start_task(addrs, dir, task, &yaml).await?;
    let probe = tokio::sync::Mutex::new(downstream.conn().await?);
    let checkpoints = format!("SELECT binlog_name, binlog_pos FROM dm_meta.{task}_checkpoint");
    // (the lowest lane position seen, when it last moved), when the status was last asked.
    let progress = std::sync::Mutex::new(((String::new(), 0u64), Instant::now()));
    let asked = std::sync::Mutex::new(Instant::now());
    wait_until(
        &format!("our sync ({task}) caught up"),
        Duration::from_secs(1800),
        Duration::from_millis(5),
        || async {
            // Every apply lane has committed up to the binlog's end.
            let lanes: Vec<(String, u64)> = probe
                .lock()
                .await
                .query(checkpoints.as_str())
                .await
                .unwrap_or_default();
            if !lanes.is_empty() && lanes.iter().all(|(file, pos)| *file == to.0 && *pos >= to.1) {
                return Check::Ready(());
            }
            let lowest = lanes.iter().min().cloned().unwrap_or_default();
            let stalled = {
                let Ok(mut progress) = progress.lock() else {
                    return Check::Pending("progress lock".into());
                };
                if lowest != progress.0 {
                    *progress = (lowest.clone(), Instant::now());
                }
                progress.1.elapsed() >= STALL
            };
            let ask = asked.lock().map(|mut at| {
                let due = at.elapsed() >= STATUS_EVERY || stalled;
                if due {
                    *at = Instant::now();
                }
                due
            });
            if !matches!(ask, Ok(true)) {
                return Check::Pending(format!("lowest lane at {lowest:?}"));
            }
            let status = match dmctl(addrs, &["query-status", task]).await {
                Ok(status) => status,
                Err(e) => return Check::Pending(format!("lowest lane at {lowest:?}; {e}")),
            };
            if let Some(paused) = paused_subtask(&status, task) {
                return Check::Abort(HarnessError::Task(format!(
                    "lowest lane at {lowest:?}; {paused}"
                )));
            }
            if stalled {
                return Check::Abort(HarnessError::Task(format!(
                    "task {task}: no checkpoint moved for {STALL:?}, lowest lane at {lowest:?}, the binlog ends at {to:?}: {status}"
                )));
            }
            Check::Pending(format!("lowest lane at {lowest:?}"))
        },
    )
    .await?;
    let ours_ms = started.elapsed().as_secs_f64() * 1000.0;
    if fingerprint(downstream).await? != load.expected {
        return Err(HarnessError::Task(format!(
            "our downstream of {source} differs from the upstream"
        )));
    }
    Ok(ours_ms)
}

/// Runs the benchmark; with `compare` set, also times our sync of the
/// same workload written on a second upstream whose binlog has
/// `binlog_row_metadata=<compare>` (row events without column names for
/// NO_LOG / MINIMAL), then once more on a third upstream with FULL
/// metadata, each into its own downstream, right after the first run: the
/// FULL runs before and after the compared one cancel a drift of the
/// machine's speed over the runs (see [`ComparedRun::ratio`]).
pub async fn sync(
    transactions: u64,
    rate: u32,
    lag_secs: u64,
    parallel_threads: u32,
    compare: Option<Compare>,
) -> Result<SyncReport> {
    let servers_needed = if compare.is_some() { 8 } else { 4 };
    let servers = MariaDb::start_many(servers_needed, |i| {
        let options = MariaDbOptions::new(i as u32 + 1)
            .arg("--innodb-buffer-pool-size=512M")
            .arg("--innodb-log-file-size=256M");
        match compare {
            // The fifth server is the compared upstream.
            Some(Compare::RowMetadata(row_metadata)) if i == 4 => {
                options.row_metadata(row_metadata)
            }
            _ => options,
        }
    })
    .await?;
    let mut servers = servers.into_iter();
    let mut next = || {
        servers
            .next()
            .ok_or_else(|| HarnessError::Task("servers".into()))
    };
    let upstream = next()?;
    let single = next()?;
    let parallel = next()?;
    let downstream = next()?;
    // (upstream, downstream) of the compared run, then of the FULL run after it.
    let compared_pairs = match compare {
        Some(what) => Some((what, [(next()?, next()?), (next()?, next()?)])),
        None => None,
    };

    let load = workload(&upstream, transactions).await?;
    let mut compared_loads = Vec::new();
    if let Some((_, pairs)) = &compared_pairs {
        for (pair_upstream, _) in pairs {
            compared_loads.push(workload(pair_upstream, transactions).await?);
        }
    }
    let (from, to, expected) = (&load.from, &load.to, &load.expected);

    let native_single_ms = native(&single, &upstream, from, to, 0).await?;
    let native_parallel_ms = native(&parallel, &upstream, from, to, parallel_threads).await?;
    for (server, what) in [
        (&single, "native replica"),
        (&parallel, "parallel native replica"),
    ] {
        if &fingerprint(server).await? != expected {
            return Err(HarnessError::Task(format!(
                "the {what} differs from the upstream"
            )));
        }
    }

    // Ours: task-mode incremental from the same position.
    let (masters, addrs) = crate::scenario::masters().await?;
    let dir = tempfile::tempdir().map_err(|e| HarnessError::io("temp dir", e))?;
    create_source(&addrs, dir.path(), "mysql1", upstream.port()).await?;
    let workers = if compare.is_some() { 3 } else { 1 };
    let _workers = Workers::start(workers, &addrs, 2)?;
    wait_bound(&addrs, "mysql1", None, Duration::from_secs(30)).await?;
    let ours_ms = ours(&addrs, dir.path(), "bench", "mysql1", &downstream, &load).await?;

    // The same workload from an upstream logging other row metadata, then
    // from one logging FULL again; a failure is reported next to the
    // figures above, not instead of them.
    let mut compared = None;
    if let Some((what, pairs)) = &compared_pairs {
        let mut runs = Vec::new();
        for (n, ((pair_upstream, pair_downstream), pair_load)) in
            pairs.iter().zip(&compared_loads).enumerate()
        {
            let source = format!("mysql{}", n + 2);
            let task = format!("bench{}", n + 2);
            let run = async {
                create_source(&addrs, dir.path(), &source, pair_upstream.port()).await?;
                wait_bound(&addrs, &source, None, Duration::from_secs(30)).await?;
                let scraper = match what {
                    Compare::Scraped { every_ms } if n == 0 => {
                        Some(Scraper::start(&masters, &addrs, *every_ms).await?)
                    }
                    _ => None,
                };
                let ms = ours(
                    &addrs,
                    dir.path(),
                    &task,
                    &source,
                    pair_downstream,
                    pair_load,
                )
                .await;
                if let Some(scraper) = scraper {
                    let scrapes = scraper.stop().await;
                    if scrapes == 0 {
                        return Err(HarnessError::Task("no /metrics scrape answered".into()));
                    }
                }
                ms
            };
            runs.push(run.await.map_err(|e| e.to_string()));
        }
        let mut runs = runs.into_iter();
        compared = Some(ComparedRun {
            what: *what,
            ours_ms: runs.next().unwrap_or_else(|| Err("not run".into())),
            full_again_ms: runs.next().unwrap_or_else(|| Err("not run".into())),
        });
    }

    let lag_ms = lag(&upstream, &downstream, rate, lag_secs).await?;
    Ok(SyncReport {
        transactions,
        native_single_ms,
        native_parallel_ms,
        parallel_threads,
        ours_ms,
        compared,
        offered_txn_per_sec: rate,
        lag_ms,
    })
}

/// Fetches every master's and worker's `/metrics` every `every_ms`, as a
/// Prometheus scraping the cluster would, until stopped.
struct Scraper {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<u64>,
}

impl Scraper {
    async fn start(masters: &crate::cluster::Masters, addrs: &str, every_ms: u64) -> Result<Self> {
        let mut targets: Vec<String> = (0..masters.len())
            .filter_map(|i| masters.spec(i).map(|s| s.client_addr()))
            .collect();
        targets.extend(
            crate::cluster::workers_view(addrs)
                .await?
                .into_iter()
                .map(|w| w.addr),
        );
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut answered = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(every_ms.max(1)));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => return answered,
                }
                for target in &targets {
                    if let Ok(text) = crate::http::http_get(target, "/metrics").await {
                        if text.starts_with("HTTP/1.1 200") {
                            answered += 1;
                        }
                    }
                }
            }
        });
        Ok(Self { stop, task })
    }

    /// Stops; the number of scrapes answered.
    async fn stop(self) -> u64 {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or(0)
    }
}

/// Probe delays (ms) while sysbench offers `rate` transactions per second.
async fn lag(upstream: &MariaDb, downstream: &MariaDb, rate: u32, secs: u64) -> Result<Vec<f64>> {
    crate::tutorial::run_sql(
        upstream,
        &["CREATE TABLE sbtest.probe (seq INT PRIMARY KEY, note VARCHAR(10))"],
    )
    .await?;
    let watch = tokio::sync::Mutex::new(downstream.conn().await?);
    wait_until("the probe table downstream", Duration::from_secs(30), Duration::from_millis(20), || {
        let watch = &watch;
        async move {
            let n: Option<u64> = watch
                .lock()
                .await
                .query_first("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest' AND TABLE_NAME = 'probe'")
                .await
                .ok()?;
            (n == Some(1)).then_some(())
        }
    })
    .await?;
    let mut watch = watch.into_inner();
    let mut load = tokio::process::Command::from(sysbench(
        upstream,
        &[
            "--threads=4",
            &format!("--rate={rate}"),
            &format!("--time={secs}"),
            "run",
        ],
    ));
    let mut load = load
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| HarnessError::io("starting the sysbench load", e))?;
    let mut writer = upstream.conn().await?;
    let probes = (secs * 1000 / 20).max(1) as usize;
    let mut sent: Vec<Instant> = Vec::with_capacity(probes);
    let mut seen: Vec<Option<Instant>> = vec![None; probes];
    let mut next_send = Instant::now();
    let mut highest_seen: i64 = -1;
    let end = Instant::now() + Duration::from_secs(secs + 30);
    while (sent.len() < probes || highest_seen + 1 < probes as i64) && Instant::now() < end {
        if sent.len() < probes && Instant::now() >= next_send {
            writer
                .exec_drop("INSERT INTO sbtest.probe VALUES (?, 'p')", (sent.len(),))
                .await
                .map_err(err("probe insert"))?;
            sent.push(Instant::now());
            next_send += Duration::from_millis(20);
        }
        let max: Option<Option<i64>> = watch
            .query_first("SELECT MAX(seq) FROM sbtest.probe")
            .await
            .map_err(err("probe watch"))?;
        let now = Instant::now();
        if let Some(Some(max)) = max {
            for seq in (highest_seen + 1)..=max {
                if let Some(slot) = seen.get_mut(seq as usize) {
                    *slot = Some(now);
                }
            }
            highest_seen = highest_seen.max(max);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = load.wait().await;
    Ok(sent
        .iter()
        .zip(&seen)
        .filter_map(|(s, r)| r.map(|r| r.saturating_duration_since(*s).as_secs_f64() * 1000.0))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_the_compared_rate_over_the_mean_full_rate() {
        let run = |ours_ms, full_again_ms| ComparedRun {
            what: Compare::RowMetadata(RowMetadata::NoLog),
            ours_ms,
            full_again_ms,
        };
        assert_eq!(run(Ok(1000.0), Ok(1200.0)).ratio(1000.0), Some(1.1));
        assert_eq!(run(Ok(2000.0), Ok(1000.0)).ratio(1000.0), Some(0.5));
        assert_eq!(run(Err("paused".into()), Ok(1.0)).ratio(1.0), None);
        assert_eq!(run(Ok(1.0), Err("stalled".into())).ratio(1.0), None);
    }
}
