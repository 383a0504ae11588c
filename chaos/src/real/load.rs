//! The upstream write load: one writer per shard, on the tables of
//! [`super::schema`].
//!
//! Each transaction inserts a row of the main table stamped with the
//! runner's wall clock (`created_ms`), bumps an older row's version, and
//! now and then deletes a row of the initial data; every third one also
//! inserts and updates rows of the generated-column table (naming only
//! its plain columns), and deletes one now and then. About one transaction
//! in four runs in a session with `binlog_row_image=MINIMAL`, so its
//! updates and deletes log only the key before and the changed columns
//! after. Every 40-60 s (the shards a few seconds apart) a shard updates
//! every row of its padded table in one transaction, in a FULL-image
//! session: the sync's "applied in pieces" path.
//!
//! At its scheduled time each shard runs the shard DDL (`ADD COLUMN
//! extra`), after which its inserts fill the new column; the task's
//! pessimistic shard mode holds each shard at the DDL until all three
//! reached it.
//!
//! The shard's server may restart under the load ([`super::session`]):
//! the load connects again and goes on. A statement that failed before
//! `COMMIT` left nothing; a `COMMIT` in flight may have committed or not,
//! which only the final comparison of the tables has to know.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::session::Session;
use super::{schema, RunError};

/// The shard DDL every shard runs once.
pub const SHARD_DDL: &str = "ADD COLUMN extra INT NULL";
/// Pause between one shard's transactions.
const PACING: Duration = Duration::from_millis(8);
/// When shard `k`'s first big transaction comes: `k` times this.
const BIG_FIRST: Duration = Duration::from_secs(8);
/// Between one shard's big transactions, drawn in this range.
const BIG_EVERY: (u64, u64) = (40, 60);
/// One transaction in this many runs in a MINIMAL-image session.
const MINIMAL_ONE_IN: u32 = 4;

/// What one shard's load has done, shared with the lag sampler.
#[derive(Debug, Default)]
pub struct Progress {
    /// Transactions committed.
    pub transactions: AtomicU64,
    /// Of those, in a `binlog_row_image=MINIMAL` session.
    pub minimal: AtomicU64,
    /// Big transactions (every padded row) committed.
    pub big: AtomicU64,
    /// Connections made again after the server went away.
    pub reconnects: AtomicU64,
    /// Commits in flight when the server went away (outcome unknown).
    pub unknown_commits: AtomicU64,
    /// The last inserted row and when its transaction committed.
    pub last_insert: Mutex<Option<(u64, Instant)>>,
}

/// One shard's writer, running until `stop`.
#[derive(Debug)]
pub struct ShardLoad {
    pub shard: usize,
    pub progress: Arc<Progress>,
    pub task: tokio::task::JoinHandle<Result<(), RunError>>,
}

/// A statement that failed, and whether it was the `COMMIT`.
struct Failed {
    what: &'static str,
    error: mysql_async::Error,
    at_commit: bool,
}

fn failed(what: &'static str) -> impl FnOnce(mysql_async::Error) -> Failed {
    move |error| Failed {
        what,
        error,
        at_commit: false,
    }
}

/// The random choices of one small transaction, drawn before it runs.
#[derive(Debug, Clone, Copy)]
struct Draw {
    update_id: u64,
    delete_id: Option<u64>,
    /// Generated-column table: (a, b) of the insert, the id updated and
    /// by how much, maybe an id deleted.
    generated: Option<(i32, i32, u64, i32, Option<u64>)>,
}

/// One writer's state.
struct Writer {
    shard: usize,
    session: Session,
    /// Whether the current session logs MINIMAL images, and of which
    /// connection (sessions start FULL).
    minimal: Option<(u64, bool)>,
    altered: bool,
    max_id: u64,
    max_generated: u64,
    progress: Arc<Progress>,
}

impl Writer {
    /// Runs `sql` until it returns a number, through restarts.
    async fn number(&mut self, what: &'static str, sql: String) -> Result<u64, RunError> {
        loop {
            let conn = self.session.conn().await?;
            match conn.query_first::<Option<u64>, _>(sql.as_str()).await {
                Ok(n) => return Ok(n.flatten().unwrap_or(0)),
                Err(e) => self.lost(what, e)?,
            }
        }
    }

    fn lost(&mut self, what: &'static str, e: mysql_async::Error) -> Result<(), RunError> {
        self.session.failed(what, e)?;
        self.progress
            .reconnects
            .store(self.session.reconnects, Ordering::Relaxed);
        Ok(())
    }

