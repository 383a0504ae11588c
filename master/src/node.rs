//! One running master: its identity, its Raft handle and how requests reach
//! the state.
//!
//! Requests are served by the leader only. [`Node::route`] says whether this
//! master is the leader (serve locally) or which master to forward to; a
//! forwarded request carries [`FORWARDED`] and is never forwarded twice, so
//! two masters that briefly disagree about the leader cannot bounce a
//! request between them: the second one answers `Unavailable` and the client
//! retries.
//!
//! Writes go through Raft ([`Node::write`]) and are answered after they are
//! committed and applied (how long that took is
//! `dm_master_raft_commit_duration_seconds`). Reads first confirm leadership with a quorum and
//! wait until the state machine has applied everything committed before
//! ([`Node::read`]), so no answer ever comes from stale state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dm_proto::clock::Clock;
use dm_proto::net::SharedConnector;
use openraft::error::{ClientWriteError, RaftError};
use openraft::Raft;
use tonic::transport::Channel;

use crate::databases::Databases;
use crate::error::MasterError;
use crate::liveness::Liveness;
use crate::raft::{AppliedState, MasterNode, NodeId, StateReader, TypeConfig};
use crate::state::{Command, Request, Response};

/// How long a master may take to answer a liveness ping.
pub const PING_TIMEOUT: Duration = Duration::from_millis(500);

/// Metadata key marking a request a master forwarded to the leader.
pub const FORWARDED: &str = "x-dm-forwarded";

/// Where a request is served.
#[derive(Debug)]
pub enum Route {
    /// This master is the leader.
    Local,
    /// Forward to the leader over this channel.
    Forward {
        leader: MasterNode,
        channel: Channel,
    },
}

/// A running master.
pub struct Node {
    pub id: NodeId,
    pub me: MasterNode,
    pub raft: Raft<TypeConfig>,
    pub connector: SharedConnector,
    /// The users' databases (upstream checks, pre-check facts, meta removal).
    pub databases: Arc<dyn Databases>,
    /// The wall clock the leader stamps into proposals.
    pub clock: Clock,
    /// Which workers are alive (leader-local soft state).
    pub liveness: Liveness,
    /// Raft election timeout: a leader whose last quorum ack is older may
    /// have been deposed.
    pub election_timeout: Duration,
    state: StateReader,
    /// How long a write may take to commit before the client is told.
    pub write_timeout: Duration,
    /// This master's running configuration as TOML (`get-config master`).
    pub running_config: String,
    /// Set while this (evicted) leader hands leadership over: it takes no
    /// new writes, so the successor can be fully up to date.
    handing_over: AtomicBool,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// What a master reaches outside itself: the other masters and the
/// workers, the users' databases, the wall clock. The binary passes TCP,
/// MySQL and the system clock; the simulation its own.
#[derive(Debug, Clone)]
pub struct Outside {
    pub connector: SharedConnector,
    pub databases: Arc<dyn Databases>,
    pub clock: Clock,
}

impl Node {
    pub fn new(
        me: MasterNode,
        raft: Raft<TypeConfig>,
        state: StateReader,
        outside: Outside,
        write_timeout: Duration,
        election_timeout: Duration,
    ) -> Self {
        let Outside {
            connector,
            databases,
            clock,
        } = outside;
        Self {
            id: crate::raft::node_id(&me.name),
            me,
            raft,
            connector,
            databases,
            clock,
            liveness: Liveness::default(),
            election_timeout,
            state,
            write_timeout,
            running_config: String::new(),
            handing_over: AtomicBool::new(false),
        }
    }

    /// Stops (`true`) or resumes taking writes while leadership is handed
    /// over (see `leadership`).
    pub fn set_handing_over(&self, on: bool) {
        self.handing_over.store(on, Ordering::SeqCst);
    }

    /// Sets the configuration `get-config master` shows for this master.
    pub fn with_running_config(mut self, toml: String) -> Self {
        self.running_config = toml;
        self
    }

    /// The state as applied here, without confirming leadership: for the
    /// leader's own loops and heartbeats, never for answering reads.
    pub fn state(&self) -> Arc<AppliedState> {
        self.state.current()
    }

    /// Wakes on every change of the Raft metrics here (an entry applied,
    /// a new term, ...): check the state after creating it, then wait on
    /// `changed()`, and no change is missed.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<impl Sized> {
        let mut metrics = self.raft.metrics();
        metrics.borrow_and_update();
        metrics
    }

