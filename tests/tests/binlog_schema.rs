//! `binlog-schema list|update|delete` (and DM 2.0.7's `operate-schema
//! get|set|remove`) over real processes: operations are refused while the
//! subtask runs, for an unknown task or source and for a file that is not
//! one CREATE TABLE (named); accepted ones (from a file, from the upstream,
//! from the routed downstream table, deletes) are held by the masters and
//! survive a SIGKILL of the leader and reach the source's next worker;
//! `list` shows the tracked definition
//! persisted downstream and the operations still held.

use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_bound, wait_syncing, wait_task_stage};
use dm_tests::scenario::OneSource;
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

/// `app.t` is routed to `app.t_down` downstream.
const TASK: &str = "name: schema\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    route-rules: [\"down\"]\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\nroutes:\n  down:\n    schema-pattern: \"app\"\n    table-pattern: \"t\"\n    target-schema: \"app\"\n    target-table: \"t_down\"\n";

const FILE_SCHEMA: &str = "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), extra INT)";

async fn ctl(c: &OneSource, args: &[&str]) -> Value {
    dmctl(&c.addrs, args).await.expect("dmctl answers")
}

/// `binlog-schema update schema mysql1 app TABLE EXTRA...`.
async fn update(c: &OneSource, table: &str, extra: &[&str]) -> Value {
    let mut args = vec!["binlog-schema", "update", "schema", "mysql1", "app", table];
    args.extend_from_slice(extra);
    ctl(c, &args).await
}

