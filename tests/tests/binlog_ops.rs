//! `binlog skip|replace|...` over real processes: a DDL the downstream
//! rejects pauses the subtask with the statement, the error and where the
//! event starts (DM's `startLocation`); an operation on it is held by the
//! masters (a SIGKILL of the leader between the command and `resume-task`
//! loses nothing), unblocks the subtask, and applies once, also when the
//! worker that applied it is SIGKILLed afterwards and another takes over.

use std::time::Duration;

use dm_tests::cluster::{
    bound_worker, dmctl, subtasks_of, wait_bound, wait_syncing, wait_task_stage,
};
use dm_tests::scenario::{query_rows, OneSource};
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, HarnessError, RowMetadata};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: ops\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

const ROWS: &str = "SELECT id, v, CAST(c AS CHAR) FROM app.t ORDER BY id";

async fn ctl(c: &OneSource, args: &[&str]) -> Value {
    dmctl(&c.addrs, args).await.expect("dmctl answers")
}

/// The one subtask's status.
async fn status(addrs: &str) -> Result<Value, HarnessError> {
    let answer = dmctl(addrs, &["query-status", "ops"]).await?;
    subtasks_of(&answer, "ops")
        .first()
        .map(|(_, s)| (*s).clone())
        .ok_or_else(|| HarnessError::Task(format!("no subtask: {answer}")))
}

/// Waits for the subtask to pause; its error message.
async fn paused(c: &OneSource) -> String {
    let addrs = c.addrs.as_str();
    wait_until("paused", DEADLINE, Duration::from_millis(50), || async {
        match status(addrs).await {
            Ok(s) if s["stage"] == "Paused" => Check::Ready(s["result"].to_string()),
            Ok(s) => Check::Pending(s.to_string()),
            Err(e) => Check::Pending(e.to_string()),
        }
    })
    .await
    .expect("a pause")
}

/// Where the upstream statement containing `text` starts: (file, pos).
async fn start_of(c: &OneSource, text: &str) -> (String, u64) {
    let mut conn = c.upstream.conn().await.expect("upstream");
    let events: Vec<(String, u64, String, u64, u64, String)> = conn
        .query("SHOW BINLOG EVENTS")
        .await
        .expect("binlog events");
    events
        .into_iter()
        .find(|e| e.2 == "Query" && e.5.contains(text))
        .map(|e| (e.0, e.1))
        .unwrap_or_else(|| panic!("no event with {text}"))
}

async fn column_type(c: &OneSource, column: &str) -> String {
    let mut conn = c.downstream.conn().await.expect("downstream");
    let t: Option<String> = conn
        .exec_first(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't' AND COLUMN_NAME = ?",
            (column,),
        )
        .await
        .expect("column type");
    t.unwrap_or_default()
}

/// `app.t` (one row, and `extra` tables) copied by task `ops` on
/// `workers` workers, syncing, with a column `c` added downstream only: the
/// upstream's `ADD COLUMN c` will be rejected there.
async fn syncing_with_column_c_downstream(workers: usize, extra: &[&str]) -> OneSource {
    let mut sql = vec![
        "CREATE DATABASE app",
        "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
    ];
    sql.extend_from_slice(extra);
    sql.push("INSERT INTO app.t VALUES (1, 'one')");
    let c = OneSource::start(workers, &sql).await.expect("cluster");
    c.start_task("ops", TASK).await.expect("started");
    wait_syncing(&c.addrs, "ops", DEADLINE)
        .await
        .expect("sync unit");
    c.wait_same_unpaused("ops", "SELECT id, v FROM app.t", DEADLINE)
        .await
        .expect("copied");
    run_sql(
        &c.downstream,
        &["ALTER TABLE app.t ADD COLUMN c VARCHAR(10)"],
    )
    .await
    .expect("downstream column");
    c
}

/// A subtask paused on `ALTER TABLE app.t ADD COLUMN c INT`: the
/// downstream already has `c` as VARCHAR(10). Returns the cluster and the
/// paused event's start.
async fn paused_on_add_column() -> (OneSource, String) {
    let c = syncing_with_column_c_downstream(2, &[]).await;

    // Nothing to act on yet: DM's answer.
    let answer = ctl(&c, &["binlog", "skip", "ops"]).await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["sources"][0]["result"], false, "{answer}");
    assert_eq!(
        answer["sources"][0]["msg"], "source 'mysql1' has no error",
        "{answer}"
    );

    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD COLUMN c INT",
            "INSERT INTO app.t VALUES (2, 'two', 7)",
        ],
    )
    .await
    .expect("upstream DDL");
    let message = paused(&c).await;
    let (file, pos) = start_of(&c, "ADD COLUMN c INT").await;
    assert!(
        message.contains("ADD COLUMN c INT")
            && message.contains("column `c` exists downstream with another definition"),
        "{message}"
    );
    assert!(
        message.contains(&format!("startLocation: [position: ({file}, {pos})")),
        "{message} (the statement starts at ({file}, {pos}))"
    );
    assert_eq!(
        query_rows(&c.downstream, "SELECT COUNT(*) FROM app.t").await,
        query_rows(&c.upstream, "SELECT 1").await,
        "nothing after the DDL applied"
    );
    (c, format!("{file}:{pos}"))
}

