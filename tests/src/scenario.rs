//! Clusters the integration tests start again and again: one source with
//! its own downstream, or the tutorial's three sources; plus a steady
//! upstream write load.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::Value;
use tempfile::TempDir;

use crate::cluster::{
    create_source, create_source_from, dmctl, source_yaml, wait_bound, Masters, Workers,
};
use crate::error::{HarnessError, Result};
use crate::mariadb::{MariaDb, MariaDbOptions, RowMetadata};
use crate::tutorial::{self, Databases, Ports};

/// How long a scenario waits for a binding.
const BIND_DEADLINE: Duration = Duration::from_secs(20);

/// Writes `yaml` as `<name>.yaml` in `dir` and starts it; an error unless
/// the answer says `result: true`.
pub async fn start_task(
    addrs: &str,
    dir: &std::path::Path,
    name: &str,
    yaml: &str,
) -> Result<Value> {
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).map_err(|e| HarnessError::io("writing the task file", e))?;
    let answer = dmctl(addrs, &["start-task", &file.display().to_string()]).await?;
    if answer["result"] != true {
        return Err(HarnessError::Task(format!("start-task {name}: {answer}")));
    }
    Ok(answer)
}

/// Three masters with a leader elected, and their client addresses.
pub async fn masters() -> Result<(Masters, String)> {
    let masters = Masters::start(3)?;
    let addrs = masters.client_addrs();
    masters.leader(BIND_DEADLINE).await?;
    Ok((masters, addrs))
}

/// Two servers, server-ids 1 (the upstream) and 2 (the downstream), both
/// started with `args`.
pub async fn upstream_and_downstream(args: &[&str]) -> Result<(MariaDb, MariaDb)> {
    upstream_and_downstream_with(args, args).await
}

/// Two servers, server-ids 1 (the upstream, started with `upstream_args`)
/// and 2 (the downstream, with `downstream_args`).
pub async fn upstream_and_downstream_with(
    upstream_args: &[&str],
    downstream_args: &[&str],
) -> Result<(MariaDb, MariaDb)> {
    upstream_and_downstream_logging(RowMetadata::Full, upstream_args, downstream_args).await
}

/// [`upstream_and_downstream_with`] with the upstream logging
/// `row_metadata`.
pub async fn upstream_and_downstream_logging(
    row_metadata: RowMetadata,
    upstream_args: &[&str],
    downstream_args: &[&str],
) -> Result<(MariaDb, MariaDb)> {
    let mut servers = MariaDb::start_many(2, |i| {
        let (args, options) = if i == 0 {
            (
                upstream_args,
                MariaDbOptions::new(1).row_metadata(row_metadata),
            )
        } else {
            (downstream_args, MariaDbOptions::new(2))
        };
        args.iter().fold(options, |o, a| o.arg(*a))
    })
    .await?;
    let downstream = servers
        .pop()
        .ok_or_else(|| HarnessError::Task("no downstream".into()))?;
    let upstream = servers
        .pop()
        .ok_or_else(|| HarnessError::Task("no upstream".into()))?;
    Ok((upstream, downstream))
}

/// One upstream (source `mysql1`) and its downstream, 3 masters and some
/// workers, the source bound.
#[derive(Debug)]
pub struct OneSource {
    pub upstream: MariaDb,
    pub downstream: MariaDb,
    pub masters: Masters,
    pub addrs: String,
    pub workers: Workers,
    /// The worker the source was first bound to.
    pub bound: String,
    pub dir: TempDir,
}

impl OneSource {
    /// Runs `upstream_sql` on the upstream first.
    pub async fn start(workers: usize, upstream_sql: &[&str]) -> Result<Self> {
        Self::start_with(workers, &[], &[], upstream_sql).await
    }

    /// [`Self::start`] with more `mariadbd` flags for the upstream and the
    /// downstream (e.g. a smaller `--max-allowed-packet` downstream).
    pub async fn start_with(
        workers: usize,
        upstream_args: &[&str],
        downstream_args: &[&str],
        upstream_sql: &[&str],
    ) -> Result<Self> {
        Self::start_full(
            workers,
            RowMetadata::Full,
            upstream_args,
            downstream_args,
            "",
            upstream_sql,
        )
        .await
    }

    /// [`Self::start`] with the upstream logging `row_metadata` (MariaDB's
    /// default `NO_LOG`, or `MINIMAL`: row events without column names).
    pub async fn start_logging(
        workers: usize,
        row_metadata: RowMetadata,
        upstream_sql: &[&str],
    ) -> Result<Self> {
        Self::start_full(workers, row_metadata, &[], &[], "", upstream_sql).await
    }

