//! The task pre-check of `check-task` and `start-task`, over real processes:
//! three masters, real MariaDB upstreams, dmctl.
//!
//! - A server logging STATEMENT binlogs fails `binlog_format`, naming the
//!   source; a selected table without a primary or NOT NULL unique key is a
//!   `table_schema` warning; `start-task` of a task with a failure is
//!   refused with the same failures and stores nothing. A server logging
//!   row events without column names (`binlog_row_metadata=NO_LOG`,
//!   MariaDB's default) passes: the sync's schema tracker names them.
//! - The tutorial's shards (`dmtest2.t1` with the same bigint auto-increment
//!   ids on three upstreams): merged without column mappings they warn
//!   `auto_increment_ID` (see `precheck_warnings.rs`); with dmtask2's
//!   `partition id` mappings, or with dmtask1's
//!   `ignore-checking-items: ["auto_increment_ID"]`, they pass.

use std::path::Path;
use std::time::Duration;

use dm_tests::check_answer::{counts, problems, FAILED, WARNED};
use dm_tests::cluster::{create_source, dmctl, Masters};
use dm_tests::tutorial::{self, run_sql, Ports};
use dm_tests::{MariaDb, MariaDbOptions, RowMetadata};
use serde_json::Value;

async fn cluster() -> Masters {
    let masters = Masters::start(3).expect("masters");
    masters
        .leader(Duration::from_secs(20))
        .await
        .expect("leader");
    masters
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// A task over `sources`, each selecting schema `app`.
fn app_task(name: &str, sources: &[&str], downstream_port: u16, extra: &str) -> String {
    let instances: String = sources
        .iter()
        .map(|s| format!("  - source-id: \"{s}\"\n    block-allow-list: \"app\"\n"))
        .collect();
    format!(
        "name: {name}\ntask-mode: all\n{extra}target-database:\n  host: \"127.0.0.1\"\n  port: {downstream_port}\n  user: \"root\"\nmysql-instances:\n{instances}block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

async fn check(addrs: &str, file: &str) -> Value {
    dmctl(addrs, &["check-task", file]).await.expect("answers")
}

async fn assert_not_stored(addrs: &str, task: &str) {
    let status = dmctl(addrs, &["query-status", task])
        .await
        .expect("answers");
    assert_eq!(status["result"], false, "{status}");
    assert_eq!(status["msg"], format!("task {task} does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn binlog_format_and_table_schema_fail_and_start_task_stores_nothing() {
    let servers = MariaDb::start_many(2, |i| {
        if i == 0 {
            MariaDbOptions::new(1).arg("--binlog-format=STATEMENT")
        } else {
            MariaDbOptions::new(2).row_metadata(RowMetadata::NoLog)
        }
    })
    .await
    .expect("upstreams");
    let (statement, keyless) = (&servers[0], &servers[1]);
    run_sql(
        keyless,
        &[
            "create database app",
            "create table app.keyed (id int primary key, v text)",
            "create table app.nokey (a int, b text)",
            "create table app.nullable_uk (a int, unique key (a))",
            "create table app.notnull_uk (a int not null, b int, unique key (a))",
            "create view app.v as select * from app.nokey",
            "create database other",
            "create table other.unselected (a int)",
        ],
    )
    .await
    .expect("tables");

    let masters = cluster().await;
    let addrs = masters.client_addrs();
    let dir = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, dir.path(), "stmt", statement.port())
        .await
        .expect("source created");
    create_source(&addrs, dir.path(), "keyless", keyless.port())
        .await
        .expect("source created");
    let downstream = keyless.port();

    // (a) STATEMENT binlogs fail binlog_format, naming the source.
    let file = write(
        dir.path(),
        "a.yaml",
        &app_task("a", &["stmt"], downstream, ""),
    );
    let answer = check(&addrs, &file).await;
    assert_eq!(answer["result"], false, "{answer}");
    assert_eq!(answer["msg"], FAILED, "{answer}");
    assert_eq!(
        problems(&answer, "fail"),
        ["source stmt: binlog_format is STATEMENT; the sync unit needs ROW: SET GLOBAL binlog_format = ROW (and in the server config)"]
    );

    // (b) Selected tables without a primary or NOT NULL unique key warn
    // table_schema, one line each; views and unselected schemas are not
    // checked. The server's NO_LOG row metadata is no failure.
    let file = write(
        dir.path(),
        "b.yaml",
        &app_task("b", &["keyless"], downstream, ""),
    );
    let answer = check(&addrs, &file).await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["msg"], WARNED, "{answer}");
    assert_eq!(
        problems(&answer, "warn"),
        [
            "source keyless: table_schema: `app`.`nokey` has neither a primary key nor a unique key on NOT NULL columns; DM needs one to replicate updates and deletes exactly: ALTER TABLE `app`.`nokey` ADD PRIMARY KEY (...), or leave the table out with the block-allow list",
            "source keyless: table_schema: `app`.`nullable_uk` has neither a primary key nor a unique key on NOT NULL columns; DM needs one to replicate updates and deletes exactly: ALTER TABLE `app`.`nullable_uk` ADD PRIMARY KEY (...), or leave the table out with the block-allow list",
        ]
    );

    // (d) start-task of a task failing one item and warning another is
    // refused with the same results, and nothing is stored.
    let bad = write(
        dir.path(),
        "bad.yaml",
        &app_task("bad", &["stmt", "keyless"], downstream, ""),
    );
    let checked = check(&addrs, &bad).await;
    assert_eq!(checked["result"], false, "{checked}");
    assert_eq!(checked["msg"], FAILED, "{checked}");
    let failed = problems(&checked, "fail");
    assert_eq!(failed.len(), 1, "{checked}");
    assert!(
        failed[0].starts_with("source stmt: binlog_format is STATEMENT;"),
        "{checked}"
    );
    assert_eq!(problems(&checked, "warn").len(), 2, "{checked}");
    assert_eq!(counts(&checked), (1, 1), "{checked}");
    let started = dmctl(&addrs, &["start-task", &bad]).await.expect("answers");
    assert_eq!(started["result"], false, "{started}");
    assert_eq!(started["msg"], FAILED, "{started}");
    assert_eq!(started["detail"], checked["detail"]);
    assert_not_stored(&addrs, "bad").await;

    // Started for one source only (`-s`), only that source is checked.
    let only = dmctl(&addrs, &["start-task", "-s", "stmt", &bad])
        .await
        .expect("answers");
    assert_eq!(only["result"], false, "{only}");
    assert_eq!(
        problems(&only, "fail"),
        ["source stmt: binlog_format is STATEMENT; the sync unit needs ROW: SET GLOBAL binlog_format = ROW (and in the server config)"]
    );
    assert!(problems(&only, "warn").is_empty(), "{only}");
    assert_not_stored(&addrs, "bad").await;

    // Ignoring the failing items lets the same task pass and start.
    let ignoring = write(
        dir.path(),
        "ignoring.yaml",
        &app_task(
            "ignoring",
            &["stmt", "keyless"],
            downstream,
            "ignore-checking-items: [\"binlog_format\", \"table_schema\"]\n",
        ),
    );
    let answer = check(&addrs, &ignoring).await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["msg"], "pre-check is passed. ");
    let started = dmctl(&addrs, &["start-task", &ignoring])
        .await
        .expect("answers");
    assert_eq!(started["result"], true, "{started}");
    let status = dmctl(&addrs, &["query-status", "ignoring"])
        .await
        .expect("answers");
    assert_eq!(status["result"], true, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_tutorials_shards_need_partition_ids_or_an_ignore() {
    let databases = tutorial::start_databases(Ports::Free)
        .await
        .expect("databases");
    for upstream in &databases.upstreams {
        run_sql(upstream, tutorial::DMTEST1_SQL)
            .await
            .expect("dmtest1");
        run_sql(upstream, tutorial::DMTEST2_SQL)
            .await
            .expect("dmtest2");
    }
    let masters = cluster().await;
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
    let port = format!("port: {}", databases.downstream.port());
    let read = |name: &str| {
        std::fs::read_to_string(tutorial::config_dir().join(name))
            .expect("tutorial task file")
            .replace("port: 4000", &port)
    };
    let dmtask1 = read("dmtask1.yaml");
    let dmtask2 = read("dmtask2.yaml");

    // Merged without column mappings, every shard's ids may collide: a
    // warning per source (see precheck_warnings.rs), the task starts.
    let unmapped_text =
        tutorial::without_mappings(&dmtask2).replace("name: dmtask2", "name: unmapped");
    let unmapped = write(dir.path(), "unmapped.yaml", &unmapped_text);
    let answer = check(&addrs, &unmapped).await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["msg"], WARNED, "{answer}");
    assert_eq!(counts(&answer), (0, 3), "{answer}");

    // The same shards with dmtask2's `partition id` mappings pass.
    let mapped = write(dir.path(), "dmtask2.yaml", &dmtask2);
    let answer = check(&addrs, &mapped).await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["msg"], "pre-check is passed. ");

    // And so does the unmapped task when it ignores auto_increment_ID
    // (dmtask1's shape), as does dmtask1 itself on dmtest1.
    let ignoring_text = unmapped_text.replace(
        "enable-heartbeat: true\n",
        "enable-heartbeat: true\nignore-checking-items: [\"auto_increment_ID\"]\n",
    );
    assert_ne!(ignoring_text, unmapped_text);
    let ignoring = write(dir.path(), "ignoring.yaml", &ignoring_text);
    let answer = check(&addrs, &ignoring).await;
    assert_eq!(answer["result"], true, "{answer}");
    let task1 = write(dir.path(), "dmtask1.yaml", &dmtask1);
    let answer = check(&addrs, &task1).await;
    assert_eq!(answer["result"], true, "{answer}");
    let strict = write(
        dir.path(),
        "dmtask1-strict.yaml",
        &dmtask1.replace("ignore-checking-items: [\"auto_increment_ID\"]\n", ""),
    );
    let answer = check(&addrs, &strict).await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(problems(&answer, "warn").len(), 3, "{answer}");

    // dmtask2 passes its pre-check and is stored by start-task.
    let started = dmctl(&addrs, &["start-task", &mapped])
        .await
        .expect("answers");
    assert_eq!(started["result"], true, "{started}");
    let status = dmctl(&addrs, &["query-status", "dmtask2"])
        .await
        .expect("answers");
    assert_eq!(status["result"], true, "{status}");
}