/// SIGKILLs the leader, then resumes through the others.
async fn kill_leader_and_resume(c: &mut OneSource) {
    let leader = c.masters.leader(DEADLINE).await.expect("leader");
    let i = c.masters.index_of(&leader).expect("leader index");
    c.masters.kill(i).expect("kill leader");
    let resumed = wait_until(
        "resume-task",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            match dmctl(&c.addrs, &["resume-task", "ops"]).await {
                Ok(a) if a["result"] == true => Check::Ready(a),
                Ok(a) => Check::Pending(a.to_string()),
                Err(e) => Check::Pending(e.to_string()),
            }
        },
    )
    .await
    .expect("resumed");
    assert_eq!(resumed["result"], true, "{resumed}");
}

/// SIGKILLs the worker bound to the source; waits for the other.
async fn kill_bound_worker(c: &mut OneSource) {
    let bound = bound_worker(&c.addrs, "mysql1")
        .await
        .expect("bound")
        .expect("a worker");
    let i = c.workers.index_of(&bound).expect("worker index");
    c.workers.kill(i).expect("kill worker");
    wait_bound(&c.addrs, "mysql1", Some(&bound), DEADLINE)
        .await
        .expect("rebound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skip_passes_a_rejected_ddl_once_across_leader_and_worker_kills() {
    let (mut c, _at) = paused_on_add_column().await;

    let answer = ctl(&c, &["binlog", "skip", "ops"]).await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    assert_eq!(answer["sources"][0]["source"], "mysql1", "{answer}");
    kill_leader_and_resume(&mut c).await;
    // A new leader may show the last status it knows (paused) until the
    // worker's next report: wait for the rows, then for Running.
    c.wait_same("ops", ROWS, DEADLINE)
        .await
        .expect("rows after the DDL");
    running_again(&c).await;
    // Skipped: the downstream column is the one it had.
    assert_eq!(column_type(&c, "c").await, "varchar(10)");

    kill_bound_worker(&mut c).await;
    run_sql(&c.upstream, &["INSERT INTO app.t VALUES (3, 'three', 8)"])
        .await
        .expect("more rows");
    c.wait_same_unpaused("ops", ROWS, DEADLINE)
        .await
        .expect("rows on the next worker");
    assert_eq!(query_rows(&c.downstream, ROWS).await.len(), 3);
    assert_eq!(column_type(&c, "c").await, "varchar(10)");
    // Done: nothing is held any more.
    wait_until(
        "nothing held",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let answer = dmctl(&c.addrs, &["binlog", "list", "ops"]).await.ok()?;
            (answer["sources"][0]["msg"] == "[]").then_some(())
        },
    )
    .await
    .expect("operations dropped");
}