    /// [`Self::start`] with `source_extra` appended to the source file
    /// (e.g. a `filters:` or `checker:` section).
    pub async fn start_with_source(
        workers: usize,
        source_extra: &str,
        upstream_sql: &[&str],
    ) -> Result<Self> {
        Self::start_full(
            workers,
            RowMetadata::Full,
            &[],
            &[],
            source_extra,
            upstream_sql,
        )
        .await
    }

    async fn start_full(
        workers: usize,
        row_metadata: RowMetadata,
        upstream_args: &[&str],
        downstream_args: &[&str],
        source_extra: &str,
        upstream_sql: &[&str],
    ) -> Result<Self> {
        let (upstream, downstream) =
            upstream_and_downstream_logging(row_metadata, upstream_args, downstream_args).await?;
        tutorial::run_sql(&upstream, upstream_sql).await?;
        let (masters, addrs) = masters().await?;
        let dir = tempfile::tempdir().map_err(|e| HarnessError::io("temp dir", e))?;
        let source = format!("{}{source_extra}", source_yaml("mysql1", upstream.port()));
        create_source_from(&addrs, dir.path(), "mysql1", &source).await?;
        let workers = Workers::start(workers, &addrs, 2)?;
        let bound = wait_bound(&addrs, "mysql1", None, BIND_DEADLINE).await?;
        Ok(Self {
            upstream,
            downstream,
            masters,
            addrs,
            workers,
            bound,
            dir,
        })
    }

    /// Waits until the downstream's `app.t` equals the upstream's (see
    /// [`WriteLoad`]), then checks that `task` runs without an error.
    pub async fn wait_load_in_sync(&self, task: &str, deadline: Duration) -> Result<()> {
        let expected = load_rows(&self.upstream).await;
        crate::wait_until(
            "downstream app.t equals upstream",
            deadline,
            Duration::from_millis(50),
            || {
                let expected = &expected;
                async move {
                    let got = load_rows(&self.downstream).await;
                    if &got == expected {
                        return crate::Check::Ready(());
                    }
                    let status = dmctl(&self.addrs, &["query-status", task]).await.ok();
                    crate::Check::Pending(format!(
                        "{} rows downstream, {} upstream; {}",
                        got.len(),
                        expected.len(),
                        status.map(|s| s.to_string()).unwrap_or_default()
                    ))
                }
            },
        )
        .await?;
        self.wait_running(task, deadline).await
    }

    /// Waits until every subtask of `task` reports `Running` without an
    /// error. A subtask no worker has reported yet (a worker just
    /// restarted and has not sent its first status) is waited for; any
    /// other stage, or an error, fails at once.
    pub async fn wait_running(&self, task: &str, deadline: Duration) -> Result<()> {
        crate::wait_until(
            &format!("every subtask of {task} Running"),
            deadline,
            Duration::from_millis(50),
            || async move {
                let status = match dmctl(&self.addrs, &["query-status", task]).await {
                    Ok(status) => status,
                    Err(e) => return crate::Check::Pending(e.to_string()),
                };
                for (source, subtask) in crate::cluster::subtasks_of(&status, task) {
                    let unreported = subtask["stage"] == "New";
                    let running = subtask["stage"] == "Running" && subtask["result"].is_null();
                    if unreported {
                        return crate::Check::Pending(format!("{source}: {subtask}"));
                    }
                    if !running {
                        return crate::Check::Abort(HarnessError::Task(format!(
                            "{task} on {source}: {subtask}"
                        )));
                    }
                }
                crate::Check::Ready(())
            },
        )
        .await
    }

    /// Waits until `sql` reads the same rows, and some, upstream and
    /// downstream; a timeout shows both sides and `task`'s status.
    pub async fn wait_same(&self, task: &str, sql: &str, deadline: Duration) -> Result<()> {
        self.wait_same_as(task, sql, deadline, false).await
    }

    /// [`Self::wait_same`], failing at once, with the subtask's error, when
    /// a subtask of `task` is paused (nothing is going to arrive then).
    pub async fn wait_same_unpaused(
        &self,
        task: &str,
        sql: &str,
        deadline: Duration,
    ) -> Result<()> {
        self.wait_same_as(task, sql, deadline, true).await
    }

