//! Expression filters (`expression-filter`) over real processes: the rows
//! the task drops are exactly the ones the upstream server's own
//! evaluation of the same expressions selects.
//!
//! The test keeps what the downstream should hold in `expect.t` on the
//! upstream (a schema the task does not migrate), deciding every change
//! with the server itself (`(expr) <=> TRUE` before and after it):
//! - the full copy takes the rows whose `insert-value-expr` is not TRUE;
//! - in the sync, an insert whose `insert-value-expr` is TRUE, an update
//!   one of whose rules is TRUE (old values, new values, or both), and a
//!   delete whose `delete-value-expr` is TRUE are dropped, row by row
//!   within multi-row events; the rest arrive.
//!
//! The task's timezone is +08:00 and one rule compares a TIMESTAMP: the
//! expression sees it in that zone, as the task's sessions do.
//!
//! `check-task` of a task using a function expression filters do not
//! have fails, naming the rule, the key and the function; `check-diff`
//! reports the filtered table as not comparable, saying why.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_syncing};
use dm_tests::scenario::{query_rows, OneSource};
use dm_tests::MariaDb;
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const INSERT_EXPR: &str = "c % 3 = 0 OR name LIKE 'x%' OR ts > '2024-06-01 00:00:00'";
/// (old, new) of the update rules; empty: the rule has no such side.
const UPDATE_EXPRS: &[(&str, &str)] = &[
    ("c > 100", ""),
    ("", "name = 'SKIP'"),
    ("price < 5", "price > 50"),
];
const DELETE_EXPR: &str = "price BETWEEN 10 AND 20 AND note IS NOT NULL";

fn task() -> String {
    let mut rules = format!(
        "  ins:\n    schema: \"app\"\n    table: \"t\"\n    insert-value-expr: \"{INSERT_EXPR}\"\n  del:\n    schema: \"app\"\n    table: \"t\"\n    delete-value-expr: \"{DELETE_EXPR}\"\n"
    );
    let mut names = vec!["ins".to_string(), "del".to_string()];
    for (i, (old, new)) in UPDATE_EXPRS.iter().enumerate() {
        rules.push_str(&format!(
            "  upd{i}:\n    schema: \"app\"\n    table: \"t\"\n"
        ));
        if !old.is_empty() {
            rules.push_str(&format!("    update-old-value-expr: \"{old}\"\n"));
        }
        if !new.is_empty() {
            rules.push_str(&format!("    update-new-value-expr: \"{new}\"\n"));
        }
        names.push(format!("upd{i}"));
    }
    let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "name: exprs\ntask-mode: all\ntimezone: \"+08:00\"\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n    expression-filters: [{}]\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\nexpression-filter:\n{rules}",
        names.join(", ")
    )
}

const CREATE: &str = "CREATE TABLE app.t (
    id INT PRIMARY KEY, c INT, name VARCHAR(20), price DECIMAL(10,2),
    ts TIMESTAMP NULL DEFAULT NULL, note VARCHAR(20)
) DEFAULT CHARSET=utf8mb4";

/// A generated row: `c`, names some of which start with `X`, prices
/// around the rules' bounds, TIMESTAMPs on both sides of midnight
/// 2024-06-01 in +08:00 (and of the same instant's UTC midnight), NULLs.
fn row(id: i64) -> String {
    let c = (id * 7) % 50;
    let name = if id % 5 == 0 {
        format!("'X-{id}'")
    } else {
        format!("'n-{id}'")
    };
    let price = format!("{}.50", (id * 13) % 40);
    let k = id % 60;
    let ts = if id % 11 == 0 {
        "NULL".to_string()
    } else {
        format!("'2024-05-31 12:00:00' + INTERVAL {} MINUTE", k * 20)
    };
    let note = if id % 4 == 0 {
        "NULL".to_string()
    } else {
        format!("'note {id}'")
    };
    format!("({id}, {c}, {name}, {price}, {ts}, {note})")
}

/// A session on the upstream in the task's timezone.
async fn session(server: &MariaDb) -> mysql_async::Conn {
    let mut conn = server.conn().await.expect("conn");
    conn.query_drop("SET NAMES utf8mb4, time_zone = '+08:00'")
        .await
        .expect("session");
    conn
}

/// `(expr) <=> TRUE` of each of `exprs` (empty: TRUE) for the rows of
/// `app.t` with ids in `ids`, by id.
async fn truths(
    conn: &mut mysql_async::Conn,
    exprs: &[&str],
    ids: &BTreeSet<i64>,
) -> BTreeMap<i64, Vec<bool>> {
    let cols: Vec<String> = exprs
        .iter()
        .map(|e| {
            if e.is_empty() {
                "1".to_string()
            } else {
                format!("(({e}) <=> TRUE)")
            }
        })
        .collect();
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = format!(
        "SELECT id, {} FROM app.t WHERE id IN ({})",
        cols.join(", "),
        list.join(", ")
    );
    let rows: Vec<mysql_async::Row> = conn.query(&sql).await.expect("truths");
    rows.into_iter()
        .map(|r| {
            let id: i64 = r.get(0).expect("id");
            let t = (1..=exprs.len())
                .map(|i| r.get::<i64, _>(i).expect("truth") == 1)
                .collect();
            (id, t)
        })
        .collect()
}

