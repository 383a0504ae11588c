//! Workers over real processes: registration, binding, failover of a source
//! when its worker dies, also when the master leader dies at the same moment
//! (the case of dm#2002), and transfer-source.
//!
//! A worker runs one source at a time (as in DM), so a dead worker's source
//! can only move to a free worker: the tests run one more worker than sources.

use std::time::{Duration, Instant};

use dm_tests::cluster::{
    bound_worker, create_source, dmctl, wait_bound, wait_worker_stage, workers_view, Workers,
};
use dm_tests::{wait_until, MariaDb, MariaDbOptions};

const TTL_SECS: u64 = 2;
const MOVE_DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_workers_source_moves_even_when_the_leader_dies_too() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let (mut masters, addrs) = dm_tests::scenario::masters().await.expect("masters");
    let files = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, files.path(), "source-a", upstream.port())
        .await
        .expect("source created");
    create_source(&addrs, files.path(), "source-b", upstream.port())
        .await
        .expect("source created");

    let mut workers = Workers::start(3, &addrs, TTL_SECS).expect("workers");
    let a = wait_bound(&addrs, "source-a", None, MOVE_DEADLINE)
        .await
        .expect("bound");
    let b = wait_bound(&addrs, "source-b", None, MOVE_DEADLINE)
        .await
        .expect("bound");
    assert_ne!(a, b, "one source per worker");
    let view = workers_view(&addrs).await.expect("list-member");
    assert_eq!(
        view.iter().filter(|w| w.stage == "bound").count(),
        2,
        "{view:?}"
    );
    assert_eq!(
        view.iter().filter(|w| w.stage == "free").count(),
        1,
        "{view:?}"
    );

    // The worker of source-a dies: the source moves to the free worker.
    let killed_at = Instant::now();
    workers
        .kill(workers.index_of(&a).expect("ours"))
        .expect("kill");
    let a2 = wait_bound(&addrs, "source-a", Some(&a), MOVE_DEADLINE)
        .await
        .expect("bound");
    assert_ne!(a2, b);
    let moved_after = killed_at.elapsed();
    assert!(
        moved_after < Duration::from_secs(TTL_SECS + 5),
        "moved after {moved_after:?}"
    );
    wait_worker_stage(&addrs, &a, "offline", MOVE_DEADLINE)
        .await
        .expect("offline");

    // The dead worker comes back (free), then the leader and the worker now
    // running source-a die at the same moment: the new leader still moves it.
    workers
        .spawn(workers.index_of(&a).expect("ours"))
        .expect("restart");
    wait_worker_stage(&addrs, &a, "free", MOVE_DEADLINE)
        .await
        .expect("free again");
    let leader = masters
        .leader(Duration::from_secs(20))
        .await
        .expect("leader");
    masters
        .kill(masters.index_of(&leader).expect("ours"))
        .expect("kill leader");
    workers
        .kill(workers.index_of(&a2).expect("ours"))
        .expect("kill worker");
    let a3 = wait_bound(&addrs, "source-a", Some(&a2), MOVE_DEADLINE)
        .await
        .expect("bound");
    assert_eq!(a3, a, "the only free worker takes it");
    assert_eq!(
        bound_worker(&addrs, "source-b").await.expect("list"),
        Some(b.clone()),
        "source-b never moved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transfer_source_moves_a_source_to_a_free_worker() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let (_masters, addrs) = dm_tests::scenario::masters().await.expect("masters");
    let files = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, files.path(), "source-a", upstream.port())
        .await
        .expect("source created");
    let _workers = Workers::start(2, &addrs, TTL_SECS).expect("workers");
    let first = wait_bound(&addrs, "source-a", None, MOVE_DEADLINE)
        .await
        .expect("bound");
    let other = if first == "worker1" {
        "worker2"
    } else {
        "worker1"
    };
    wait_worker_stage(&addrs, other, "free", MOVE_DEADLINE)
        .await
        .expect("free");

    let answer = dmctl(&addrs, &["transfer-source", "source-a", other])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(
        bound_worker(&addrs, "source-a").await.expect("list"),
        Some(other.to_string())
    );

    let answer = dmctl(&addrs, &["transfer-source", "source-a", "nobody"])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false);
    assert_eq!(answer["msg"], "worker nobody does not exist");

    // operate-source stop unbinds it; the worker becomes free.
    let answer = dmctl(&addrs, &["operate-source", "stop", "source-a"])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    wait_until(
        "both workers free",
        MOVE_DEADLINE,
        Duration::from_millis(50),
        || {
            let addrs = addrs.clone();
            async move {
                let view = workers_view(&addrs).await.ok()?;
                (view.len() == 2 && view.iter().all(|w| w.stage == "free")).then_some(())
            }
        },
    )
    .await
    .expect("free");
}
