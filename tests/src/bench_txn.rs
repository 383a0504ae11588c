//! `big-txn`: the worker's memory while it applies one upstream
//! transaction of a million row changes.
//!
//! The same table is loaded on both servers, then a task replicates from
//! the upstream's current position (`task-mode: incremental`), so no copy
//! runs. The baseline is a 1000-row `UPDATE` in one transaction: the
//! worker's peak resident set (VmHWM) once it is applied. Then one
//! `UPDATE` of every row, in one transaction: the time from its commit
//! upstream to the same table downstream (count and checksums), and the
//! peak resident set after. Both peaks are of the same worker process, in
//! the same run.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use crate::cluster::{create_source, wait_bound, wait_syncing, Workers};
use crate::error::{HarnessError, Result};
use crate::mariadb::MariaDb;
use crate::wait::{wait_until, Check};

/// Results of a big-transaction run.
#[derive(Debug, Clone)]
pub struct TxnReport {
    pub rows: u64,
    /// Peak RSS after the 1000-row transaction.
    pub baseline_peak_kib: u64,
    /// Peak RSS after the whole-table transaction.
    pub big_peak_kib: u64,
    /// From the big transaction's commit upstream to the same table
    /// downstream.
    pub apply_ms: f64,
}

const SERVER_ARGS: &[&str] = &[
    "--innodb-buffer-pool-size=1G",
    "--innodb-log-file-size=512M",
    "--max-binlog-size=1G",
];

const TABLE: &str =
    "CREATE TABLE bigtx.u (id INT NOT NULL PRIMARY KEY, v INT NOT NULL, pad CHAR(60) NOT NULL)";

fn fail(what: &'static str) -> impl Fn(mysql_async::Error) -> HarnessError {
    move |e| HarnessError::Task(format!("{what}: {e}"))
}

/// Count and checksums of the table.
async fn fingerprint(server: &MariaDb) -> Result<(u64, i64, u64)> {
    let mut conn = server.conn().await?;
    let row: Option<(u64, Option<i64>, Option<u64>)> = conn
        .query_first("SELECT COUNT(*), SUM(v), SUM(CRC32(CONCAT_WS('|', id, v, pad))) FROM bigtx.u")
        .await
        .map_err(fail("fingerprint"))?;
    let (n, sum, crc) = row.unwrap_or_default();
    Ok((n, sum.unwrap_or(0), crc.unwrap_or(0)))
}

async fn wait_same(upstream: &MariaDb, downstream: &MariaDb, what: &str) -> Result<()> {
    let want = fingerprint(upstream).await?;
    wait_until(
        what,
        Duration::from_secs(1800),
        Duration::from_millis(200),
        || async move {
            match fingerprint(downstream).await {
                Ok(got) if got == want => Check::Ready(()),
                Ok(got) => Check::Pending(format!("downstream {got:?}, upstream {want:?}")),
                Err(e) => Check::Pending(e.to_string()),
            }
        },
    )
    .await
}

pub async fn big_transaction(rows: u64) -> Result<TxnReport> {
    let (upstream, downstream) = crate::scenario::upstream_and_downstream(SERVER_ARGS).await?;
    let load = [
        "CREATE DATABASE bigtx".to_string(),
        TABLE.to_string(),
        format!("INSERT INTO bigtx.u SELECT seq, 0, REPEAT('x', 60) FROM bigtx.seq_1_to_{rows}"),
    ];
    for server in [&upstream, &downstream] {
        let mut conn = server.conn().await?;
        for sql in &load {
            conn.query_drop(sql)
                .await
                .map_err(fail("loading the table"))?;
        }
    }
    let (file, pos): (String, u64) = {
        let mut conn = upstream.conn().await?;
        let row: mysql_async::Row = conn
            .query_first("SHOW MASTER STATUS")
            .await
            .map_err(fail("SHOW MASTER STATUS"))?
            .ok_or_else(|| HarnessError::Task("the binlog is off".into()))?;
        let file = row
            .get(0)
            .ok_or_else(|| HarnessError::Task("no file".into()))?;
        let pos = row
            .get(1)
            .ok_or_else(|| HarnessError::Task("no pos".into()))?;
        (file, pos)
    };

    let (_masters, addrs) = crate::scenario::masters().await?;
    let dir = tempfile::tempdir().map_err(|e| HarnessError::io("temp dir", e))?;
    create_source(&addrs, dir.path(), "mysql1", upstream.port()).await?;
    let workers = Workers::start(1, &addrs, 2)?;
    wait_bound(&addrs, "mysql1", None, Duration::from_secs(30)).await?;
    let task = format!(
        "name: bigtx\ntask-mode: incremental\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {}\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"b\"\n    meta:\n      binlog-name: \"{file}\"\n      binlog-pos: {pos}\nblock-allow-list:\n  b:\n    do-dbs: [\"bigtx\"]\n",
        downstream.port()
    );
    crate::scenario::start_task(&addrs, dir.path(), "bigtx", &task).await?;
    wait_syncing(&addrs, "bigtx", Duration::from_secs(60)).await?;
    let pid = workers
        .pid(0)
        .ok_or_else(|| HarnessError::Task("no worker pid".into()))?;

    let mut conn = upstream.conn().await?;
    conn.query_drop("UPDATE bigtx.u SET v = v + 1 WHERE id <= 1000")
        .await
        .map_err(fail("the baseline transaction"))?;
    wait_same(
        &upstream,
        &downstream,
        "the 1000-row transaction downstream",
    )
    .await?;
    let baseline_peak_kib =
        peak_rss_kib(pid).ok_or_else(|| HarnessError::Task("no VmHWM for the worker".into()))?;

    conn.query_drop("UPDATE bigtx.u SET v = v + 1")
        .await
        .map_err(fail("the big transaction"))?;
    let committed = Instant::now();
    wait_same(&upstream, &downstream, "the big transaction downstream").await?;
    let apply_ms = committed.elapsed().as_secs_f64() * 1000.0;
    let big_peak_kib =
        peak_rss_kib(pid).ok_or_else(|| HarnessError::Task("no VmHWM for the worker".into()))?;
    Ok(TxnReport {
        rows,
        baseline_peak_kib,
        big_peak_kib,
        apply_ms,
    })
}

/// Peak resident set (VmHWM) of `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
