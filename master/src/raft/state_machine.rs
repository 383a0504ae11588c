//! The replicated [`ClusterState`] as openraft's state machine, persisted
//! on a [`Disk`]: [`StateMachine`] ([`SledStateMachine`] in production),
//! and [`StateReader`], the handle the service layer reads the state
//! through.
//!
//! The `state_machine` tree holds the applied state as three keys (`state`,
//! `last_applied`, `last_membership`) and the latest snapshot as two
//! (`snapshot_meta`, `snapshot_data`); see [`store`](super::store).
//!
//! # Durability
//!
//! - `apply` applies a batch of entries to a copy of the state, writes the
//!   copy with its `last_applied` and membership as one `Batch`, flushes,
//!   and only then publishes it to readers and returns. So the state on disk
//!   is never behind what a client was told, readers never see a state a
//!   crash could take back, and a restarted master starts from its last
//!   applied entry even after the log below it was purged (openraft re-applies
//!   only the entries after `last_applied`).
//! - `install_snapshot` writes the new state and the snapshot as one
//!   `Batch` and flushes before returning: openraft purges the log up to
//!   the snapshot right after.
//! - `build_snapshot` stores the snapshot it built (one `Batch`, flushed) so
//!   `get_current_snapshot` survives a restart. It never replaces a newer
//!   stored snapshot: building runs in its own task and may finish after a
//!   snapshot from the leader was installed.

use std::io::Cursor;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use openraft::storage::RaftStateMachine;
use openraft::{
    Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftSnapshotBuilder,
    Snapshot, SnapshotMeta, StoredMembership,
};
use serde::{Deserialize, Serialize};

use super::disk::{Batch, Disk, MemDisk, SledDisk, Tree};
use super::store::{decode, encode, get_json, RaftStorageError, StoreError, STATE_MACHINE_TREE};
use super::types::{MasterNode, NodeId, TypeConfig};
use crate::state::{ClusterState, Response};

const STATE_KEY: &str = "state";
const LAST_APPLIED_KEY: &str = "last_applied";
const LAST_MEMBERSHIP_KEY: &str = "last_membership";
const SNAPSHOT_META_KEY: &str = "snapshot_meta";
const SNAPSHOT_DATA_KEY: &str = "snapshot_data";

/// What the state machine has applied: the cluster state, the id of the
/// last entry applied and the last membership. Also the snapshot payload
/// (as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppliedState {
    pub last_applied: Option<LogId<NodeId>>,
    pub last_membership: StoredMembership<NodeId, MasterNode>,
    pub state: ClusterState,
}

/// Read access to the applied state for the service layer; cheap to clone.
///
/// Every value it hands out is durable (the state machine publishes only
/// after flushing) and consistent (state and `last_applied` change
/// together). Reads take a lock only to clone an `Arc`: a reader never
/// blocks `apply` for longer than that, whatever it does with the state.
#[derive(Debug, Clone, Default)]
pub struct StateReader {
    current: Arc<RwLock<Arc<AppliedState>>>,
}

impl StateReader {
    /// The applied state as of now (a shared, immutable copy).
    pub fn current(&self) -> Arc<AppliedState> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `f` on the current cluster state.
    pub fn read<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        f(&self.current().state)
    }

    /// The id of the last entry applied.
    pub fn last_applied(&self) -> Option<LogId<NodeId>> {
        self.current().last_applied
    }

    fn publish(&self, next: Arc<AppliedState>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
    }
}

/// The `state_machine` tree, shared by the state machine and its snapshot
/// builders.
#[derive(Debug, Clone)]
struct MachineTree<D: Disk> {
    disk: D,
    tree: D::Tree,
    /// Serializes "compare with the stored snapshot, then write" between
    /// snapshot builders and `install_snapshot`.
    snapshot_lock: Arc<Mutex<()>>,
}

