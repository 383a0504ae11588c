//! The full copy (`task-mode: full`) over real processes and MariaDB: the
//! tutorial's two exercises, copied by 3 masters and 3 workers.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_task_stage};
use dm_tests::scenario::TutorialCluster;
use dm_tests::tutorial::{self, partition_id, Row};

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_tutorials_tables_are_copied_merged_and_mapped() {
    let c = TutorialCluster::start(&[tutorial::DMTEST1_SQL, tutorial::DMTEST2_SQL])
        .await
        .expect("cluster");
    let (dbs, addrs) = (&c.dbs, c.addrs.clone());

    // dmtest1: ids do not collide; the merge is the union.
    let task1 = c
        .start_tutorial_task("dmtask1.yaml", "full")
        .await
        .expect("started");
    let status = wait_task_stage(&addrs, "dmtask1", "Finished", DEADLINE)
        .await
        .expect("dmtask1 finished");
    let mut expected: Vec<Row> = Vec::new();
    for server in &dbs.upstreams {
        expected.extend(
            tutorial::rows(server, "dmtest1")
                .await
                .expect("upstream rows"),
        );
    }
    expected.sort();
    assert_eq!(expected.len(), 3 * 256);
    assert_eq!(
        tutorial::rows(&dbs.downstream, "dmtest1")
            .await
            .expect("downstream rows"),
        expected
    );
    // query-status shows the copy's figures per source and table.
    for (source, subtask) in subtasks_of(&status, "dmtask1") {
        let load = &subtask["load"];
        assert_eq!(subtask["unit"], "Load", "{source}: {subtask}");
        assert_eq!(load["finishedRows"], "256", "{source}: {subtask}");
        assert_eq!(load["progress"], "100.00 %", "{source}: {subtask}");
        assert_eq!(
            load["tables"][0]["target"], "`dmtest1`.`t1`",
            "{source}: {subtask}"
        );
        assert!(
            load["metaBinlog"]
                .as_str()
                .is_some_and(|b| b.contains("-bin.")),
            "{source}: {subtask}"
        );
    }

    // dmtest2: the same ids everywhere, made unique by `partition id`.
    c.start_tutorial_task("dmtask2.yaml", "full")
        .await
        .expect("started");
    wait_task_stage(&addrs, "dmtask2", "Finished", DEADLINE)
        .await
        .expect("dmtask2 finished");
    let mut expected: Vec<Row> = Vec::new();
    for (i, server) in dbs.upstreams.iter().enumerate() {
        let instance = i as u64 + 1;
        expected.extend(
            tutorial::rows(server, "dmtest2")
                .await
                .expect("upstream rows")
                .into_iter()
                .map(|(id, c, port)| (partition_id(instance, id), c, port)),
        );
    }
    expected.sort();
    let copied = tutorial::rows(&dbs.downstream, "dmtest2")
        .await
        .expect("downstream rows");
    assert_eq!(copied, expected);
    // The tutorial's last row: id 372 from instance 3.
    let last = copied.last().expect("rows");
    assert_eq!(last.0, 1_729_382_256_910_270_836);
    assert_eq!(last.2, Some(i32::from(dbs.upstreams[2].port())));

    // Started again, a task resumes from its meta: the copy is done, so
    // nothing is copied. `--remove-meta` starts it from scratch.
    let stopped = dmctl(&addrs, &["stop-task", "dmtask1"])
        .await
        .expect("answer");
    assert_eq!(stopped["result"], true, "{stopped}");
    tutorial::run_sql(&dbs.downstream, &["DROP DATABASE dmtest1", "CREATE DATABASE dmtest1", "CREATE TABLE dmtest1.t1 (id bigint unsigned not null primary key, c char(32), port int)"])
        .await
        .expect("emptied");
    let again = dmctl(&addrs, &["start-task", &task1])
        .await
        .expect("answer");
    assert_eq!(again["result"], true, "{again}");
    wait_task_stage(&addrs, "dmtask1", "Finished", DEADLINE)
        .await
        .expect("finished from its meta");
    assert!(tutorial::rows(&dbs.downstream, "dmtest1")
        .await
        .expect("rows")
        .is_empty());
    dmctl(&addrs, &["stop-task", "dmtask1"])
        .await
        .expect("answer");
    let fresh = dmctl(&addrs, &["start-task", "--remove-meta", &task1])
        .await
        .expect("answer");
    assert_eq!(fresh["result"], true, "{fresh}");
    wait_task_stage(&addrs, "dmtask1", "Finished", DEADLINE)
        .await
        .expect("copied again");
    assert_eq!(
        tutorial::rows(&dbs.downstream, "dmtest1")
            .await
            .expect("rows")
            .len(),
        3 * 256
    );
}
