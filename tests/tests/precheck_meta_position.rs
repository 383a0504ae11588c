//! An incremental task's `meta` position is checked on its upstream before
//! the task is stored, over real masters and MariaDB: a binlog file that
//! was purged or never existed, a position past the file's end or inside
//! an event, and a GTID that was purged or is ahead of the server are each
//! refused by check-task and start-task (nothing stored, so nothing pauses
//! later); positions the server has pass, and so does a task ignoring
//! `meta_position`.

use std::path::Path;
use std::time::Duration;

use dm_tests::check_answer::{names, problems, FAILED};
use dm_tests::cluster::{create_source, dmctl, Masters};
use dm_tests::tutorial::run_sql;
use dm_tests::{MariaDb, MariaDbOptions};
use mysql_async::prelude::Queryable;

const LEADER_DEADLINE: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// An incremental task of `mysql1` with `meta` (YAML flow mapping body).
fn task(name: &str, port: u16, meta: &str, extra: &str) -> String {
    format!(
        "name: {name}\ntask-mode: incremental\n{extra}target-database:\n  host: \"127.0.0.1\"\n  port: {port}\n  user: \"root\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    meta: {{{meta}}}\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn meta_positions_the_upstream_lacks_are_refused_up_front() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    run_sql(
        &upstream,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
            "INSERT INTO app.t VALUES (1)",
            "FLUSH BINARY LOGS",
            "INSERT INTO app.t VALUES (2)",
            "FLUSH BINARY LOGS",
            "INSERT INTO app.t VALUES (3)",
            "FLUSH BINARY LOGS",
            "INSERT INTO app.t VALUES (4)",
        ],
    )
    .await
    .expect("binlogs");
    let mut conn = upstream.conn().await.expect("conn");
    let files: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("logs");
    assert_eq!(files.len(), 4, "{files:?}");
    let (first, third, last) = (files[0].0.clone(), files[2].0.clone(), files[3].0.clone());
    conn.query_drop(format!("PURGE BINARY LOGS TO '{third}'"))
        .await
        .expect("purge");
    let last_size = files[3].1;
    let start_of_third: String = conn
        .query_first(format!("SELECT BINLOG_GTID_POS('{third}', 4)"))
        .await
        .expect("gtid pos")
        .expect("a gtid");
    let current: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .expect("gtid")
        .expect("a gtid");
    drop(conn);
    // `0-1-N`: the domain and server of every transaction here.
    let seq = |gtid: &str| -> u64 {
        gtid.rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("domain-server-seq")
    };
    let purged_seq = seq(&start_of_third) - 1;
    let ahead_seq = seq(&current) + 100;

    let masters = Masters::start(3).expect("masters");
    masters.leader(LEADER_DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    let dir = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, dir.path(), "mysql1", upstream.port())
        .await
        .expect("source");
    let port = upstream.port();
    let at = "source mysql1";
    let oldest = format!("the upstream's binlogs are {third} to {last}");
    let fix = "set mysql-instances' meta to a position the upstream still has (SHOW BINARY LOGS), or use task-mode: all to copy the data first";

    let cases: Vec<(&str, String, String)> = vec![
        (
            "purged-file",
            format!("binlog-name: \"{first}\", binlog-pos: 4"),
            format!("{at}: meta_position: binlog {first} was purged from the upstream ({oldest}): {fix}"),
        ),
        (
            "unknown-file",
            "binlog-name: \"mysql-bin.000999\", binlog-pos: 4".to_string(),
            format!("{at}: meta_position: binlog mysql-bin.000999 does not exist on the upstream ({oldest}): {fix}"),
        ),
        (
            "past-the-end",
            format!("binlog-name: \"{last}\", binlog-pos: {}", last_size + 1000),
            format!(
                "{at}: meta_position: position ({last}, {}) is past the end of {last} ({last_size} bytes): {fix}",
                last_size + 1000
            ),
        ),
        (
            "inside-an-event",
            format!("binlog-name: \"{last}\", binlog-pos: 5"),
            format!(
                "{at}: meta_position: position ({last}, 5) is not the start of an event (Error when executing command SHOW BINLOG EVENTS: Wrong offset or I/O error): {fix}"
            ),
        ),
        (
            "purged-gtid",
            format!("binlog-gtid: \"0-1-{purged_seq}\""),
            format!(
                "{at}: meta_position: GTID 0-1-{purged_seq} was purged from the upstream (its oldest binlog {third} starts after {start_of_third}): {fix}"
            ),
        ),
        (
            "ahead-gtid",
            format!("binlog-gtid: \"0-1-{ahead_seq}\""),
            format!(
                "{at}: meta_position: GTID 0-1-{ahead_seq} never existed on the upstream (its binlog ends at {current}): {fix}"
            ),
        ),
        (
            "other-domain",
            "binlog-gtid: \"7-1-3\"".to_string(),
            format!(
                "{at}: meta_position: GTID 7-1-3 never existed on the upstream (its binlog ends at {current}): {fix}"
            ),
        ),
    ];
    for (name, meta, want) in &cases {
        let file = write(
            dir.path(),
            &format!("{name}.yaml"),
            &task(name, port, meta, ""),
        );
        let checked = dmctl(&addrs, &["check-task", &file])
            .await
            .expect("answers");
        assert_eq!(checked["result"], false, "{name}: {checked}");
        assert_eq!(checked["msg"], FAILED, "{name}: {checked}");
        assert_eq!(problems(&checked, "fail"), [want.as_str()], "{name}");
        assert_eq!(names(&checked, "fail"), ["meta_position"], "{name}");
        let started = dmctl(&addrs, &["start-task", &file])
            .await
            .expect("answers");
        assert_eq!(started["result"], false, "{name}: {started}");
        assert_eq!(problems(&started, "fail"), [want.as_str()], "{name}");
        let status = dmctl(&addrs, &["query-status", name])
            .await
            .expect("answers");
        assert_eq!(
            status["msg"],
            format!("task {name} does not exist"),
            "{name}"
        );
    }

    // Positions the upstream has pass: the start of the oldest binlog, the
    // end of the newest, the GTID the oldest binlog starts after, the
    // current GTID.
    let passing = [
        format!("binlog-name: \"{third}\", binlog-pos: 4"),
        format!("binlog-name: \"{last}\", binlog-pos: {last_size}"),
        format!("binlog-gtid: \"{start_of_third}\""),
        format!("binlog-gtid: \"{current}\""),
    ];
    for (i, meta) in passing.iter().enumerate() {
        let file = write(
            dir.path(),
            &format!("ok{i}.yaml"),
            &task("ok", port, meta, ""),
        );
        let answer = dmctl(&addrs, &["check-task", &file])
            .await
            .expect("answers");
        assert_eq!(answer["msg"], "pre-check is passed. ", "{meta}: {answer}");
    }

    // Ignoring the item lets a purged position through (the user's call).
    let file = write(
        dir.path(),
        "ignoring.yaml",
        &task(
            "ignoring",
            port,
            &format!("binlog-name: \"{first}\", binlog-pos: 4"),
            "ignore-checking-items: [\"meta_position\"]\n",
        ),
    );
    let answer = dmctl(&addrs, &["check-task", &file])
        .await
        .expect("answers");
    assert_eq!(answer["msg"], "pre-check is passed. ", "{answer}");
}
