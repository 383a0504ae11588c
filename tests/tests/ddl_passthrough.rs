//! DDL the SQL parser does not know (MariaDB syntax: `ADD COLUMN IF NOT
//! EXISTS`, `ALTER TABLE ... COMMENT`, `RENAME INDEX`, `ENGINE='InnoDB'`,
//! `ZEROFILL`, `WAIT n`, `ALTER ONLINE TABLE`, `DROP INDEX IF EXISTS`,
//! `CREATE FULLTEXT INDEX`, `(LIKE t)`, `ALTER DATABASE` without a name) and
//! `CREATE TABLE t2 LIKE t` without a schema replicate as written, their
//! table names routed: every downstream table ends with the upstream's
//! definition (`SHOW CREATE TABLE`) and rows, the task keeps running. The
//! rules still apply to such statements: a table outside the block-allow
//! list, a binlog event filter on `alter table`, a route.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing};
use dm_tests::scenario::OneSource;
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, HarnessError, MariaDb};
use mysql_async::prelude::Queryable;
use mysql_async::Row;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = r#"name: ddl
task-mode: all
target-database:
  host: "127.0.0.1"
  port: PORT
  user: "root"
  password: ""
mysql-instances:
  - source-id: "mysql1"
    block-allow-list: "app"
    route-rules: ["src-to-dst"]
    filter-rules: ["keep-alone"]
block-allow-list:
  app:
    do-dbs: ["app"]
routes:
  src-to-dst:
    schema-pattern: "app"
    table-pattern: "src"
    target-schema: "app"
    target-table: "dst"
filters:
  keep-alone:
    schema-pattern: "app"
    table-pattern: "keep"
    events: ["alter table"]
    action: Ignore
"#;

const SETUP: &[&str] = &[
    "CREATE DATABASE app",
    "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40)) ENGINE=InnoDB",
    "INSERT INTO app.t VALUES (1, 'one'), (2, 'two')",
    "CREATE TABLE app.src (id INT PRIMARY KEY)",
    "CREATE TABLE app.keep (id INT PRIMARY KEY)",
    "CREATE DATABASE other",
    "CREATE TABLE other.x (id INT PRIMARY KEY)",
];

/// Run upstream on one connection (so `USE app` holds), in order.
const DDLS: &[&str] = &[
    "ALTER TABLE app.t ADD COLUMN IF NOT EXISTS c INT NOT NULL DEFAULT 3",
    "INSERT INTO app.t (id, v) VALUES (3, 'three')",
    "ALTER TABLE app.t ADD COLUMN IF NOT EXISTS c INT",
    "ALTER TABLE app.t COMMENT 'the t table'",
    "ALTER TABLE app.t ADD INDEX ic (c)",
    "ALTER TABLE app.t RENAME INDEX ic TO ic2",
    "ALTER TABLE app.t ENGINE=InnoDB",
    "ALTER ONLINE TABLE app.t ADD COLUMN d INT UNSIGNED ZEROFILL",
    "INSERT INTO app.t VALUES (4, 'four', 4, 44)",
    "ALTER TABLE app.t MODIFY COLUMN IF EXISTS c BIGINT NOT NULL DEFAULT 4",
    "CREATE FULLTEXT INDEX ft ON app.t (v)",
    "DROP INDEX IF EXISTS ft ON app.t",
    "ALTER TABLE app.t DROP INDEX IF EXISTS ic2",
    "CREATE TABLE app.t2 (id INT PRIMARY KEY, n INT UNSIGNED ZEROFILL) ENGINE='InnoDB' DEFAULT CHARSET=utf8mb4",
    "INSERT INTO app.t2 VALUES (1, 7)",
    "USE app",
    "CREATE TABLE t3 LIKE t",
    "INSERT INTO t3 SELECT * FROM t",
    "CREATE TABLE t4 (LIKE t2)",
    "INSERT INTO t4 VALUES (5, 5)",
    "RENAME TABLE t2 WAIT 3 TO t2b",
    "INSERT INTO t2b VALUES (2, 8)",
    "DROP TABLE IF EXISTS t4 WAIT 2",
    "ALTER DATABASE CHARACTER SET utf8mb4",
    "CREATE TABLE t5 (id INT PRIMARY KEY) ENGINE=InnoDB",
    // The rules: a route, a filter on `alter table`, the block-allow list.
    "ALTER TABLE src COMMENT 'routed', ADD COLUMN IF NOT EXISTS s INT",
    "INSERT INTO src VALUES (1, 10)",
    "ALTER TABLE keep COMMENT 'filtered out'",
    "ALTER TABLE other.x COMMENT 'not replicated'",
    "INSERT INTO keep VALUES (1)",
];