/// The names and columns of the downstream table's indexes.
async fn indexes(c: &OneSource) -> Vec<(String, String)> {
    let mut conn = c.downstream.conn().await.expect("downstream");
    conn.query(
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 't' ORDER BY INDEX_NAME, SEQ_IN_INDEX",
    )
    .await
    .expect("indexes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_runs_the_corrected_statement_once_across_leader_and_worker_kills() {
    let mut c = OneSource::start(
        2,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO app.t VALUES (1, 'one')",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("ops", TASK).await.expect("started");
    wait_syncing(&c.addrs, "ops", DEADLINE)
        .await
        .expect("sync unit");
    c.wait_same_unpaused("ops", "SELECT id, v FROM app.t", DEADLINE)
        .await
        .expect("copied");
    // The downstream has an index `ix` of its own, on another column.
    run_sql(&c.downstream, &["ALTER TABLE app.t ADD INDEX ix (id, v)"])
        .await
        .expect("downstream index");
    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD COLUMN c INT, ADD INDEX ix (v)",
            "INSERT INTO app.t VALUES (2, 'two', 7)",
        ],
    )
    .await
    .expect("upstream DDL");
    let message = paused(&c).await;
    let (file, pos) = start_of(&c, "ADD INDEX ix (v)").await;
    assert!(
        message.contains(&format!("startLocation: [position: ({file}, {pos})")),
        "{message} (the statement starts at ({file}, {pos}))"
    );

    let answer = ctl(
        &c,
        &[
            "binlog",
            "replace",
            "ops",
            "ALTER TABLE app.t ADD COLUMN c INT;",
            "ALTER TABLE app.t ADD INDEX ix_v (v)",
        ],
    )
    .await;
    assert_eq!(answer["result"], true, "{answer}");
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    kill_leader_and_resume(&mut c).await;
    c.wait_same("ops", ROWS, DEADLINE)
        .await
        .expect("rows after the DDL");
    running_again(&c).await;
    let want = vec![
        ("ix".to_string(), "id".to_string()),
        ("ix".into(), "v".into()),
        ("ix_v".into(), "v".into()),
        ("PRIMARY".into(), "id".into()),
    ];
    assert_eq!(indexes(&c).await, want);
    assert_eq!(column_type(&c, "c").await, "int(11)");

    kill_bound_worker(&mut c).await;
    run_sql(&c.upstream, &["INSERT INTO app.t VALUES (3, 'three', 8)"])
        .await
        .expect("more rows");
    c.wait_same("ops", ROWS, DEADLINE)
        .await
        .expect("rows on the next worker");
    running_again(&c).await;
    assert_eq!(indexes(&c).await, want, "the replacement ran once");
    wait_until(
        "nothing held",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let answer = dmctl(&c.addrs, &["binlog", "list", "ops"]).await.ok()?;
            (answer["sources"][0]["msg"] == "[]").then_some(())
        },
    )
    .await
    .expect("operations dropped");
}

