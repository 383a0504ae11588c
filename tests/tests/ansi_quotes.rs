//! An upstream whose `sql_mode` has `ANSI_QUOTES` (globally, and in the
//! session that writes DDL): the full copy reads its table definitions, and
//! the sync applies DDL that names tables and columns in double quotes.

use std::time::Duration;

use dm_tests::cluster::wait_syncing;
use dm_tests::scenario::OneSource;
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: ansi\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

async fn wait_equal(c: &OneSource, table: &str) {
    c.wait_same(
        "ansi",
        &format!("SELECT * FROM `app`.`{table}` ORDER BY 1"),
        DEADLINE,
    )
    .await
    .expect("equal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upstream_in_ansi_quotes_mode_is_copied_and_synced() {
    let c = OneSource::start(
        1,
        &[
            "SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',ANSI_QUOTES')",
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, `na\"me` VARCHAR(20), `back``tick` INT) DEFAULT CHARSET=utf8mb4",
            "INSERT INTO app.t VALUES (1, 'one', 10), (2, 'two \"quoted\"', 20)",
        ],
    )
    .await
    .expect("cluster");
    // Every new upstream session, the worker's included, runs in ANSI_QUOTES.
    let mut conn = c.upstream.conn().await.expect("conn");
    let mode: String = conn
        .query_first("SELECT @@SESSION.sql_mode")
        .await
        .expect("mode")
        .expect("a row");
    assert!(mode.contains("ANSI_QUOTES"), "{mode}");
    drop(conn);

    c.start_task("ansi", TASK).await.expect("started");
    wait_syncing(&c.addrs, "ansi", DEADLINE)
        .await
        .expect("sync unit");
    wait_equal(&c, "t").await;

    // DDL and rows written in ANSI_QUOTES syntax reach the downstream.
    dm_tests::tutorial::run_sql(
        &c.upstream,
        &[
            "SET SESSION sql_mode = 'ANSI_QUOTES'",
            "USE app",
            r#"CREATE TABLE "app"."t2" ("id" INT PRIMARY KEY, "c" VARCHAR(20) DEFAULT 'x', "we""ird" INT)"#,
            r#"INSERT INTO "app"."t2" ("id", "c", "we""ird") VALUES (1, 'a', 7), (2, 'b', 8)"#,
            r#"ALTER TABLE "t2" ADD COLUMN "d" INT NOT NULL DEFAULT 5"#,
            r#"INSERT INTO "t2" ("id", "d") VALUES (3, 6)"#,
            r#"UPDATE "app"."t" SET "na""me" = 'uno' WHERE "id" = 1"#,
            r#"ALTER TABLE "t" ADD COLUMN "extra" INT DEFAULT 3"#,
            "INSERT INTO t (id) VALUES (3)",
        ],
    )
    .await
    .expect("changes in ANSI_QUOTES syntax");
    wait_equal(&c, "t2").await;
    wait_equal(&c, "t").await;
    let mut conn = c.downstream.conn().await.expect("conn");
    let columns: Vec<String> = conn
        .query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't2' ORDER BY ORDINAL_POSITION",
        )
        .await
        .expect("columns");
    assert_eq!(columns, ["id", "c", "we\"ird", "d"]);
}
