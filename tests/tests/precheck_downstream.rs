//! `check-task` and `start-task` check the downstream too, over real
//! masters and MariaDB servers:
//!
//! - a wrong password or an unreachable `target-database` fails the check,
//!   naming the downstream and the fix, also for a task that ignores every
//!   checking item (a task cannot run without its downstream), and
//!   `start-task` stores nothing;
//! - TiDB-only variables in `target-database.session` are refused when the
//!   downstream is not TiDB, naming each variable; a variable the server
//!   does not know, and a `timezone` it (or the upstream) does not know,
//!   are refused with the server's words.

use std::path::Path;
use std::time::Duration;

use dm_tests::check_answer::{counts, names, problems, FAILED};
use dm_tests::cluster::{create_source, dmctl, Masters};
use dm_tests::tutorial::run_sql;
use dm_tests::{free_port, MariaDb, MariaDbOptions};
use serde_json::Value;

const LEADER_DEADLINE: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// A task of source `mysql1` selecting `app`, writing to `target` (the
/// lines of `target-database`), with `extra` top-level lines.
fn task(name: &str, target: &str, extra: &str) -> String {
    format!(
        "name: {name}\ntask-mode: all\n{extra}target-database:\n{target}mysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

fn target(port: u16, user: &str, password: &str) -> String {
    format!(
        "  host: \"127.0.0.1\"\n  port: {port}\n  user: \"{user}\"\n  password: \"{password}\"\n"
    )
}

async fn assert_not_stored(addrs: &str, task: &str) {
    let status = dmctl(addrs, &["query-status", task])
        .await
        .expect("answers");
    assert_eq!(
        status["msg"],
        format!("task {task} does not exist"),
        "{status}"
    );
}

/// check-task and start-task both refuse `file` with the same failures,
/// and nothing is stored; the check-task answer.
async fn refused(addrs: &str, file: &str, name: &str) -> Value {
    let checked = dmctl(addrs, &["check-task", file]).await.expect("answers");
    assert_eq!(checked["result"], false, "{checked}");
    assert_eq!(checked["msg"], FAILED, "{checked}");
    let started = dmctl(addrs, &["start-task", file]).await.expect("answers");
    assert_eq!(started["result"], false, "{started}");
    assert_eq!(started["msg"], FAILED, "{started}");
    assert_eq!(
        problems(&started, "fail"),
        problems(&checked, "fail"),
        "{started}"
    );
    assert_not_stored(addrs, name).await;
    checked
}

struct Setup {
    upstream: MariaDb,
    downstream: MariaDb,
    _masters: Masters,
    addrs: String,
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let mut servers = MariaDb::start_many(2, |i| MariaDbOptions::new(i as u32 + 1))
        .await
        .expect("servers");
    let downstream = servers.pop().expect("downstream");
    let upstream = servers.pop().expect("upstream");
    run_sql(
        &upstream,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
        ],
    )
    .await
    .expect("upstream tables");
    run_sql(
        &downstream,
        &[
            "CREATE USER 'dm'@'%' IDENTIFIED BY 'secret'",
            "GRANT ALL PRIVILEGES ON *.* TO 'dm'@'%'",
        ],
    )
    .await
    .expect("downstream user");
    let masters = Masters::start(3).expect("masters");
    masters.leader(LEADER_DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    let dir = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, dir.path(), "mysql1", upstream.port())
        .await
        .expect("source");
    Setup {
        upstream,
        downstream,
        _masters: masters,
        addrs,
        dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_downstream_that_cannot_be_reached_fails_the_check_naming_the_fix() {
    let s = setup().await;
    let (addrs, dir) = (&s.addrs, s.dir.path());
    let port = s.downstream.port();
    let fix = "check target-database's host, port, user and password, and that the server runs and is reachable from the masters";

    // A wrong password.
    let file = write(
        dir,
        "wrong.yaml",
        &task("wrong", &target(port, "dm", "wrong"), ""),
    );
    let answer = refused(addrs, &file, "wrong").await;
    let lines = problems(&answer, "fail");
    assert_eq!(lines.len(), 1, "{answer}");
    let prefix = format!(
        "target-database dm@127.0.0.1:{port}: cannot connect to the downstream dm@127.0.0.1:{port}: "
    );
    assert!(lines[0].starts_with(&prefix), "{}", lines[0]);
    assert!(
        lines[0].contains("Access denied for user 'dm'"),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(fix), "{}", lines[0]);
    assert_eq!(names(&answer, "fail"), ["target_connection"]);
    assert_eq!(counts(&answer), (1, 0));

    // A task that ignores every checking item still needs its downstream.
    let file = write(
        dir,
        "ignoring.yaml",
        &task(
            "ignoring",
            &target(port, "dm", "wrong"),
            "ignore-checking-items: [\"all\"]\n",
        ),
    );
    let answer = refused(addrs, &file, "ignoring").await;
    assert_eq!(names(&answer, "fail"), ["target_connection"], "{answer}");

    // Nothing listens on the port.
    let closed = free_port().expect("port");
    let file = write(
        dir,
        "closed.yaml",
        &task("closed", &target(closed, "root", ""), ""),
    );
    let answer = refused(addrs, &file, "closed").await;
    let lines = problems(&answer, "fail");
    assert_eq!(lines.len(), 1, "{answer}");
    assert!(
        lines[0].starts_with(&format!(
            "target-database root@127.0.0.1:{closed}: cannot connect to the downstream root@127.0.0.1:{closed}: "
        )),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(fix), "{}", lines[0]);

    // The right password passes.
    let file = write(
        dir,
        "right.yaml",
        &task("right", &target(port, "dm", "secret"), ""),
    );
    let answer = dmctl(addrs, &["check-task", &file]).await.expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["msg"], "pre-check is passed. ", "{answer}");
    drop(s.upstream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_variables_the_downstream_lacks_are_refused_naming_them() {
    let s = setup().await;
    let (addrs, dir) = (&s.addrs, s.dir.path());
    let port = s.downstream.port();
    let version: String = {
        use mysql_async::prelude::Queryable;
        let mut conn = s.downstream.conn().await.expect("conn");
        conn.query_first("SELECT VERSION()")
            .await
            .expect("version")
            .expect("a version")
    };
    let target = |session: &str| format!("{}  session:\n{session}", target(port, "root", ""));
    let at = format!("target-database root@127.0.0.1:{port}");

    let file = write(
        dir,
        "tidb.yaml",
        &task(
            "tidb",
            &target("    tidb_txn_mode: optimistic\n    tidb_skip_utf8_check: 1\n    sql_select_limit: 1000\n"),
            "",
        ),
    );
    let tidb_only = |var: &str| {
        format!(
            "{at}: target-database.session sets {var}, which only TiDB has, but the downstream is {version}: remove {var} from target-database.session"
        )
    };
    let answer = refused(addrs, &file, "tidb").await;
    assert_eq!(
        problems(&answer, "fail"),
        [
            tidb_only("tidb_skip_utf8_check"),
            tidb_only("tidb_txn_mode")
        ]
    );

    let file = write(
        dir,
        "unknown.yaml",
        &task("unknown", &target("    no_such_variable: 1\n"), ""),
    );
    let answer = refused(addrs, &file, "unknown").await;
    assert_eq!(
        problems(&answer, "fail"),
        [format!(
            "{at}: target-database.session sets no_such_variable = 1, which the downstream refuses: Unknown system variable 'no_such_variable': fix or remove it in target-database.session"
        )]
    );

    let file = write(
        dir,
        "zone.yaml",
        &task(
            "zone",
            &target("    sql_select_limit: 1000\n"),
            "timezone: \"Mars/Olympus_Mons\"\n",
        ),
    );
    let answer = refused(addrs, &file, "zone").await;
    let unknown = |server: &str| {
        format!(
            "timezone Mars/Olympus_Mons is unknown to the {server}: Unknown or incorrect time zone: 'Mars/Olympus_Mons': load its time zone tables (mariadb-tzinfo-to-sql) or give an offset such as \"+08:00\""
        )
    };
    assert_eq!(
        problems(&answer, "fail"),
        [
            format!("{at}: {}", unknown("downstream")),
            format!("source mysql1: {}", unknown("upstream")),
        ]
    );

    // Variables the server has, and an offset time zone, pass.
    let file = write(
        dir,
        "fine.yaml",
        &task(
            "fine",
            &target("    sql_select_limit: 1000\n"),
            "timezone: \"+04:00\"\n",
        ),
    );
    let answer = dmctl(addrs, &["check-task", &file]).await.expect("answers");
    assert_eq!(answer["msg"], "pre-check is passed. ", "{answer}");
}