/// The sequence number of the upstream's last GTID (domain 0).
async fn last_gtid_seq(c: &OneSource) -> u64 {
    let mut conn = c.upstream.conn().await.expect("upstream");
    let pos: Option<String> = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .expect("gtid");
    pos.and_then(|p| p.rsplit('-').next().and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("a GTID position"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inject_revert_list_ahead_of_the_stream_and_handle_error() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO app.t VALUES (1, 'one')",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("ops", TASK).await.expect("started");
    wait_syncing(&c.addrs, "ops", DEADLINE)
        .await
        .expect("sync unit");
    c.wait_same_unpaused("ops", "SELECT id, v FROM app.t", DEADLINE)
        .await
        .expect("copied");

    // Operations on transactions not written yet, by GTID. The subtask is
    // paused meanwhile, so that its next run starts with them (a running
    // one gets them with its worker's next heartbeat).
    assert_eq!(ctl(&c, &["pause-task", "ops"]).await["result"], true);
    wait_task_stage(&c.addrs, "ops", "Paused", DEADLINE)
        .await
        .expect("paused");
    let next = last_gtid_seq(&c).await + 1;
    let inject_at = format!("0-1-{next}");
    let skip_at = format!("0-1-{}", next + 1);
    let answer = ctl(
        &c,
        &[
            "binlog",
            "inject",
            "ops",
            "-b",
            &inject_at,
            "ALTER TABLE app.t ADD INDEX ix_inj (v)",
        ],
    )
    .await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    let answer = ctl(&c, &["binlog", "skip", "ops", "-b", &skip_at]).await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    let listed = ctl(&c, &["binlog", "list", "ops"]).await;
    let held: Value = serde_json::from_str(listed["sources"][0]["msg"].as_str().unwrap_or("null"))
        .expect("list as JSON");
    let held: Vec<(String, String)> = held
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|op| (op["op"].to_string(), op["binlogPos"].to_string()))
        .collect();
    assert_eq!(
        held,
        [
            ("\"inject\"".to_string(), format!("\"(gtid {inject_at})\"")),
            ("\"skip\"".to_string(), format!("\"(gtid {skip_at})\"")),
        ]
    );
    // A file position that no event starts at: passed, dropped with a
    // warning.
    let (file, end) = c.upstream.binlog_end().await.expect("binlog end");
    let nowhere = format!("{file}:{}", end + 1);
    let answer = ctl(&c, &["binlog", "skip", "ops", "-b", &nowhere]).await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    // revert: once, then DM's answer.
    let answer = ctl(&c, &["binlog", "revert", "ops", "-b", &skip_at]).await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    let answer = ctl(&c, &["binlog", "revert", "ops", "-b", &skip_at]).await;
    assert_eq!(answer["sources"][0]["result"], false, "{answer}");
    assert_eq!(
        answer["sources"][0]["msg"],
        format!("error operator not exist, position: (gtid {skip_at})"),
        "{answer}"
    );

    // The injected statement runs before the event, the event as usual;
    // the reverted skip does not apply.
    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD COLUMN c INT",
            "ALTER TABLE app.t ADD COLUMN e INT",
            "INSERT INTO app.t VALUES (2, 'two', 5, 6)",
        ],
    )
    .await
    .expect("upstream DDL");
    assert_eq!(ctl(&c, &["resume-task", "ops"]).await["result"], true);
    c.wait_same("ops", "SELECT id, v, c, e FROM app.t ORDER BY id", DEADLINE)
        .await
        .expect("rows after the DDL");
    running_again(&c).await;
    assert_eq!(
        indexes(&c).await,
        [
            ("ix_inj".to_string(), "v".to_string()),
            ("PRIMARY".into(), "id".into())
        ]
    );
    wait_until(
        "nothing held",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let answer = dmctl(&c.addrs, &["binlog", "list", "ops"]).await.ok()?;
            (answer["sources"][0]["msg"] == "[]").then_some(())
        },
    )
    .await
    .expect("operations dropped");
    let warnings = status(&c.addrs).await.expect("status")["sync"]["warnings"].to_string();
    assert!(
        warnings.contains(&format!(
            "at ({file}, {}) was not applied: no event of this subtask starts at its position",
            end + 1
        )),
        "{warnings}"
    );

    // DM 2.0.7's handle-error, with a file position from the error.
    run_sql(
        &c.downstream,
        &["ALTER TABLE app.t ADD COLUMN d VARCHAR(10)"],
    )
    .await
    .expect("downstream column");
    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD COLUMN d INT",
            "INSERT INTO app.t VALUES (3, 'three', 7, 8, 9)",
        ],
    )
    .await
    .expect("upstream DDL");
    let message = paused(&c).await;
    let (file, pos) = start_of(&c, "ADD COLUMN d INT").await;
    assert!(
        message.contains(&format!("startLocation: [position: ({file}, {pos})")),
        "{message}"
    );
    let answer = ctl(&c, &["handle-error", "ops", "skip", "x"]).await;
    assert_eq!(
        answer["msg"], "handle-error: replace-sqls can not be used for 'skip/revert' operation",
        "{answer}"
    );
    let relay_form = format!(
        "{}|000001.{}:{pos}",
        "mysql-bin",
        file.rsplit('.').next().unwrap_or_default()
    );
    let answer = ctl(&c, &["handle-error", "ops", "-b", &relay_form, "skip"]).await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    // -b names the paused event: the subtask resumes by itself.
    c.wait_same(
        "ops",
        "SELECT id, v, c, e, CAST(d AS CHAR) FROM app.t ORDER BY id",
        DEADLINE,
    )
    .await
    .expect("rows after the skipped DDL");
    running_again(&c).await;
    assert_eq!(column_type(&c, "d").await, "varchar(10)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replacement_interrupted_by_an_error_does_not_run_its_done_statements_again() {
    let c =
        syncing_with_column_c_downstream(1, &["CREATE TABLE app.x (id INT PRIMARY KEY, a INT)"])
            .await;
    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD COLUMN c INT",
            "INSERT INTO app.t VALUES (2, 'two', 7)",
        ],
    )
    .await
    .expect("upstream DDL");
    paused(&c).await;
    // The first statement runs (a column rename cannot run twice); the second
    // fails on the same downstream column and pauses the subtask again.
    let answer = ctl(
        &c,
        &[
            "binlog",
            "replace",
            "ops",
            "ALTER TABLE app.x RENAME COLUMN a TO b; ALTER TABLE app.t ADD COLUMN c INT COMMENT 'replaced'",
        ],
    )
    .await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    let addrs = c.addrs.as_str();
    let second = wait_until(
        "paused on the second statement",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            match status(addrs).await {
                Ok(s)
                    if s["stage"] == "Paused"
                        && s["result"].to_string().contains("RENAME COLUMN") =>
                {
                    Check::Abort(HarnessError::Task(format!("the rename failed: {s}")))
                }
                Ok(s) if s["stage"] == "Paused" && s["result"].to_string().contains("COMMENT") => {
                    Check::Ready(s["result"].to_string())
                }
                Ok(s) => Check::Pending(s.to_string()),
                Err(e) => Check::Pending(e.to_string()),
            }
        },
    )
    .await
    .expect("the second statement pauses");
    assert!(second.contains("startLocation"), "{second}");
    let x_columns = || async {
        query_rows(
            &c.downstream,
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'x' ORDER BY ORDINAL_POSITION",
        )
        .await
    };
    let renamed = query_rows(&c.downstream, "SELECT 'id' UNION ALL SELECT 'b'").await;
    assert_eq!(x_columns().await, renamed, "the first statement ran");

    // The operator drops the stray column; the replacement goes on with
    // its second statement only.
    run_sql(&c.downstream, &["ALTER TABLE app.t DROP COLUMN c"])
        .await
        .expect("downstream fixed");
    assert_eq!(ctl(&c, &["resume-task", "ops"]).await["result"], true);
    c.wait_same("ops", ROWS, DEADLINE)
        .await
        .expect("rows after the DDL");
    running_again(&c).await;
    assert_eq!(column_type(&c, "c").await, "int(11)");
    assert_eq!(x_columns().await, renamed);
}

