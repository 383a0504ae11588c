//! The sled Raft stores against openraft's storage suite, and restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use dm_master::raft::{
    open_stores, MasterNode, NodeId, SledLogStore, SledStateMachine, TypeConfig,
};
use dm_master::state::{Command, Request, Response};
use dm_proto::config::SourceConfig;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftSnapshotBuilder, StorageError,
    StorageHelper, StorageIOError, StoredMembership,
};
use tempfile::TempDir;

/// Fresh stores on a fresh directory per case; the directory lives as long
/// as the guard.
struct SledBuilder;

impl StoreBuilder<TypeConfig, SledLogStore, SledStateMachine, TempDir> for SledBuilder {
    async fn build(
        &self,
    ) -> Result<(TempDir, SledLogStore, SledStateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let (log, sm) = open_stores(dir.path()).map_err(|e| StorageIOError::write(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn sled_stores_pass_openraft_suite() {
    let started = Instant::now();
    Suite::test_all(SledBuilder).expect("openraft storage suite");
    println!("openraft storage suite passed in {:?}", started.elapsed());
}

fn log_id(index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(1, 11), index)
}

fn normal(index: u64, command: Command) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(Request {
            command,
            proposed_at_ms: 1_700_000_000_000 + index,
        }),
    }
}

fn membership() -> Membership<NodeId, MasterNode> {
    let voters: BTreeSet<NodeId> = [11].into();
    let node = MasterNode {
        name: "master1".into(),
        client_addr: "127.0.0.1:8261".into(),
        peer_addr: "127.0.0.1:8291".into(),
    };
    Membership::new(vec![voters], BTreeMap::from([(11, node)]))
}

fn history() -> Vec<Entry<TypeConfig>> {
    let source = SourceConfig::parse(
        "s.yaml",
        "source-id: mysql1\nfrom:\n  host: 127.0.0.1\n  user: root\n",
    )
    .expect("valid source");
    vec![
        Entry {
            log_id: log_id(1),
            payload: EntryPayload::Blank,
        },
        Entry {
            log_id: log_id(2),
            payload: EntryPayload::Membership(membership()),
        },
        normal(
            3,
            Command::CreateSource {
                config: Box::new(source),
            },
        ),
        normal(
            4,
            Command::RegisterWorker {
                name: "w1".into(),
                addr: "127.0.0.1:8262".into(),
                keepalive_ttl_ms: 0,
                config: String::new(),
            },
        ),
        normal(
            5,
            Command::Bind {
                source: "mysql1".into(),
                worker: "w1".into(),
            },
        ),
        normal(
            6,
            Command::RegisterWorker {
                name: "w1".into(),
                addr: "elsewhere:1".into(),
                keepalive_ttl_ms: 0,
                config: String::new(),
            },
        ),
    ]
}

#[tokio::test]
async fn applied_state_survives_a_restart_even_after_the_log_is_purged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = {
        let (mut log, mut sm) = open_stores(dir.path()).expect("open");
        log.blocking_append(history()).await.expect("append");
        let responses = sm.apply(history()).await.expect("apply");
        assert_eq!(responses.len(), 6);
        assert_eq!(
            responses[..5],
            [
                Response::Done,
                Response::Done,
                Response::Done,
                Response::Done,
                Response::Bound { epoch: 1 },
            ]
        );
        assert!(matches!(responses[5], Response::Rejected(_)));
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .expect("snapshot");
        log.purge(log_id(6)).await.expect("purge");
        sm.reader().current()
    };

    let (mut log, mut sm) = open_stores(dir.path()).expect("reopen");
    let after = sm.reader().current();
    assert_eq!(*after, *before);
    assert_eq!(after.last_applied, Some(log_id(6)));
    assert_eq!(after.state.bindings["mysql1"].worker, "w1");
    assert_eq!(after.state.workers["w1"].addr, "127.0.0.1:8262");
    assert_eq!(
        sm.applied_state().await.expect("applied state"),
        (
            Some(log_id(6)),
            StoredMembership::new(Some(log_id(2)), membership())
        )
    );

    // What openraft reads at startup agrees.
    let initial = StorageHelper::new(&mut log, &mut sm)
        .get_initial_state()
        .await
        .expect("initial state");
    assert_eq!(initial.committed, Some(log_id(6)));
    let log_state = log.get_log_state().await.expect("log state");
    assert_eq!(log_state.last_purged_log_id, Some(log_id(6)));
    assert_eq!(log_state.last_log_id, Some(log_id(6)));
    assert_eq!(initial.snapshot_meta.last_log_id, Some(log_id(6)));
    assert_eq!(
        initial.membership_state.effective().membership(),
        &membership()
    );
}

#[tokio::test]
async fn an_installed_snapshot_survives_a_restart() {
    let leader_dir = tempfile::tempdir().expect("tempdir");
    let (_log, mut leader) = open_stores(leader_dir.path()).expect("open");
    leader.apply(history()).await.expect("apply");
    let snapshot = leader
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("snapshot");

    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (_log, mut follower) = open_stores(dir.path()).expect("open");
        let mut receiving = follower.begin_receiving_snapshot().await.expect("receive");
        receiving
            .get_mut()
            .extend_from_slice(snapshot.snapshot.get_ref());
        follower
            .install_snapshot(&snapshot.meta, receiving)
            .await
            .expect("install");
    }
    let (_log, mut follower) = open_stores(dir.path()).expect("reopen");
    assert_eq!(*follower.reader().current(), *leader.reader().current());
    let current = follower
        .get_current_snapshot()
        .await
        .expect("read")
        .expect("a snapshot");
    assert_eq!(current.meta, snapshot.meta);
}
