//! Incremental replication (`task-mode: all`) over real processes and
//! MariaDB: the tutorial's dmtask1 copied, then kept in sync.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing, wait_task_stage};
use dm_tests::scenario::TutorialCluster;
use dm_tests::tutorial;
use dm_tests::{wait_until, MariaDb};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

/// Waits until the downstream's `schema`.t1 equals the merged upstreams.
async fn wait_in_sync(upstreams: &[MariaDb], downstream: &MariaDb, schema: &str) {
    let expected = tutorial::merged_rows(upstreams, schema)
        .await
        .expect("upstream rows");
    tutorial::wait_rows(downstream, schema, &expected, DEADLINE)
        .await
        .expect("in sync");
}

/// Runs `sql` on every upstream.
async fn on_every_upstream(c: &TutorialCluster, sql: &str) {
    for server in &c.dbs.upstreams {
        tutorial::run_sql(server, &[sql]).await.expect(sql);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_tutorials_inserts_and_updates_arrive_downstream() {
    let c = TutorialCluster::start(&[tutorial::DMTEST1_SQL])
        .await
        .expect("cluster");
    c.start_tutorial_task("dmtask1.yaml", "all")
        .await
        .expect("started");
    // The copy, then every subtask in the sync unit.
    wait_syncing(&c.addrs, "dmtask1", DEADLINE)
        .await
        .expect("syncing");
    wait_in_sync(&c.dbs.upstreams, &c.dbs.downstream, "dmtest1").await;

    // The tutorial's inserts, then its updates.
    on_every_upstream(
        &c,
        "insert into dmtest1.t1 (id) select null from dmtest1.t1",
    )
    .await;
    wait_in_sync(&c.dbs.upstreams, &c.dbs.downstream, "dmtest1").await;
    assert_eq!(
        tutorial::merged_rows(&c.dbs.upstreams, "dmtest1")
            .await
            .expect("rows")
            .len(),
        2 * 3 * 256
    );
    on_every_upstream(&c, "update dmtest1.t1 set c=md5(id), port=@@port").await;
    wait_in_sync(&c.dbs.upstreams, &c.dbs.downstream, "dmtest1").await;

    // query-status shows the sync's position and lag.
    let status = dmctl(&c.addrs, &["query-status", "dmtask1"])
        .await
        .expect("status");
    for (source, subtask) in subtasks_of(&status, "dmtask1") {
        let sync = &subtask["sync"];
        assert!(
            sync["syncerBinlog"]
                .as_str()
                .is_some_and(|b| b.contains("-bin.")),
            "{source}: {subtask}"
        );
        assert!(
            sync["secondsBehindMaster"].is_string(),
            "{source}: {subtask}"
        );
    }
}

/// Pause, resume and stop / start mid-stream: changes made while paused or
/// stopped arrive once the task runs again, each exactly once (a replayed
/// insert would fail on its key and pause the subtask).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_resume_and_restart_mid_stream() {
    let c = TutorialCluster::start(&[tutorial::DMTEST1_SQL])
        .await
        .expect("cluster");
    let task = c
        .start_tutorial_task("dmtask1.yaml", "all")
        .await
        .expect("started");
    wait_syncing(&c.addrs, "dmtask1", DEADLINE)
        .await
        .expect("syncing");
    wait_in_sync(&c.dbs.upstreams, &c.dbs.downstream, "dmtest1").await;

    let paused = dmctl(&c.addrs, &["pause-task", "dmtask1"])
        .await
        .expect("answer");
    assert_eq!(paused["result"], true, "{paused}");
    wait_task_stage(&c.addrs, "dmtask1", "Paused", DEADLINE)
        .await
        .expect("paused");
    on_every_upstream(
        &c,
        "insert into dmtest1.t1 (id) select null from dmtest1.t1",
    )
    .await;
    let resumed = dmctl(&c.addrs, &["resume-task", "dmtask1"])
        .await
        .expect("answer");
    assert_eq!(resumed["result"], true, "{resumed}");
    wait_in_sync(&c.dbs.upstreams, &c.dbs.downstream, "dmtest1").await;

    let stopped = dmctl(&c.addrs, &["stop-task", "dmtask1"])
        .await
        .expect("answer");
    assert_eq!(stopped["result"], true, "{stopped}");
    // The workers have let go of the upstreams' binlogs.
    for server in &c.dbs.upstreams {
        wait_until("no binlog dump left", DEADLINE, Duration::from_millis(20), || async move {
            let mut conn = server.conn().await.ok()?;
            let dumps: Option<u64> = conn
                .query_first("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
                .await
                .ok()?;
            (dumps == Some(0)).then_some(())
        })
        .await
        .expect("stopped");
    }
    on_every_upstream(&c, "update dmtest1.t1 set c=md5(id), port=@@port").await;
    let again = dmctl(&c.addrs, &["start-task", &task])
        .await
        .expect("answer");
    assert_eq!(again["result"], true, "{again}");
    wait_syncing(&c.addrs, "dmtask1", DEADLINE)
        .await
        .expect("syncing again");
    wait_in_sync(&c.dbs.upstreams, &c.dbs.downstream, "dmtest1").await;
    let status = dmctl(&c.addrs, &["query-status", "dmtask1"])
        .await
        .expect("status");
    for (source, subtask) in subtasks_of(&status, "dmtask1") {
        assert_eq!(subtask["stage"], "Running", "{source}: {subtask}");
        assert!(subtask["result"].is_null(), "{source}: {subtask}");
    }
}