impl<D: Disk> MachineTree<D> {
    fn load_applied(&self) -> Result<AppliedState, StoreError> {
        let state = get_json(&self.tree, STATE_KEY)?;
        let last_applied = get_json(&self.tree, LAST_APPLIED_KEY)?;
        let last_membership = get_json(&self.tree, LAST_MEMBERSHIP_KEY)?;
        match (state, last_applied, last_membership) {
            (None, None, None) => Ok(AppliedState::default()),
            (Some(state), Some(last_applied), Some(last_membership)) => Ok(AppliedState {
                last_applied,
                last_membership,
                state,
            }),
            _ => Err(StoreError::Corrupt {
                what: "state machine",
                detail: "state, last_applied and last_membership are not all present".into(),
            }),
        }
    }

    fn put_applied(batch: &mut Batch, applied: &AppliedState) -> Result<(), StoreError> {
        batch.insert(STATE_KEY, encode(STATE_KEY, &applied.state)?);
        batch.insert(
            LAST_APPLIED_KEY,
            encode(LAST_APPLIED_KEY, &applied.last_applied)?,
        );
        batch.insert(
            LAST_MEMBERSHIP_KEY,
            encode(LAST_MEMBERSHIP_KEY, &applied.last_membership)?,
        );
        Ok(())
    }

    fn put_snapshot(
        batch: &mut Batch,
        meta: &SnapshotMeta<NodeId, MasterNode>,
        data: &[u8],
    ) -> Result<(), StoreError> {
        batch.insert(SNAPSHOT_META_KEY, encode(SNAPSHOT_META_KEY, meta)?);
        batch.insert(SNAPSHOT_DATA_KEY, data);
        Ok(())
    }

    fn save_applied(&self, applied: &AppliedState) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        Self::put_applied(&mut batch, applied)?;
        self.tree.apply_batch(batch)
    }

    fn stored_snapshot_meta(&self) -> Result<Option<SnapshotMeta<NodeId, MasterNode>>, StoreError> {
        get_json(&self.tree, SNAPSHOT_META_KEY)
    }

    /// Stores a built snapshot unless a newer one is stored already.
    fn save_snapshot_unless_older(
        &self,
        meta: &SnapshotMeta<NodeId, MasterNode>,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let _guard = self
            .snapshot_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(stored) = self.stored_snapshot_meta()? {
            if stored.last_log_id > meta.last_log_id {
                return Ok(());
            }
        }
        let mut batch = Batch::default();
        Self::put_snapshot(&mut batch, meta, data)?;
        self.tree.apply_batch(batch)
    }

    /// Replaces the applied state and the stored snapshot at once.
    fn save_installed(
        &self,
        applied: &AppliedState,
        meta: &SnapshotMeta<NodeId, MasterNode>,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let _guard = self
            .snapshot_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut batch = Batch::default();
        Self::put_applied(&mut batch, applied)?;
        Self::put_snapshot(&mut batch, meta, data)?;
        self.tree.apply_batch(batch)
    }

    fn load_snapshot(&self) -> Result<Option<Snapshot<TypeConfig>>, StoreError> {
        let Some(meta) = self.stored_snapshot_meta()? else {
            return Ok(None);
        };
        let data = self
            .tree
            .get(SNAPSHOT_DATA_KEY.as_bytes())?
            .ok_or(StoreError::Corrupt {
                what: "snapshot",
                detail: "snapshot_meta without snapshot_data".into(),
            })?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.disk.flush().await
    }
}

/// The masters' state machine on a [`Disk`]. Cloning gives a handle to the
/// same machine (openraft uses a clone as the snapshot builder).
#[derive(Debug, Clone)]
pub struct StateMachine<D: Disk> {
    tree: MachineTree<D>,
    reader: StateReader,
}

/// The production state machine, on sled.
pub type SledStateMachine = StateMachine<SledDisk>;

/// The simulation's state machine, in memory.
pub type MemStateMachine = StateMachine<MemDisk>;