/// `SHOW CREATE TABLE` without the AUTO_INCREMENT counter.
async fn definition(server: &MariaDb, table: &str) -> Option<String> {
    let mut conn = server.conn().await.ok()?;
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE app.`{table}`"))
        .await
        .ok()?;
    row.map(|(_, ddl)| ddl)
}

async fn rows(server: &MariaDb, table: &str) -> Vec<Vec<mysql_async::Value>> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    let rows: Vec<Row> = conn
        .query(format!("SELECT * FROM app.`{table}` ORDER BY id"))
        .await
        .unwrap_or_default();
    rows.into_iter().map(Row::unwrap).collect()
}

async fn tables(server: &MariaDb) -> Vec<String> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' ORDER BY TABLE_NAME",
    )
    .await
    .unwrap_or_default()
}

async fn schema_charset(server: &MariaDb) -> Option<String> {
    let mut conn = server.conn().await.ok()?;
    conn.query_first(
        "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'app'",
    )
    .await
    .ok()?
}

/// Fails at once when the subtask paused.
async fn running(addrs: &str) -> Result<(), HarnessError> {
    let status = dmctl(addrs, &["query-status", "ddl"]).await?;
    match subtasks_of(&status, "ddl")
        .into_iter()
        .find(|(_, t)| t["stage"] != "Running" || !t["result"].is_null())
    {
        Some((source, sub)) => Err(HarnessError::Task(format!("ddl on {source}: {sub}"))),
        None => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ddl_the_parser_refuses_replicates_with_its_names_routed() {
    let c = OneSource::start(1, SETUP).await.expect("cluster");
    let (upstream, downstream, addrs) = (&c.upstream, &c.downstream, c.addrs.as_str());
    c.start_task("ddl", TASK).await.expect("started");
    wait_syncing(addrs, "ddl", DEADLINE)
        .await
        .expect("sync unit");
    run_sql(upstream, DDLS).await.expect("upstream DDLs");
    // The same tables (src arrives as dst), each with the upstream's
    // definition and rows.
    let copied = ["t", "t2b", "t3", "t5"];
    wait_until(
        "every table downstream as upstream",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            if let Err(e) = running(addrs).await {
                return Check::Abort(e);
            }
            for table in copied {
                let want = (
                    definition(upstream, table).await,
                    rows(upstream, table).await,
                );
                let got = (
                    definition(downstream, table).await,
                    rows(downstream, table).await,
                );
                if want != got {
                    return Check::Pending(format!(
                        "{table}: upstream {want:?}\ndownstream {got:?}"
                    ));
                }
            }
            let src = definition(upstream, "src")
                .await
                .map(|d| d.replace("CREATE TABLE `src`", "CREATE TABLE `dst`"));
            let dst = definition(downstream, "dst").await;
            if src != dst || rows(upstream, "src").await != rows(downstream, "dst").await {
                return Check::Pending(format!("src {src:?}\ndst {dst:?}"));
            }
            if rows(downstream, "keep").await.is_empty() {
                return Check::Pending("the row of `keep` not yet downstream".into());
            }
            Check::Ready(())
        },
    )
    .await
    .expect("replicated");
    assert_eq!(
        tables(downstream).await,
        ["dst", "keep", "t", "t2b", "t3", "t5"],
        "t2 renamed, t4 dropped, src routed"
    );
    assert_eq!(schema_charset(downstream).await.as_deref(), Some("utf8mb4"));
    // Filtered out: `keep`'s ALTER (the event filter), `other` (the
    // block-allow list).
    let keep = definition(downstream, "keep").await.expect("keep");
    assert!(!keep.contains("COMMENT"), "{keep}");
    let mut conn = downstream.conn().await.expect("downstream");
    let other: Option<String> = conn
        .query_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'other'",
        )
        .await
        .expect("schemata");
    assert_eq!(other, None);
    running(addrs).await.expect("the task runs");
}
