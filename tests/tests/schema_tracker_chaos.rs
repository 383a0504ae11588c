//! The schema tracker under failures: one table of an upstream that logs
//! no column names (`binlog_row_metadata=NO_LOG`) altered 20 times while a
//! writer inserts, updates and deletes its rows without pause: columns
//! added, dropped, moved with FIRST/AFTER, renamed, modified and changed
//! (to UNSIGNED, to another charset, to another type), keys added and
//! dropped (UNIQUE, INDEX, the primary key moved to another column and
//! back). The worker replicating the source is SIGKILLed between DDLs and
//! around them (issued together with a DDL, right after one committed
//! upstream, while its DDL waits downstream for a metadata lock, right
//! after one arrived downstream), and the master leader once; the other worker takes the source over each time and the killed
//! one comes back as the spare.
//!
//! Each successor decodes the row events after its checkpoint against the
//! definitions stored with that checkpoint; reading them from the upstream
//! instead (its current shape) would decode older rows with the wrong
//! columns. Every update bumps `n` by one (`n = n + 1`), so an event
//! applied twice outside the replay window leaves a different `n`
//! downstream. At the end the downstream equals the upstream row for row
//! (`SELECT *`, so the column order too) and has the same columns (name,
//! type, nullability, default, charset) and keys. The same again with a
//! MINIMAL upstream (signedness and charsets logged, and cross-checked).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dm_tests::cluster::{bound_worker, wait_bound};
use dm_tests::scenario::OneSource;
use dm_tests::tutorial::run_sql;
use dm_tests::RowMetadata;
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);
const TASK_NAME: &str = "chaos";
const TASK: &str = "name: chaos\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

/// `id`, `k` and `n` exist in every shape of the table: the writer only
/// names them.
const SEED: &[&str] = &[
    "CREATE DATABASE app",
    "CREATE TABLE app.chaos (id INT NOT NULL, n INT NOT NULL DEFAULT 0, k INT NOT NULL, \
     a VARCHAR(20) NOT NULL DEFAULT 'ä', b INT, PRIMARY KEY (id)) DEFAULT CHARSET=utf8mb4",
    "INSERT INTO app.chaos (id, k, a, b) SELECT seq, seq * 10, CONCAT('seed ', seq), seq FROM app.seq_1_to_200",
];

/// How the worker bound to the source is killed around a DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// Not at this step.
    No,
    /// SIGKILL sent while the DDL is being issued upstream.
    WithTheDdl,
    /// SIGKILL right after the DDL committed upstream.
    AfterUpstream,
    /// SIGKILL right after the DDL arrived downstream (its checkpoint
    /// possibly not yet written).
    AfterDownstream,
    /// SIGKILL while the worker's DDL runs downstream: a downstream
    /// transaction holding the table makes it wait for its metadata lock
    /// until the worker is dead.
    WhileDownstreamRuns,
    /// The master leader SIGKILLed right after the DDL committed upstream.
    Leader,
}

/// The 20 DDLs, each with the failure around it.
const DDLS: &[(&str, Kill)] = &[
    ("ALTER TABLE app.chaos ADD COLUMN x INT NOT NULL DEFAULT 5 AFTER id", Kill::No),
    (
        "ALTER TABLE app.chaos ADD COLUMN f VARCHAR(10) CHARACTER SET latin1 DEFAULT 'é' FIRST",
        Kill::AfterUpstream,
    ),
    ("ALTER TABLE app.chaos DROP COLUMN b", Kill::No),
    (
        "ALTER TABLE app.chaos MODIFY COLUMN n INT UNSIGNED NOT NULL DEFAULT 0",
        Kill::WithTheDdl,
    ),
    ("ALTER TABLE app.chaos RENAME COLUMN a TO name", Kill::No),
    ("ALTER TABLE app.chaos ADD UNIQUE KEY k_uk (k)", Kill::AfterDownstream),
    (
        "ALTER TABLE app.chaos DROP PRIMARY KEY, ADD PRIMARY KEY (k)",
        Kill::No,
    ),
    (
        "ALTER TABLE app.chaos CHANGE COLUMN name title VARCHAR(40) NOT NULL DEFAULT 'ñandú'",
        Kill::Leader,
    ),
    (
        "ALTER TABLE app.chaos MODIFY COLUMN f VARCHAR(10) CHARACTER SET latin1 DEFAULT 'é' AFTER title",
        Kill::No,
    ),
    (
        "ALTER TABLE app.chaos ADD INDEX n_idx (n)",
        Kill::WhileDownstreamRuns,
    ),
    (
        "ALTER TABLE app.chaos MODIFY COLUMN title VARCHAR(40) CHARACTER SET latin1 NOT NULL DEFAULT 'ñandú'",
        Kill::WithTheDdl,
    ),
    (
        "ALTER TABLE app.chaos ADD COLUMN big BIGINT UNSIGNED NOT NULL DEFAULT 18446744073709551615 AFTER k",
        Kill::No,
    ),
    (
        "ALTER TABLE app.chaos MODIFY COLUMN x BIGINT NOT NULL DEFAULT 6 FIRST",
        Kill::AfterDownstream,
    ),
    ("ALTER TABLE app.chaos DROP INDEX n_idx", Kill::No),
    (
        "ALTER TABLE app.chaos DROP PRIMARY KEY, ADD PRIMARY KEY (id)",
        Kill::AfterUpstream,
    ),
    (
        "ALTER TABLE app.chaos ADD COLUMN e ENUM('a','b','c') NOT NULL DEFAULT 'b' AFTER n",
        Kill::No,
    ),
    (
        "ALTER TABLE app.chaos CHANGE COLUMN x x2 INT UNSIGNED NOT NULL DEFAULT 3",
        Kill::WhileDownstreamRuns,
    ),
    ("ALTER TABLE app.chaos DROP COLUMN f", Kill::WithTheDdl),
    ("ALTER TABLE app.chaos DROP INDEX k_uk", Kill::No),
    (
        "ALTER TABLE app.chaos ADD COLUMN z VARCHAR(8) CHARACTER SET utf8mb4 DEFAULT 'ü🐬' AFTER id, ADD INDEX kn (k, n)",
        Kill::No,
    ),
];

