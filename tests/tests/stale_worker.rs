//! A worker paused (SIGSTOP) mid-copy until its source moved, then resumed
//! (SIGCONT), commits nothing downstream after the move and reports that it
//! was fenced.

use std::time::Duration;

use dm_tests::big_table::{self, done_chunks, fingerprint, meta_dump};
use dm_tests::cluster::{wait_bound, wait_task_stage};
use dm_tests::scenario::OneSource;
use dm_tests::wait_until;

const ROWS: u64 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_worker_wakes_up_fenced_and_commits_nothing() {
    let mut c = OneSource::start(2, &[]).await.expect("cluster");
    big_table::create(&c.upstream, ROWS)
        .await
        .expect("upstream data");
    let (upstream, downstream, addrs, first) =
        (&c.upstream, &c.downstream, c.addrs.clone(), c.bound.clone());
    let paused = c.workers.index_of(&first).expect("index");
    let yaml = big_table::task_yaml("big", downstream.port(), 1, 1_000);
    dm_tests::scenario::start_task(&addrs, c.dir.path(), "big", &yaml)
        .await
        .expect("started");
    wait_until(
        "some chunks copied",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || async { (done_chunks(downstream, "big").await.len() >= 3).then_some(()) },
    )
    .await
    .expect("copy under way");

    // Paused mid-copy (possibly inside a chunk's transaction): its source
    // moves, and the new worker finishes the copy.
    c.workers.signal(paused, libc::SIGSTOP).expect("SIGSTOP");
    let second = wait_bound(&addrs, "mysql1", Some(&first), Duration::from_secs(20))
        .await
        .expect("moved");
    assert_ne!(first, second);
    wait_task_stage(&addrs, "big", "Finished", Duration::from_secs(120))
        .await
        .expect("finished by the new worker");
    let meta_after_move = meta_dump(downstream, "big").await.expect("meta");
    let data_after_move = fingerprint(downstream).await.expect("data");
    assert_eq!(
        data_after_move,
        fingerprint(upstream).await.expect("upstream")
    );

    // The old worker wakes up: it finds itself fenced, says so, and has
    // committed nothing.
    c.workers.signal(paused, libc::SIGCONT).expect("SIGCONT");
    let log = c.workers.log_path(paused);
    wait_until(
        "the resumed worker reports it was fenced",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                text.lines()
                    .any(|l| {
                        l.contains("fenced: a newer epoch owns the source") && l.contains("mysql1")
                    })
                    .then_some(())
            }
        },
    )
    .await
    .expect("fenced report");
    // Its next heartbeats reach the leader: the source stays with the new
    // worker, and nothing downstream changed.
    wait_until(
        "the resumed worker heartbeats again",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            let addrs = addrs.clone();
            let first = first.clone();
            async move {
                let view = dm_tests::cluster::workers_view(&addrs).await.ok()?;
                view.iter()
                    .any(|w| w.name == first && w.stage == "free")
                    .then_some(())
            }
        },
    )
    .await
    .expect("old worker free");
    assert_eq!(
        dm_tests::cluster::bound_worker(&addrs, "mysql1")
            .await
            .expect("view")
            .as_deref(),
        Some(second.as_str())
    );
    assert_eq!(
        meta_dump(downstream, "big").await.expect("meta"),
        meta_after_move
    );
    assert_eq!(
        fingerprint(downstream).await.expect("data"),
        data_after_move
    );
}
