//! As in DM, merged auto-increment keys (`auto_increment_ID`) and tables
//! without a primary or unique key (`table_schema`) are warnings, not
//! failures, over real masters and the tutorial's MariaDB shards:
//! `check-task` answers `result: true` with DM's "no errors but some
//! warnings" header and a detail whose results have `state: "warn"` and
//! whose summary counts them apart from failures; `-w` limits the warnings
//! shown, not the counts; `start-task` stores the task and returns the
//! warnings in `checkResult`.

use std::path::Path;
use std::time::Duration;

use dm_tests::check_answer::{counts, names, problems, WARNED};
use dm_tests::cluster::{create_source, dmctl, Masters};
use dm_tests::tutorial::{self, run_sql, Ports};

const LEADER_DEADLINE: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merged_auto_increment_keys_and_keyless_tables_warn_and_the_task_starts() {
    let databases = tutorial::start_databases(Ports::Free)
        .await
        .expect("databases");
    for upstream in &databases.upstreams {
        run_sql(upstream, tutorial::DMTEST2_SQL)
            .await
            .expect("dmtest2");
    }
    run_sql(
        &databases.upstreams[0],
        &["CREATE TABLE dmtest2.log (line TEXT)"],
    )
    .await
    .expect("a keyless table");
    let masters = Masters::start(3).expect("masters");
    masters.leader(LEADER_DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, upstream) in databases.upstreams.iter().enumerate() {
        create_source(
            &addrs,
            dir.path(),
            &format!("mysql{}", i + 1),
            upstream.port(),
        )
        .await
        .expect("source created");
    }
    let dmtask2 = std::fs::read_to_string(tutorial::config_dir().join("dmtask2.yaml"))
        .expect("dmtask2")
        .replace(
            "port: 4000",
            &format!("port: {}", databases.downstream.port()),
        );
    let file = write(
        dir.path(),
        "merge.yaml",
        &tutorial::without_mappings(&dmtask2),
    );

    let answer = dmctl(&addrs, &["check-task", &file])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["msg"], WARNED, "{answer}");
    let merged = |s: &str| {
        format!(
            "source {s}: auto_increment_ID: `dmtest2`.`t1` has auto-increment key `id` and is merged with 2 other upstream tables into `dmtest2`.`t1`, so their ids may collide: add a `partition id` column mapping with target-column `id` for it, or make sure the ids never overlap (auto-increment-increment / auto-increment-offset) and add auto_increment_ID to ignore-checking-items"
        )
    };
    assert_eq!(
        problems(&answer, "warn"),
        [
            "source mysql1: table_schema: `dmtest2`.`log` has neither a primary key nor a unique key on NOT NULL columns; DM needs one to replicate updates and deletes exactly: ALTER TABLE `dmtest2`.`log` ADD PRIMARY KEY (...), or leave the table out with the block-allow list".to_string(),
            merged("mysql1"),
            merged("mysql2"),
            merged("mysql3"),
        ]
    );
    assert_eq!(
        names(&answer, "warn"),
        [
            "table_schema",
            "auto_increment_ID",
            "auto_increment_ID",
            "auto_increment_ID"
        ]
    );
    assert!(problems(&answer, "fail").is_empty(), "{answer}");
    assert_eq!(counts(&answer), (0, 4), "{answer}");
    assert_eq!(answer["detail"]["summary"]["passed"], true, "{answer}");

    // `-w 1` shows one warning; the summary still counts all.
    let limited = dmctl(&addrs, &["check-task", &file, "-w", "1"])
        .await
        .expect("answers");
    assert_eq!(problems(&limited, "warn").len(), 1, "{limited}");
    assert_eq!(counts(&limited), (0, 4), "{limited}");

    // start-task stores the task and passes the warnings on.
    let started = dmctl(&addrs, &["start-task", &file])
        .await
        .expect("answers");
    assert_eq!(started["result"], true, "{started}");
    assert_eq!(started["checkResult"], WARNED, "{started}");
    assert_eq!(started["detail"], answer["detail"], "{started}");
    let status = dmctl(&addrs, &["query-status", "dmtask2"])
        .await
        .expect("answers");
    assert_eq!(status["result"], true, "{status}");
}