/// What the test expects downstream, and how many changes of each kind
/// were dropped and kept.
#[derive(Default)]
struct Expect {
    /// Rows the downstream holds as the upstream does (an update to them
    /// was never dropped): the only ones later changes touch.
    same: BTreeSet<i64>,
    dropped: BTreeMap<&'static str, usize>,
    kept: BTreeMap<&'static str, usize>,
}

impl Expect {
    fn count(&mut self, kind: &'static str, dropped: bool) {
        let counts = if dropped {
            &mut self.dropped
        } else {
            &mut self.kept
        };
        *counts.entry(kind).or_default() += 1;
    }

    async fn insert(&mut self, conn: &mut mysql_async::Conn, ids: std::ops::RangeInclusive<i64>) {
        let rows: Vec<String> = ids.clone().map(row).collect();
        conn.query_drop(format!("INSERT INTO app.t VALUES {}", rows.join(", ")))
            .await
            .expect("insert");
        let ids: BTreeSet<i64> = ids.collect();
        for (id, t) in truths(conn, &[INSERT_EXPR], &ids).await {
            self.count("insert", t[0]);
            if !t[0] {
                conn.query_drop(format!(
                    "INSERT INTO expect.t SELECT * FROM app.t WHERE id = {id}"
                ))
                .await
                .expect("expect");
                self.same.insert(id);
            }
        }
    }

    async fn update(&mut self, conn: &mut mysql_async::Conn, set: &str, ids: &BTreeSet<i64>) {
        let olds: Vec<&str> = UPDATE_EXPRS.iter().map(|(o, _)| *o).collect();
        let news: Vec<&str> = UPDATE_EXPRS.iter().map(|(_, n)| *n).collect();
        let before = truths(conn, &olds, ids).await;
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        conn.query_drop(format!(
            "UPDATE app.t SET {set} WHERE id IN ({})",
            list.join(", ")
        ))
        .await
        .expect("update");
        let after = truths(conn, &news, ids).await;
        for id in ids {
            let (Some(old), Some(new)) = (before.get(id), after.get(id)) else {
                panic!("row {id} is gone");
            };
            let dropped = old.iter().zip(new).any(|(o, n)| *o && *n);
            self.count("update", dropped);
            if dropped {
                self.same.remove(id);
            } else {
                conn.query_drop(format!(
                    "REPLACE INTO expect.t SELECT * FROM app.t WHERE id = {id}"
                ))
                .await
                .expect("expect");
            }
        }
    }

    async fn delete(&mut self, conn: &mut mysql_async::Conn, ids: &BTreeSet<i64>) {
        let before = truths(conn, &[DELETE_EXPR], ids).await;
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        conn.query_drop(format!(
            "DELETE FROM app.t WHERE id IN ({})",
            list.join(", ")
        ))
        .await
        .expect("delete");
        for (id, t) in before {
            self.count("delete", t[0]);
            self.same.remove(&id);
            if !t[0] {
                conn.query_drop(format!("DELETE FROM expect.t WHERE id = {id}"))
                    .await
                    .expect("expect");
            }
        }
    }

    /// Every `step`-th row of those the downstream holds as upstream.
    fn pick(&self, step: usize, offset: usize) -> BTreeSet<i64> {
        self.same
            .iter()
            .skip(offset)
            .step_by(step)
            .copied()
            .collect()
    }
}

