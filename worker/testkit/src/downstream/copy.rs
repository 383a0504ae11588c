//! The full copy's records in the in-memory downstream: the plan per
//! source, and chunk transactions that keep their statements until they
//! commit, then run them, mark the chunk done and move nothing else, in
//! one atomic step under the fence, as MySQL's fenced transaction does.
//! A chunk whose rows are already there fails with 1062 and is recorded
//! as a duplicate (a chunk copied twice).

use super::{source_key, Commit, Db, DownstreamError, MemDownstream, SourceKey, SqlError};
use dm_worker::downstream::{Call, ChunkDone, ChunkTx, MetaTables, OpenChunk, StoredChunk};

impl MemDownstream {
    /// The stored plan of `source`'s copy, in table and chunk order.
    pub fn stored_plan(&self, meta: &MetaTables, source: &str) -> Vec<StoredChunk> {
        self.lock()
            .plans
            .get(&source_key(meta, source))
            .cloned()
            .unwrap_or_default()
    }

    /// Copies whose chunks committed under more than one epoch: copies
    /// another worker took over midway.
    pub fn copies_taken_over(&self) -> usize {
        self.lock()
            .chunk_epochs
            .values()
            .filter(|epochs| epochs.len() > 1)
            .count()
    }

    /// Copy chunks committed so far.
    pub fn chunks_committed(&self) -> usize {
        self.lock()
            .plans
            .values()
            .flatten()
            .filter(|c| c.done.is_some())
            .count()
    }

    /// Stores the plan (fenced); a second plan for the source fails as the
    /// duplicate rows would.
    pub(super) fn store_plan(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        plan: &[StoredChunk],
    ) -> Result<Commit, DownstreamError> {
        let key = source_key(meta, source);
        let mut db = self.lock();
        if let Some(by_epoch) = self.fenced(&db, &key, epoch)? {
            return Ok(Commit::Fenced { by_epoch });
        }
        if plan.is_empty() {
            return Ok(Commit::Committed);
        }
        if db.plans.get(&key).is_some_and(|p| !p.is_empty()) {
            return Err(self.sql_error(
                "writing the copy plan",
                SqlError {
                    code: 1062,
                    message: format!("Duplicate entry for source '{source}' in the copy plan"),
                },
            ));
        }
        let mut plan = plan.to_vec();
        plan.sort_by(|a, b| (&a.schema, &a.table, a.index).cmp(&(&b.schema, &b.table, b.index)));
        db.plans.insert(key, plan);
        db.commits += 1;
        Ok(Commit::Committed)
    }

    /// Opens a chunk's transaction after checking the fence.
    pub(super) fn open_chunk(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        chunk: &StoredChunk,
    ) -> Result<OpenChunk, DownstreamError> {
        let key = source_key(meta, source);
        let db = self.lock();
        if let Some(by_epoch) = self.fenced(&db, &key, epoch)? {
            return Ok(OpenChunk::Fenced { by_epoch });
        }
        drop(db);
        Ok(OpenChunk::Open(Box::new(MemChunkTx {
            downstream: self.clone(),
            key,
            epoch,
            chunk: chunk.clone(),
            statements: Vec::new(),
        })))
    }

    /// A chunk's commit: one atomic step.
    fn commit_chunk_now(
        &self,
        key: &SourceKey,
        epoch: u64,
        chunk: &StoredChunk,
        statements: &[Vec<u8>],
        done: &ChunkDone,
    ) -> Result<Commit, DownstreamError> {
        let mut db = self.lock();
        let what = || {
            format!(
                "{} copy chunk {} of {}.{}",
                key.2, chunk.index, chunk.schema, chunk.table
            )
        };
        if let Some(outcome) = self.apply_fenced(&mut db, key, epoch, statements, what)? {
            return Ok(outcome);
        }
        if let Some(stored) = db.plans.get_mut(key).and_then(|plan| {
            plan.iter_mut().find(|c| {
                c.schema == chunk.schema && c.table == chunk.table && c.index == chunk.index
            })
        }) {
            stored.done = Some(done.clone());
        }
        db.chunk_epochs
            .entry(key.clone())
            .or_default()
            .insert(epoch);
        db.commits += 1;
        Ok(Commit::Committed)
    }

    /// Drops the plans whose meta schema is gone.
    pub(super) fn forget_dropped_plans(db: &mut Db) {
        let Db { engine, plans, .. } = db;
        plans.retain(|k, _| engine.schemas.contains(&k.0));
    }
}

/// A chunk's open transaction: its statements, kept until the commit.
struct MemChunkTx {
    downstream: MemDownstream,
    key: SourceKey,
    epoch: u64,
    chunk: StoredChunk,
    statements: Vec<Vec<u8>>,
}

impl ChunkTx for MemChunkTx {
    fn write(&mut self, statement: Vec<u8>) -> Call<'_, ()> {
        self.statements.push(statement);
        Box::pin(std::future::ready(Ok(())))
    }

    fn commit(self: Box<Self>, done: ChunkDone) -> Call<'static, Commit> {
        let MemChunkTx {
            downstream,
            key,
            epoch,
            chunk,
            statements,
        } = *self;
        downstream.clone().land(
            key.clone(),
            Box::new(move |this: &MemDownstream| {
                this.commit_chunk_now(&key, epoch, &chunk, &statements, &done)
            }),
        )
    }
}
