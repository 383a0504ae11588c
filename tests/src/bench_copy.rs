//! `full-copy`: the same table copied between the same two servers by
//! `mariadb-dump --single-transaction | mariadb` (the baseline) and by our
//! cluster (3 masters, 1 worker, `task-mode: full`), in one run.
//!
//! Both write into the same downstream server, the baseline first; the
//! downstream copy is checked row for row (count and checksum) after each,
//! and dropped in between. Our time runs from `start-task` to every subtask
//! `Finished` in `query-status`. The worker's peak RSS is read from
//! `/proc/<pid>/status` (VmHWM) at the end.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bench_txn::peak_rss_kib;
use crate::big_table;
use crate::binaries::find_program;
use crate::cluster::{create_source, wait_bound, wait_task_stage, Workers};
use crate::error::{HarnessError, Result};
use crate::mariadb::MariaDb;

/// Results of a full-copy run.
#[derive(Debug, Clone)]
pub struct CopyReport {
    pub rows: u64,
    pub table_bytes: u64,
    pub baseline_ms: f64,
    pub ours_ms: f64,
    pub worker_peak_rss_kib: Option<u64>,
}

/// Server settings for both runs: room for the table in memory and a redo
/// log that does not throttle a bulk load.
const SERVER_ARGS: &[&str] = &[
    "--innodb-buffer-pool-size=1G",
    "--innodb-log-file-size=512M",
];

pub async fn full_copy(rows: u64, threads: u32) -> Result<CopyReport> {
    let (upstream, downstream) = crate::scenario::upstream_and_downstream(SERVER_ARGS).await?;
    big_table::create(&upstream, rows).await?;
    let expected = big_table::fingerprint(&upstream).await?;
    let table_bytes = table_bytes(&upstream).await?;

    let baseline_ms = baseline(&upstream, &downstream)?;
    check(&downstream, &expected, "mariadb-dump | mariadb").await?;
    crate::tutorial::run_sql(&downstream, &["DROP DATABASE big"]).await?;

    let (_masters, addrs) = crate::scenario::masters().await?;
    let dir = tempfile::tempdir().map_err(|e| HarnessError::io("temp dir", e))?;
    create_source(&addrs, dir.path(), "mysql1", upstream.port()).await?;
    let workers = Workers::start(1, &addrs, 2)?;
    wait_bound(&addrs, "mysql1", None, Duration::from_secs(30)).await?;
    let task = big_table::task_yaml("bench", downstream.port(), threads, 0);
    let started_at = Instant::now();
    crate::scenario::start_task(&addrs, dir.path(), "bench", &task).await?;
    wait_task_stage(&addrs, "bench", "Finished", Duration::from_secs(1800)).await?;
    let ours_ms = started_at.elapsed().as_secs_f64() * 1000.0;
    check(&downstream, &expected, "the cluster's copy").await?;
    let worker_peak_rss_kib = workers.pid(0).and_then(peak_rss_kib);
    Ok(CopyReport {
        rows,
        table_bytes,
        baseline_ms,
        ours_ms,
        worker_peak_rss_kib,
    })
}

/// `mariadb-dump --single-transaction big | mariadb`, timed (ms).
fn baseline(upstream: &MariaDb, downstream: &MariaDb) -> Result<f64> {
    let dump = find_program("mariadb-dump", "install mariadb-client")?;
    let client = find_program("mariadb", "install mariadb-client")?;
    let started = Instant::now();
    let mut dumper = Command::new(dump)
        .args(["--single-transaction", "--host=127.0.0.1", "--user=root"])
        .arg(format!("--port={}", upstream.port()))
        .args(["--databases", "big"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::io("starting mariadb-dump", e))?;
    let pipe = dumper
        .stdout
        .take()
        .ok_or_else(|| HarnessError::Task("mariadb-dump has no stdout".into()))?;
    let loaded = Command::new(client)
        .args(["--host=127.0.0.1", "--user=root"])
        .arg(format!("--port={}", downstream.port()))
        .stdin(pipe)
        .status()
        .map_err(|e| HarnessError::io("running mariadb", e))?;
    let dumped = dumper
        .wait()
        .map_err(|e| HarnessError::io("waiting for mariadb-dump", e))?;
    if !dumped.success() || !loaded.success() {
        return Err(HarnessError::Task(format!(
            "baseline failed: mariadb-dump {dumped}, mariadb {loaded}"
        )));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

async fn check(server: &MariaDb, expected: &(u64, u64, String), what: &str) -> Result<()> {
    let got = big_table::fingerprint(server).await?;
    if &got != expected {
        return Err(HarnessError::Task(format!(
            "{what}: downstream {got:?} differs from upstream {expected:?}"
        )));
    }
    Ok(())
}

async fn table_bytes(server: &MariaDb) -> Result<u64> {
    use mysql_async::prelude::Queryable;
    let mut conn = server.conn().await?;
    let bytes: Option<u64> = conn
        .query_first("SELECT SUM(LENGTH(CONCAT_WS('|', id, k, c, pad))) FROM big.t")
        .await
        .map_err(|e| HarnessError::Task(format!("measuring the table: {e}")))?;
    Ok(bytes.unwrap_or(0))
}
