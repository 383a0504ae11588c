//! An upstream server restarts (cleanly, and by SIGKILL) under write load
//! while a task replicates it: the server opens a new binlog file, and the
//! sync must follow it there. Afterwards the downstream equals the
//! upstream row for row, every checkpoint names a binlog file the upstream
//! lists, and a worker restarted on those checkpoints resumes from them.
//! Once by file position, once from a GTID (`meta: binlog-gtid`).

use std::time::Duration;

use dm_tests::cluster::{subtasks_of, wait_syncing};
use dm_tests::scenario::{OneSource, WriteLoad, LOAD_TABLE};
use dm_tests::{wait_until, Check, Restart};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

fn task(name: &str, mode: &str, meta: &str) -> String {
    format!(
        "name: {name}\ntask-mode: {mode}\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\n{meta}block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n"
    )
}

const SETUP: &[&str] = &[
    "CREATE DATABASE app",
    LOAD_TABLE,
    "INSERT INTO app.t (v, note) SELECT 0, CONCAT('seed ', seq) FROM app.seq_1_to_1000",
];

/// Writes under load, restarts the upstream `how`, writes again, and waits
/// until the downstream has every row.
async fn restart_under_load(c: &mut OneSource, task: &str, how: Restart) {
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(100, DEADLINE).await.expect("writes before");
    c.upstream.restart(how).await.expect("restart");
    // The load's connection died with the server: its error is expected.
    let _ = load.stop().await;
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(200, DEADLINE).await.expect("writes after");
    load.stop().await.expect("load");
    c.wait_load_in_sync(task, DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("after a {how:?} restart: {e}"));
}

/// The upstream's binlog files.
async fn binlog_files(c: &OneSource) -> Vec<String> {
    let mut conn = c.upstream.conn().await.expect("conn");
    let rows: Vec<(String, u64)> = conn.query("SHOW BINARY LOGS").await.expect("logs");
    rows.into_iter().map(|(name, _)| name).collect()
}

/// Waits until every checkpoint of `task` is in the newest binlog file
/// (the sync followed the rotation), and checks each names a file the
/// upstream lists.
async fn checkpoints_in_newest_file(c: &OneSource, task: &str) {
    let files = binlog_files(c).await;
    let newest = files.last().cloned().expect("a binlog file");
    let table = format!("dm_meta.`{task}_checkpoint`");
    wait_until(
        "every checkpoint in the newest binlog file",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let (files, newest, table) = (&files, &newest, &table);
            async move {
                let mut conn = c.downstream.conn().await.expect("conn");
                let names: Vec<String> = conn
                    .query(format!("SELECT binlog_name FROM {table}"))
                    .await
                    .unwrap_or_default();
                if let Some(bad) = names.iter().find(|n| !files.contains(n)) {
                    panic!("checkpoint names `{bad}`, a file the upstream never listed: {files:?}");
                }
                if !names.is_empty() && names.iter().all(|n| n == newest) {
                    Check::Ready(())
                } else {
                    Check::Pending(format!("checkpoints {names:?}, newest file {newest}"))
                }
            }
        },
    )
    .await
    .expect("checkpoints");
}

/// `query-status` says the subtask replicates, without an error, and its
/// `masterBinlog` names the upstream's newest file.
async fn status_follows_newest_file(c: &OneSource, task: &str) {
    let newest = binlog_files(c).await.pop().expect("file");
    let answer = dm_tests::cluster::dmctl(&c.addrs, &["query-status", task])
        .await
        .expect("status");
    let subtasks = subtasks_of(&answer, task);
    let (_, status) = subtasks.first().expect("a subtask");
    assert_eq!(status["stage"], "Running", "{answer}");
    let sync = &status["sync"];
    assert!(
        sync["masterBinlog"]
            .as_str()
            .is_some_and(|b| b.contains(&newest)),
        "masterBinlog names {newest}: {answer}"
    );
    assert!(
        sync["syncerBinlog"]
            .as_str()
            .is_some_and(|b| b.contains(&newest)),
        "syncerBinlog names {newest}: {answer}"
    );
}

