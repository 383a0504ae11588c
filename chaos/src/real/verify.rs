//! After the faults: wait until the downstream caught up, then compare.
//!
//! Catching up is watched cheaply: one count and one checksum of each
//! merged table on each side (see [`super::schema`]), polled until they
//! agree and every subtask replicates without an error. The verdict is then `dmctl check-diff`: per
//! primary-key chunk checksums of upstream (all shards, merged by the
//! task's routes) against downstream, and a row-level diff of any chunk
//! that differs.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::Value;

use super::schema::{Merged, TABLES};
use super::topology::{Addrs, Topology};
use super::{RunError, TASK};
use dm_tests::cluster::subtasks_of;
use dm_tests::{wait_until, Check, MariaDb};

/// Count and checksum of the rows of `table` (`merged`'s expression).
async fn aggregate(server: &MariaDb, merged: &Merged, table: &str) -> Result<(u64, u64), RunError> {
    let mut conn = server.conn().await.map_err(RunError::Harness)?;
    let row: Option<(u64, u64)> = conn
        .query_first(format!("{}{table}", merged.aggregate))
        .await
        .map_err(RunError::sql("a table checksum"))?;
    Ok(row.unwrap_or_default())
}

/// Per merged table, the upstream shards' count and checksum added up.
pub async fn upstream_aggregates(topology: &Topology) -> Result<Vec<(u64, u64)>, RunError> {
    let mut all = Vec::new();
    for merged in &TABLES {
        let mut total = (0u64, 0u64);
        for (i, server) in topology.upstreams.iter().enumerate() {
            let (count, sum) = aggregate(server, merged, &merged.shard(i + 1)).await?;
            total = (total.0 + count, total.1.wrapping_add(sum));
        }
        all.push(total);
    }
    Ok(all)
}

/// Per merged table, the downstream's count and checksum.
async fn downstream_aggregates(topology: &Topology) -> Result<Vec<(u64, u64)>, RunError> {
    let mut all = Vec::new();
    for merged in &TABLES {
        all.push(aggregate(&topology.downstream, merged, &merged.target()).await?);
    }
    Ok(all)
}

/// Whether every subtask runs the sync unit with no error; why not.
async fn replicating(addrs: &Addrs) -> Result<(), RunError> {
    let answer = addrs.dmctl(&["query-status", TASK]).await?;
    let subtasks = subtasks_of(&answer, TASK);
    if subtasks.is_empty() {
        return Err(RunError::Check(format!("no subtasks in {answer}")));
    }
    match subtasks
        .iter()
        .find(|(_, t)| t["stage"] != "Running" || t["unit"] != "Sync" || !t["result"].is_null())
    {
        Some((source, t)) => Err(RunError::Check(format!("{source}: {t}"))),
        None => Ok(()),
    }
}

/// The upstream's rows at the end, and when the downstream was first
/// seen equal to them.
#[derive(Debug, Clone, Copy)]
pub struct Converged {
    pub upstream_rows: u64,
    pub at: Instant,
}

/// Waits until the downstream equals the upstream by count and checksum
/// and every subtask replicates.
pub async fn converge(topology: &Topology, deadline: Duration) -> Result<Converged, RunError> {
    let expected = upstream_aggregates(topology).await?;
    let expected = &expected;
    let at = wait_until(
        "the downstream catches up",
        deadline,
        Duration::from_millis(200),
        || async move {
            let got = match downstream_aggregates(topology).await {
                Ok(got) => got,
                Err(e) => return Check::Pending(e.to_string()),
            };
            let behind = TABLES
                .iter()
                .zip(got.iter().zip(expected))
                .find(|(_, (got, want))| got != want);
            if let Some((merged, (got, want))) = behind {
                return Check::Pending(format!(
                    "downstream {} has {} rows (checksum {}), upstream {} ({})",
                    merged.target(),
                    got.0,
                    got.1,
                    want.0,
                    want.1
                ));
            }
            match replicating(&topology.addrs).await {
                Ok(()) => Check::Ready(Instant::now()),
                Err(why) => Check::Pending(why.to_string()),
            }
        },
    )
    .await
    .map_err(RunError::Harness)?;
    Ok(Converged {
        upstream_rows: expected.iter().map(|(rows, _)| rows).sum(),
        at,
    })
}

/// What `check-diff` found.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    pub rows_compared: u64,
    pub rows_differing: u64,
    pub chunks_compared: u64,
    pub chunks_differing: u64,
    /// The answer, printed when rows differ.
    pub answer: Value,
}

/// Runs `dmctl check-diff` on the task.
pub async fn check_diff(addrs: &Addrs) -> Result<Diff, RunError> {
    let answer = addrs
        .dmctl(&["check-diff", TASK, "--chunk-size", "20000"])
        .await?;
    if answer["result"] != true {
        return Err(RunError::Check(format!("check-diff did not run: {answer}")));
    }
    // 64-bit integers come as JSON numbers or, from protobuf's JSON, strings.
    let number = |key: &str| {
        let v = &answer[key];
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(0)
    };
    Ok(Diff {
        rows_compared: number("rowsCompared"),
        rows_differing: number("rowsDiffering"),
        chunks_compared: number("chunksCompared"),
        chunks_differing: number("chunksDiffering"),
        answer: answer.clone(),
    })
}