    async fn wait_same_as(
        &self,
        task: &str,
        sql: &str,
        deadline: Duration,
        fail_when_paused: bool,
    ) -> Result<()> {
        crate::wait_until(
            &format!("`{sql}` equal downstream"),
            deadline,
            Duration::from_millis(50),
            || async move {
                let up = query_rows(&self.upstream, sql).await;
                let down = query_rows(&self.downstream, sql).await;
                if up == down && !up.is_empty() {
                    return crate::Check::Ready(());
                }
                let status = dmctl(&self.addrs, &["query-status", task]).await.ok();
                let paused = status
                    .as_ref()
                    .filter(|_| fail_when_paused)
                    .and_then(|s| crate::cluster::paused_subtask(s, task));
                if let Some(paused) = paused {
                    return crate::Check::Abort(HarnessError::Task(format!(
                        "{paused}\nwhile `{sql}` reads\nupstream {up:?}\ndownstream {down:?}"
                    )));
                }
                crate::Check::Pending(format!(
                    "upstream {up:?}\ndownstream {down:?}\nstatus {}",
                    status.map(|s| s.to_string()).unwrap_or_default()
                ))
            },
        )
        .await
    }

    /// `yaml` with `PORT` replaced by the downstream's port, started.
    pub async fn start_task(&self, name: &str, yaml: &str) -> Result<Value> {
        let yaml = yaml.replace("PORT", &self.downstream.port().to_string());
        start_task(&self.addrs, self.dir.path(), name, &yaml).await
    }
}

/// The tutorial's databases (data sets loaded), 3 masters, 3 workers, the
/// sources `mysql1..3` bound.
#[derive(Debug)]
pub struct TutorialCluster {
    pub dbs: Databases,
    pub masters: Masters,
    pub addrs: String,
    pub workers: Workers,
    pub dir: TempDir,
}

impl TutorialCluster {
    pub async fn start(data_sets: &[&[&str]]) -> Result<Self> {
        Self::start_logging(RowMetadata::Full, data_sets).await
    }

    /// [`Self::start`] with the upstreams logging `row_metadata`.
    pub async fn start_logging(row_metadata: RowMetadata, data_sets: &[&[&str]]) -> Result<Self> {
        let dbs = tutorial::start_databases_with(Ports::Free, row_metadata).await?;
        for server in &dbs.upstreams {
            for sql in data_sets {
                tutorial::run_sql(server, sql).await?;
            }
        }
        let (masters, addrs) = masters().await?;
        let dir = tempfile::tempdir().map_err(|e| HarnessError::io("temp dir", e))?;
        for (i, server) in dbs.upstreams.iter().enumerate() {
            create_source(
                &addrs,
                dir.path(),
                &format!("mysql{}", i + 1),
                server.port(),
            )
            .await?;
        }
        let workers = Workers::start(3, &addrs, 2)?;
        for i in 1..=3 {
            wait_bound(&addrs, &format!("mysql{i}"), None, BIND_DEADLINE).await?;
        }
        Ok(Self {
            dbs,
            masters,
            addrs,
            workers,
            dir,
        })
    }

    /// The tutorial's first exercise: `dmtest1` on every upstream and
    /// `dmtask1.yaml` (task-mode all) started, waiting until every subtask
    /// replicates.
    pub async fn dmtask1_replicating(deadline: Duration) -> Result<Self> {
        Self::dmtask1_replicating_logging(RowMetadata::Full, deadline).await
    }

    /// [`Self::dmtask1_replicating`] with the upstreams logging
    /// `row_metadata`.
    pub async fn dmtask1_replicating_logging(
        row_metadata: RowMetadata,
        deadline: Duration,
    ) -> Result<Self> {
        let c = Self::start_logging(row_metadata, &[tutorial::DMTEST1_SQL]).await?;
        c.start_tutorial_task("dmtask1.yaml", "all").await?;
        crate::cluster::wait_syncing(&c.addrs, "dmtask1", deadline).await?;
        Ok(c)
    }

    /// The tutorial's task file `name` with the given mode, started.
    pub async fn start_tutorial_task(&self, name: &str, task_mode: &str) -> Result<String> {
        let file =
            tutorial::task_file(self.dir.path(), name, self.dbs.downstream.port(), task_mode)?;
        let answer = dmctl(&self.addrs, &["start-task", &file]).await?;
        if answer["result"] != true {
            return Err(HarnessError::Task(format!("start-task {name}: {answer}")));
        }
        Ok(file)
    }
}