/// After the restarts, a new worker process resumes from the checkpoints
/// the restarts left (they must name real files).
async fn worker_restart_resumes(c: &mut OneSource, task: &str) {
    c.workers.kill(0).expect("kill worker");
    c.workers.spawn(0).expect("start worker");
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(100, DEADLINE).await.expect("writes");
    load.stop().await.expect("load");
    c.wait_load_in_sync(task, DEADLINE)
        .await
        .expect("in sync after the worker restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sync_follows_the_upstream_across_clean_and_crash_restarts() {
    let mut c = OneSource::start(1, SETUP).await.expect("cluster");
    c.start_task("restart", &task("restart", "all", ""))
        .await
        .expect("started");
    wait_syncing(&c.addrs, "restart", DEADLINE)
        .await
        .expect("syncing");
    for how in [Restart::Clean, Restart::Crash] {
        restart_under_load(&mut c, "restart", how).await;
        checkpoints_in_newest_file(&c, "restart").await;
    }
    status_follows_newest_file(&c, "restart").await;
    worker_restart_resumes(&mut c, "restart").await;
    checkpoints_in_newest_file(&c, "restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_started_from_a_gtid_follows_the_upstream_across_restarts() {
    let mut c = OneSource::start(1, SETUP).await.expect("cluster");
    // The downstream starts with the upstream's rows; the sync begins at
    // the GTID after them.
    let dump: Vec<(u32, i32, String)> = {
        let mut conn = c.upstream.conn().await.expect("conn");
        conn.query("SELECT id, v, note FROM app.t")
            .await
            .expect("rows")
    };
    let gtid: String = {
        let mut conn = c.upstream.conn().await.expect("conn");
        conn.query_first("SELECT @@gtid_binlog_pos")
            .await
            .expect("gtid")
            .expect("a gtid")
    };
    {
        let mut conn = c.downstream.conn().await.expect("conn");
        conn.query_drop("CREATE DATABASE app").await.expect("db");
        conn.query_drop(LOAD_TABLE).await.expect("table");
        conn.exec_batch("INSERT INTO app.t (id, v, note) VALUES (?, ?, ?)", dump)
            .await
            .expect("rows");
    }
    let meta = format!("    meta:\n      binlog-gtid: \"{gtid}\"\n");
    c.start_task("gtid", &task("gtid", "incremental", &meta))
        .await
        .expect("started");
    wait_syncing(&c.addrs, "gtid", DEADLINE)
        .await
        .expect("syncing");
    for how in [Restart::Clean, Restart::Crash] {
        restart_under_load(&mut c, "gtid", how).await;
        checkpoints_in_newest_file(&c, "gtid").await;
    }
    worker_restart_resumes(&mut c, "gtid").await;
    checkpoints_in_newest_file(&c, "gtid").await;
}

/// Sets every checkpoint of `task` to `file` (and `gtid`), as a faulty
/// earlier version could have left them.
async fn plant_checkpoints(c: &OneSource, task: &str, file: &str, gtid: Option<&str>) {
    let mut conn = c.downstream.conn().await.expect("conn");
    let gtid_set = gtid.map_or(String::new(), |g| format!(", binlog_gtid = '{g}'"));
    conn.query_drop(format!(
        "UPDATE dm_meta.`{task}_checkpoint` SET binlog_name = '{file}'{gtid_set}"
    ))
    .await
    .expect("plant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkpoint_in_a_file_the_upstream_lacks_resumes_by_gtid_or_says_how_to_recover() {
    let mut c = OneSource::start(1, SETUP).await.expect("cluster");
    c.start_task("bad", &task("bad", "all", ""))
        .await
        .expect("started");
    wait_syncing(&c.addrs, "bad", DEADLINE)
        .await
        .expect("syncing");
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(50, DEADLINE).await.expect("writes");
    load.stop().await.expect("load");
    c.wait_load_in_sync("bad", DEADLINE).await.expect("in sync");

    // A truncated file name with the checkpoint's GTID: resumed from the
    // GTID, nothing lost or applied twice (the rows must match exactly).
    c.workers.kill(0).expect("kill worker");
    plant_checkpoints(&c, "bad", "mysql-bin.00", None).await;
    c.workers.spawn(0).expect("start worker");
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(50, DEADLINE).await.expect("writes");
    load.stop().await.expect("load");
    c.wait_load_in_sync("bad", DEADLINE)
        .await
        .expect("resumed from the GTID");
    checkpoints_in_newest_file(&c, "bad").await;

    // Without a GTID there is no way to tell where to resume: the subtask
    // pauses, saying which file and what recovers it.
    c.workers.kill(0).expect("kill worker");
    plant_checkpoints(&c, "bad", "mysql-bin.00", Some("")).await;
    c.workers.spawn(0).expect("start worker");
    let answer = dm_tests::cluster::wait_task_stage(&c.addrs, "bad", "Paused", DEADLINE)
        .await
        .expect("paused");
    let text = answer.to_string();
    assert!(
        text.contains("mysql-bin.00") && text.contains("--remove-meta"),
        "the pause names the file and the way out: {answer}"
    );

    // That way out works: stop, then start from a position the upstream has.
    let answer = dm_tests::cluster::dmctl(&c.addrs, &["stop-task", "bad"])
        .await
        .expect("stop");
    assert_eq!(answer["result"], true, "{answer}");
    let (file, pos) = c.upstream.binlog_end().await.expect("binlog end");
    let meta = format!("    meta:\n      binlog-name: \"{file}\"\n      binlog-pos: {pos}\n");
    let yaml = task("bad", "incremental", &meta).replace("PORT", &c.downstream.port().to_string());
    let path = c.dir.path().join("bad-again.yaml");
    std::fs::write(&path, yaml).expect("write");
    let answer = dm_tests::cluster::dmctl(
        &c.addrs,
        &["start-task", &path.display().to_string(), "--remove-meta"],
    )
    .await
    .expect("start");
    assert_eq!(answer["result"], true, "{answer}");
    wait_syncing(&c.addrs, "bad", DEADLINE)
        .await
        .expect("syncing again");
    let load = WriteLoad::start(c.upstream.conn().await.expect("conn"));
    load.more(50, DEADLINE).await.expect("writes");
    load.stop().await.expect("load");
    c.wait_load_in_sync("bad", DEADLINE)
        .await
        .expect("in sync after the restart from a good position");
}