impl<D: Disk> StateMachine<D> {
    /// The state machine on `disk`, with the state it last persisted.
    pub fn open(disk: &D) -> Result<Self, StoreError> {
        let tree = MachineTree {
            disk: disk.clone(),
            tree: disk.open_tree(STATE_MACHINE_TREE)?,
            snapshot_lock: Arc::default(),
        };
        let applied = tree.load_applied()?;
        let reader = StateReader::default();
        reader.publish(Arc::new(applied));
        Ok(Self { tree, reader })
    }

    /// The handle the service layer reads the state through.
    pub fn reader(&self) -> StateReader {
        self.reader.clone()
    }

    async fn apply_durably(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> Result<Vec<Response>, StoreError> {
        let mut next = AppliedState::clone(&self.reader.current());
        let mut responses = Vec::new();
        for entry in entries {
            let response = match entry.payload {
                EntryPayload::Blank => Response::Done,
                EntryPayload::Normal(request) => {
                    next.state.apply(&request.command, request.proposed_at_ms)
                }
                EntryPayload::Membership(membership) => {
                    next.last_membership = StoredMembership::new(Some(entry.log_id), membership);
                    Response::Done
                }
            };
            next.last_applied = Some(entry.log_id);
            responses.push(response);
        }
        if responses.is_empty() {
            return Ok(responses);
        }
        self.tree.save_applied(&next)?;
        self.tree.flush().await?;
        self.reader.publish(Arc::new(next));
        Ok(responses)
    }

    async fn build(&self) -> Result<Snapshot<TypeConfig>, StoreError> {
        let applied = self.reader.current();
        let data = encode("snapshot", &*applied)?;
        let seq = self.tree.disk.generate_id()?;
        let snapshot_id = match &applied.last_applied {
            Some(id) => format!("{}-{}-{seq}", id.leader_id.term, id.index),
            None => format!("0-0-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: applied.last_applied,
            last_membership: applied.last_membership.clone(),
            snapshot_id,
        };
        self.tree.save_snapshot_unless_older(&meta, &data)?;
        self.tree.flush().await?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }

    async fn install(
        &self,
        meta: &SnapshotMeta<NodeId, MasterNode>,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let applied: AppliedState = decode("snapshot", &data)?;
        let inconsistent = |detail: &str| StoreError::BadSnapshot {
            snapshot_id: meta.snapshot_id.clone(),
            detail: detail.to_string(),
        };
        if applied.last_applied != meta.last_log_id {
            return Err(inconsistent("its data and its meta differ in last log id"));
        }
        if applied.last_membership != meta.last_membership {
            return Err(inconsistent("its data and its meta differ in membership"));
        }
        self.tree.save_installed(&applied, meta, &data)?;
        self.tree.flush().await?;
        self.reader.publish(Arc::new(applied));
        Ok(())
    }
}

fn snapshot_error(
    meta: Option<&SnapshotMeta<NodeId, MasterNode>>,
    verb: ErrorVerb,
) -> impl FnOnce(StoreError) -> RaftStorageError {
    let subject = ErrorSubject::Snapshot(meta.map(SnapshotMeta::signature));
    move |e| e.into_raft(subject, verb)
}

impl<D: Disk> RaftSnapshotBuilder<TypeConfig> for StateMachine<D> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, RaftStorageError> {
        self.build()
            .await
            .map_err(snapshot_error(None, ErrorVerb::Write))
    }
}

impl<D: Disk> RaftStateMachine<TypeConfig> for StateMachine<D> {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, MasterNode>), RaftStorageError>
    {
        let current = self.reader.current();
        Ok((current.last_applied, current.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, RaftStorageError>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.apply_durably(entries)
            .await
            .map_err(|e| e.into_raft(ErrorSubject::StateMachine, ErrorVerb::Write))
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, RaftStorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, MasterNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), RaftStorageError> {
        self.install(meta, snapshot.into_inner())
            .await
            .map_err(snapshot_error(Some(meta), ErrorVerb::Write))
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, RaftStorageError> {
        self.tree
            .load_snapshot()
            .map_err(snapshot_error(None, ErrorVerb::Read))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::{CommittedLeaderId, Membership};

    use super::*;
    use crate::raft::store::open_db;
    use crate::state::{Command, Request};

    fn log_id(index: u64) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(3, 1), index)
    }

    fn register(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(Request {
                command: Command::RegisterWorker {
                    name: format!("w{index}"),
                    addr: format!("w{index}:8262"),
                    keepalive_ttl_ms: 0,
                    config: String::new(),
                },
                proposed_at_ms: index,
            }),
        }
    }

