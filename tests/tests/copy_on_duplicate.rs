//! The full copy and a row whose key is already downstream, as the task's
//! `loaders.on-duplicate-logical` says (DM's default `replace` overwrites
//! it, `ignore` keeps it, `error` stops the copy with the duplicate-key
//! error), over real processes; `import-mode: physical` is refused by name.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of, wait_syncing};
use dm_tests::scenario::{query_rows, OneSource};
use dm_tests::wait_until;
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(90);

const UPSTREAM: &[&str] = &[
    "CREATE DATABASE app",
    "CREATE TABLE app.t (id INT PRIMARY KEY, c VARCHAR(10))",
    "INSERT INTO app.t VALUES (1, 'up'), (2, 'up')",
];

/// The task, with `loaders` lines (indented under `mysql-instances[0]`).
fn task(loader: &str) -> String {
    format!(
        "name: dup\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n{loader}block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

/// A cluster whose downstream already holds `app`.`t` with row 1 as
/// `(1, 'down')`.
async fn cluster() -> OneSource {
    let c = OneSource::start(1, UPSTREAM).await.expect("cluster");
    let mut down = c.downstream.conn().await.expect("downstream");
    down.query_drop("CREATE DATABASE app").await.expect("db");
    down.query_drop("CREATE TABLE app.t (id INT PRIMARY KEY, c VARCHAR(10))")
        .await
        .expect("table");
    down.query_drop("INSERT INTO app.t VALUES (1, 'down')")
        .await
        .expect("row");
    c
}

async fn rows(c: &OneSource) -> Vec<(i32, String)> {
    query_rows(&c.downstream, "SELECT id, c FROM app.t ORDER BY id")
        .await
        .into_iter()
        .map(|r| {
            (
                mysql_async::from_value(r[0].clone()),
                mysql_async::from_value(r[1].clone()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn by_default_a_copied_row_replaces_the_one_downstream() {
    let c = cluster().await;
    c.start_task("dup", &task("")).await.expect("started");
    wait_syncing(&c.addrs, "dup", DEADLINE)
        .await
        .expect("copied");
    assert_eq!(rows(&c).await, [(1, "up".into()), (2, "up".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ignore_keeps_the_row_downstream() {
    let c = cluster().await;
    let loader = "    loader:\n      on-duplicate-logical: ignore\n";
    c.start_task("dup", &task(loader)).await.expect("started");
    wait_syncing(&c.addrs, "dup", DEADLINE)
        .await
        .expect("copied");
    assert_eq!(rows(&c).await, [(1, "down".into()), (2, "up".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn error_stops_the_copy_with_the_duplicate_key() {
    let c = cluster().await;
    let loader =
        "    loader-config-name: strict\nloaders:\n  strict:\n    on-duplicate-logical: error\n";
    c.start_task("dup", &task(loader)).await.expect("started");
    let addrs = c.addrs.as_str();
    let message = wait_until(
        "the copy reports the duplicate",
        DEADLINE,
        Duration::from_millis(100),
        || async move {
            let status = dmctl(addrs, &["query-status", "dup"]).await.ok()?;
            let subtasks = subtasks_of(&status, "dup");
            let (_, subtask) = subtasks.first()?;
            let message = subtask["result"]["errors"][0]["Message"].as_str()?;
            message
                .contains("Duplicate entry")
                .then(|| message.to_string())
        },
    )
    .await
    .expect("duplicate reported");
    assert!(message.contains("'1'"), "{message}");
    assert_eq!(rows(&c).await[0], (1, "down".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn physical_import_is_refused_by_name() {
    let c = OneSource::start(1, UPSTREAM).await.expect("cluster");
    let loader = "    loader:\n      import-mode: physical\n";
    let error = c
        .start_task("dup", &task(loader))
        .await
        .expect_err("refused");
    let error = format!("{error:#}");
    assert!(
        error.contains("mysql-instances[0].loader.import-mode")
            && error.contains("set import-mode: logical"),
        "{error}"
    );
}