/// Waits until the downstream's `app.t` is the upstream's `expect.t`,
/// row for row.
async fn wait_expected(c: &OneSource) {
    dm_tests::wait_until(
        "downstream app.t equals expect.t",
        DEADLINE,
        Duration::from_millis(100),
        || async move {
            let want = query_rows(&c.upstream, "SELECT * FROM expect.t ORDER BY id").await;
            let got = query_rows(&c.downstream, "SELECT * FROM app.t ORDER BY id").await;
            if want == got && !want.is_empty() {
                return dm_tests::Check::Ready(());
            }
            let status = dmctl(&c.addrs, &["query-status", "exprs"]).await.ok();
            dm_tests::Check::Pending(format!(
                "want {} rows, got {}: {:?}\nvs {:?}\nstatus {}",
                want.len(),
                got.len(),
                want.first(),
                got.first(),
                status.map(|s| s.to_string()).unwrap_or_default()
            ))
        },
    )
    .await
    .expect("downstream as expected");
    c.wait_running("exprs", DEADLINE).await.expect("running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_the_server_selects_are_dropped_in_the_copy_and_the_sync() {
    let c = OneSource::start(
        1,
        &["CREATE DATABASE app", CREATE, "CREATE DATABASE expect"],
    )
    .await
    .expect("cluster");
    let mut conn = session(&c.upstream).await;
    conn.query_drop("CREATE TABLE expect.t LIKE app.t")
        .await
        .expect("expect table");
    let rows: Vec<String> = (1..=60).map(row).collect();
    conn.query_drop(format!("INSERT INTO app.t VALUES {}", rows.join(", ")))
        .await
        .expect("rows");
    conn.query_drop(format!(
        "INSERT INTO expect.t SELECT * FROM app.t WHERE NOT (({INSERT_EXPR}) <=> TRUE)"
    ))
    .await
    .expect("expected copy");
    let copied: i64 = conn
        .query_first("SELECT COUNT(*) FROM expect.t")
        .await
        .expect("count")
        .expect("a count");
    assert!(copied > 5 && copied < 55, "{copied} of 60 rows copied");

    // A function the evaluator does not have: check-task names it.
    let bad = task().replace(
        "insert-value-expr: \"c % 3 = 0",
        "insert-value-expr: \"SLEEP(1) = 0 OR c % 3 = 0",
    );
    let bad = bad.replace("PORT", &c.downstream.port().to_string());
    let file = c.dir.path().join("bad.yaml");
    std::fs::write(&file, bad).expect("task file");
    let answer = dmctl(&c.addrs, &["check-task", &file.display().to_string()])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");
    let text = answer.to_string();
    assert!(
        text.contains(
            "expression-filter.ins: insert-value-expr: function SLEEP is not supported by expression filters (supported: IF, IFNULL, COALESCE"
        ),
        "{text}"
    );

    c.start_task("exprs", &task()).await.expect("started");
    wait_syncing(&c.addrs, "exprs", DEADLINE)
        .await
        .expect("sync unit");
    let mut expect = Expect::default();
    let ids: BTreeSet<i64> = (1..=60).collect();
    let kept: Vec<(i64, Vec<bool>)> = truths(&mut conn, &[INSERT_EXPR], &ids)
        .await
        .into_iter()
        .collect();
    expect.same = kept
        .into_iter()
        .filter(|(_, t)| !t[0])
        .map(|(id, _)| id)
        .collect();
    // The copy: exactly the rows the server does not select.
    wait_expected(&c).await;
    // The insert expression went into the copy's query: the plan's
    // estimate counted the rows kept, not the table's.
    let estimate = dm_tests::scenario::query_rows(
        &c.downstream,
        "SELECT SUM(estimate_rows) FROM dm_meta.exprs_copy_chunk WHERE cp_table = 't'",
    )
    .await;
    assert_eq!(
        estimate,
        vec![vec![mysql_async::Value::Bytes(
            copied.to_string().into_bytes()
        )]],
        "the copy's estimate counts the {copied} rows kept"
    );

    // The sync: inserts in one multi-row event each.
    expect.insert(&mut conn, 101..=140).await;
    expect.insert(&mut conn, 141..=160).await;
    // Updates: `c` past 100 (kept, old c <= 100), then again (dropped by
    // its old value); names to 'skip' (dropped by the new value, case
    // folded); deletes; then prices up by 60 (dropped where the old price
    // was below 5).
    let first = expect.pick(3, 0);
    expect.update(&mut conn, "c = c + 200", &first).await;
    let again = expect.pick(2, 0);
    expect
        .update(&mut conn, "c = c + 1, note = 'again'", &again)
        .await;
    let names = expect.pick(4, 1);
    expect.update(&mut conn, "name = 'skip'", &names).await;
    // Deletes of rows the downstream holds as upstream.
    let gone = expect.pick(2, 1);
    expect.delete(&mut conn, &gone).await;
    let prices = expect.pick(1, 0);
    expect
        .update(&mut conn, "price = price + 60", &prices)
        .await;
    expect.insert(&mut conn, 161..=170).await;
    wait_expected(&c).await;

    // check-diff says why the table differs instead of listing its rows.
    let answer = dmctl(&c.addrs, &["check-diff", "exprs"])
        .await
        .expect("check-diff");
    let table = answer["tables"]
        .as_array()
        .and_then(|tables| tables.iter().find(|t| t["target"] == "`app`.`t`"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        table["error"],
        "the expression-filter rules drop rows of mysql1:`app`.`t`, so upstream and downstream rows differ by design; not comparable",
        "{answer}"
    );

    for kind in ["insert", "update", "delete"] {
        let (d, k) = (
            expect.dropped.get(kind).copied().unwrap_or(0),
            expect.kept.get(kind).copied().unwrap_or(0),
        );
        println!("{kind}: {d} dropped, {k} applied");
        assert!(d > 0 && k > 0, "{kind}: {d} dropped, {k} applied");
    }
}
