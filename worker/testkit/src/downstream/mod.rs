//! The in-memory downstream of the deterministic simulation: the same
//! [`Downstream`] contract as MySQL (fence, checkpoints, atomic commits,
//! the shard-DDL records), over [`engine`]'s tables.
//!
//! Every commit is one atomic step under a lock: the fence is checked,
//! the statements run as one engine transaction (undone if one fails), and
//! the checkpoint moves only if every statement succeeded —
//! what MySQL's transaction with the fence row read under a shared lock
//! gives. Handles are cheap clones of one shared database.
//!
//! `without_fence` builds a handle whose commits skip the fence check: the
//! simulation's proof that its invariants can fail.

mod copy;
pub mod engine;
mod sync_tx;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use engine::{Cell, Engine, SqlError};

use dm_worker::db_error::DbError;
use dm_worker::downstream::{
    Call, CheckpointKey, Commit, Downstream, DownstreamError, MetaTables, OpenChunk, OpenSync,
    Position, ShardIntent, StoredChunk, StoredSchema,
};

/// (meta schema, task, source).
type SourceKey = (String, String, String);

/// A commit's one atomic step, run when it lands.
type Landing = Box<dyn FnOnce(&MemDownstream) -> Result<Commit, DownstreamError> + Send>;

#[derive(Debug, Default)]
struct Db {
    engine: Engine,
    fences: BTreeMap<SourceKey, u64>,
    /// (meta schema, task, source, lane) -> (epoch, position).
    checkpoints: BTreeMap<(String, String, String, u32), (u64, Position)>,
    intents: BTreeMap<SourceKey, ShardIntent>,
    groups: BTreeMap<SourceKey, String>,
    /// The schema tracker's stored states per source, oldest first.
    schema_states: BTreeMap<SourceKey, Vec<StoredSchema>>,
    next_schema_seq: u64,
    /// Statements run per `binlog` operation: (source key, op id).
    binlog_ops: BTreeMap<(SourceKey, u64), u32>,
    /// The full copy's plan per source, with the chunks' done-marks.
    plans: BTreeMap<SourceKey, Vec<StoredChunk>>,
    /// The epochs whose copy chunks committed, per source.
    chunk_epochs: BTreeMap<SourceKey, std::collections::BTreeSet<u64>>,
    /// Committed transactions, for the simulation's checks.
    commits: u64,
    anomalies: Anomalies,
    /// Commits under way (stalled) per source: they hold the fence row.
    in_flight: BTreeMap<SourceKey, Vec<u64>>,
    /// In-flight commits a claim killed: they roll back when they land.
    killed: Vec<u64>,
    next_commit: u64,
    /// Commits that were stalled.
    stalled: u64,
}

/// What the simulation's invariants look for in the commits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anomalies {
    /// Commits applied under an epoch older than the source's fence (only
    /// possible without the fence).
    pub stale_commits: Vec<String>,
    /// Checkpoints that moved back.
    pub regressions: Vec<String>,
    /// Inserts of rows that already existed (an event applied twice
    /// outside safe mode).
    pub duplicates: Vec<String>,
    /// `ALTER TABLE` statements that changed a table, with how often.
    pub alters: BTreeMap<String, u32>,
}

/// Seeded stalls of a handle's commits: a commit held this long before it
/// reaches the database (a paused worker, a slow network).
#[derive(Debug)]
struct Stalls {
    state: u64,
    one_in: u64,
}

