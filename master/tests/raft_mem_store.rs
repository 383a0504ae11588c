//! The in-memory Raft stores (the simulation's): openraft's storage suite
//! (the sled stores pass it in `raft_store_suite.rs`), a [`MemDisk`]
//! outliving its stores as it does a simulated host's crash, and a Raft
//! node restarting from one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use dm_proto::net::{ChannelTimeouts, TcpConnector};

use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, Raft, RaftLogReader,
    RaftSnapshotBuilder, ServerState, StorageError, StorageIOError, StoredMembership, Vote,
};

use dm_master::raft::{
    mem_stores, node_id, seed_raft_rng, LogStore, MasterNode, MemDisk, Network, NodeId,
    StateMachine, StateReader, TypeConfig,
};
use dm_master::state::{Command, Request, Response};

/// Fresh stores on a fresh in-memory disk per case.
struct MemBuilder;

impl StoreBuilder<TypeConfig, LogStore<MemDisk>, StateMachine<MemDisk>> for MemBuilder {
    async fn build(
        &self,
    ) -> Result<((), LogStore<MemDisk>, StateMachine<MemDisk>), StorageError<NodeId>> {
        let (log, sm) = mem_stores(&MemDisk::new()).map_err(|e| StorageIOError::write(&e))?;
        Ok(((), log, sm))
    }
}

#[test]
fn mem_stores_pass_openraft_suite() {
    Suite::test_all(MemBuilder).expect("openraft storage suite in memory");
}

fn log_id(index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(4, 1), index)
}

fn history() -> Vec<Entry<TypeConfig>> {
    let voters: BTreeSet<NodeId> = [1, 2, 3].into();
    let mut entries = vec![Entry {
        log_id: log_id(1),
        payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
    }];
    entries.extend((2..=20).map(|index| Entry {
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
    }));
    entries
}

#[tokio::test]
async fn a_mem_disk_outlives_its_stores() {
    let disk = MemDisk::new();
    let vote = Vote::new_committed(4, 1);
    let (before, snapshot) = {
        let (mut log, mut sm) = mem_stores(&disk).expect("open");
        log.blocking_append(history()).await.expect("append");
        log.save_vote(&vote).await.expect("vote");
        log.save_committed(Some(log_id(15)))
            .await
            .expect("committed");
        sm.apply(history().into_iter().take(15))
            .await
            .expect("apply");
        let snapshot = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .expect("snapshot");
        log.purge(log_id(10)).await.expect("purge");
        (sm.reader().current(), snapshot)
    };

    // The host crashed: only the disk handle is left.
    let (mut log, mut sm) = mem_stores(&disk.clone()).expect("reopen");
    assert_eq!(log.read_vote().await.expect("vote"), Some(vote));
    assert_eq!(
        log.read_committed().await.expect("committed"),
        Some(log_id(15))
    );
    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id, Some(log_id(10)));
    assert_eq!(state.last_log_id, Some(log_id(20)));
    let entries = log.try_get_log_entries(..).await.expect("entries");
    assert_eq!(entries, history()[10..]);

    assert_eq!(*sm.reader().current(), *before);
    assert_eq!(sm.reader().last_applied(), Some(log_id(15)));
    assert_eq!(sm.reader().read(|s| s.workers.len()), 14);
    let (last_applied, membership) = sm.applied_state().await.expect("applied");
    assert_eq!(last_applied, Some(log_id(15)));
    assert_eq!(membership, before.last_membership);
    assert_eq!(
        membership,
        StoredMembership::new(
            Some(log_id(1)),
            Membership::new(vec![[1, 2, 3].into()], None)
        )
    );
    let current = sm
        .get_current_snapshot()
        .await
        .expect("snapshot")
        .expect("a snapshot");
    assert_eq!(current.meta, snapshot.meta);
    assert_eq!(current.snapshot.get_ref(), snapshot.snapshot.get_ref());

    // A snapshot built after the restart gets a new id.
    let rebuilt = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("snapshot");
    assert_ne!(rebuilt.meta.snapshot_id, snapshot.meta.snapshot_id);
}

/// A one-node Raft on `disk`, and its state reader.
async fn start_raft(disk: &MemDisk) -> (Raft<TypeConfig>, StateReader) {
    let config = openraft::Config {
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        ..Default::default()
    };
    let (log, sm) = mem_stores(disk).expect("open");
    let reader = sm.reader();
    let raft = Raft::new(
        node_id("m1"),
        Arc::new(config.validate().expect("config")),
        Network::new(TcpConnector::shared(ChannelTimeouts::default())),
        log,
        sm,
    )
    .await
    .expect("raft");
    (raft, reader)
}

async fn wait_leader(raft: &Raft<TypeConfig>) {
    raft.wait(Some(Duration::from_secs(10)))
        .state(ServerState::Leader, "leader")
        .await
        .expect("becomes leader");
}

#[tokio::test]
async fn a_raft_node_restarts_from_its_mem_disk() {
    seed_raft_rng(11);
    let disk = MemDisk::new();
    let me = MasterNode {
        name: "m1".into(),
        client_addr: "127.0.0.1:1".into(),
        peer_addr: "127.0.0.1:1".into(),
    };
    {
        let (raft, _reader) = start_raft(&disk).await;
        raft.initialize(BTreeMap::from([(node_id("m1"), me)]))
            .await
            .expect("initialize");
        wait_leader(&raft).await;
        let written = raft
            .client_write(Request {
                command: Command::RegisterWorker {
                    name: "w1".into(),
                    addr: "w1:8262".into(),
                    keepalive_ttl_ms: 0,
                    config: String::new(),
                },
                proposed_at_ms: 1,
            })
            .await
            .expect("write");
        assert_eq!(written.data, Response::Done);
        raft.shutdown().await.expect("shutdown");
    }
    let (raft, reader) = start_raft(&disk).await;
    assert_eq!(reader.read(|s| s.workers["w1"].addr.clone()), "w1:8262");
    wait_leader(&raft).await;
    raft.shutdown().await.expect("shutdown");
}
