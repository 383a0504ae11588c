//! `check-diff` over real processes: the tutorial's three shards of
//! `dmtest1.t1` merged by `dmtask1`. Once in sync, the diff finds every
//! upstream row downstream in every chunk. Then one row is changed, one
//! deleted and one added downstream by hand: the diff reports exactly those
//! three rows, with their kinds and keys, and only the chunks holding them
//! differ. An unknown task is refused with its name, and a database that
//! cannot be reached is named. The master that ran a diff counts its
//! tables in `dm_master_check_diff_tables_total`.

use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_syncing};
use dm_tests::http_get;
use dm_tests::scenario::TutorialCluster;
use dm_tests::tutorial::{merged_rows, run_sql, wait_rows};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);
const TASK: &str = "dmtask1";
/// Rows per chunk: the 768 merged rows make 8 chunks.
const CHUNK_ROWS: &str = "100";

async fn check_diff(addrs: &str) -> Value {
    let answer = dmctl(addrs, &["check-diff", TASK, "--chunk-size", CHUNK_ROWS])
        .await
        .expect("dmctl check-diff");
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["task"], TASK, "{answer}");
    answer
}

/// `dm_master_check_diff_tables_total{task,result}` on the master at
/// `addr` (0 when it has no such series).
async fn diff_tables_counted(addr: &str, task: &str, result: &str) -> f64 {
    let answer = http_get(addr, "/metrics").await.expect("GET /metrics");
    let (task, result) = (format!("task=\"{task}\""), format!("result=\"{result}\""));
    answer
        .lines()
        .filter(|l| l.starts_with("dm_master_check_diff_tables_total{"))
        .filter(|l| l.contains(&task) && l.contains(&result))
        .find_map(|l| l.rsplit_once(' ')?.1.parse().ok())
        .unwrap_or(0.0)
}