/// `(id, op, createSql)` of the operations an answer lists as held.
fn pending(answer: &Value) -> Vec<(u64, String, String)> {
    answer["pending"]
        .as_array()
        .unwrap_or_else(|| panic!("no pending list in {answer}"))
        .iter()
        .map(|p| {
            (
                p["id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .or_else(|| p["id"].as_u64())
                    .unwrap_or_else(|| panic!("id in {p}")),
                p["op"].as_str().unwrap_or_default().to_string(),
                p["createSql"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// `text` without terminal colour sequences (`ESC [ ... m`).
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out
}

fn accepted(answer: &Value, id: u64) {
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    assert_eq!(answer["sources"][0]["source"], "mysql1", "{answer}");
    let msg = answer["sources"][0]["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(&format!("operation {id} (")) && msg.contains("is held"),
        "{answer}"
    );
}

fn refused(answer: &Value, msg: &str) {
    assert_eq!(answer["result"], false, "{answer}");
    assert_eq!(answer["msg"], msg, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operations_are_checked_held_in_raft_and_listed() {
    let mut c = OneSource::start(
        2,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO app.t VALUES (1, 'one'), (2, 'two')",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("schema", TASK).await.expect("started");
    wait_syncing(&c.addrs, "schema", DEADLINE)
        .await
        .expect("sync unit");
    let dir = c.dir.path().to_path_buf();
    let good = dir.join("t.sql");
    std::fs::write(&good, FILE_SCHEMA).expect("write");
    let good = good.display().to_string();

    // A running subtask's definitions are not changed under it.
    let answer = update(&c, "t", &[&good]).await;
    refused(
        &answer,
        "current stage of task schema on source mysql1 is Running but not paused, invalid: pause it first (`pause-task schema -s mysql1`); the operation takes effect when it resumes",
    );

    assert_eq!(ctl(&c, &["pause-task", "schema"]).await["result"], true);
    wait_task_stage(&c.addrs, "schema", "Paused", DEADLINE)
        .await
        .expect("paused");

    // Refusals: a file that is not one CREATE TABLE (named), an unknown
    // task, a source outside the task, a file with a server flag.
    let bad = dir.join("bad.sql");
    std::fs::write(&bad, "ALTER TABLE t ADD COLUMN c INT").expect("write");
    let bad = bad.display().to_string();
    let answer = update(&c, "t", &[&bad]).await;
    refused(
        &answer,
        &format!("schema file {bad}: is not a CREATE TABLE statement (it starts `ALTER TABLE t`); give one CREATE TABLE statement, as SHOW CREATE TABLE prints it"),
    );
    let two = dir.join("two.sql");
    std::fs::write(&two, "CREATE TABLE t (id INT); CREATE TABLE u (id INT)").expect("write");
    let two = two.display().to_string();
    let answer = update(&c, "t", &[&two]).await;
    refused(
        &answer,
        &format!("schema file {two}: holds 2 statements; give exactly one CREATE TABLE statement"),
    );
    let answer = ctl(
        &c,
        &["binlog-schema", "delete", "nosuch", "mysql1", "app", "t"],
    )
    .await;
    refused(&answer, "task nosuch does not exist");
    let answer = ctl(
        &c,
        &["binlog-schema", "delete", "schema", "mysql9", "app", "t"],
    )
    .await;
    refused(
        &answer,
        "source mysql9 is not part of task schema; its sources are mysql1",
    );
    let answer = update(&c, "t", &[&good, "--from-source"]).await;
    refused(
        &answer,
        "binlog-schema update: can not set schema-file when use from-source or from-target",
    );

    // Accepted: from a file, from the upstream (DM's `-s` form), from the
    // routed downstream table, DM 2.0.7's `set` and a delete of each kind.
    accepted(&update(&c, "t", &[&good]).await, 1);
    accepted(
        &ctl(
            &c,
            &[
                "binlog-schema",
                "update",
                "-s",
                "mysql1",
                "schema",
                "app",
                "t",
                "--from-source",
                "--flush",
                "--sync=false",
            ],
        )
        .await,
        2,
    );
    accepted(&update(&c, "t", &["--from-target"]).await, 3);
    accepted(
        &ctl(
            &c,
            &[
                "operate-schema",
                "set",
                "-s",
                "mysql1",
                "schema",
                "-d",
                "app",
                "-t",
                "t",
                &good,
            ],
        )
        .await,
        4,
    );
    accepted(
        &ctl(
            &c,
            &["binlog-schema", "delete", "schema", "mysql1", "app", "t"],
        )
        .await,
        5,
    );
    accepted(
        &ctl(
            &c,
            &[
                "operate-schema",
                "remove",
                "-s",
                "mysql1",
                "schema",
                "-d",
                "app",
                "-t",
                "t",
            ],
        )
        .await,
        6,
    );

    let check_held = |answer: &Value| {
        let held = pending(answer);
        let ids: Vec<u64> = held.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5, 6], "{answer}");
        let ops: Vec<&str> = held.iter().map(|(_, op, _)| op.as_str()).collect();
        assert_eq!(
            ops,
            ["update", "update", "update", "update", "delete", "delete"],
            "{answer}"
        );
        assert_eq!(held[0].2, FILE_SCHEMA);
        assert_eq!(held[3].2, FILE_SCHEMA);
        // The upstream's own definition, as SHOW CREATE TABLE prints it.
        assert!(held[1].2.starts_with("CREATE TABLE `t` ("), "{answer}");
        assert!(held[1].2.contains("`v` varchar(20)"), "{answer}");
        // The downstream's `t_down`, named as the upstream table.
        assert!(held[2].2.starts_with("CREATE TABLE `t` ("), "{answer}");
        assert!(held[2].2.contains("`v` varchar(20)"), "{answer}");
        assert!(!held[2].2.contains("t_down"), "{answer}");
    };
    let listed = ctl(
        &c,
        &["binlog-schema", "list", "schema", "mysql1", "app", "t"],
    )
    .await;
    check_held(&listed);
    // The definition the worker tracks (read in the copy's snapshot): the
    // held operations apply only when the subtask resumes.
    assert_eq!(listed["sources"][0]["result"], true, "{listed}");
    let tracked = listed["sources"][0]["msg"].as_str().unwrap_or_default();
    assert!(
        tracked.starts_with("CREATE TABLE `t` (") && !tracked.contains("extra"),
        "{listed}"
    );

    // The operations are Raft state: a new leader holds every one.
    let leader = c.masters.leader(DEADLINE).await.expect("leader");
    let index = c.masters.index_of(&leader).expect("index");
    c.masters.kill(index).expect("SIGKILL the leader");
    let new_leader = c.masters.leader(DEADLINE).await.expect("a new leader");
    assert_ne!(new_leader, leader);
    let listed = ctl(
        &c,
        &[
            "operate-schema",
            "get",
            "-s",
            "mysql1",
            "schema",
            "-d",
            "app",
            "-t",
            "t",
        ],
    )
    .await;
    check_held(&listed);
    c.masters.spawn(index).expect("restart the old leader");

    // ... and the source's next worker gets every one in its assignment.
    // (Polled: under load the new leader may have let a late worker's
    // lease run out and bound the source again.)
    let first = wait_bound(&c.addrs, "mysql1", None, DEADLINE)
        .await
        .expect("bound");
    let first_index = c.workers.index_of(&first).expect("worker index");
    c.workers
        .kill(first_index)
        .expect("SIGKILL the bound worker");
    let next = wait_bound(&c.addrs, "mysql1", Some(&first), DEADLINE)
        .await
        .expect("the source moves");
    let log = c
        .workers
        .log_path(c.workers.index_of(&next).expect("worker index"));
    dm_tests::wait_until(
        "the next worker is handed the held operations",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let log = log.clone();
            async move {
                let text = without_ansi(&std::fs::read_to_string(&log).unwrap_or_default());
                text.lines()
                    .any(|l| {
                        l.contains("binlog-schema operations held")
                            && l.contains("ids=[1, 2, 3, 4, 5, 6]")
                    })
                    .then_some(())
            }
        },
    )
    .await
    .expect("held operations in the assignment");

    // `list` reads the row in effect (the highest seq) of the tracker's
    // persisted state downstream.
    let tracked = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `v` varchar(20) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) DEFAULT CHARSET=latin1";
    let state = |create: &str| {
        serde_json::json!({ "definitions": { "app": { "t": create, "u2": "CREATE TABLE `u2` (`x` int)" } } })
            .to_string()
    };
    let mut down = c.downstream.conn().await.expect("downstream");
    down.query_drop(
        "CREATE TABLE IF NOT EXISTS dm_meta.schema_schema (source_id VARCHAR(32) NOT NULL, seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, binlog_name VARCHAR(128), binlog_pos INT UNSIGNED, binlog_gtid TEXT, applied_op BIGINT UNSIGNED NOT NULL DEFAULT 0, state LONGTEXT NOT NULL, epoch BIGINT UNSIGNED, update_time TIMESTAMP, KEY (source_id))",
    )
    .await
    .expect("meta table");
    for (source, create) in [
        ("mysql1", "CREATE TABLE `t` (`old` int)"),
        ("mysql1", tracked),
        ("other", "CREATE TABLE `t` (`other` int)"),
    ] {
        down.exec_drop(
            "INSERT INTO dm_meta.schema_schema (source_id, binlog_name, binlog_pos, state, epoch) VALUES (?, 'mysql-bin.000001', 4, ?, 1)",
            (source, state(create)),
        )
        .await
        .expect("state row");
    }
    let listed = ctl(
        &c,
        &["binlog-schema", "list", "schema", "mysql1", "app", "t"],
    )
    .await;
    assert_eq!(listed["result"], true, "{listed}");
    assert_eq!(listed["sources"][0]["result"], true, "{listed}");
    assert_eq!(listed["sources"][0]["msg"], tracked, "{listed}");
    let listed = ctl(
        &c,
        &["binlog-schema", "list", "schema", "mysql1", "app", "nope"],
    )
    .await;
    assert_eq!(listed["sources"][0]["result"], false, "{listed}");
    assert_eq!(
        listed["sources"][0]["msg"],
        "table `app`.`nope` is not tracked by task schema on source mysql1; tracked in `app`: `t`, `u2`"
    );
    assert!(pending(&listed).is_empty());
}