const ROWS: &str = "SELECT * FROM app.chaos ORDER BY id";
const COLUMNS: &str = "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, \
     CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'chaos' ORDER BY ORDINAL_POSITION";
const KEYS: &str = "SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME \
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'chaos' \
     ORDER BY INDEX_NAME, SEQ_IN_INDEX";

/// Single-statement transactions on `app.chaos` until stopped, about one
/// every 4 ms: insert a row, bump `n` of an older one, now and then
/// delete one. A statement refused while a DDL holds the table is simply
/// not applied upstream either (the upstream is the truth).
struct Writer {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<(u32, u32)>,
}

impl Writer {
    fn start(mut conn: mysql_async::Conn) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU32::new(0));
        let (stopping, counter) = (stop.clone(), done.clone());
        let task = tokio::spawn(async move {
            let (mut ok, mut refused) = (0u32, 0u32);
            let mut i: u32 = 0;
            while !stopping.load(Ordering::Relaxed) {
                i += 1;
                let id = 1000 + i;
                let outcome = match i % 5 {
                    0 | 2 => {
                        conn.exec_drop("INSERT INTO app.chaos (id, k) VALUES (?, ?)", (id, id * 10))
                            .await
                    }
                    1 | 3 => {
                        conn.exec_drop(
                            "UPDATE app.chaos SET n = n + 1 WHERE id = ?",
                            (if i % 2 == 1 {
                                1 + i * 7 % 200
                            } else {
                                1001 + i * 13 % i
                            },),
                        )
                        .await
                    }
                    _ => {
                        conn.exec_drop("DELETE FROM app.chaos WHERE id = ?", (1 + i * 11 % 1500,))
                            .await
                    }
                };
                match outcome {
                    Ok(()) => ok += 1,
                    Err(mysql_async::Error::Server(_)) => refused += 1,
                    Err(e) => panic!("writer lost its upstream: {e}"),
                }
                counter.store(ok, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(4)).await;
            }
            (ok, refused)
        });
        Self { stop, done, task }
    }

    /// Waits until `more` further statements applied upstream.
    async fn more(&self, more: u32) {
        let target = self.done.load(Ordering::Relaxed) + more;
        dm_tests::wait_until(
            "more upstream writes",
            DEADLINE,
            Duration::from_millis(5),
            || async move { (self.done.load(Ordering::Relaxed) >= target).then_some(()) },
        )
        .await
        .expect("the writer writes");
    }

    async fn stop(self) -> (u32, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("writer")
    }
}

/// SIGKILLs the worker bound to `mysql1`, waits until the other one has
/// the source, then starts the killed one again (the next spare).
async fn kill_bound_worker(c: &mut OneSource) {
    let bound = bound_worker(&c.addrs, "mysql1")
        .await
        .expect("list-member")
        .expect("mysql1 bound");
    let index = c.workers.index_of(&bound).expect("ours");
    c.workers.kill(index).expect("SIGKILL the worker");
    wait_bound(&c.addrs, "mysql1", Some(&bound), DEADLINE)
        .await
        .expect("the source moves to the other worker");
    c.workers.spawn(index).expect("restart the killed worker");
}

/// Issues `ddl` upstream while a downstream transaction holds `app.chaos`
/// (a shared metadata lock: rows still apply, a DDL waits), waits until
/// the worker's DDL waits downstream, SIGKILLs the worker, then ends the
/// transaction.
async fn kill_while_the_ddl_runs_downstream(c: &mut OneSource, ddl: &str) {
    let mut holder = c.downstream.conn().await.expect("downstream");
    holder
        .query_drop("START TRANSACTION")
        .await
        .expect("transaction");
    holder
        .query_drop("SELECT id FROM app.chaos LIMIT 1")
        .await
        .expect("the table held");
    run_sql(&c.upstream, &[ddl])
        .await
        .expect("the DDL upstream");
    let downstream = &c.downstream;
    dm_tests::wait_until(
        "the worker's DDL waiting downstream",
        DEADLINE,
        Duration::from_millis(10),
        || async move {
            let mut conn = downstream.conn().await.ok()?;
            let waiting: Option<u64> = conn
                .query_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                     WHERE INFO LIKE 'ALTER TABLE%' AND STATE LIKE '%metadata lock%'",
                )
                .await
                .ok()?;
            (waiting? > 0).then_some(())
        },
    )
    .await
    .expect("the DDL reaches the downstream");
    kill_bound_worker(c).await;
    holder.query_drop("COMMIT").await.expect("released");
}