    /// Sets the session's `binlog_row_image` unless it is already so.
    async fn row_image(&mut self, minimal: bool) -> Result<(), RunError> {
        let connection = self.session.reconnects;
        let current = match self.minimal {
            Some((c, m)) if c == connection => m,
            _ => false,
        };
        if current != minimal {
            let sql = if minimal {
                "SET SESSION binlog_row_image = 'MINIMAL'"
            } else {
                "SET SESSION binlog_row_image = 'FULL'"
            };
            let conn = self.session.conn().await?;
            if let Err(e) = conn.query_drop(sql).await {
                return self.lost("setting binlog_row_image", e);
            }
        }
        self.minimal = Some((self.session.reconnects, minimal));
        Ok(())
    }

    /// The shard DDL, once: after a lost connection, whether it ran is
    /// read from the table.
    async fn shard_ddl(&mut self) -> Result<(), RunError> {
        let t = schema::MAIN.shard(self.shard);
        let (db, table) = t.split_once('.').unwrap_or(("chaos", &t));
        let exists = format!(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{db}' \
             AND TABLE_NAME = '{table}' AND COLUMN_NAME = 'extra'"
        );
        while !self.altered {
            if self
                .number("reading the shard's columns", exists.clone())
                .await?
                > 0
            {
                self.altered = true;
                break;
            }
            let conn = self.session.conn().await?;
            match conn
                .query_drop(format!("ALTER TABLE {t} {SHARD_DDL}"))
                .await
            {
                Ok(()) => self.altered = true,
                Err(e) => self.lost("the shard DDL", e)?,
            }
        }
        Ok(())
    }

    /// One big transaction: every padded row, FULL images.
    async fn big(&mut self) -> Result<(), RunError> {
        self.row_image(false).await?;
        let conn = self.session.conn().await?;
        match conn.query_drop(schema::big_update(self.shard)).await {
            Ok(()) => {
                self.progress.big.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                // An autocommit statement: its commit was in flight.
                self.progress
                    .unknown_commits
                    .fetch_add(1, Ordering::Relaxed);
                self.lost("the big transaction", e)
            }
        }
    }

    fn draw(&self, i: u64, rng: &mut SmallRng) -> Draw {
        let update_id = rng.gen_range(1..=self.max_id.max(1));
        let delete_id = i
            .is_multiple_of(5)
            .then(|| rng.gen_range(1..=self.max_id.max(1)));
        let generated = i.is_multiple_of(3).then(|| {
            (
                rng.gen_range(0..1000),
                rng.gen_range(0..1000),
                rng.gen_range(1..=self.max_generated.max(1)),
                rng.gen_range(1..5),
                i.is_multiple_of(30)
                    .then(|| rng.gen_range(1..=self.max_generated.max(1))),
            )
        });
        Draw {
            update_id,
            delete_id,
            generated,
        }
    }

    /// One small transaction; the main table's and the generated table's
    /// inserted ids.
    async fn small(
        conn: &mut Conn,
        shard: usize,
        altered: bool,
        i: u64,
        draw: Draw,
    ) -> Result<(u64, Option<u64>), Failed> {
        let t = schema::MAIN.shard(shard);
        let g = schema::TABLES[1].shard(shard);
        let now_ms = dm_proto::clock::unix_ms();
        let note = (!i.is_multiple_of(10)).then(|| format!("s{shard}-{i}"));
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .map_err(failed("a load transaction"))?;
        if altered {
            tx.exec_drop(
                format!("INSERT INTO {t} (v, note, created_ms, extra) VALUES (0, ?, ?, ?)"),
                (note, now_ms, i),
            )
            .await
        } else {
            tx.exec_drop(
                format!("INSERT INTO {t} (v, note, created_ms) VALUES (0, ?, ?)"),
                (note, now_ms),
            )
            .await
        }
        .map_err(failed("a load insert"))?;
        let inserted = tx.last_insert_id().unwrap_or(0);
        tx.exec_drop(
            format!("UPDATE {t} SET v = v + 1 WHERE id = ?"),
            (draw.update_id,),
        )
        .await
        .map_err(failed("a load update"))?;
        if let Some(id) = draw.delete_id {
            tx.exec_drop(
                format!("DELETE FROM {t} WHERE id = ? AND created_ms = 0"),
                (id,),
            )
            .await
            .map_err(failed("a load delete"))?;
        }
        let mut generated = None;
        if let Some((a, b, update_id, by, delete_id)) = draw.generated {
            tx.exec_drop(
                format!("INSERT INTO {g} (a, b, created_ms) VALUES (?, ?, ?)"),
                (a, b, now_ms),
            )
            .await
            .map_err(failed("a generated-column insert"))?;
            generated = tx.last_insert_id();
            tx.exec_drop(
                format!("UPDATE {g} SET a = a + ?, b = b + 1 WHERE id = ?"),
                (by, update_id),
            )
            .await
            .map_err(failed("a generated-column update"))?;
            if let Some(id) = delete_id {
                tx.exec_drop(
                    format!("DELETE FROM {g} WHERE id = ? AND created_ms = 0"),
                    (id,),
                )
                .await
                .map_err(failed("a generated-column delete"))?;
            }
        }
        tx.commit().await.map_err(|error| Failed {
            what: "a load commit",
            error,
            at_commit: true,
        })?;
        Ok((inserted, generated))
    }
}