impl Stalls {
    fn next(&mut self) -> u64 {
        // xorshift64*: small, seedable, good enough for a schedule.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// How long the next commit stalls.
    fn draw(&mut self) -> Option<std::time::Duration> {
        self.next()
            .is_multiple_of(self.one_in)
            .then(|| std::time::Duration::from_millis(1000 + self.next() % 3000))
    }
}

/// The longest statement the in-memory database takes: as much as a
/// MariaDB server with its default `max_allowed_packet` (16 MiB).
pub const MAX_STATEMENT_BYTES: usize = (16 << 20) - (16 << 10);

/// A handle on one in-memory downstream database.
#[derive(Debug, Clone)]
pub struct MemDownstream {
    addr: String,
    db: Arc<Mutex<Db>>,
    fence: bool,
    stalls: Option<Arc<Mutex<Stalls>>>,
}

fn source_key(meta: &MetaTables, source: &str) -> SourceKey {
    (
        meta.meta_schema.clone(),
        meta.task.clone(),
        source.to_string(),
    )
}

impl MemDownstream {
    pub fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_string(),
            db: Arc::default(),
            fence: true,
            stalls: None,
        }
    }

    /// Another handle on the same database whose commits stall 1-4 s, one
    /// in `one_in`, drawn from `seed`.
    pub fn stalling(&self, seed: u64, one_in: u64) -> Self {
        Self {
            stalls: Some(Arc::new(Mutex::new(Stalls {
                state: seed | 1,
                one_in: one_in.max(1),
            }))),
            ..self.clone()
        }
    }

    /// What the commits so far did wrong.
    pub fn anomalies(&self) -> Anomalies {
        self.lock().anomalies.clone()
    }

    /// Another handle on the same database whose commits ignore the fence
    /// (test-only: shows the checks catch what the fence prevents).
    pub fn without_fence(&self) -> Self {
        Self {
            fence: false,
            ..self.clone()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Db> {
        crate::lock(&self.db)
    }

    fn sql_error(&self, what: &str, e: SqlError) -> DownstreamError {
        DownstreamError::Database {
            addr: self.addr.clone(),
            what: what.to_string(),
            source: DbError::refused(e.code, "HY000", &e.message),
        }
    }

    /// The rows of `schema`.`table` in primary-key order (`None` when the
    /// table does not exist).
    pub fn rows(&self, schema: &str, table: &str) -> Option<Vec<Vec<Cell>>> {
        self.lock()
            .engine
            .tables
            .get(&(schema.to_string(), table.to_string()))
            .map(engine::Table::ordered_rows)
    }

    /// The column names of `schema`.`table`.
    pub fn columns(&self, schema: &str, table: &str) -> Option<Vec<String>> {
        self.lock()
            .engine
            .tables
            .get(&(schema.to_string(), table.to_string()))
            .map(|t| t.columns.iter().map(|c| c.name.clone()).collect())
    }

    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.lock().commits
    }

    /// Commits that were stalled so far.
    pub fn stalled(&self) -> u64 {
        self.lock().stalled
    }

    /// Checks the fence of `source` for `epoch`: `Ok(None)` to go on.
    fn fenced(&self, db: &Db, key: &SourceKey, epoch: u64) -> Result<Option<u64>, DownstreamError> {
        let stored = db.fences.get(key).copied().unwrap_or(0);
        if !self.fence {
            return Ok(None);
        }
        if stored > epoch {
            return Ok(Some(stored));
        }
        if stored < epoch {
            return Err(DownstreamError::NotClaimed {
                source_id: key.2.clone(),
                epoch,
                stored,
            });
        }
        Ok(None)
    }

    /// The part every atomic commit shares, on the locked database: the
    /// fence check, the statements as one transaction (a duplicate key is
    /// recorded as `what` applied twice) and a commit under a stale epoch
    /// recorded. `Some` is the commit's outcome already; `None` lets the
    /// caller finish the commit.
    fn apply_fenced(
        &self,
        db: &mut Db,
        key: &SourceKey,
        epoch: u64,
        statements: &[Vec<u8>],
        what: impl Fn() -> String,
    ) -> Result<Option<Commit>, DownstreamError> {
        if let Some(by_epoch) = self.fenced(db, key, epoch)? {
            return Ok(Some(Commit::Fenced { by_epoch }));
        }
        let fence = db.fences.get(key).copied().unwrap_or(0);
        if let Err((at, e)) = db.engine.transaction(statements) {
            let sql = statements
                .get(at)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_default();
            let first: String = sql.chars().take(200).collect();
            if e.code == 1062 {
                db.anomalies.duplicates.push(format!(
                    "{} epoch {epoch}: `{first}`: {}",
                    what(),
                    e.message
                ));
            }
            return Err(self.sql_error(&format!("applying `{first}`"), e));
        }
        if epoch < fence {
            db.anomalies.stale_commits.push(format!(
                "{} committed under epoch {epoch} after epoch {fence} claimed it",
                what()
            ));
        }
        Ok(None)
    }

    /// The commit itself: one atomic step.
    fn commit_now(
        &self,
        key: &CheckpointKey,
        epoch: u64,
        position: &Position,
        statements: &[Vec<u8>],
    ) -> Result<Commit, DownstreamError> {
        let meta = key.meta();
        let skey = source_key(&meta, &key.source);
        let mut db = self.lock();
        let what = || format!("{} lane {} (up to {position})", key.source, key.lane);
        if let Some(outcome) = self.apply_fenced(&mut db, &skey, epoch, statements, what)? {
            return Ok(outcome);
        }
        let slot = (skey.0.clone(), skey.1.clone(), skey.2.clone(), key.lane);
        if let Some((_, before)) = db.checkpoints.get(&slot) {
            if !before.at_or_before(position) {
                let regression = format!(
                    "{} lane {} checkpoint moved back from {before} to {position} (epoch {epoch})",
                    key.source, key.lane
                );
                db.anomalies.regressions.push(regression);
            }
        }
        db.checkpoints.insert(slot, (epoch, position.clone()));
        db.commits += 1;
        Ok(Commit::Committed)
    }

    /// Runs `commit` now, or, for a commit the seeded stalls hold, later:
    /// a stalled commit is already on its way, so it lands even if the
    /// worker gives up on it (stops the subtask) meanwhile, as a request on
    /// the wire does; unless a claim killed it while it was held.
    fn land(&self, skey: SourceKey, commit: Landing) -> Call<'static, Commit> {
        let stall = self.stalls.as_ref().and_then(|s| crate::lock(s).draw());
        let Some(stall) = stall else {
            return ready(commit(self));
        };
        let this = self.clone();
        let id = {
            let mut db = self.lock();
            db.stalled += 1;
            db.next_commit += 1;
            let id = db.next_commit;
            db.in_flight.entry(skey.clone()).or_default().push(id);
            id
        };
        let addr = self.addr.clone();
        let landed = tokio::spawn(async move {
            tokio::time::sleep(stall).await;
            {
                let mut db = this.lock();
                if let Some(ids) = db.in_flight.get_mut(&skey) {
                    ids.retain(|i| *i != id);
                }
                if let Some(at) = db.killed.iter().position(|k| *k == id) {
                    db.killed.remove(at);
                    return Err(this.sql_error(
                        "committing",
                        SqlError {
                            code: 1927,
                            message: "Connection was killed".into(),
                        },
                    ));
                }
            }
            commit(&this)
        });
        Box::pin(async move {
            landed.await.unwrap_or_else(|e| {
                Err(DownstreamError::Unexpected {
                    addr,
                    what: format!("the commit task failed: {e}"),
                })
            })
        })
    }

    fn fenced_write(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        write: impl FnOnce(&mut Db, &SourceKey),
    ) -> Result<Commit, DownstreamError> {
        let key = source_key(meta, source);
        let mut db = self.lock();
        if let Some(by_epoch) = self.fenced(&db, &key, epoch)? {
            return Ok(Commit::Fenced { by_epoch });
        }
        write(&mut db, &key);
        db.commits += 1;
        Ok(Commit::Committed)
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, DownstreamError>) -> Call<'a, T> {
    Box::pin(std::future::ready(value))
}

