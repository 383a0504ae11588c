//! Integration tests of the harness itself: real MariaDB servers come up configured as DM
//! needs them, hold data, and are stopped and removed afterwards, also after a panic.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dm_tests::{HarnessError, MariaDb, MariaDbOptions};
use mysql_async::prelude::*;

/// Whether a process with this pid exists. `ChildGuard` reaps its child, so a stopped server
/// leaves no zombie entry behind.
fn pid_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn assert_cleaned_up(pid: u32, dir: &Path) {
    assert!(!pid_exists(pid), "mariadbd pid {pid} still exists");
    assert!(!dir.exists(), "server dir {} still exists", dir.display());
}

#[tokio::test]
async fn two_servers_binlog_settings_data_roundtrip_and_cleanup() {
    let started = Instant::now();
    let servers = MariaDb::start_many(2, |i| match i {
        0 => MariaDbOptions::new(1),
        _ => MariaDbOptions::new(2).auto_increment(5, 2),
    })
    .await
    .unwrap();
    println!("started 2 servers concurrently in {:?}", started.elapsed());
    for server in &servers {
        println!(
            "server-id {} port {} pid {}: {:?}",
            server.server_id(),
            server.port(),
            server.pid(),
            server.timings()
        );
    }
    let [first, second] = <[MariaDb; 2]>::try_from(servers).unwrap();
    assert_ne!(first.port(), second.port());
    assert_ne!(first.dir(), second.dir());

    // Both are configured as DM upstreams must be.
    for (server, expected_id, (increment, offset)) in
        [(&first, 1u32, (1u32, 1u32)), (&second, 2, (5, 2))]
    {
        let mut conn = server.conn().await.unwrap();
        let row: (u32, u8, String, String) = conn
            .query_first("SELECT @@server_id, @@log_bin, @@binlog_format, @@binlog_row_metadata")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row, (expected_id, 1, "ROW".to_owned(), "FULL".to_owned()));
        let row: (String, u32, u32) = conn
            .query_first(
                "SELECT @@binlog_row_image, @@auto_increment_increment, @@auto_increment_offset",
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row, ("FULL".to_owned(), increment, offset));
        conn.disconnect().await.unwrap();
    }

    // Data written is read back row for row.
    let pool = first.pool();
    let mut conn = pool.get_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE harness_db").await.unwrap();
    conn.query_drop(
        "CREATE TABLE harness_db.t (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, score INT NULL)",
    )
    .await
    .unwrap();
    let rows: Vec<(i64, String, Option<i32>)> = vec![
        (1, "alpha".to_owned(), Some(10)),
        (2, "beta".to_owned(), None),
        (3, "gamma ünïcode".to_owned(), Some(-7)),
        (i64::MAX, "max".to_owned(), Some(i32::MIN)),
    ];
    conn.exec_batch(
        "INSERT INTO harness_db.t (id, name, score) VALUES (?, ?, ?)",
        rows.iter().map(|(id, name, score)| (id, name, score)),
    )
    .await
    .unwrap();
    let read: Vec<(i64, String, Option<i32>)> = conn
        .query("SELECT id, name, score FROM harness_db.t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(read, rows);
    drop(conn);
    pool.disconnect().await.unwrap();

    // The binlog is written where the harness says.
    let binlogs: Vec<PathBuf> = std::fs::read_dir(first.binlog_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(
        binlogs.iter().any(|p| p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("mysql-bin.0")),
        "{binlogs:?}"
    );

    // Auto-increment increment 5 offset 2 yields 2, 7, 12.
    let mut conn = second.conn().await.unwrap();
    conn.query_drop("CREATE DATABASE ai").await.unwrap();
    conn.query_drop("CREATE TABLE ai.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL)")
        .await
        .unwrap();
    for v in 0..3 {
        conn.exec_drop("INSERT INTO ai.t (v) VALUES (?)", (v,))
            .await
            .unwrap();
    }
    let ids: Vec<i32> = conn.query("SELECT id FROM ai.t ORDER BY id").await.unwrap();
    assert_eq!(ids, vec![2, 7, 12]);
    conn.disconnect().await.unwrap();

    // Dropping stops the processes and removes the directories.
    let gone = [
        (first.pid(), first.dir().to_path_buf()),
        (second.pid(), second.dir().to_path_buf()),
    ];
    for (pid, dir) in &gone {
        assert!(pid_exists(*pid));
        assert!(dir.exists());
    }
    let stopping = Instant::now();
    drop(first);
    drop(second);
    println!("dropped 2 servers in {:?}", stopping.elapsed());
    for (pid, dir) in &gone {
        assert_cleaned_up(*pid, dir);
    }
}

#[tokio::test]
async fn explicit_stop_cleans_up() {
    let server = MariaDb::start(MariaDbOptions::new(3)).await.unwrap();
    let (pid, dir) = (server.pid(), server.dir().to_path_buf());
    let stopping = Instant::now();
    server.stop().await.unwrap();
    println!("stop() took {:?}", stopping.elapsed());
    assert_cleaned_up(pid, &dir);
}

/// A test body that panics after starting a server (as a failing assertion would) must still
/// leave no server process and no directory behind.
#[test]
fn panic_in_test_body_still_cleans_up() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen: Arc<Mutex<Option<(u32, PathBuf)>>> = Arc::default();
    let seen_in_body = Arc::clone(&seen);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async move {
            let server = MariaDb::start(MariaDbOptions::new(4)).await.unwrap();
            *seen_in_body.lock().unwrap() = Some((server.pid(), server.dir().to_path_buf()));
            assert!(pid_exists(server.pid()));
            panic!("deliberate panic with a running server");
        })
    }));
    assert!(outcome.is_err(), "the body should have panicked");
    let (pid, dir) = seen.lock().unwrap().clone().expect("server was started");
    assert_cleaned_up(pid, &dir);
}

/// Same for a panic inside a spawned task: the runtime drops the task's future on panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_in_spawned_task_still_cleans_up() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let server = MariaDb::start(MariaDbOptions::new(5)).await.unwrap();
        tx.send((server.pid(), server.dir().to_path_buf())).unwrap();
        panic!("deliberate panic in a task with a running server");
    });
    let joined = task.await;
    assert!(joined.unwrap_err().is_panic());
    let (pid, dir) = rx.await.unwrap();
    assert_cleaned_up(pid, &dir);
}

/// A server that cannot start fails fast (not at the startup deadline) with its error log.
#[tokio::test]
async fn startup_failure_reports_error_log_and_cleans_up() {
    let started = Instant::now();
    let err = MariaDb::start(
        MariaDbOptions::new(6)
            .arg("--surely-not-a-mariadb-option")
            .startup_timeout(Duration::from_secs(60)),
    )
    .await
    .unwrap_err();
    let elapsed = started.elapsed();
    let message = err.to_string();
    println!("failed start after {elapsed:?}: {message}");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    assert!(message.contains("surely-not-a-mariadb-option"), "{message}");
    match err {
        HarnessError::ExitedDuringStartup { server, .. } => {
            assert!(message.contains(&server.dir.display().to_string()));
            assert!(message.contains(&server.port.to_string()));
            assert!(
                !server.dir.exists(),
                "{} still exists",
                server.dir.display()
            );
        }
        other => panic!("unexpected error: {other}"),
    }
}