/// The one table of the answer, with the shards merged into it.
fn merged_table(answer: &Value) -> &Value {
    let tables = answer["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 1, "{answer}");
    let table = &tables[0];
    assert_eq!(table["target"], "`dmtest1`.`t1`", "{answer}");
    assert_eq!(
        table["sources"],
        serde_json::json!([
            "mysql1:`dmtest1`.`t1`",
            "mysql2:`dmtest1`.`t1`",
            "mysql3:`dmtest1`.`t1`"
        ]),
        "{answer}"
    );
    assert_eq!(table["error"], "", "{answer}");
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_diff_finds_exactly_the_rows_changed_downstream() {
    let c = TutorialCluster::dmtask1_replicating(DEADLINE)
        .await
        .expect("dmtask1 replicating");
    let expected = merged_rows(&c.dbs.upstreams, "dmtest1")
        .await
        .expect("upstream rows");
    assert_eq!(expected.len(), 768);
    wait_rows(&c.dbs.downstream, "dmtest1", &expected, DEADLINE)
        .await
        .expect("downstream in sync");

    // In sync: every row compared, nothing differs.
    let answer = check_diff(&c.addrs).await;
    println!("in sync: {answer}");
    assert_eq!(answer["rowsCompared"], 768, "{answer}");
    assert_eq!(answer["rowsDiffering"], 0, "{answer}");
    assert_eq!(answer["chunksCompared"], 8, "{answer}");
    assert_eq!(answer["chunksDiffering"], 0, "{answer}");
    let table = merged_table(&answer);
    assert_eq!(table["rowsCompared"], 768, "{answer}");
    assert_eq!(table["differences"], serde_json::json!([]), "{answer}");

    // One row changed (first chunk), one deleted (middle), one added (after
    // the last key), by hand downstream.
    let changed = expected[5].0;
    let deleted = expected[350].0;
    let extra = expected[767].0 + 1000;
    run_sql(
        &c.dbs.downstream,
        &[
            &format!("UPDATE dmtest1.t1 SET c = 'changed by hand' WHERE id = {changed}"),
            &format!("DELETE FROM dmtest1.t1 WHERE id = {deleted}"),
            &format!("INSERT INTO dmtest1.t1 (id, c, port) VALUES ({extra}, NULL, 1)"),
        ],
    )
    .await
    .expect("downstream changes");

    let answer = check_diff(&c.addrs).await;
    println!("after the changes: {answer}");
    assert_eq!(answer["rowsDiffering"], 3, "{answer}");
    assert_eq!(answer["chunksCompared"], 8, "{answer}");
    assert_eq!(answer["chunksDiffering"], 3, "{answer}");
    // The 768 upstream keys and the extra one.
    assert_eq!(answer["rowsCompared"], 769, "{answer}");
    let table = merged_table(&answer);
    let mut found: Vec<(String, String)> = table["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_string(),
                d["key"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    found.sort();
    let mut want = vec![
        ("changed".to_string(), format!("id={changed}")),
        ("extra".to_string(), format!("id={extra}")),
        ("missing".to_string(), format!("id={deleted}")),
    ];
    want.sort();
    assert_eq!(found, want, "{answer}");
    for d in table["differences"].as_array().expect("differences") {
        let (upstream, downstream) = (
            d["upstream"].as_str().unwrap_or_default(),
            d["downstream"].as_str().unwrap_or_default(),
        );
        match d["kind"].as_str() {
            Some("changed") => {
                assert!(downstream.contains("c='changed by hand'"), "{d}");
                assert!(!upstream.contains("changed by hand"), "{d}");
                assert!(upstream.starts_with(&format!("id={changed}, c='")), "{d}");
            }
            Some("missing") => assert!(downstream.is_empty() && !upstream.is_empty(), "{d}"),
            Some("extra") => {
                assert_eq!(upstream, "", "{d}");
                assert_eq!(downstream, format!("id={extra}, c=NULL, port=1"), "{d}");
            }
            _ => panic!("unexpected difference {d}"),
        }
    }

    // --max-rows caps the listed rows, not the counts.
    let answer = dmctl(&c.addrs, &["check-diff", TASK, "--max-rows", "1"])
        .await
        .expect("dmctl check-diff --max-rows 1");
    assert_eq!(answer["rowsDiffering"], 3, "{answer}");
    assert_eq!(
        merged_table(&answer)["differences"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{answer}"
    );

    // An unknown task is refused by name, on any master.
    let answer = dmctl(&c.addrs, &["check-diff", "no-such-task"])
        .await
        .expect("dmctl check-diff no-such-task");
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer["msg"]
            .as_str()
            .is_some_and(|m| m.contains("no-such-task")),
        "{answer}"
    );

    // A database that cannot be reached is named.
    let downstream_port = c.dbs.downstream.port();
    c.dbs.downstream.stop().await.expect("downstream stopped");
    let answer = dmctl(&c.addrs, &["check-diff", TASK])
        .await
        .expect("dmctl check-diff without a downstream");
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer["msg"].as_str().is_some_and(|m| m.contains("downstream")
            && m.contains(&format!(":{downstream_port}"))),
        "{answer}"
    );
    println!("without a downstream: {answer}");
}

const ONE_SOURCE_TASK: &str = "name: diffs\ntask-mode: all\nignore-checking-items: [\"all\"]\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

/// Rows of the composite-key table.
const PAIRS: usize = 50;

/// `COUNT(*)` of `table` on `server`, 0 when it cannot be read yet.
async fn count(server: &dm_tests::MariaDb, table: &str) -> u64 {
    use mysql_async::prelude::Queryable;
    let Ok(mut conn) = server.conn().await else {
        return 0;
    };
    let n: Option<u64> = conn
        .query_first(format!("SELECT COUNT(*) FROM {table}"))
        .await
        .ok()
        .flatten();
    let _ = conn.disconnect().await;
    n.unwrap_or(0)
}

fn table<'a>(answer: &'a Value, target: &str) -> &'a Value {
    answer["tables"]
        .as_array()
        .and_then(|tables| tables.iter().find(|t| t["target"] == target))
        .unwrap_or_else(|| panic!("no table {target} in {answer}"))
}

/// A composite primary key cut into tuple ranges, every common column type
/// (NULLs included) checksummed alike on both sides, a table without a
/// primary key reported as not comparable, and the diff served by a
/// follower.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_diff_handles_composite_keys_types_and_tables_without_keys_on_a_follower() {
    let mut sql: Vec<String> = vec![
        "CREATE DATABASE app".into(),
        "CREATE TABLE app.pairs (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b))".into(),
        "CREATE TABLE app.types (id INT PRIMARY KEY, de DECIMAL(20,6), fl FLOAT, dbl DOUBLE, \
         vc VARCHAR(40), bl BLOB, dt DATETIME(6), tm TIME(2), js JSON, bt BIT(10), en ENUM('a','b')) \
         DEFAULT CHARSET=utf8mb4".into(),
        "INSERT INTO app.types VALUES (1, -12345678901234.123456, 1.5, -2.25e-300, 'héllo 🐬', \
         0x00FF10, '2024-02-29 23:59:59.123456', '-838:59:59.00', '{\"k\": [1, null]}', b'1000000001', 'b')".into(),
        "INSERT INTO app.types (id) VALUES (2)".into(),
        "INSERT INTO app.types VALUES (3, 0, -0, 0, '', '', '1000-01-01 00:00:00', '00:00:00', '[]', b'0', 'a')".into(),
        "CREATE TABLE app.nokey (x INT)".into(),
        "INSERT INTO app.nokey VALUES (1), (1)".into(),
    ];
    // Keys sort as (a, b): a in 0..5, b in x0..x9.
    let values: Vec<String> = (0..PAIRS)
        .map(|i| format!("({}, 'x{}', {i})", i / 10, i % 10))
        .collect();
    sql.push(format!(
        "INSERT INTO app.pairs VALUES {}",
        values.join(", ")
    ));
    let statements: Vec<&str> = sql.iter().map(String::as_str).collect();
    let c = dm_tests::scenario::OneSource::start(1, &statements)
        .await
        .expect("cluster");
    c.start_task("diffs", ONE_SOURCE_TASK).await.expect("task");
    wait_syncing(&c.addrs, "diffs", DEADLINE)
        .await
        .expect("syncing");
    dm_tests::wait_until(
        "every table copied",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            count(&c.downstream, "app.pairs").await == PAIRS as u64
                && count(&c.downstream, "app.types").await == 3
                && count(&c.downstream, "app.nokey").await == 2
        },
    )
    .await
    .expect("copied");

    // A follower's address only.
    let leader = c.masters.leader(DEADLINE).await.expect("leader");
    let follower = (0..c.masters.len())
        .filter_map(|i| c.masters.spec(i))
        .find(|spec| spec.name != leader)
        .map(|spec| spec.client_addr())
        .expect("a follower");

    let answer = dmctl(&follower, &["check-diff", "diffs", "--chunk-size", "7"])
        .await
        .expect("dmctl check-diff");
    println!("on a follower: {answer}");
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["rowsDiffering"], 0, "{answer}");
    let pairs = table(&answer, "`app`.`pairs`");
    assert_eq!(pairs["error"], "", "{answer}");
    assert_eq!(pairs["rowsCompared"], PAIRS, "{answer}");
    // 50 keys, a boundary every 7: 8 chunks.
    assert_eq!(pairs["chunksCompared"], 8, "{answer}");
    let types = table(&answer, "`app`.`types`");
    assert_eq!(types["error"], "", "{answer}");
    assert_eq!(types["rowsCompared"], 3, "{answer}");
    assert_eq!(types["chunksDiffering"], 0, "{answer}");
    let nokey = table(&answer, "`app`.`nokey`");
    assert!(
        nokey["error"]
            .as_str()
            .is_some_and(|e| e.contains("no primary key")),
        "{answer}"
    );
    // Counted by the master that ran it: two tables equal, the one that
    // could not be compared different.
    assert_eq!(diff_tables_counted(&follower, "diffs", "equal").await, 2.0);
    assert_eq!(
        diff_tables_counted(&follower, "diffs", "different").await,
        1.0
    );

    // One row of a middle chunk changed, one NULL made a value.
    run_sql(
        &c.downstream,
        &[
            "UPDATE app.pairs SET v = v + 100 WHERE a = 2 AND b = 'x3'",
            "UPDATE app.types SET vc = '' WHERE id = 2",
        ],
    )
    .await
    .expect("downstream changes");
    let answer = dmctl(&follower, &["check-diff", "diffs", "--chunk-size", "7"])
        .await
        .expect("dmctl check-diff");
    println!("after the changes: {answer}");
    assert_eq!(answer["rowsDiffering"], 2, "{answer}");
    let pairs = table(&answer, "`app`.`pairs`");
    assert_eq!(pairs["chunksDiffering"], 1, "{answer}");
    assert_eq!(pairs["differences"][0]["kind"], "changed", "{answer}");
    assert_eq!(pairs["differences"][0]["key"], "a=2,b='x3'", "{answer}");
    assert_eq!(
        pairs["differences"][0]["downstream"], "a=2, b='x3', v=123",
        "{answer}"
    );
    let types = table(&answer, "`app`.`types`");
    assert_eq!(types["differences"][0]["key"], "id=2", "{answer}");
    assert_eq!(types["differences"][0]["kind"], "changed", "{answer}");
    assert_eq!(diff_tables_counted(&follower, "diffs", "equal").await, 2.0);
    assert_eq!(
        diff_tables_counted(&follower, "diffs", "different").await,
        4.0
    );

    // Most rows gone downstream: the chunk past its last key holds 43
    // upstream rows and is cut along the upstream's keys, 7 at a time.
    run_sql(&c.downstream, &["DELETE FROM app.pairs WHERE a >= 1"])
        .await
        .expect("downstream delete");
    let answer = dmctl(
        &follower,
        &[
            "check-diff",
            "diffs",
            "--chunk-size",
            "7",
            "--max-rows",
            "100",
        ],
    )
    .await
    .expect("dmctl check-diff");
    println!("after the delete: {answer}");
    let pairs = table(&answer, "`app`.`pairs`");
    assert_eq!(pairs["rowsCompared"], PAIRS, "{answer}");
    assert_eq!(pairs["rowsDiffering"], 40, "{answer}");
    assert_eq!(pairs["chunksCompared"], 8, "{answer}");
    assert_eq!(pairs["chunksDiffering"], 7, "{answer}");
    let differences = pairs["differences"].as_array().expect("differences");
    assert_eq!(differences.len(), 40, "{answer}");
    assert!(
        differences.iter().all(|d| d["kind"] == "missing"),
        "{answer}"
    );
}
