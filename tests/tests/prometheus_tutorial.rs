//! A real Prometheus server scraping the tutorial's cluster (3 masters,
//! 3 workers, both tasks), asked through its HTTP API, with a copy of the
//! shipped alert rules whose `for:` durations are 1 s:
//!
//! - a replication-lag series for each of the 3 sources of each task;
//! - copy progress 1 for all six subtasks;
//! - after the leader is SIGKILLed, the surviving masters' leader-change
//!   counters rose and the master Prometheus sees leading is the one
//!   `list-member` names;
//! - `pause-task` makes `DM_task_paused` fire for that task's subtasks and
//!   `resume-task` clears it.

use std::collections::BTreeSet;
use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_syncing, workers_view};
use dm_tests::prometheus::{monitoring_file, with_short_for, Prometheus, Sample};
use dm_tests::scenario::TutorialCluster;
use dm_tests::tutorial::{self, DMTEST1_SQL, DMTEST2_SQL};
use dm_tests::wait_until;

const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);
const TASKS: [&str; 2] = ["dmtask1", "dmtask2"];

/// `query`'s samples once `ready` holds for them.
async fn wait_query(
    prometheus: &Prometheus,
    what: &str,
    query: &str,
    ready: impl Fn(&[Sample]) -> bool,
) -> Vec<Sample> {
    wait_until(what, DEADLINE, POLL, || async {
        match prometheus.query(query).await {
            Ok(samples) if ready(&samples) => Ok(samples),
            Ok(samples) => Err(format!("{query}: {samples:?}")),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .expect(what)
}

/// (task, source_id) of each sample.
fn task_sources(samples: &[Sample]) -> BTreeSet<(String, String)> {
    samples
        .iter()
        .map(|s| {
            (
                s.label("task").to_string(),
                s.label("source_id").to_string(),
            )
        })
        .collect()
}

fn every_subtask() -> BTreeSet<(String, String)> {
    TASKS
        .iter()
        .flat_map(|task| (1..=3).map(move |i| (task.to_string(), format!("mysql{i}"))))
        .collect()
}

/// The firing `DM_task_paused` alerts' (task, source_id).
async fn paused_alerts(prometheus: &Prometheus) -> BTreeSet<(String, String)> {
    prometheus
        .alerts()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.name == "DM_task_paused" && a.state == "firing")
        .map(|a| {
            let get = |k: &str| a.labels.get(k).cloned().unwrap_or_default();
            (get("task"), get("source_id"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_sees_lag_progress_leader_changes_and_a_paused_task() {
    let mut c = TutorialCluster::start(&[DMTEST1_SQL, DMTEST2_SQL])
        .await
        .expect("cluster");
    let masters: Vec<String> = (0..c.masters.len())
        .filter_map(|i| c.masters.spec(i).map(|s| s.client_addr()))
        .collect();
    let workers: Vec<String> = workers_view(&c.addrs)
        .await
        .expect("workers")
        .into_iter()
        .map(|w| w.addr)
        .collect();
    assert_eq!(workers.len(), 3, "{workers:?}");
    let rules = std::fs::read_to_string(monitoring_file("dm.rules.yml")).expect("rules");
    let prometheus = Prometheus::start(&masters, &workers, Some(&with_short_for(&rules, 1)))
        .await
        .expect("prometheus");
    wait_query(&prometheus, "every target scraped", "up == 1", |s| {
        s.len() == 6
    })
    .await;

    for task in TASKS {
        c.start_tutorial_task(&format!("{task}.yaml"), "all")
            .await
            .expect("start-task");
    }
    for task in TASKS {
        wait_syncing(&c.addrs, task, DEADLINE)
            .await
            .expect("syncing");
    }
    let expected = tutorial::merged_rows(&c.dbs.upstreams, "dmtest1")
        .await
        .expect("rows");
    tutorial::wait_task_rows(
        &c.addrs,
        "dmtask1",
        &c.dbs.downstream,
        "dmtest1",
        &expected,
        DEADLINE,
    )
    .await
    .expect("dmtask1 copied");

    let lag = wait_query(
        &prometheus,
        "a replication-lag series for each source of each task",
        "dm_syncer_replication_lag_gauge",
        |s| task_sources(s) == every_subtask(),
    )
    .await;
    assert!(lag.iter().all(|s| s.value >= 0.0), "{lag:?}");
    wait_query(
        &prometheus,
        "copy progress 1 for every subtask",
        "dm_loader_progress == 1",
        |s| task_sources(s) == every_subtask(),
    )
    .await;

    // The leader dies; the survivors see the change, and Prometheus's
    // leader is list-member's.
    let leader = c.masters.leader(DEADLINE).await.expect("leader");
    let index = c.masters.index_of(&leader).expect("leader's index");
    let leader_addr = masters[index].clone();
    let before: Vec<Sample> = prometheus
        .query("dm_master_raft_leader_changes_total")
        .await
        .expect("leader changes");
    let survivors: Vec<&String> = masters.iter().filter(|a| **a != leader_addr).collect();
    let changes_of = |samples: &[Sample], addr: &str| {
        samples
            .iter()
            .find(|s| s.label("instance") == addr)
            .map(|s| s.value)
    };
    c.masters.kill(index).expect("SIGKILL the leader");
    let new_leader = wait_until("a new leader", DEADLINE, POLL, || async {
        let answer = dmctl(
            &survivors
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
            &["list-member", "--leader"],
        )
        .await
        .ok()?;
        let name = answer["members"][0]["leader"]["name"].as_str()?.to_string();
        let addr = answer["members"][0]["leader"]["addr"].as_str()?.to_string();
        (!name.is_empty() && name != leader).then_some(addr)
    })
    .await
    .expect("list-member names a new leader");
    wait_query(
        &prometheus,
        "the survivors' leader-change counters rose",
        "dm_master_raft_leader_changes_total",
        |now| {
            survivors.iter().all(
                |addr| match (changes_of(&before, addr), changes_of(now, addr)) {
                    (Some(b), Some(n)) => n > b,
                    _ => false,
                },
            )
        },
    )
    .await;
    let leading = wait_query(
        &prometheus,
        "Prometheus sees one leader among the survivors",
        "dm_master_raft_is_leader == 1",
        |s| s.len() == 1 && s[0].label("instance") != leader_addr,
    )
    .await;
    assert_eq!(leading[0].label("instance"), new_leader, "{leading:?}");

    // A paused task pages; resumed, the page clears.
    let paused: BTreeSet<(String, String)> = (1..=3)
        .map(|i| ("dmtask1".to_string(), format!("mysql{i}")))
        .collect();
    let new_addrs = survivors
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let answer = dmctl(&new_addrs, &["pause-task", "dmtask1"])
        .await
        .expect("pause-task");
    assert_eq!(answer["result"], true, "{answer}");
    wait_until(
        "DM_task_paused fires for dmtask1",
        DEADLINE,
        POLL,
        || async {
            let firing = paused_alerts(&prometheus).await;
            if firing == paused {
                Ok(())
            } else {
                Err(format!("{firing:?}"))
            }
        },
    )
    .await
    .expect("the alert fires");
    let answer = dmctl(&new_addrs, &["resume-task", "dmtask1"])
        .await
        .expect("resume-task");
    assert_eq!(answer["result"], true, "{answer}");
    wait_until("DM_task_paused clears", DEADLINE, POLL, || async {
        let firing = paused_alerts(&prometheus).await;
        if firing.is_empty() {
            Ok(())
        } else {
            Err(format!("{firing:?}"))
        }
    })
    .await
    .expect("the alert clears");
}
