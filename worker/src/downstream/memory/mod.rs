//! The in-memory downstream of the deterministic simulation: the same
//! [`Downstream`] contract as MySQL (fence, checkpoints, atomic commits,
//! the shard-DDL records), over [`engine`]'s tables.
//!
//! Every commit is one atomic step under a lock: the fence is checked,
//! the statements run on a copy of the tables, and the copy and the
//! checkpoint replace the originals only if every statement succeeded —
//! what MySQL's transaction with the fence row read under a shared lock
//! gives. Handles are cheap clones of one shared database.
//!
//! `without_fence` builds a handle whose commits skip the fence check: the
//! simulation's proof that its invariants can fail.

pub mod engine;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use engine::{Cell, Engine, SqlError};

use super::{
    Call, CheckpointKey, Commit, Downstream, DownstreamError, MetaTables, Position, ShardIntent,
};

/// (meta schema, task, source).
type SourceKey = (String, String, String);

#[derive(Debug, Default)]
struct Db {
    engine: Engine,
    fences: BTreeMap<SourceKey, u64>,
    /// (meta schema, task, source, lane) -> (epoch, position).
    checkpoints: BTreeMap<(String, String, String, u32), (u64, Position)>,
    intents: BTreeMap<SourceKey, ShardIntent>,
    groups: BTreeMap<SourceKey, String>,
    /// Committed transactions, for the simulation's checks.
    commits: u64,
}

/// A handle on one in-memory downstream database.
#[derive(Debug, Clone)]
pub struct MemDownstream {
    addr: String,
    db: Arc<Mutex<Db>>,
    fence: bool,
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
        }
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
            source: mysql_async::Error::Server(mysql_async::ServerError {
                code: e.code,
                message: e.message,
                state: "HY000".into(),
            }),
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

    fn claim<'a>(&'a self, meta: &'a MetaTables, source: &'a str, epoch: u64) -> Call<'a, Commit> {
        let key = source_key(meta, source);
        let mut db = self.lock();
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
        let meta = key.meta();
        let skey = source_key(&meta, &key.source);
        let mut db = self.lock();
        let result = (|| {
            if let Some(by_epoch) = self.fenced(&db, &skey, epoch)? {
                return Ok(Commit::Fenced { by_epoch });
            }
            let mut scratch = db.engine.clone();
            for statement in statements {
                let sql = String::from_utf8_lossy(statement);
                scratch.execute(&sql).map_err(|e| {
                    let first: String = sql.chars().take(200).collect();
                    self.sql_error(&format!("applying `{first}`"), e)
                })?;
            }
            db.engine = scratch;
            db.checkpoints.insert(
                (skey.0.clone(), skey.1.clone(), skey.2.clone(), key.lane),
                (epoch, position.clone()),
            );
            db.commits += 1;
            Ok(Commit::Committed)
        })();
        ready(result)
    }

    fn execute<'a>(&'a self, statement: &'a str) -> Call<'a, ()> {
        let mut db = self.lock();
        let result = db
            .engine
            .execute(statement)
            .map_err(|e| self.sql_error(&format!("running `{statement}`"), e));
        // The meta tables live in their schema: dropping it drops them.
        let Db {
            engine,
            fences,
            checkpoints,
            intents,
            groups,
            ..
        } = &mut *db;
        fences.retain(|k, _| engine.schemas.contains(&k.0));
        checkpoints.retain(|k, _| engine.schemas.contains(&k.0));
        intents.retain(|k, _| engine.schemas.contains(&k.0));
        groups.retain(|k, _| engine.schemas.contains(&k.0));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_memory_downstream_passes_the_conformance_suite() {
        let d = MemDownstream::new("memory");
        super::super::conformance::run(&d, "conformance")
            .await
            .unwrap();
        // Twice: the suite cleans up after itself.
        super::super::conformance::run(&d, "conformance")
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
