//! A copy interrupted by its worker's death continues on another worker
//! from where it stopped: finished chunks are not copied again and the
//! result is row-for-row equal.

use std::time::Duration;

use dm_tests::big_table::{self, done_chunks, fingerprint};
use dm_tests::cluster::{bound_worker, wait_bound, wait_task_stage};
use dm_tests::scenario::OneSource;
use dm_tests::wait_until;

const ROWS: u64 = 200_000;
const ROWS_PER_CHUNK: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_killed_midway_finishes_on_another_worker_without_recopying() {
    let mut c = OneSource::start(2, &[]).await.expect("cluster");
    big_table::create(&c.upstream, ROWS)
        .await
        .expect("upstream data");
    let (upstream, downstream, addrs, first) =
        (&c.upstream, &c.downstream, c.addrs.clone(), c.bound.clone());
    let yaml = big_table::task_yaml("big", downstream.port(), 2, ROWS_PER_CHUNK);
    dm_tests::scenario::start_task(&addrs, c.dir.path(), "big", &yaml)
        .await
        .expect("started");

    // Kill the copying worker once some chunks are done, well before all.
    let total_chunks = (ROWS / ROWS_PER_CHUNK) as usize;
    wait_until(
        "some chunks copied",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || async { (done_chunks(downstream, "big").await.len() >= 5).then_some(()) },
    )
    .await
    .expect("copy under way");
    let index = c.workers.index_of(&first).expect("index");
    c.workers.kill(index).expect("kill");
    let before = done_chunks(downstream, "big").await;
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

    let copied = fingerprint(downstream).await.expect("downstream");
    assert_eq!(copied, fingerprint(upstream).await.expect("upstream"));
    assert_eq!((copied.0, copied.1), (ROWS, ROWS));

    // Every chunk done before the kill kept its epoch: none was copied again;
    // the rest were copied under the new worker's epoch.
    let after = done_chunks(downstream, "big").await;
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