    fn membership(index: u64) -> Entry<TypeConfig> {
        let voters: BTreeSet<NodeId> = [1, 2, 3].into();
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
        }
    }

    #[tokio::test]
    async fn the_latest_snapshot_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let built = {
            let db = open_db(dir.path()).expect("open db");
            let mut sm = SledStateMachine::open(&SledDisk::new(db.clone())).expect("open sm");
            sm.apply([membership(1), register(2), register(3)])
                .await
                .expect("apply");
            let mut builder = sm.get_snapshot_builder().await;
            builder.build_snapshot().await.expect("build")
        };
        let db = open_db(dir.path()).expect("reopen db");
        let mut sm = SledStateMachine::open(&SledDisk::new(db.clone())).expect("reopen sm");
        let current = sm
            .get_current_snapshot()
            .await
            .expect("read snapshot")
            .expect("a snapshot");
        assert_eq!(current.meta, built.meta);
        assert_eq!(current.snapshot.get_ref(), built.snapshot.get_ref());
        let payload: AppliedState = decode("snapshot", current.snapshot.get_ref()).expect("json");
        assert_eq!(payload, *sm.reader().current());
        assert_eq!(payload.state.workers.len(), 2);
    }

    #[tokio::test]
    async fn an_older_built_snapshot_never_replaces_an_installed_newer_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path()).expect("open db");
        let mut leader = SledStateMachine::open(&SledDisk::new(db.clone())).expect("open sm");
        leader
            .apply([membership(1), register(2), register(3), register(4)])
            .await
            .expect("apply");
        let newer = leader.build().await.expect("build");

        let other = tempfile::tempdir().expect("tempdir");
        let db = open_db(other.path()).expect("open db");
        let mut follower = SledStateMachine::open(&SledDisk::new(db.clone())).expect("open sm");
        follower
            .apply([membership(1), register(2)])
            .await
            .expect("apply");
        // A builder that read the state at index 2, finishing after the install.
        let old_state = follower.reader().current();
        follower
            .install_snapshot(&newer.meta, newer.snapshot.clone())
            .await
            .expect("install");
        let old_meta = SnapshotMeta {
            last_log_id: old_state.last_applied,
            last_membership: old_state.last_membership.clone(),
            snapshot_id: "old".into(),
        };
        follower
            .tree
            .save_snapshot_unless_older(&old_meta, b"{}")
            .expect("save");

        let current = follower
            .get_current_snapshot()
            .await
            .expect("read")
            .expect("a snapshot");
        assert_eq!(current.meta, newer.meta);
        assert_eq!(follower.reader().last_applied(), Some(log_id(4)));
        assert_eq!(follower.reader().read(|s| s.workers.len()), 3);
    }

    #[tokio::test]
    async fn a_snapshot_whose_data_contradicts_its_meta_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_db(dir.path()).expect("open db");
        let mut sm = SledStateMachine::open(&SledDisk::new(db.clone())).expect("open sm");
        sm.apply([membership(1), register(2)]).await.expect("apply");
        let snapshot = sm.build().await.expect("build");
        let mut meta = snapshot.meta.clone();
        meta.last_log_id = Some(log_id(9));
        let result = sm.install_snapshot(&meta, snapshot.snapshot).await;
        assert!(result.is_err(), "{result:?}");
        assert_eq!(sm.reader().last_applied(), Some(log_id(2)));
    }
}