/// How long the last shard DDL waits for the copies after the writes end.
const COPY_PATIENCE: Duration = Duration::from_secs(180);

impl ShardLoad {
    /// Starts writing to shard `shard` of the server at `opts`; it runs
    /// the shard DDL once `ddl_after` has passed and `copied` says every
    /// source's full copy is done (no DDL on a sharded table while it is
    /// copied).
    pub fn start(
        opts: Opts,
        shard: usize,
        seed: u64,
        ddl_after: Duration,
        copied: tokio::sync::watch::Receiver<bool>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let progress = Arc::new(Progress::default());
        let mut writer = Writer {
            shard,
            session: Session::new(opts),
            minimal: None,
            altered: false,
            max_id: 0,
            max_generated: 0,
            progress: progress.clone(),
        };
        let task = tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(seed ^ (shard as u64) << 32);
            let started = Instant::now();
            writer.max_id = writer
                .number(
                    "reading a shard's last id",
                    format!("SELECT MAX(id) FROM {}", schema::MAIN.shard(shard)),
                )
                .await?;
            writer.max_generated = writer
                .number(
                    "reading a shard's last id",
                    format!("SELECT MAX(id) FROM {}", schema::TABLES[1].shard(shard)),
                )
                .await?;
            let mut next_big = BIG_FIRST * shard as u32;
            let mut i: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                let all_copied = *copied.borrow();
                if !writer.altered && started.elapsed() >= ddl_after && all_copied {
                    writer.shard_ddl().await?;
                }
                if started.elapsed() >= next_big {
                    writer.big().await?;
                    next_big = started.elapsed()
                        + Duration::from_secs(rng.gen_range(BIG_EVERY.0..=BIG_EVERY.1));
                    continue;
                }
                i += 1;
                let minimal = rng.gen_ratio(1, MINIMAL_ONE_IN);
                let draw = writer.draw(i, &mut rng);
                writer.row_image(minimal).await?;
                let (altered, shard) = (writer.altered, writer.shard);
                let conn = writer.session.conn().await?;
                match Writer::small(conn, shard, altered, i, draw).await {
                    Ok((inserted, generated)) => {
                        writer.max_id = writer.max_id.max(inserted);
                        writer.max_generated = writer.max_generated.max(generated.unwrap_or(0));
                        writer.progress.transactions.fetch_add(1, Ordering::Relaxed);
                        if minimal {
                            writer.progress.minimal.fetch_add(1, Ordering::Relaxed);
                        }
                        if let Ok(mut last) = writer.progress.last_insert.lock() {
                            *last = Some((inserted, Instant::now()));
                        }
                    }
                    Err(f) => {
                        if f.at_commit {
                            writer
                                .progress
                                .unknown_commits
                                .fetch_add(1, Ordering::Relaxed);
                        }
                        writer.lost(f.what, f.error)?;
                    }
                }
                tokio::time::sleep(PACING).await;
            }
            // Every shard must reach the DDL, or the others wait at it;
            // after every copy, as above.
            let mut copied = copied;
            let waited = tokio::time::timeout(COPY_PATIENCE, copied.wait_for(|c| *c))
                .await
                .is_ok_and(|r| r.is_ok());
            if !waited {
                return Err(RunError::Check(format!(
                    "shard {shard}: not every full copy ended within {COPY_PATIENCE:?} of the writes' end"
                )));
            }
            writer.shard_ddl().await
        });
        Self {
            shard,
            progress,
            task,
        }
    }
}
