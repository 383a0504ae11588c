//! `mydumpers.where`, as DM: the full copy takes only the rows of every
//! table of the instance that the condition selects. The copy's estimate
//! (its stored plan) counts the same rows, `check-diff` compares only that
//! subset and says the tables are filtered, and `check-task` refuses a
//! condition that does not parse, naming the key.

use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_task_stage};
use dm_tests::scenario::{query_rows, OneSource};

const DEADLINE: Duration = Duration::from_secs(60);

const CONDITION: &str = "id % 3 = 0";

fn task(condition: &str) -> String {
    format!(
        "name: subset\ntask-mode: full\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\n\
         mysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    mydumper-config-name: \"global\"\n\
         block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n\
         mydumpers:\n  global:\n    rows: 50\n    where: \"{condition}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_copy_takes_only_the_rows_the_condition_selects() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v INT, note VARCHAR(40))",
            "INSERT INTO app.t SELECT seq, seq * 7 % 11, CONCAT('row ', seq) FROM app.seq_1_to_300",
            // No primary key: one chunk, filtered all the same.
            "CREATE TABLE app.u (id INT, w VARCHAR(10))",
            "INSERT INTO app.u SELECT seq, HEX(seq) FROM app.seq_1_to_40",
        ],
    )
    .await
    .expect("cluster");

    c.start_task("subset", &task(CONDITION))
        .await
        .expect("started");
    wait_task_stage(&c.addrs, "subset", "Finished", DEADLINE)
        .await
        .expect("copy finished");

    // Row for row what the server selects with the same condition.
    for table in ["t", "u"] {
        let sql = format!("SELECT * FROM app.{table} WHERE {CONDITION} ORDER BY id");
        let expected = query_rows(&c.upstream, &sql).await;
        assert!(!expected.is_empty());
        let got = query_rows(
            &c.downstream,
            &format!("SELECT * FROM app.{table} ORDER BY id"),
        )
        .await;
        assert_eq!(got, expected, "app.{table}");
    }
    assert_eq!(
        query_rows(&c.downstream, "SELECT COUNT(*) FROM app.t").await,
        vec![vec![mysql_async::Value::Bytes(b"100".to_vec())]]
    );

    // The plan's estimate counted the selected rows, not the table's.
    let estimate = query_rows(
        &c.downstream,
        "SELECT SUM(estimate_rows) FROM dm_meta.subset_copy_chunk WHERE cp_table = 't'",
    )
    .await;
    assert_eq!(
        estimate,
        vec![vec![mysql_async::Value::Bytes(b"100".to_vec())]]
    );

    // check-diff compares the subset and says so.
    let answer = dmctl(&c.addrs, &["check-diff", "subset"])
        .await
        .expect("check-diff");
    println!("check-diff: {answer}");
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["rowsDiffering"], 0, "{answer}");
    assert_eq!(answer["rowsCompared"], 100, "{answer}");
    let msg = answer["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("filtered") && msg.contains("mydumpers.where"),
        "says the tables are filtered: {msg}"
    );
    let tables = answer["tables"].as_array().expect("tables");
    let t = tables
        .iter()
        .find(|t| t["target"] == "`app`.`t`")
        .expect("app.t compared");
    assert_eq!(t["filter"], CONDITION, "{answer}");
    assert_eq!(t["rowsCompared"], 100, "{answer}");

    // A condition that does not parse is refused by check-task, by key.
    let bad = c.dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        task("id % = 3").replace("PORT", &c.downstream.port().to_string()),
    )
    .expect("write");
    let answer = dmctl(&c.addrs, &["check-task", &bad.display().to_string()])
        .await
        .expect("check-task answers");
    assert_eq!(answer["result"], false, "{answer}");
    let msg = answer["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("mydumpers.global.where") && msg.contains("id % = 3"),
        "names the key and the condition: {msg}"
    );
}
