//! What the Raft stores are written against: a [`Disk`] of named
//! [`Tree`]s (ordered byte maps) and its two backends, [`SledDisk`] and
//! [`MemDisk`].
//!
//! [`LogStore`] and [`StateMachine`] keep their data in trees and ask the
//! disk to make their writes durable; they never name a backend, so there is
//! one implementation of the Raft storage logic, and it is the one
//! production runs.
//!
//! # Why two backends
//!
//! Production runs on sled ([`SledDisk`]). The deterministic simulation
//! (turmoil) cannot: sled runs its own IO and flusher threads, and
//! `flush_async` completes on one of them, so when a flush finishes, and
//! with it what a simulated master does next, depends on the OS scheduler
//! and the wall clock instead of the simulation's seed. The simulation runs
//! the same stores on [`MemDisk`]: maps in memory, every call finishing
//! before it returns, no threads, no real time. A `MemDisk` is a handle
//! (cloning shares the maps): the simulation keeps one per master outside
//! the simulated host and reopens the stores on it when the host restarts
//! after a crash.
//!
//! # What a backend promises
//!
//! The durability arguments in [`log_store`] and [`state_machine`] rest on
//! exactly these:
//!
//! - a tree's keys are ordered bytewise ([`Tree::range`], [`Tree::last`]);
//! - a [`Batch`] applied to one tree is atomic: after a crash it is wholly
//!   there or wholly absent;
//! - once [`Disk::flush`] (or [`Disk::flush_blocking`]) returns, every
//!   write to any tree of the disk made before it was called survives a
//!   crash;
//! - [`Disk::generate_id`] never returns the same id twice on one disk,
//!   even across reopens.
//!
//! [`MemDisk`] keeps every write as soon as it is made (a crash of the
//! simulated host does not touch the disk), so flushing it has nothing to
//! do: it meets the promises trivially.
//!
//! [`LogStore`]: super::log_store::LogStore
//! [`StateMachine`]: super::state_machine::StateMachine
//! [`log_store`]: super::log_store
//! [`state_machine`]: super::state_machine

mod mem;
mod sled;

use std::fmt::Debug;
use std::future::Future;
use std::ops::Bound;

pub use self::mem::{MemDisk, MemTree};
pub use self::sled::{SledDisk, SledTree};
use super::store::StoreError;

/// A range of keys of a tree.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A storage backend: named trees, a flush that makes all of them durable,
/// and an id generator. Cloning gives another handle to the same disk.
pub trait Disk: Clone + Debug + Send + Sync + 'static {
    type Tree: Tree;

    /// The tree called `name`, created empty if it does not exist.
    fn open_tree(&self, name: &str) -> Result<Self::Tree, StoreError>;

    /// Makes every write made so far to any tree durable.
    fn flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// [`Disk::flush`] for synchronous callers (opening the stores).
    fn flush_blocking(&self) -> Result<(), StoreError>;

    /// An id this disk never returned before, even before a reopen.
    fn generate_id(&self) -> Result<u64, StoreError>;
}

/// An ordered map of bytes to bytes on a [`Disk`]. Cloning gives another
/// handle to the same tree.
pub trait Tree: Clone + Debug + Send + Sync + 'static {
    /// The value of `key`, if present.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets `key` to `value`.
    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), StoreError>;

    /// The entries in `range`, in key order.
    fn range(&self, range: KeyRange) -> impl Iterator<Item = Result<KeyValue, StoreError>>;

    /// The entry with the greatest key.
    fn last(&self) -> Result<Option<KeyValue>, StoreError>;

    /// Applies every write of `batch`, in order, atomically.
    fn apply_batch(&self, batch: Batch) -> Result<(), StoreError>;
}

/// Writes to one tree that [`Tree::apply_batch`] applies atomically.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// In order; `None` removes the key.
    writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push((key.into(), Some(value.into())));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.writes.push((key.into(), None));
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}
