//! A copy interrupted by its worker's death continues on another worker
//! from where it stopped: finished chunks are not copied again and the
//! result is row-for-row equal.

use std::time::Duration;

use dm_tests::big_table::{self, done_chunks, fingerprint};
use dm_tests::cluster::{
    bound_worker, create_source, dmctl, wait_bound, wait_task_stage, Masters, Workers,
};
use dm_tests::{wait_until, MariaDb, MariaDbOptions};

const ROWS: u64 = 200_000;
const ROWS_PER_CHUNK: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_killed_midway_finishes_on_another_worker_without_recopying() {
    let mut servers = MariaDb::start_many(2, |i| MariaDbOptions::new(i as u32 + 1))
        .await
        .expect("servers");
    let downstream = servers.pop().expect("downstream");
    let upstream = servers.pop().expect("upstream");
    big_table::create(&upstream, ROWS)
        .await
        .expect("upstream data");

    let masters = Masters::start(3).expect("masters");
    let addrs = masters.client_addrs();
    masters
        .leader(Duration::from_secs(20))
        .await
        .expect("leader");
    let dir = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, dir.path(), "mysql1", upstream.port())
        .await
        .expect("source");
    let mut workers = Workers::start(2, &addrs, 2).expect("workers");
    let first = wait_bound(&addrs, "mysql1", None, Duration::from_secs(20))
        .await
        .expect("bound");

    let file = dir.path().join("big.yaml");
    std::fs::write(
        &file,
        big_table::task_yaml("big", downstream.port(), 2, ROWS_PER_CHUNK),
    )
    .expect("task file");
    let started = dmctl(&addrs, &["start-task", &file.display().to_string()])
        .await
        .expect("answer");
    assert_eq!(started["result"], true, "{started}");

    // Kill the copying worker once some chunks are done, well before all.
    let total_chunks = (ROWS / ROWS_PER_CHUNK) as usize;
    wait_until(
        "some chunks copied",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || async { (done_chunks(&downstream, "big").await.len() >= 5).then_some(()) },
    )
    .await
    .expect("copy under way");
    workers
        .kill(workers.index_of(&first).expect("index"))
        .expect("kill");
    let before = done_chunks(&downstream, "big").await;
    assert!(
        before.len() < total_chunks,
        "the copy finished before the kill ({} chunks)",
        before.len()
    );
    let old_epoch = before[0].1;

    let second = wait_bound(&addrs, "mysql1", Some(&first), Duration::from_secs(20))
        .await
        .expect("moved");
    wait_task_stage(&addrs, "big", "Finished", Duration::from_secs(120))
        .await
        .expect("finished on the other worker");
    assert_eq!(
        bound_worker(&addrs, "mysql1")
            .await
            .expect("view")
            .as_deref(),
        Some(second.as_str())
    );

    let copied = fingerprint(&downstream).await.expect("downstream");
    assert_eq!(copied, fingerprint(&upstream).await.expect("upstream"));
    assert_eq!((copied.0, copied.1), (ROWS, ROWS));

    // Every chunk done before the kill kept its epoch: none was copied again;
    // the rest were copied under the new worker's epoch.
    let after = done_chunks(&downstream, "big").await;
    assert!(after.len() >= total_chunks - 1, "{} chunks", after.len());
    for (index, epoch) in &before {
        assert!(
            after.contains(&(*index, *epoch)),
            "chunk {index} was copied again"
        );
    }
    let recopied: Vec<_> = after.iter().filter(|c| !before.contains(c)).collect();
    assert!(!recopied.is_empty());
    assert!(
        recopied.iter().all(|(_, epoch)| *epoch > old_epoch),
        "{recopied:?}"
    );
}
