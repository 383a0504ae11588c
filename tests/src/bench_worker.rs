//! `worker-failover`: two workers, one source with a full copy under way;
//! each round SIGKILLs the worker bound to the source and measures, from
//! the kill, (1) the source bound to the other worker and (2) the first
//! transaction the new worker commits downstream (a copy chunk under its
//! epoch). Each round copies the table into its own target schema (a new
//! task routed to `wf<round>`), stopped at the end of the round; the killed
//! worker is restarted before the next round.

use std::time::{Duration, Instant};

use dm_proto::pb;
use dm_proto::pb::master_client::MasterClient;
use mysql_async::prelude::Queryable;

use crate::bench::{create_anywhere, RETRY};
use crate::big_table;
use crate::cluster::{dmctl, Workers};
use crate::error::{HarnessError, Result};
use crate::wait::wait_until;

/// Rows of the copied table: enough that a copy outlasts a failover.
const ROWS: u64 = 300_000;
const ROWS_PER_CHUNK: u64 = 1_000;

/// Results of a worker failover run.
#[derive(Debug, Clone)]
pub struct WorkerFailoverReport {
    /// SIGKILL of the bound worker to the source bound to another worker (ms).
    pub rebind_ms: Vec<f64>,
    /// SIGKILL to the first downstream commit of the new worker (ms).
    pub first_commit_ms: Vec<f64>,
    pub keepalive_ttl_secs: u64,
}

/// The worker `source` is bound to, asking `addr` directly.
async fn bound_to(addr: &str, source: &str) -> Option<String> {
    let mut client = MasterClient::connect(format!("http://{addr}")).await.ok()?;
    let answer = client
        .list_member(pb::ListMemberRequest {
            leader: false,
            master: false,
            worker: true,
            names: Vec::new(),
        })
        .await
        .ok()?
        .into_inner();
    answer.members.into_iter().find_map(|m| match m.member {
        Some(pb::members::Member::Worker(w)) => w
            .workers
            .into_iter()
            .find(|w| w.stage == "bound" && w.source == source)
            .map(|w| w.name),
        _ => None,
    })
}

/// The largest epoch that committed a chunk of `task`'s copy.
async fn committed_epoch(conn: &mut mysql_async::Conn, task: &str) -> Option<u64> {
    conn.query_first::<Option<u64>, _>(format!(
        "SELECT MAX(epoch) FROM dm_meta.`{task}_copy_chunk` WHERE done = 1"
    ))
    .await
    .ok()
    .flatten()
    .flatten()
}

/// A full-copy task of `big` routed into schema `task` (its own name).
fn routed_task(task: &str, port: u16) -> String {
    format!(
        "{}routes:\n  to-{task}:\n    schema-pattern: \"big\"\n    target-schema: \"{task}\"\n",
        big_table::task_yaml(task, port, 1, ROWS_PER_CHUNK)
    )
    .replace(
        "block-allow-list: \"big\"\n",
        &format!("block-allow-list: \"big\"\n    route-rules: [\"to-{task}\"]\n"),
    )
}

pub async fn worker_failover(rounds: usize) -> Result<WorkerFailoverReport> {
    let ttl = dm_proto::config::DEFAULT_KEEPALIVE_TTL_SECS;
    let (upstream, downstream) = crate::scenario::upstream_and_downstream(&[]).await?;
    big_table::create(&upstream, ROWS).await?;
    let (_masters, all) = crate::scenario::masters().await?;
    let addrs: Vec<String> = all.split(',').map(str::to_string).collect();
    create_anywhere(&addrs, "mysql1", upstream.port(), Duration::from_secs(10)).await?;
    let mut workers = Workers::start(2, &all, ttl)?;
    let dir = tempfile::tempdir().map_err(|e| HarnessError::io("temp dir", e))?;
    let probe = tokio::sync::Mutex::new(downstream.conn().await?);

    let bound = |not: Option<String>| {
        let addrs = addrs.clone();
        async move {
            loop {
                for addr in &addrs {
                    if let Some(w) = bound_to(addr, "mysql1").await {
                        if Some(&w) != not.as_ref() {
                            return w;
                        }
                    }
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    };
    let mut rebind_ms = Vec::new();
    let mut first_commit_ms = Vec::new();
    for round in 0..rounds {
        let current = tokio::time::timeout(Duration::from_secs(30), bound(None))
            .await
            .map_err(|_| HarnessError::Task("mysql1 never bound".into()))?;
        let index = workers
            .index_of(&current)
            .ok_or_else(|| HarnessError::Task(format!("unknown worker {current}")))?;
        // The other worker must be alive and free before the kill.
        wait_until(
            "the other worker is free",
            Duration::from_secs(30),
            Duration::from_millis(20),
            || {
                let all = all.clone();
                async move {
                    let view = crate::cluster::workers_view(&all).await.ok()?;
                    (view.iter().filter(|w| w.stage == "free").count() == 1).then_some(())
                }
            },
        )
        .await?;
        let task = format!("wf{}", round + 1);
        crate::scenario::start_task(
            &all,
            dir.path(),
            &task,
            &routed_task(&task, downstream.port()),
        )
        .await?;
        let old_epoch = wait_until(
            "the copy is under way",
            Duration::from_secs(30),
            Duration::from_millis(5),
            || {
                let probe = &probe;
                let task = task.clone();
                async move { committed_epoch(&mut *probe.lock().await, &task).await }
            },
        )
        .await?;

        let killed_at = Instant::now();
        workers.kill(index)?;
        let next = tokio::time::timeout(Duration::from_secs(30), bound(Some(current.clone())))
            .await
            .map_err(|_| HarnessError::Task("mysql1 never moved".into()))?;
        let rebind = killed_at.elapsed().as_secs_f64() * 1000.0;
        wait_until(
            "the new worker commits downstream",
            Duration::from_secs(30),
            Duration::from_millis(5),
            || {
                let probe = &probe;
                let task = task.clone();
                async move {
                    committed_epoch(&mut *probe.lock().await, &task)
                        .await
                        .filter(|e| *e > old_epoch)
                }
            },
        )
        .await?;
        let commit = killed_at.elapsed().as_secs_f64() * 1000.0;
        println!(
            "round {:>2}: killed {current}; mysql1 bound to {next} after {rebind:.0} ms, its first downstream commit after {commit:.0} ms",
            round + 1
        );
        rebind_ms.push(rebind);
        first_commit_ms.push(commit);
        dmctl(&all, &["stop-task", &task]).await?;
        workers.spawn(index)?;
    }
    Ok(WorkerFailoverReport {
        rebind_ms,
        first_commit_ms,
        keepalive_ttl_secs: ttl,
    })
}
