//! A source file's `filters` (binlog event filter rules) apply to every
//! task of that source, after the task's own rules, as in DM: here the
//! source drops `DELETE` events of `app.t`, and two tasks of the source
//! (each routing `app` to its own downstream schema, one with a filter of
//! its own) both keep the deleted rows.

use std::time::Duration;

use dm_tests::scenario::{query_rows, OneSource};
use mysql_async::Value;

const DEADLINE: Duration = Duration::from_secs(60);

const SOURCE_FILTERS: &str = "filters:\n  - schema-pattern: \"app\"\n    table-pattern: \"t\"\n    events: [\"delete\"]\n    action: Ignore\n";

/// A task routing `app` to `target`, with `own_filter` (a `filters:` rule
/// body ignoring some events of `app.t`) when given.
fn task(name: &str, target: &str, own_filter: Option<&str>) -> String {
    let (filters, filter_rules) = match own_filter {
        Some(events) => (
            format!(
                "filters:\n  own:\n    schema-pattern: \"app\"\n    table-pattern: \"t\"\n    events: [{events}]\n    action: Ignore\n"
            ),
            "    filter-rules: [\"own\"]\n",
        ),
        None => (String::new(), ""),
    };
    format!(
        "name: {name}\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\n\
         mysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    route-rules: [\"to\"]\n{filter_rules}\
         block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n\
         routes:\n  to:\n    schema-pattern: \"app\"\n    target-schema: \"{target}\"\n{filters}"
    )
}

/// A value as the text protocol reads it.
fn text(value: &str) -> Value {
    Value::Bytes(value.as_bytes().to_vec())
}

fn rows(expected: &[(i64, &str)]) -> Vec<Vec<Value>> {
    expected
        .iter()
        .map(|(id, v)| vec![text(&id.to_string()), text(v)])
        .collect()
}

async fn wait_rows(c: &OneSource, task: &str, table: &str, expected: Vec<Vec<Value>>) {
    let sql = format!("SELECT id, v FROM {table} ORDER BY id");
    dm_tests::wait_until(
        &format!("{table} holds the expected rows"),
        DEADLINE,
        Duration::from_millis(50),
        || {
            let (sql, expected) = (&sql, &expected);
            async move {
                let got = query_rows(&c.downstream, sql).await;
                if &got == expected {
                    return dm_tests::Check::Ready(());
                }
                let status = dm_tests::cluster::dmctl(&c.addrs, &["query-status", task])
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                dm_tests::Check::Pending(format!("{table}: {got:?}\nstatus {status}"))
            }
        },
    )
    .await
    .expect("rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_source_filter_drops_its_events_in_every_task_of_the_source() {
    let c = OneSource::start_with_source(
        1,
        SOURCE_FILTERS,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO app.t VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("plain", &task("plain", "a1", None))
        .await
        .expect("plain started");
    c.start_task("own", &task("own", "a2", Some("\"update\"")))
        .await
        .expect("own started");
    let copied = rows(&[(1, "one"), (2, "two"), (3, "three")]);
    wait_rows(&c, "plain", "a1.t", copied.clone()).await;
    wait_rows(&c, "own", "a2.t", copied).await;
    dm_tests::cluster::wait_syncing(&c.addrs, "plain", DEADLINE)
        .await
        .expect("plain syncing");
    dm_tests::cluster::wait_syncing(&c.addrs, "own", DEADLINE)
        .await
        .expect("own syncing");

    dm_tests::tutorial::run_sql(
        &c.upstream,
        &[
            "INSERT INTO app.t VALUES (4, 'four'), (5, 'five')",
            "UPDATE app.t SET v = 'TWO' WHERE id = 2",
            "DELETE FROM app.t WHERE id IN (1, 4)",
            "INSERT INTO app.t VALUES (6, 'six')",
            // A DDL is a barrier: once it is downstream, so is all before.
            "CREATE TABLE app.done (id INT PRIMARY KEY)",
        ],
    )
    .await
    .expect("changes");

    let downstream = &c.downstream;
    for schema in ["a1", "a2"] {
        dm_tests::wait_until(
            &format!("{schema}.done downstream"),
            DEADLINE,
            Duration::from_millis(50),
            || async move {
                let sql = format!("SHOW TABLES FROM {schema} LIKE 'done'");
                (!query_rows(downstream, &sql).await.is_empty()).then_some(())
            },
        )
        .await
        .expect("barrier");
    }
    // The source's filter keeps the deleted rows in both tasks; the
    // task's own filter also keeps the old value in `own`.
    assert_eq!(
        query_rows(&c.downstream, "SELECT id, v FROM a1.t ORDER BY id").await,
        rows(&[
            (1, "one"),
            (2, "TWO"),
            (3, "three"),
            (4, "four"),
            (5, "five"),
            (6, "six"),
        ])
    );
    assert_eq!(
        query_rows(&c.downstream, "SELECT id, v FROM a2.t ORDER BY id").await,
        rows(&[
            (1, "one"),
            (2, "two"),
            (3, "three"),
            (4, "four"),
            (5, "five"),
            (6, "six"),
        ])
    );
    // The upstream itself deleted them.
    assert_eq!(
        query_rows(&c.upstream, "SELECT id FROM app.t ORDER BY id").await,
        ["2", "3", "5", "6"].map(|id| vec![text(id)]).to_vec()
    );

    // A source whose rules do not compile is refused, naming the rule.
    let bad = c.dir.path().join("bad-source.yaml");
    std::fs::write(
        &bad,
        format!(
            "{}filters:\n  - schema-pattern: \"app\"\n    sql-pattern: [\"(\"]\n    action: Ignore\n",
            dm_tests::cluster::source_yaml("mysql2", c.upstream.port())
        ),
    )
    .expect("write");
    let answer = dm_tests::cluster::dmctl(
        &c.addrs,
        &["operate-source", "create", &bad.display().to_string()],
    )
    .await
    .expect("operate-source answers");
    assert_eq!(answer["result"], false, "{answer}");
    let text = answer.to_string();
    assert!(
        text.contains("source.filters[0]") && text.contains("invalid regular expression"),
        "{answer}"
    );
}
