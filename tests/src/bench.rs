//! Benchmarks over real processes.
//!
//! `master-failover`: three masters; each round SIGKILLs the leader and
//! measures the time from the kill to the first write (an `operate-source
//! create`) acknowledged by the new leader, through a client that tries
//! every surviving master every few milliseconds. Between rounds the killed
//! master is restarted and the cluster settles (it answers pings and one
//! more write is acknowledged). The same run first
//! measures steady-state write latency as the baseline, so the figures can
//! be compared on any machine. DM 2.x needs up to its 60 s leader lease for
//! the same failover.

use std::time::{Duration, Instant};

use dm_proto::pb;
use dm_proto::pb::master_client::MasterClient;

use crate::cluster::{dmctl, source_yaml, Masters};
use crate::error::{HarnessError, Result};
use crate::mariadb::{MariaDb, MariaDbOptions};
use crate::wait::wait_until;

/// Pause between write attempts while no leader answers.
pub(crate) const RETRY: Duration = Duration::from_millis(5);
/// Time limit of one write attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

/// Results of a failover run.
#[derive(Debug, Clone)]
pub struct FailoverReport {
    /// Steady-state write latency (ms), one per write.
    pub steady_ms: Vec<f64>,
    /// SIGKILL of the leader to the first acknowledged write (ms), one per round.
    pub failover_ms: Vec<f64>,
}

/// One `operate-source create` against `addr`; true when acknowledged.
async fn try_create(addr: &str, id: &str, port: u16) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{addr}")) else {
        return false;
    };
    let endpoint = endpoint
        .connect_timeout(ATTEMPT_TIMEOUT)
        .timeout(ATTEMPT_TIMEOUT);
    let attempt = async {
        let mut client = MasterClient::connect(endpoint).await.ok()?;
        let request = pb::OperateSourceRequest {
            op: pb::SourceOp::StartSource as i32,
            config: vec![source_yaml(id, port)],
            source_id: Vec::new(),
        };
        client
            .operate_source(request)
            .await
            .ok()
            .map(|r| r.into_inner().result)
    };
    matches!(
        tokio::time::timeout(ATTEMPT_TIMEOUT, attempt).await,
        Ok(Some(true))
    )
}

/// Writes `id` through any of `addrs`, retrying until acknowledged.
pub(crate) async fn create_anywhere(
    addrs: &[String],
    id: &str,
    port: u16,
    deadline: Duration,
) -> Result<Instant> {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        for addr in addrs {
            if try_create(addr, id, port).await {
                return Ok(Instant::now());
            }
        }
        tokio::time::sleep(RETRY).await;
    }
    Err(HarnessError::Task(format!(
        "no master acknowledged {id} within {deadline:?}"
    )))
}

/// Runs `rounds` leader kills.
pub async fn master_failover(rounds: usize) -> Result<FailoverReport> {
    let upstream = MariaDb::start(MariaDbOptions::new(1)).await?;
    let mut masters = Masters::start(3)?;
    let all = masters.client_addrs();
    let addrs: Vec<String> = all.split(',').map(str::to_string).collect();
    masters.leader(Duration::from_secs(30)).await?;

    let mut steady_ms = Vec::new();
    for i in 0..20 {
        let start = Instant::now();
        let done = create_anywhere(
            &addrs,
            &format!("steady-{i}"),
            upstream.port(),
            Duration::from_secs(10),
        )
        .await?;
        steady_ms.push(done.duration_since(start).as_secs_f64() * 1000.0);
    }

    let mut failover_ms = Vec::new();
    for round in 0..rounds {
        let leader = masters.leader(Duration::from_secs(30)).await?;
        let index = masters
            .index_of(&leader)
            .ok_or_else(|| HarnessError::Task(format!("unknown leader {leader}")))?;
        let survivors: Vec<String> = addrs
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, a)| a.clone())
            .collect();
        let killed_at = Instant::now();
        masters.kill(index)?;
        let done = create_anywhere(
            &survivors,
            &format!("failover-{round}"),
            upstream.port(),
            Duration::from_secs(30),
        )
        .await?;
        let ms = done.duration_since(killed_at).as_secs_f64() * 1000.0;
        println!(
            "round {:>2}: killed {leader}, first write acknowledged after {ms:.0} ms",
            round + 1
        );
        failover_ms.push(ms);

        masters.spawn(index)?;
        // The restarted master is back in the group before the next kill.
        let name = leader.clone();
        wait_until(
            "the restarted master is alive again",
            Duration::from_secs(30),
            Duration::from_millis(50),
            || {
                let all = all.clone();
                let name = name.clone();
                async move {
                    let answer = dmctl(&all, &["list-member", "--master"]).await.ok()?;
                    let masters = answer["members"][0]["master"]["masters"]
                        .as_array()?
                        .clone();
                    let alive = masters.iter().filter(|m| m["alive"] == true).count();
                    let back = masters
                        .iter()
                        .any(|m| m["name"] == name.as_str() && m["alive"] == true);
                    (alive == 3 && back).then_some(())
                }
            },
        )
        .await?;
        // Settled: a write went through with the restarted master back.
        create_anywhere(
            &addrs,
            &format!("settle-{round}"),
            upstream.port(),
            Duration::from_secs(30),
        )
        .await?;
    }
    Ok(FailoverReport {
        steady_ms,
        failover_ms,
    })
}

/// min, median, max of `values`.
pub fn summary(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    (sorted[0], median, sorted[n - 1])
}