/// Waits for a pause whose status contains `text`.
async fn paused_with(c: &OneSource, text: &str) -> String {
    let addrs = c.addrs.as_str();
    wait_until(
        &format!("paused on {text}"),
        DEADLINE,
        Duration::from_millis(50),
        || async {
            match status(addrs).await {
                Ok(s) if s["stage"] == "Paused" && s["result"].to_string().contains(text) => {
                    Check::Ready(s["result"].to_string())
                }
                Ok(s) => Check::Pending(s.to_string()),
                Err(e) => Check::Pending(e.to_string()),
            }
        },
    )
    .await
    .expect("a pause")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ddl_the_parser_cannot_read_is_skipped_or_replaced() {
    // Rows without column names: the tracker must follow every statement
    // on the table (with names, it would let it go and decode by name).
    let c = OneSource::start_logging(
        1,
        RowMetadata::Minimal,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20), c INT)",
            "INSERT INTO app.t VALUES (1, 'one', 1)",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("ops", TASK).await.expect("started");
    wait_syncing(&c.addrs, "ops", DEADLINE)
        .await
        .expect("sync unit");
    c.wait_same_unpaused("ops", ROWS, DEADLINE)
        .await
        .expect("copied");

    // MariaDB's ignored index: a clause sqlparser does not know.
    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD INDEX ixd (v) IGNORED",
            "INSERT INTO app.t VALUES (2, 'two', 2)",
        ],
    )
    .await
    .expect("upstream DDL");
    let message = paused_with(&c, "ADD INDEX ixd").await;
    let (file, pos) = start_of(&c, "ADD INDEX ixd").await;
    assert!(
        message.contains(&format!("startLocation: [position: ({file}, {pos})")),
        "{message}"
    );
    let answer = ctl(&c, &["binlog", "skip", "ops"]).await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    c.wait_same("ops", ROWS, DEADLINE)
        .await
        .expect("rows after the skipped DDL");
    running_again(&c).await;
    assert_eq!(
        indexes(&c).await,
        [("PRIMARY".to_string(), "id".to_string())]
    );

    run_sql(
        &c.upstream,
        &[
            "ALTER TABLE app.t ADD INDEX ixe (c) IGNORED",
            "INSERT INTO app.t VALUES (3, 'three', 3)",
        ],
    )
    .await
    .expect("upstream DDL");
    paused_with(&c, "ADD INDEX ixe").await;
    let answer = ctl(
        &c,
        &[
            "binlog",
            "replace",
            "ops",
            "ALTER TABLE app.t ADD INDEX ixe (c)",
        ],
    )
    .await;
    assert_eq!(answer["sources"][0]["result"], true, "{answer}");
    c.wait_same("ops", ROWS, DEADLINE)
        .await
        .expect("rows after the replaced DDL");
    running_again(&c).await;
    assert_eq!(
        indexes(&c).await,
        [
            ("ixe".to_string(), "c".to_string()),
            ("PRIMARY".into(), "id".into())
        ]
    );
}

/// Waits until the subtask reports Running without an error (a report
/// from before the operation may still show the pause for a heartbeat).
async fn running_again(c: &OneSource) {
    let addrs = c.addrs.as_str();
    wait_until(
        "running again",
        DEADLINE,
        Duration::from_millis(50),
        || async {
            match status(addrs).await {
                Ok(s) if s["stage"] == "Running" && s["result"].is_null() => Check::Ready(()),
                Ok(s) => Check::Pending(s.to_string()),
                Err(e) => Check::Pending(e.to_string()),
            }
        },
    )
    .await
    .expect("running");
}