impl Downstream for MemDownstream {
    fn addr(&self) -> &str {
        &self.addr
    }

    fn prepare<'a>(&'a self, meta: &'a MetaTables) -> Call<'a, ()> {
        self.lock().engine.schemas.insert(meta.meta_schema.clone());
        ready(Ok(()))
    }

    fn max_statement_bytes(&self) -> Call<'_, usize> {
        ready(Ok(MAX_STATEMENT_BYTES))
    }

    fn claim<'a>(&'a self, meta: &'a MetaTables, source: &'a str, epoch: u64) -> Call<'a, Commit> {
        let key = source_key(meta, source);
        let mut db = self.lock();
        if self.fence {
            // Commits under way hold the fence row: the claim kills them
            // (MySQL: the claim's lock waits, then kills the blockers).
            let blockers = db.in_flight.remove(&key).unwrap_or_default();
            db.killed.extend(blockers);
        }
        let stored = db.fences.entry(key).or_insert(0);
        let outcome = if *stored > epoch {
            Commit::Fenced { by_epoch: *stored }
        } else {
            *stored = epoch;
            Commit::Committed
        };
        ready(Ok(outcome))
    }

    fn fence_epoch<'a>(&'a self, meta: &'a MetaTables, source: &'a str) -> Call<'a, u64> {
        let key = source_key(meta, source);
        ready(Ok(self.lock().fences.get(&key).copied().unwrap_or(0)))
    }

    fn lane_checkpoints<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, BTreeMap<u32, Position>> {
        let db = self.lock();
        let out = db
            .checkpoints
            .iter()
            .filter(|((m, t, s, _), (_, p))| {
                *m == meta.meta_schema
                    && *t == meta.task
                    && s == source
                    && !p.binlog_name.is_empty()
            })
            .map(|((_, _, _, lane), (_, p))| (*lane, p.clone()))
            .collect();
        ready(Ok(out))
    }

    fn commit_fenced<'a>(
        &'a self,
        key: &'a CheckpointKey,
        epoch: u64,
        position: &'a Position,
        statements: &'a [Vec<u8>],
    ) -> Call<'a, Commit> {
        let skey = source_key(&key.meta(), &key.source);
        let (key, position, statements) = (key.clone(), position.clone(), statements.to_vec());
        self.land(
            skey,
            Box::new(move |this: &MemDownstream| {
                this.commit_now(&key, epoch, &position, &statements)
            }),
        )
    }

    fn begin_sync<'a>(&'a self, key: &'a CheckpointKey, epoch: u64) -> Call<'a, OpenSync> {
        ready(Ok(OpenSync::Open(Box::new(sync_tx::MemSyncTx::new(
            self.clone(),
            key.clone(),
            epoch,
        )))))
    }

    fn execute<'a>(&'a self, statement: &'a str) -> Call<'a, ()> {
        let mut db = self.lock();
        let result = db
            .engine
            .execute(statement)
            .map_err(|e| self.sql_error(&format!("running `{statement}`"), e));
        if result.is_ok()
            && statement
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("ALTER")
        {
            *db.anomalies
                .alters
                .entry(statement.to_string())
                .or_insert(0) += 1;
        }
        // The meta tables live in their schema: dropping it drops them.
        let Db {
            engine,
            fences,
            checkpoints,
            intents,
            groups,
            schema_states,
            binlog_ops,
            ..
        } = &mut *db;
        fences.retain(|k, _| engine.schemas.contains(&k.0));
        checkpoints.retain(|k, _| engine.schemas.contains(&k.0));
        intents.retain(|k, _| engine.schemas.contains(&k.0));
        groups.retain(|k, _| engine.schemas.contains(&k.0));
        schema_states.retain(|k, _| engine.schemas.contains(&k.0));
        binlog_ops.retain(|k, _| engine.schemas.contains(&k.0 .0));
        Self::forget_dropped_plans(&mut db);
        ready(result)
    }

    fn has_other_unique_keys<'a>(&'a self, schema: &'a str, table: &'a str) -> Call<'a, bool> {
        let db = self.lock();
        let found = db
            .engine
            .tables
            .get(&(schema.to_string(), table.to_string()))
            .is_some_and(|t| !t.unique.is_empty());
        ready(Ok(found))
    }

    fn generated_columns<'a>(&'a self, _schema: &'a str, _table: &'a str) -> Call<'a, Vec<String>> {
        // The engine's tables have no generated columns.
        ready(Ok(Vec::new()))
    }

    fn show_create_table<'a>(
        &'a self,
        schema: &'a str,
        table: &'a str,
    ) -> Call<'a, Option<String>> {
        let db = self.lock();
        let text = db
            .engine
            .tables
            .get(&(schema.to_string(), table.to_string()))
            .map(|t| t.definition(table));
        ready(Ok(text))
    }

    fn table_rows<'a>(
        &'a self,
        schema: &'a str,
        table: &'a str,
    ) -> Call<'a, Vec<Vec<Option<String>>>> {
        let found = self.rows(schema, table).ok_or_else(|| {
            self.sql_error(
                "reading the table",
                SqlError {
                    code: 1146,
                    message: format!("Table '{schema}.{table}' doesn't exist"),
                },
            )
        });
        ready(found)
    }

    fn copy_plan<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Vec<StoredChunk>> {
        ready(Ok(self.stored_plan(meta, source)))
    }

    fn save_copy_plan<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        plan: &'a [StoredChunk],
    ) -> Call<'a, Commit> {
        ready(self.store_plan(meta, source, epoch, plan))
    }

    fn begin_chunk<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        chunk: &'a StoredChunk,
    ) -> Call<'a, OpenChunk> {
        ready(self.open_chunk(meta, source, epoch, chunk))
    }

    fn close(&self) -> Call<'_, ()> {
        ready(Ok(()))
    }

    fn shard_intent<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Option<ShardIntent>> {
        let found = self.lock().intents.get(&source_key(meta, source)).cloned();
        ready(Ok(found))
    }

    fn save_shard_intent<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        intent: &'a ShardIntent,
    ) -> Call<'a, Commit> {
        ready(self.fenced_write(meta, source, epoch, |db, key| {
            db.intents.insert(key.clone(), intent.clone());
        }))
    }

    fn shard_group<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Option<String>> {
        let found = self.lock().groups.get(&source_key(meta, source)).cloned();
        ready(Ok(found))
    }

    fn save_shard_group<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        state: Option<&'a str>,
    ) -> Call<'a, Commit> {
        ready(
            self.fenced_write(meta, source, epoch, |db, key| match state {
                Some(s) => {
                    db.groups.insert(key.clone(), s.to_string());
                }
                None => {
                    db.groups.remove(key);
                }
            }),
        )
    }

    fn schema_states<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Vec<StoredSchema>> {
        let found = self
            .lock()
            .schema_states
            .get(&source_key(meta, source))
            .cloned()
            .unwrap_or_default();
        ready(Ok(found))
    }

    fn save_schema_state<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        state: &'a StoredSchema,
        keep: usize,
    ) -> Call<'a, Commit> {
        ready(self.fenced_write(meta, source, epoch, |db, key| {
            db.next_schema_seq += 1;
            let seq = db.next_schema_seq;
            let states = db.schema_states.entry(key.clone()).or_default();
            states.push(StoredSchema {
                seq,
                ..state.clone()
            });
            let old = states.len().saturating_sub(keep.max(1));
            states.drain(..old);
        }))
    }

    fn binlog_op_done<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        op_id: u64,
    ) -> Call<'a, u32> {
        let done = self
            .lock()
            .binlog_ops
            .get(&(source_key(meta, source), op_id))
            .copied()
            .unwrap_or(0);
        ready(Ok(done))
    }

    fn save_binlog_op_done<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        op_id: u64,
        statements: u32,
    ) -> Call<'a, Commit> {
        ready(self.fenced_write(meta, source, epoch, |db, key| {
            db.binlog_ops.insert((key.clone(), op_id), statements);
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_memory_downstream_passes_the_conformance_suite() {
        let d = MemDownstream::new("memory");
        crate::conformance::downstream::run(&d, "conformance")
            .await
            .unwrap();
        // Twice: the suite cleans up after itself.
        crate::conformance::downstream::run(&d, "conformance")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn without_the_fence_a_stale_epoch_commits() {
        let d = MemDownstream::new("memory");
        let meta = MetaTables {
            meta_schema: "dm_meta".into(),
            task: "t".into(),
        };
        d.prepare(&meta).await.unwrap();
        d.claim(&meta, "s1", 7).await.unwrap();
        let key = CheckpointKey {
            meta_schema: "dm_meta".into(),
            task: "t".into(),
            source: "s1".into(),
            lane: 0,
        };
        let at = Position::default();
        assert_eq!(
            d.commit_fenced(&key, 3, &at, &[]).await.unwrap(),
            Commit::Fenced { by_epoch: 7 }
        );
        let broken = d.without_fence();
        assert_eq!(
            broken.commit_fenced(&key, 3, &at, &[]).await.unwrap(),
            Commit::Committed
        );
    }
}
