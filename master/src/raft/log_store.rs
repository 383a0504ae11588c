//! The Raft log and vote on a [`Disk`]: [`LogStore`] (openraft's
//! `RaftLogStorage`) and its cheap, cloneable [`LogReader`];
//! [`SledLogStore`] is the production one.
//!
//! Entries live in the `raft_log` tree under their index as big-endian
//! `u64`; the vote, the last purged log id and the committed log id live in
//! the `raft_meta` tree (see [`store`](super::store) for the whole layout).
//!
//! # Durability
//!
//! - `append` applies the entries as one `Batch` (atomic: a crash leaves no
//!   hole) and reports them flushed to openraft only after the disk's
//!   `flush` (sled's `flush_async`) returned. openraft counts an entry
//!   towards a quorum only once reported, so an acknowledged entry survives
//!   a crash.
//! - `save_vote` flushes before returning: a master must never vote twice in
//!   a term, even across a crash.
//! - `truncate` removes the conflicting suffix as one `Batch` and flushes
//!   before returning, so entries appended afterwards cannot reach the disk
//!   while the removed ones come back.
//! - `purge` first records and flushes the new `last_purged`, then removes
//!   the entries (one `Batch`) and flushes. A crash in between leaves
//!   entries at or below `last_purged`; [`LogStore::open`] removes them.
//!   The opposite order could lose the entries but keep an old
//!   `last_purged`: a hole at the start of the log.
//! - `save_committed` does not flush: the committed id only lets a
//!   restarted master re-apply sooner, and the state machine is durable on
//!   its own (it flushes in `apply`). A stale committed id is safe.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, Vote};
use serde::Serialize;

use super::disk::{Batch, Disk, KeyRange, MemDisk, SledDisk, Tree};
use super::store::{decode, encode, get_json, RaftStorageError, StoreError, LOG_TREE, META_TREE};
use super::types::{NodeId, TypeConfig};

const VOTE_KEY: &str = "vote";
const LAST_PURGED_KEY: &str = "last_purged";
const COMMITTED_KEY: &str = "committed";