    /// `Some(true)` when this master leads and heard from a quorum within an
    /// election timeout, i.e. no other leader can have been elected since.
    pub fn proven_leader(&self) -> Option<bool> {
        let metrics = self.raft.metrics().borrow().clone();
        if metrics.state != openraft::ServerState::Leader {
            return None;
        }
        let fresh_ms = u64::try_from(self.election_timeout.as_millis()).unwrap_or(u64::MAX);
        Some(
            metrics
                .millis_since_quorum_ack
                .is_some_and(|ms| ms < fresh_ms),
        )
    }

    /// The leader as this master knows it.
    pub fn leader(&self) -> Option<(NodeId, MasterNode)> {
        let metrics = self.raft.metrics().borrow().clone();
        let id = metrics.current_leader?;
        if id == self.id {
            return Some((id, self.me.clone()));
        }
        let node = metrics
            .membership_config
            .membership()
            .get_node(&id)?
            .clone();
        Some((id, node))
    }

    /// Where a request is served; `forwarded` requests are never forwarded again.
    pub fn route(&self, forwarded: bool) -> Result<Route, MasterError> {
        match self.leader() {
            None => Err(MasterError::NoLeader),
            Some((id, _)) if id == self.id => Ok(Route::Local),
            Some(_) if forwarded => Err(MasterError::LeaderMoved),
            Some((_, leader)) => {
                let channel = self.connector.channel(&leader.peer_addr).map_err(|e| {
                    MasterError::LeaderUnreachable {
                        addr: leader.peer_addr.clone(),
                        reason: e.to_string(),
                    }
                })?;
                Ok(Route::Forward { leader, channel })
            }
        }
    }

    /// Who answers at `peer`'s Raft address, if anyone does in time.
    pub async fn ping(&self, peer: &MasterNode) -> Option<MasterNode> {
        let channel = self.connector.channel(&peer.peer_addr).ok()?;
        let mut request = tonic::Request::new(dm_proto::pb::raft::PingRequest {});
        request.set_timeout(PING_TIMEOUT);
        let mut client =
            dm_proto::pb::raft::raft_transport_client::RaftTransportClient::new(channel);
        let reply = tokio::time::timeout(PING_TIMEOUT, client.ping(request))
            .await
            .ok()?
            .ok()?
            .into_inner();
        Some(MasterNode {
            name: reply.name,
            client_addr: reply.client_addr,
            peer_addr: reply.peer_addr,
        })
    }

    /// Whether the member with raft id `id` answers a ping.
    pub async fn ping_member(&self, id: NodeId) -> bool {
        let member = self
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .get_node(&id)
            .cloned();
        match member {
            Some(member) => self.ping(&member).await.is_some(),
            None => false,
        }
    }

    /// Proposes `command` and returns its result once committed and applied.
    pub async fn write(&self, command: Command) -> Result<Response, MasterError> {
        if self.handing_over.load(Ordering::SeqCst) {
            return Err(MasterError::LeaderMoved);
        }
        let request = Request {
            command,
            proposed_at_ms: self.clock.unix_ms(),
        };
        let proposed = tokio::time::Instant::now();
        let written = tokio::time::timeout(self.write_timeout, self.raft.client_write(request))
            .await
            .map_err(|_| MasterError::NotCommitted {
                timeout_ms: u64::try_from(self.write_timeout.as_millis()).unwrap_or(u64::MAX),
            })?;
        match written {
            Ok(reply) => {
                crate::metrics::write_committed(proposed.elapsed());
                Ok(reply.data)
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                Err(MasterError::LeaderMoved)
            }
            Err(e) => Err(MasterError::Raft(e.to_string())),
        }
    }

    /// The state, after confirming leadership and applying everything
    /// committed before this call (a linearizable read).
    pub async fn read(&self) -> Result<Arc<AppliedState>, MasterError> {
        let confirmed = tokio::time::timeout(self.write_timeout, self.raft.ensure_linearizable())
            .await
            .map_err(|_| MasterError::NoLeader)?;
        match confirmed {
            Ok(_) => Ok(self.state.current()),
            Err(RaftError::APIError(_)) => Err(MasterError::LeaderMoved),
            Err(e) => Err(MasterError::Raft(e.to_string())),
        }
    }
}
