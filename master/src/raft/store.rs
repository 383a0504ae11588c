//! What the Raft stores share: the on-disk layout, the JSON codec, the
//! error type, and opening them (on sled in production, on a [`MemDisk`] in
//! the simulation; see [`disk`] for why there are two backends).
//!
//! # Layout
//!
//! One [`Disk`] per master (in production a [`sled::Db`] under its data
//! dir) holds three trees:
//!
//! | tree            | key                      | value                                   | owner |
//! |-----------------|--------------------------|-----------------------------------------|-------|
//! | `raft_log`      | log index, `u64` big-endian (so the trees' byte order is index order) | `openraft::Entry<TypeConfig>` as JSON | [`LogStore`] |
//! | `raft_meta`     | `vote`                   | `Vote<NodeId>` as JSON                  | [`LogStore`] |
//! |                 | `last_purged`            | `LogId<NodeId>` as JSON                 | |
//! |                 | `committed`              | `Option<LogId<NodeId>>` as JSON         | |
//! | `state_machine` | `state`                  | [`ClusterState`](crate::state::ClusterState) as JSON | [`StateMachine`] |
//! |                 | `last_applied`           | `Option<LogId<NodeId>>` as JSON         | |
//! |                 | `last_membership`        | `StoredMembership<NodeId, MasterNode>` as JSON | |
//! |                 | `snapshot_meta`          | `SnapshotMeta<NodeId, MasterNode>` of the latest snapshot, as JSON | |
//! |                 | `snapshot_data`          | its bytes ([`AppliedState`] as JSON)    | |
//!
//! JSON everywhere: the log payload ([`Request`](crate::state::Request)) is
//! a pinned, persisted format, and JSON keeps every record readable with a
//! plain sled dump.
//!
//! # Durability
//!
//! The stores rely only on what every [`Disk`] promises (see [`disk`]): a
//! [`Batch`] applied to one tree is atomic (after a crash it is either
//! wholly there or wholly absent), and `flush` makes every earlier write to
//! every tree of the disk durable. On sled, writes go to its page cache and
//! reach the disk on `flush` (or its own background flush every 500 ms,
//! which we never rely on). The argument for each write is with the code
//! that does it, in [`log_store`] and [`state_machine`].
//!
//! [`disk`]: super::disk
//! [`Disk`]: super::disk::Disk
//! [`Batch`]: super::disk::Batch
//! [`MemDisk`]: super::disk::MemDisk
//! [`log_store`]: super::log_store
//! [`state_machine`]: super::state_machine
//! [`LogStore`]: super::log_store::LogStore
//! [`StateMachine`]: super::state_machine::StateMachine
//! [`AppliedState`]: super::state_machine::AppliedState

use std::path::Path;
use std::time::{Duration, Instant};

use openraft::{ErrorSubject, ErrorVerb, StorageError, StorageIOError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::disk::{Disk, MemDisk, SledDisk, Tree};
use super::log_store::{LogStore, SledLogStore};
use super::state_machine::{SledStateMachine, StateMachine};
use super::types::NodeId;

/// sled's page cache size. sled's default (1 GiB) grows a master's RSS to
/// hundreds of MB; the masters' data is a few MB.
pub const CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) const LOG_TREE: &str = "raft_log";
pub(crate) const META_TREE: &str = "raft_meta";
pub(crate) const STATE_MACHINE_TREE: &str = "state_machine";

/// openraft's storage error for our node id type.
pub type RaftStorageError = StorageError<NodeId>;

/// An error of the Raft stores.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("corrupt {what} on disk: {source}")]
    Decode {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("corrupt {what} on disk: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("snapshot {snapshot_id} is inconsistent: {detail}")]
    BadSnapshot { snapshot_id: String, detail: String },
}

impl StoreError {
    /// As openraft's error, naming what failed.
    pub(crate) fn into_raft(
        self,
        subject: ErrorSubject<NodeId>,
        verb: ErrorVerb,
    ) -> RaftStorageError {
        StorageIOError::new(subject, verb, &self).into()
    }
}

/// How long [`open_db`] waits for a just-closed database's file lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Opens (or creates) the sled database of one master at `path` with a
/// bounded cache.
///
/// sled locks the directory: drop every handle (stores, `Raft`) before
/// opening the same path again. Even then sled's IO threads keep the file
/// open for a moment after the last handle is gone (a write finishing after
/// it woke the flush waiting for it), so a reopen right after a drop can
/// find the lock taken; this waits up to [`LOCK_WAIT`] for it. Blocking: call
/// it at startup or from `spawn_blocking`.
pub fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_CAPACITY_BYTES)
            .open()
        {
            Err(e) if is_lock_conflict(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return Ok(result?),
        }
    }
}

/// sled reports a held lock only as an `Other` IO error with this text.
fn is_lock_conflict(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// Opens the database at `path` and both stores on it.
pub fn open_stores(path: &Path) -> Result<(SledLogStore, SledStateMachine), StoreError> {
    stores_from_db(&open_db(path)?)
}

/// Both stores on an already open database (they share it: one flush makes
/// both durable).
pub fn stores_from_db(db: &sled::Db) -> Result<(SledLogStore, SledStateMachine), StoreError> {
    stores_on(&SledDisk::new(db.clone()))
}

/// Both stores on an in-memory disk, for the simulation. Opening them again
/// on the same `disk` (after dropping them, as a crashed and restarted host
/// does) finds everything they wrote.
pub fn mem_stores(
    disk: &MemDisk,
) -> Result<(LogStore<MemDisk>, StateMachine<MemDisk>), StoreError> {
    stores_on(disk)
}

/// Both stores on `disk` (they share it: one flush makes both durable).
pub fn stores_on<D: Disk>(disk: &D) -> Result<(LogStore<D>, StateMachine<D>), StoreError> {
    Ok((LogStore::open(disk)?, StateMachine::open(disk)?))
}

pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Encode { what, source })
}

pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode { what, source })
}

/// Reads and decodes `key` of `tree`, `None` when absent.
pub(crate) fn get_json<T: DeserializeOwned>(
    tree: &impl Tree,
    key: &'static str,
) -> Result<Option<T>, StoreError> {
    tree.get(key.as_bytes())?
        .map(|bytes| decode(key, &bytes))
        .transpose()
}