/// The most entry bytes [`RaftLogReader::limited_get_log_entries`] returns
/// at once (at least one entry). Keeps an AppendEntries request to a
/// lagging follower well below gRPC's default 4 MiB message limit.
pub const MAX_READ_BYTES: usize = 1024 * 1024;

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn key_index(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| StoreError::Corrupt {
        what: "log key",
        detail: format!("{} bytes, expected 8", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

/// `range` as tree keys; `None` when it holds no index.
fn key_range(range: &impl RangeBounds<u64>) -> Option<KeyRange> {
    let start = match range.start_bound() {
        Bound::Included(&i) => i,
        Bound::Excluded(&i) => i.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&i) if i >= start => Bound::Included(index_key(i).into()),
        Bound::Excluded(&i) if i > start => Bound::Excluded(index_key(i).into()),
        Bound::Unbounded => Bound::Unbounded,
        _ => return None,
    };
    Some((Bound::Included(index_key(start).into()), end))
}

/// Reads log entries; shares the tree with its [`LogStore`] (cloning is
/// a reference-count increment).
#[derive(Debug, Clone)]
pub struct LogReader<D: Disk> {
    log: D::Tree,
}

/// The production log reader, on sled.
pub type SledLogReader = LogReader<SledDisk>;

impl<D: Disk> LogReader<D> {
    /// Entries in `range`, in order, stopping after `max_bytes` of encoded
    /// entries (but always returning the first one present).
    fn read(
        &self,
        range: &impl RangeBounds<u64>,
        max_bytes: Option<usize>,
    ) -> Result<Vec<Entry<TypeConfig>>, StoreError> {
        let Some(keys) = key_range(range) else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        let mut bytes = 0;
        for item in self.log.range(keys) {
            let (key, value) = item?;
            let index = key_index(&key)?;
            let entry: Entry<TypeConfig> = decode("log entry", &value)?;
            if entry.log_id.index != index {
                return Err(StoreError::Corrupt {
                    what: "log entry",
                    detail: format!("entry {} stored under index {index}", entry.log_id),
                });
            }
            entries.push(entry);
            bytes += value.len();
            if max_bytes.is_some_and(|max| bytes >= max) {
                break;
            }
        }
        Ok(entries)
    }

    /// The id of the last entry present.
    fn last_log_id(&self) -> Result<Option<LogId<NodeId>>, StoreError> {
        let Some((_, value)) = self.log.last()? else {
            return Ok(None);
        };
        let entry: Entry<TypeConfig> = decode("log entry", &value)?;
        Ok(Some(entry.log_id))
    }
}

fn read_logs_error(e: StoreError) -> RaftStorageError {
    e.into_raft(ErrorSubject::Logs, ErrorVerb::Read)
}

impl<D: Disk> RaftLogReader<TypeConfig> for LogReader<D> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, RaftStorageError> {
        self.read(&range, None).map_err(read_logs_error)
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry<TypeConfig>>, RaftStorageError> {
        self.read(&(start..end), Some(MAX_READ_BYTES))
            .map_err(read_logs_error)
    }
}

/// The Raft log and vote of one master, on a [`Disk`].
#[derive(Debug, Clone)]
pub struct LogStore<D: Disk> {
    disk: D,
    reader: LogReader<D>,
    meta: D::Tree,
}

/// The production log store, on sled.
pub type SledLogStore = LogStore<SledDisk>;

/// The simulation's log store, in memory.
pub type MemLogStore = LogStore<MemDisk>;

impl<D: Disk> LogStore<D> {
    /// The log store on `disk`. Finishes a purge a crash interrupted
    /// (removes entries at or below the recorded `last_purged`).
    pub fn open(disk: &D) -> Result<Self, StoreError> {
        let store = Self {
            disk: disk.clone(),
            reader: LogReader {
                log: disk.open_tree(LOG_TREE)?,
            },
            meta: disk.open_tree(META_TREE)?,
        };
        if let Some(purged) = store.last_purged()? {
            if store.remove_up_to(purged.index)? > 0 {
                store.disk.flush_blocking()?;
            }
        }
        Ok(store)
    }

    /// A reader sharing this store's log.
    pub fn reader(&self) -> LogReader<D> {
        self.reader.clone()
    }

    fn last_purged(&self) -> Result<Option<LogId<NodeId>>, StoreError> {
        get_json(&self.meta, LAST_PURGED_KEY)
    }

    fn put_meta<T: Serialize>(&self, key: &'static str, value: &T) -> Result<(), StoreError> {
        self.meta.insert(key.as_bytes(), encode(key, value)?)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.disk.flush().await
    }

    /// Removes every entry with index `<= last` in one batch; returns how
    /// many.
    fn remove_up_to(&self, last: u64) -> Result<usize, StoreError> {
        self.remove((Bound::Unbounded, Bound::Included(index_key(last).into())))
    }

    fn remove(&self, keys: KeyRange) -> Result<usize, StoreError> {
        let mut batch = Batch::default();
        let mut removed = 0;
        for item in self.reader.log.range(keys) {
            let (key, _) = item?;
            batch.remove(key);
            removed += 1;
        }
        if removed > 0 {
            self.reader.log.apply_batch(batch)?;
        }
        Ok(removed)
    }

    fn log_state(&self) -> Result<LogState<TypeConfig>, StoreError> {
        let last_purged_log_id = self.last_purged()?;
        let last_log_id = self.reader.last_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    fn write_entries(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        for entry in entries {
            batch.insert(index_key(entry.log_id.index), encode("log entry", &entry)?);
        }
        self.reader.log.apply_batch(batch)
    }

    async fn append_durably(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> Result<(), StoreError> {
        self.write_entries(entries)?;
        self.flush().await
    }

    async fn purge_durably(&self, log_id: LogId<NodeId>) -> Result<(), StoreError> {
        if self.last_purged()?.is_some_and(|purged| purged >= log_id) {
            return Ok(());
        }
        self.put_meta(LAST_PURGED_KEY, &log_id)?;
        self.flush().await?;
        if self.remove_up_to(log_id.index)? > 0 {
            self.flush().await?;
        }
        Ok(())
    }
}

impl<D: Disk> RaftLogReader<TypeConfig> for LogStore<D> {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, RaftStorageError> {
        self.reader.try_get_log_entries(range).await
    }

    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry<TypeConfig>>, RaftStorageError> {
        self.reader.limited_get_log_entries(start, end).await
    }
}

impl<D: Disk> RaftLogStorage<TypeConfig> for LogStore<D> {
    type LogReader = LogReader<D>;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, RaftStorageError> {
        self.log_state().map_err(read_logs_error)
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), RaftStorageError> {
        let write = async {
            self.put_meta(VOTE_KEY, vote)?;
            self.flush().await
        };
        write
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Vote, ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, RaftStorageError> {
        get_json(&self.meta, VOTE_KEY).map_err(|e| e.into_raft(ErrorSubject::Vote, ErrorVerb::Read))
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), RaftStorageError> {
        self.put_meta(COMMITTED_KEY, &committed)
            .map_err(|e| e.into_raft(ErrorSubject::Store, ErrorVerb::Write))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, RaftStorageError> {
        get_json::<Option<LogId<NodeId>>>(&self.meta, COMMITTED_KEY)
            .map(Option::flatten)
            .map_err(|e| e.into_raft(ErrorSubject::Store, ErrorVerb::Read))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), RaftStorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Flushing inline (rather than in a spawned task) keeps completions
        // in submission order; openraft 0.9 waits for the callback before
        // its next step anyway.
        match self.append_durably(entries).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(e.into_raft(ErrorSubject::Logs, ErrorVerb::Write))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), RaftStorageError> {
        let write = async {
            let suffix = (
                Bound::Included(index_key(log_id.index).into()),
                Bound::Unbounded,
            );
            if self.remove(suffix)? > 0 {
                self.flush().await?;
            }
            Ok::<_, StoreError>(())
        };
        write
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Logs, ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), RaftStorageError> {
        self.purge_durably(log_id)
            .await
            .map_err(|e| e.into_raft(ErrorSubject::Logs, ErrorVerb::Delete))
    }
}

#[cfg(test)]
mod tests {
    use openraft::storage::RaftLogStorageExt;
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::raft::store::open_db;
    use crate::state::{Command, Request};

    fn log_id(index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(2, 7), index)
    }

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(Request {
                command: Command::RegisterWorker {
                    name: format!("worker-{index}"),
                    addr: format!("10.0.0.{}:8262", index % 250),
                    keepalive_ttl_ms: 0,
                    config: String::new(),
                },
                proposed_at_ms: 1_700_000_000_000 + index,
            }),
        }
    }

    async fn append_range(store: &mut SledLogStore, indexes: std::ops::RangeInclusive<u64>) {
        let all: Vec<u64> = indexes.collect();
        for chunk in all.chunks(64) {
            store
                .blocking_append(chunk.iter().map(|&i| entry(i)))
                .await
                .expect("append");
        }
    }

    #[test]
    fn key_ranges_cover_exactly_the_requested_indexes() {
        let k = |i: u64| i.to_be_bytes().to_vec();
        assert_eq!(key_range(&(3..3)), None);
        let (five, three) = (5, 3);
        assert_eq!(key_range(&(five..three)), None);
        assert_eq!(key_range(&(five..=three)), None);
        assert_eq!(
            key_range(&(3..=3)),
            Some((Bound::Included(k(3)), Bound::Included(k(3))))
        );
        assert_eq!(
            key_range(&(..)),
            Some((Bound::Included(k(0)), Bound::Unbounded))
        );
        assert_eq!(
            key_range(&(Bound::Excluded(u64::MAX), Bound::Unbounded)),
            None
        );
        // Big-endian keys sort like the indexes.
        assert!(k(255) < k(256));
    }

    /// The log on disk is read by every later version: an openraft upgrade
    /// that changes how it serializes entries or votes must fail here first.
    #[test]
    fn entries_and_votes_have_a_pinned_encoding() {
        let blank = Entry::<TypeConfig> {
            log_id: log_id(1),
            payload: EntryPayload::Blank,
        };
        assert_eq!(
            String::from_utf8(encode("e", &blank).expect("encode")).expect("utf8"),
            r#"{"log_id":{"leader_id":{"term":2,"node_id":7},"index":1},"payload":"Blank"}"#
        );
        let normal = encode("e", &entry(3)).expect("encode");
        assert_eq!(
            String::from_utf8(normal.clone()).expect("utf8"),
            r#"{"log_id":{"leader_id":{"term":2,"node_id":7},"index":3},"payload":{"Normal":{"command":{"RegisterWorker":{"name":"worker-3","addr":"10.0.0.3:8262","keepalive_ttl_ms":0}},"proposed_at_ms":1700000000003}}}"#
        );
        assert_eq!(
            decode::<Entry<TypeConfig>>("e", &normal).expect("decode"),
            entry(3)
        );
        assert_eq!(
            String::from_utf8(encode("v", &Vote::new_committed(2, 7)).expect("encode"))
                .expect("utf8"),
            r#"{"leader_id":{"term":2,"node_id":7},"committed":true}"#
        );
    }

    #[tokio::test]
    async fn a_purge_and_the_vote_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vote = Vote::new_committed(2, 7);
        {
            let db = open_db(dir.path()).expect("open db");
            let mut store = SledLogStore::open(&SledDisk::new(db.clone())).expect("open store");
            append_range(&mut store, 1..=1000).await;
            store.save_vote(&vote).await.expect("save vote");
            store.purge(log_id(900)).await.expect("purge");
        }

        let db = open_db(dir.path()).expect("reopen db");
        let mut store = SledLogStore::open(&SledDisk::new(db.clone())).expect("reopen store");
        let state = store.get_log_state().await.expect("log state");
        assert_eq!(state.last_purged_log_id, Some(log_id(900)));
        assert_eq!(state.last_log_id, Some(log_id(1000)));
        assert_eq!(store.read_vote().await.expect("read vote"), Some(vote));

        let entries = store.try_get_log_entries(..).await.expect("read log");
        let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
        assert_eq!(indexes, (901..=1000).collect::<Vec<_>>());
        assert_eq!(entries[0], entry(901));
        assert_eq!(db.open_tree(LOG_TREE).expect("tree").len(), 100);
    }

    #[tokio::test]
    async fn open_finishes_a_purge_a_crash_interrupted() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let db = open_db(dir.path()).expect("open db");
            let mut store = SledLogStore::open(&SledDisk::new(db.clone())).expect("open store");
            append_range(&mut store, 1..=10).await;
            // The first half of a purge: the id is recorded, the entries remain.
            store.put_meta(LAST_PURGED_KEY, &log_id(6)).expect("meta");
            db.flush().expect("flush");
        }
        let db = open_db(dir.path()).expect("reopen db");
        let mut store = SledLogStore::open(&SledDisk::new(db.clone())).expect("reopen store");
        let entries = store.try_get_log_entries(..).await.expect("read log");
        assert_eq!(entries.first().map(|e| e.log_id.index), Some(7));
        assert_eq!(entries.len(), 4);
    }

    #[tokio::test]
    async fn truncate_removes_the_suffix_and_purge_never_goes_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path()).expect("open db");
        let mut store = SledLogStore::open(&SledDisk::new(db.clone())).expect("open store");
        append_range(&mut store, 1..=10).await;
        store.truncate(log_id(8)).await.expect("truncate");
        store.purge(log_id(3)).await.expect("purge");
        store
            .purge(log_id(2))
            .await
            .expect("older purge is a no-op");
        let state = store.get_log_state().await.expect("log state");
        assert_eq!(state.last_purged_log_id, Some(log_id(3)));
        assert_eq!(state.last_log_id, Some(log_id(7)));
        let mut reader = store.get_log_reader().await;
        let entries = reader.try_get_log_entries(0..100).await.expect("read");
        assert_eq!(entries.len(), 4);
    }

    #[tokio::test]
    async fn limited_reads_stop_at_the_byte_budget_but_return_something() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path()).expect("open db");
        let mut store = SledLogStore::open(&SledDisk::new(db.clone())).expect("open store");
        let big = |index: u64| Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(Request {
                command: Command::StartTask {
                    name: format!("t{index}"),
                    config_yaml: "x".repeat(MAX_READ_BYTES / 3),
                    sources: vec![],
                    stage: crate::state::TaskStage::Running,
                    start_time: String::new(),
                },
                proposed_at_ms: 0,
            }),
        };
        store
            .blocking_append((1..=10).map(big))
            .await
            .expect("append");
        let mut reader = store.get_log_reader().await;
        let some = reader.limited_get_log_entries(1, 11).await.expect("read");
        assert_eq!(some.len(), 3);
        let one = reader.limited_get_log_entries(10, 11).await.expect("read");
        assert_eq!(one.len(), 1);
        let all = reader.try_get_log_entries(1..11).await.expect("read");
        assert_eq!(all.len(), 10);
    }
}
