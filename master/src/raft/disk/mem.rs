//! The simulation's backend: trees as `BTreeMap`s in memory, shared by
//! every handle to the disk.
//!
//! Nothing here spawns a thread, sleeps or reads a clock, and every call
//! (flush included) is finished when it returns, so a simulation driving
//! the stores stays deterministic. A write is kept as soon as it is made:
//! the disk outlives the simulated host, so a crash loses nothing, and a
//! master restarted on the same [`MemDisk`] sees every write its stores
//! made (in particular everything they flushed).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Batch, Disk, KeyRange, KeyValue, Tree};
use crate::raft::store::StoreError;

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// An in-memory [`Disk`]. Cloning is cheap and gives a handle to the same
/// data: keep one outside a simulated host to reopen its stores after a
/// restart.
#[derive(Debug, Clone, Default)]
pub struct MemDisk {
    inner: Arc<Mutex<MemDiskInner>>,
}

#[derive(Debug, Default)]
struct MemDiskInner {
    trees: BTreeMap<String, MemTree>,
    last_id: u64,
}

impl MemDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A lock nobody can poison: no code holding one of these locks panics,
/// and the maps are consistent between any two calls anyway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Disk for MemDisk {
    type Tree = MemTree;

    fn open_tree(&self, name: &str) -> Result<MemTree, StoreError> {
        Ok(lock(&self.inner)
            .trees
            .entry(name.to_owned())
            .or_default()
            .clone())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn flush_blocking(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn generate_id(&self) -> Result<u64, StoreError> {
        let mut inner = lock(&self.inner);
        inner.last_id = inner.last_id.wrapping_add(1);
        Ok(inner.last_id)
    }
}

/// A tree of a [`MemDisk`].
#[derive(Debug, Clone, Default)]
pub struct MemTree {
    entries: Arc<Mutex<Entries>>,
}

impl Tree for MemTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(lock(&self.entries).get(key).cloned())
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        lock(&self.entries).insert(key.to_vec(), value);
        Ok(())
    }

    fn range(&self, range: KeyRange) -> impl Iterator<Item = Result<KeyValue, StoreError>> {
        let (next, end) = range;
        MemRange {
            entries: Arc::clone(&self.entries),
            next,
            end,
        }
    }

    fn last(&self) -> Result<Option<KeyValue>, StoreError> {
        Ok(lock(&self.entries)
            .last_key_value()
            .map(|(key, value)| (key.clone(), value.clone())))
    }

    fn apply_batch(&self, batch: Batch) -> Result<(), StoreError> {
        let mut entries = lock(&self.entries);
        for (key, value) in batch.writes {
            match value {
                Some(value) => entries.insert(key, value),
                None => entries.remove(&key),
            };
        }
        Ok(())
    }
}

/// Iterates a range of a [`MemTree`] one entry per lock, like sled's
/// iterator: it sees writes made while it runs, and never holds the lock
/// between two calls.
#[derive(Debug)]
struct MemRange {
    entries: Arc<Mutex<Entries>>,
    /// Where the next entry is looked for: after the last one returned.
    next: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
}

impl Iterator for MemRange {
    type Item = Result<KeyValue, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bounds = (as_slice(&self.next), as_slice(&self.end));
        if is_empty(bounds) {
            return None;
        }
        let (key, value) = lock(&self.entries)
            .range::<[u8], _>(bounds)
            .next()
            .map(|(key, value)| (key.clone(), value.clone()))?;
        self.next = Bound::Excluded(key.clone());
        Some(Ok((key, value)))
    }
}

fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// Whether no key lies between the bounds (`BTreeMap::range` panics on
/// some of these).
fn is_empty((start, end): (Bound<&[u8]>, Bound<&[u8]>)) -> bool {
    match (start, end) {
        (Bound::Included(start), Bound::Included(end)) => start > end,
        (Bound::Included(start) | Bound::Excluded(start), Bound::Excluded(end))
        | (Bound::Excluded(start), Bound::Included(end)) => start >= end,
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(tree: &MemTree, range: KeyRange) -> Vec<u8> {
        tree.range(range)
            .map(|item| item.expect("mem never fails").0[0])
            .collect()
    }

    #[test]
    fn ranges_are_ordered_and_empty_ranges_do_not_panic() {
        let tree = MemDisk::new().open_tree("t").expect("tree");
        let mut batch = Batch::default();
        for key in [5u8, 1, 3, 2, 4] {
            batch.insert([key], [key]);
        }
        batch.remove([4]);
        tree.apply_batch(batch).expect("batch");
        let b = |key: u8| vec![key];
        use Bound::{Excluded, Included, Unbounded};
        assert_eq!(keys(&tree, (Unbounded, Unbounded)), [1, 2, 3, 5]);
        assert_eq!(keys(&tree, (Included(b(2)), Excluded(b(5)))), [2, 3]);
        assert_eq!(keys(&tree, (Excluded(b(2)), Included(b(5)))), [3, 5]);
        assert_eq!(keys(&tree, (Excluded(b(3)), Excluded(b(3)))), [0u8; 0]);
        assert_eq!(keys(&tree, (Included(b(5)), Included(b(1)))), [0u8; 0]);
        assert_eq!(keys(&tree, (Excluded(b(1)), Excluded(b(2)))), [0u8; 0]);
        assert_eq!(tree.last().expect("last"), Some((b(5), b(5))));
    }

    #[test]
    fn handles_share_the_data_and_ids_are_never_reused() {
        let disk = MemDisk::new();
        let other = disk.clone();
        disk.open_tree("t")
            .expect("tree")
            .insert(b"k", b"v".to_vec())
            .expect("insert");
        let tree = other.open_tree("t").expect("tree");
        assert_eq!(tree.get(b"k").expect("get"), Some(b"v".to_vec()));
        assert_eq!(
            other.open_tree("u").expect("tree").get(b"k").expect("get"),
            None
        );
        let first = disk.generate_id().expect("id");
        assert!(other.generate_id().expect("id") > first);
    }
}