async fn kill_leader(c: &mut OneSource) {
    let leader = c.masters.leader(DEADLINE).await.expect("leader");
    let index = c.masters.index_of(&leader).expect("ours");
    c.masters.kill(index).expect("SIGKILL the leader");
    c.masters.leader(DEADLINE).await.expect("a new leader");
    c.masters.spawn(index).expect("restart the master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_ddls_under_load_and_kills_arrive_exactly_from_a_no_log_upstream() {
    twenty_ddls_under_load_and_kills(RowMetadata::NoLog).await;
}

/// MINIMAL (MySQL 8.0's default) logs signedness and charsets, which the
/// sync cross-checks against the tracked definition.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_ddls_under_load_and_kills_arrive_exactly_from_a_minimal_upstream() {
    twenty_ddls_under_load_and_kills(RowMetadata::Minimal).await;
}

async fn twenty_ddls_under_load_and_kills(row_metadata: RowMetadata) {
    assert_eq!(DDLS.len(), 20);
    let started = Instant::now();
    let mut c = OneSource::start_logging(2, row_metadata, SEED)
        .await
        .expect("cluster");
    c.start_task(TASK_NAME, TASK).await.expect("started");
    let writer = Writer::start(c.upstream.conn().await.expect("conn"));
    c.wait_same_unpaused(TASK_NAME, COLUMNS, DEADLINE)
        .await
        .expect("copied");
    println!("copied after {:?}", started.elapsed());

    let mut kills = 0;
    for (step, (ddl, kill)) in DDLS.iter().enumerate() {
        writer.more(20).await;
        if *kill == Kill::WhileDownstreamRuns {
            kill_while_the_ddl_runs_downstream(&mut c, ddl).await;
        } else if *kill == Kill::WithTheDdl {
            let bound = bound_worker(&c.addrs, "mysql1")
                .await
                .expect("list-member")
                .expect("mysql1 bound");
            let index = c.workers.index_of(&bound).expect("ours");
            let (upstream, workers) = (&c.upstream, &mut c.workers);
            let statements = [*ddl];
            let (issued, killed) = tokio::join!(run_sql(upstream, &statements), async move {
                workers.kill(index)
            });
            issued.expect("the DDL upstream");
            killed.expect("SIGKILL the worker");
            wait_bound(&c.addrs, "mysql1", Some(&bound), DEADLINE)
                .await
                .expect("the source moves to the other worker");
            c.workers.spawn(index).expect("restart the killed worker");
        } else {
            run_sql(&c.upstream, &[ddl])
                .await
                .expect("the DDL upstream");
        }
        match kill {
            Kill::AfterUpstream => kill_bound_worker(&mut c).await,
            Kill::Leader => kill_leader(&mut c).await,
            _ => {}
        }
        c.wait_same_unpaused(TASK_NAME, COLUMNS, DEADLINE)
            .await
            .unwrap_or_else(|e| panic!("step {}: `{ddl}` downstream: {e}", step + 1));
        if *kill == Kill::AfterDownstream {
            kill_bound_worker(&mut c).await;
        }
        if *kill != Kill::No {
            kills += 1;
        }
        // Between two DDLs, every fourth step: the worker dies with rows
        // of the new shape in flight.
        if step % 4 == 2 {
            writer.more(20).await;
            kill_bound_worker(&mut c).await;
            kills += 1;
        }
        println!(
            "step {:2} ({kill:?}) after {:?}: {ddl}",
            step + 1,
            started.elapsed()
        );
    }
    writer.more(50).await;
    let (ok, refused) = writer.stop().await;
    println!("{ok} statements applied upstream, {refused} refused, {kills} kills");
    assert!(kills >= 10, "{kills} kills");

    c.wait_same_unpaused(TASK_NAME, ROWS, DEADLINE)
        .await
        .expect("downstream equals upstream row for row");
    c.wait_same_unpaused(TASK_NAME, COLUMNS, DEADLINE)
        .await
        .expect("the same columns");
    c.wait_same_unpaused(TASK_NAME, KEYS, DEADLINE)
        .await
        .expect("the same keys");
    c.wait_running(TASK_NAME, DEADLINE)
        .await
        .expect("the subtask runs");
    let mut up = c.upstream.conn().await.expect("upstream");
    let bumped: Option<u64> = up
        .query_first("SELECT SUM(n) FROM app.chaos")
        .await
        .expect("sum");
    assert!(bumped.unwrap_or(0) > 0, "no update reached a row");
    println!("done after {:?}", started.elapsed());
}
