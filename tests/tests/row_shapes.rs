//! Row events as ordinary upstreams write them: tables with generated
//! columns, sessions that log partial row images (`binlog_row_image`
//! MINIMAL), and strings that land in columns of another type or character
//! set downstream. Each arrives row for row, or pauses with the reason;
//! nothing is applied wrongly.

use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_syncing, wait_task_stage};
use dm_tests::scenario::{query_rows, OneSource};
use dm_tests::{wait_until, Check, MariaDb};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

/// A task replicating schema `app`; `safe` turns on the sync's safe mode.
fn task(name: &str, safe: bool) -> String {
    let syncer = if safe {
        "    syncer-config-name: \"safe\"\nsyncers:\n  safe:\n    safe-mode: true\n"
    } else {
        ""
    };
    format!(
        "name: {name}\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n{syncer}block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

async fn rows(server: &MariaDb, sql: &str) -> Vec<Vec<mysql_async::Value>> {
    query_rows(server, sql).await
}

/// Waits until `sql` reads the same rows on both sides.
async fn wait_same(c: &OneSource, task: &str, sql: &str) {
    c.wait_same(task, sql, DEADLINE).await.expect("same rows");
}

/// Runs `statements` on one upstream connection (session settings hold).
async fn session(server: &MariaDb, statements: &[&str]) {
    let mut conn = server.conn().await.expect("conn");
    for sql in statements {
        conn.query_drop(*sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

const GENERATED: &str = "CREATE TABLE app.g (
    id INT PRIMARY KEY,
    a INT NOT NULL,
    b INT NOT NULL,
    v INT AS (a + b) VIRTUAL,
    s INT AS (a * b) STORED,
    note VARCHAR(20),
    KEY (s)
)";

async fn generated_columns_arrive(safe: bool) {
    let name = if safe { "gensafe" } else { "gen" };
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            GENERATED,
            "INSERT INTO app.g (id, a, b, note) VALUES (1, 1, 2, 'copied'), (2, 3, 4, 'copied')",
        ],
    )
    .await
    .expect("cluster");
    c.start_task(name, &task(name, safe))
        .await
        .expect("started");
    wait_syncing(&c.addrs, name, DEADLINE)
        .await
        .expect("syncing");
    session(
        &c.upstream,
        &[
            "INSERT INTO app.g (id, a, b, note) VALUES (3, 5, 6, 'synced'), (4, 7, 8, 'synced')",
            "UPDATE app.g SET a = a + 10 WHERE id IN (1, 3)",
            "UPDATE app.g SET id = 30 WHERE id = 3",
            "REPLACE INTO app.g (id, a, b, note) VALUES (2, 9, 9, 'replaced')",
            "DELETE FROM app.g WHERE id = 4",
            "INSERT INTO app.g (id, a, b) VALUES (5, 1, 1)",
        ],
    )
    .await;
    wait_same(
        &c,
        name,
        "SELECT id, a, b, v, s, note FROM app.g ORDER BY id",
    )
    .await;
    let answer = dmctl(&c.addrs, &["query-status", name])
        .await
        .expect("status");
    assert!(
        !answer.to_string().contains("\"Paused\""),
        "nothing paused: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tables_with_generated_columns_replicate() {
    generated_columns_arrive(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tables_with_generated_columns_replicate_in_safe_mode() {
    generated_columns_arrive(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn minimal_row_images_update_the_right_rows_or_pause() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            // `name` holds ids of other rows: a before image read as if it
            // were whole would match on the wrong column.
            "CREATE TABLE app.m (id INT PRIMARY KEY, name INT, note VARCHAR(20), extra TEXT)",
            "CREATE TABLE app.nokey (a INT, b VARCHAR(10))",
            "INSERT INTO app.m VALUES (1, 9, 'a', 'x'), (9, 1, 'b', 'y'), (5, 5, 'c', 'z')",
            "INSERT INTO app.nokey VALUES (1, 'one'), (2, 'two')",
        ],
    )
    .await
    .expect("cluster");
    // A table without a key is what DM's table check warns about.
    let yaml = task("minimal", false).replace(
        "task-mode: all\n",
        "task-mode: all\nignore-checking-items: [\"table_schema\"]\n",
    );
    c.start_task("minimal", &yaml).await.expect("started");
    wait_syncing(&c.addrs, "minimal", DEADLINE)
        .await
        .expect("syncing");
    session(
        &c.upstream,
        &[
            "SET SESSION binlog_row_image = 'MINIMAL'",
            "UPDATE app.m SET note = 'changed' WHERE id = 1",
            "UPDATE app.m SET name = 2, extra = 'e' WHERE id = 9",
            "UPDATE app.m SET id = 6 WHERE id = 5",
            "INSERT INTO app.m (id, note) VALUES (7, 'partial')",
            "DELETE FROM app.m WHERE id = 6",
            "UPDATE app.nokey SET b = 'uno' WHERE a = 1",
            "DELETE FROM app.nokey WHERE a = 2",
            "SET SESSION binlog_row_image = 'NOBLOB'",
            "UPDATE app.m SET note = 'noblob' WHERE id = 7",
        ],
    )
    .await;
    wait_same(&c, "minimal", "SELECT * FROM app.m ORDER BY id").await;
    wait_same(&c, "minimal", "SELECT * FROM app.nokey ORDER BY a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_minimal_key_change_in_safe_mode_pauses_with_the_reason() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.m (id INT PRIMARY KEY, note VARCHAR(20), extra TEXT)",
            "INSERT INTO app.m VALUES (1, 'a', 'x'), (2, 'b', 'y')",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("minsafe", &task("minsafe", true))
        .await
        .expect("started");
    wait_syncing(&c.addrs, "minsafe", DEADLINE)
        .await
        .expect("syncing");
    session(
        &c.upstream,
        &[
            "SET SESSION binlog_row_image = 'MINIMAL'",
            // Keeps its key: an UPDATE of the logged columns, idempotent.
            "UPDATE app.m SET note = 'kept' WHERE id = 1",
        ],
    )
    .await;
    wait_same(&c, "minsafe", "SELECT * FROM app.m ORDER BY id").await;
    // Moves its key: safe mode must write the whole new row, which the
    // image does not hold.
    session(
        &c.upstream,
        &[
            "SET SESSION binlog_row_image = 'MINIMAL'",
            "UPDATE app.m SET id = 20 WHERE id = 2",
        ],
    )
    .await;
    let answer = wait_task_stage(&c.addrs, "minsafe", "Paused", DEADLINE)
        .await
        .expect("paused");
    let text = answer.to_string();
    assert!(
        text.contains("upstream didn't log enough columns in binlog")
            && text.contains("`app`.`m`")
            && text.contains("binlog_row_image=FULL"),
        "the pause says why: {answer}"
    );
    let down = rows(
        &c.downstream,
        "SELECT id, note, extra FROM app.m ORDER BY id",
    )
    .await;
    let up_before = vec![
        vec!["1".into(), "kept".into(), "x".into()],
        vec!["2".into(), "b".into(), "y".into()],
    ];
    assert_eq!(down, up_before, "nothing of the refused change applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strings_arrive_as_text_in_numeric_and_other_charset_columns() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.s (id INT PRIMARY KEY, v VARCHAR(10), l VARCHAR(10) CHARACTER SET latin1)",
        ],
    )
    .await
    .expect("cluster");
    // The downstream table exists already: a number where the upstream has
    // text, and utf8mb4 where the upstream has latin1.
    session(
        &c.downstream,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.s (id INT PRIMARY KEY, v INT, l VARCHAR(10) CHARACTER SET utf8mb4)",
        ],
    )
    .await;
    c.start_task("strings", &task("strings", false))
        .await
        .expect("started");
    wait_syncing(&c.addrs, "strings", DEADLINE)
        .await
        .expect("syncing");
    session(
        &c.upstream,
        &["INSERT INTO app.s VALUES (1, '12', 'café'), (2, '-7', 'naïve')"],
    )
    .await;
    let want = vec![
        vec!["1".into(), "12".into(), "café".into()],
        vec!["2".into(), "-7".into(), "naïve".into()],
    ];
    wait_until(
        "the strings arrive as text",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let (want, c) = (&want, &c);
            async move {
                let got = rows(&c.downstream, "SELECT id, v, l FROM app.s ORDER BY id").await;
                if &got == want {
                    Check::Ready(())
                } else {
                    Check::Pending(format!("{got:?}"))
                }
            }
        },
    )
    .await
    .expect("converted as text");
    // Text that is no number is refused by the server (strict mode), not
    // turned into the number its bytes spell.
    session(&c.upstream, &["INSERT INTO app.s VALUES (3, 'abc', 'x')"]).await;
    let answer = wait_task_stage(&c.addrs, "strings", "Paused", DEADLINE)
        .await
        .expect("paused");
    assert!(
        answer
            .to_string()
            .contains("Incorrect integer value: 'abc'"),
        "{answer}"
    );
    let stored = rows(&c.downstream, "SELECT id FROM app.s WHERE v = 6382179").await;
    assert!(stored.is_empty(), "no hex number stored");
}
