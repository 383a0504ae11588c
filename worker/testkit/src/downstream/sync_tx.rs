//! The in-memory downstream's lane transaction in pieces: the statements
//! are kept and land with the checkpoint in one atomic, fenced step, as
//! `commit_fenced`'s do (the fence is checked then, with them).

use super::{source_key, MemDownstream};
use dm_worker::downstream::{Call, CheckpointKey, Commit, Position, SyncTx};

pub(super) struct MemSyncTx {
    downstream: MemDownstream,
    key: CheckpointKey,
    epoch: u64,
    statements: Vec<Vec<u8>>,
}

impl MemSyncTx {
    pub(super) fn new(downstream: MemDownstream, key: CheckpointKey, epoch: u64) -> Self {
        Self {
            downstream,
            key,
            epoch,
            statements: Vec::new(),
        }
    }
}

impl SyncTx for MemSyncTx {
    fn write(&mut self, statements: Vec<Vec<u8>>) -> Call<'_, ()> {
        self.statements.extend(statements);
        Box::pin(std::future::ready(Ok(())))
    }

    fn commit(self: Box<Self>, position: Position) -> Call<'static, Commit> {
        let MemSyncTx {
            downstream,
            key,
            epoch,
            statements,
        } = *self;
        let skey = source_key(&key.meta(), &key.source);
        downstream.clone().land(
            skey,
            Box::new(move |this: &MemDownstream| {
                this.commit_now(&key, epoch, &position, &statements)
            }),
        )
    }
}
