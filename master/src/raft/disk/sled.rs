//! The production backend: a [`sled::Db`], one sled tree per [`Tree`].
//!
//! A sled `Batch` applied to one tree is atomic, and sled's `flush` covers
//! every tree of the `Db`, which is what [`Disk`] asks for. Writes reach
//! sled's page cache and the disk on `flush` (or sled's own background flush
//! every 500 ms, which the stores never rely on). `flush` here is sled's
//! `flush_async`, which completes on sled's threads: this backend is not
//! deterministic, which is why the simulation uses
//! [`MemDisk`](super::MemDisk).

use super::{Batch, Disk, KeyRange, KeyValue, Tree};
use crate::raft::store::StoreError;

/// A sled database as a [`Disk`].
#[derive(Debug, Clone)]
pub struct SledDisk {
    db: sled::Db,
}

impl SledDisk {
    /// The disk on an open database (see
    /// [`open_db`](crate::raft::store::open_db)).
    pub fn new(db: sled::Db) -> Self {
        Self { db }
    }

    /// The database underneath.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}

impl From<sled::Db> for SledDisk {
    fn from(db: sled::Db) -> Self {
        Self::new(db)
    }
}

impl Disk for SledDisk {
    type Tree = SledTree;

    fn open_tree(&self, name: &str) -> Result<SledTree, StoreError> {
        Ok(SledTree {
            tree: self.db.open_tree(name)?,
        })
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }
}

/// A sled tree as a [`Tree`].
#[derive(Debug, Clone)]
pub struct SledTree {
    tree: sled::Tree,
}

impl Tree for SledTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|value| value.to_vec()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        self.tree.insert(key, value)?;
        Ok(())
    }

    fn range(&self, range: KeyRange) -> impl Iterator<Item = Result<KeyValue, StoreError>> {
        self.tree.range::<Vec<u8>, _>(range).map(|item| {
            let (key, value) = item?;
            Ok((key.to_vec(), value.to_vec()))
        })
    }

    fn last(&self) -> Result<Option<KeyValue>, StoreError> {
        Ok(self
            .tree
            .last()?
            .map(|(key, value)| (key.to_vec(), value.to_vec())))
    }

    fn apply_batch(&self, batch: Batch) -> Result<(), StoreError> {
        let mut sled_batch = sled::Batch::default();
        for (key, value) in batch.writes {
            match value {
                Some(value) => sled_batch.insert(key, value),
                None => sled_batch.remove(key),
            }
        }
        Ok(self.tree.apply_batch(sled_batch)?)
    }
}