/// `app.t` for [`WriteLoad`]: a key, a version bumped by every update.
pub const LOAD_TABLE: &str = "CREATE TABLE app.t (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40) NOT NULL)";

/// Small upstream transactions on `app.t` until stopped: insert a row,
/// bump an older row's version, now and then delete one.
#[derive(Debug)]
pub struct WriteLoad {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl WriteLoad {
    pub fn start(mut conn: mysql_async::Conn) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU32::new(0));
        let (stopping, counter) = (stop.clone(), done.clone());
        let task = tokio::spawn(async move {
            let fail = |e: mysql_async::Error| HarnessError::Task(format!("write load: {e}"));
            let mut i: u32 = 0;
            while !stopping.load(Ordering::Relaxed) {
                i += 1;
                let mut tx = conn
                    .start_transaction(mysql_async::TxOpts::default())
                    .await
                    .map_err(fail)?;
                tx.exec_drop(
                    "INSERT INTO app.t (v, note) VALUES (0, ?)",
                    (format!("w{i}"),),
                )
                .await
                .map_err(fail)?;
                tx.exec_drop(
                    "UPDATE app.t SET v = v + 1 WHERE id = ?",
                    (1 + i * 13 % 800,),
                )
                .await
                .map_err(fail)?;
                if i.is_multiple_of(7) {
                    tx.exec_drop("DELETE FROM app.t WHERE id = ?", (800 + i / 7,))
                        .await
                        .map_err(fail)?;
                }
                tx.commit().await.map_err(fail)?;
                counter.store(i, Ordering::Relaxed);
            }
            Ok(())
        });
        Self { stop, done, task }
    }

    /// Transactions committed so far.
    pub fn done(&self) -> u32 {
        self.done.load(Ordering::Relaxed)
    }

    /// Waits until `more` further transactions committed.
    pub async fn more(&self, more: u32, deadline: Duration) -> Result<()> {
        let target = self.done() + more;
        crate::wait_until(
            "more upstream writes",
            deadline,
            Duration::from_millis(10),
            || async move { (self.done() >= target).then_some(()) },
        )
        .await
    }

    /// Stops; returns how many transactions committed.
    pub async fn stop(self) -> Result<u32> {
        self.stop.store(true, Ordering::Relaxed);
        self.task
            .await
            .map_err(|e| HarnessError::Task(format!("write load: {e}")))??;
        Ok(self.done.load(Ordering::Relaxed))
    }
}

/// `(id, v, note)` of every row of `app.t`.
pub async fn load_rows(server: &MariaDb) -> Vec<(u32, i32, String)> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query("SELECT id, v, note FROM app.t ORDER BY id")
        .await
        .unwrap_or_default()
}

/// Every row `sql` reads on `server`, values as text, in a utf8mb4 UTC
/// session (empty when the server cannot be read).
pub async fn query_rows(server: &MariaDb, sql: &str) -> Vec<Vec<mysql_async::Value>> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    if conn
        .query_drop("SET NAMES utf8mb4, time_zone = '+00:00'")
        .await
        .is_err()
    {
        return Vec::new();
    }
    let rows: Vec<mysql_async::Row> = conn.query(sql).await.unwrap_or_default();
    rows.into_iter().map(mysql_async::Row::unwrap).collect()
}

/// Inserts (and updates of the row inserted before) on `dmtest1.t1` of
/// every shard until stopped: the tutorial's shards under load.
#[derive(Debug)]
pub struct ShardLoad {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<u32>>,
}

impl ShardLoad {
    pub async fn start(upstreams: &[MariaDb]) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for server in upstreams {
            let Ok(mut conn) = server.conn().await else {
                continue;
            };
            let stopping = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0u32;
                let mut previous: Option<u64> = None;
                while !stopping.load(Ordering::Relaxed) {
                    n += 1;
                    let insert = conn
                        .query_drop("INSERT INTO dmtest1.t1 (c, port) VALUES (md5(rand()), @@port)")
                        .await;
                    let inserted = conn.last_insert_id();
                    let update = match previous {
                        Some(id) => {
                            conn.exec_drop("UPDATE dmtest1.t1 SET c = md5(c) WHERE id = ?", (id,))
                                .await
                        }
                        None => Ok(()),
                    };
                    previous = inserted;
                    if insert.is_err() || update.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                n
            }));
        }
        Self { stop, tasks }
    }

    /// Stops; the transactions written.
    pub async fn stop(self) -> u32 {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = 0;
        for t in self.tasks {
            total += t.await.unwrap_or(0);
        }
        total
    }
}
