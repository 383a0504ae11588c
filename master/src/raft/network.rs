//! openraft's network over gRPC (`dm.raft.RaftTransport`).
//!
//! openraft's requests and replies are serialized with serde_json into the
//! transport's byte payloads: the transport stays a dumb pipe and openraft's
//! types stay openraft's. A peer that cannot be reached yields
//! `Unreachable` (openraft backs off, briefly: see [`RETRY_BACKOFF`]); an
//! error the peer's Raft returned comes back as a `RemoteError`.

use std::time::Duration;

use dm_proto::net::{NetError, SharedConnector};
use dm_proto::pb::raft::raft_transport_client::RaftTransportClient;
use dm_proto::pb::raft::{RaftReply, RaftRequest};
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::transport::Channel;

use super::types::{MasterNode, NodeId, TypeConfig};

/// Pause before retrying an unreachable peer (openraft's default is 500 ms,
/// too slow for a restarted master to rejoin quickly).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Creates one [`PeerClient`] per target.
#[derive(Debug, Clone)]
pub struct Network {
    connector: SharedConnector,
}

impl Network {
    pub fn new(connector: SharedConnector) -> Self {
        Self { connector }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &MasterNode) -> PeerClient {
        PeerClient {
            target,
            addr: node.peer_addr.clone(),
            client: self
                .connector
                .channel(&node.peer_addr)
                .map(RaftTransportClient::new),
        }
    }
}

/// Raft RPCs to one peer.
#[derive(Debug)]
pub struct PeerClient {
    target: NodeId,
    addr: String,
    /// A bad address is reported on every call rather than at creation.
    client: Result<RaftTransportClient<Channel>, NetError>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, MasterNode, E>>;

impl PeerClient {
    /// Sends one request; `call` picks the RPC.
    async fn send<Req, Resp, E, F, Fut>(
        &mut self,
        req: &Req,
        option: &RPCOption,
        call: F,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
        F: FnOnce(RaftTransportClient<Channel>, tonic::Request<RaftRequest>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<RaftReply>, tonic::Status>>,
    {
        let client = match &self.client {
            Ok(c) => c.clone(),
            Err(e) => return Err(unreachable(&self.addr, e)),
        };
        let payload =
            serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftRequest {
            payload,
            target: self.target,
        });
        request.set_timeout(option.hard_ttl());
        let reply = call(client, request)
            .await
            .map_err(|status| unreachable(&self.addr, status.message()))?
            .into_inner();
        if !reply.error.is_empty() {
            let err: E = serde_json::from_slice(&reply.error)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
            return Err(RPCError::RemoteError(RemoteError::new(self.target, err)));
        }
        serde_json::from_slice(&reply.payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))
    }
}

fn unreachable<E: std::error::Error>(
    addr: &str,
    reason: impl std::fmt::Display,
) -> RPCError<NodeId, MasterNode, E> {
    let err = std::io::Error::other(format!("{addr}: {reason}"));
    RPCError::Unreachable(Unreachable::new(&err))
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        self.send(&rpc, &option, |mut c, r| async move {
            c.append_entries(r).await
        })
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        self.send(&rpc, &option, |mut c, r| async move {
            c.install_snapshot(r).await
        })
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, RaftError<NodeId>> {
        self.send(&rpc, &option, |mut c, r| async move { c.vote(r).await })
            .await
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(std::iter::repeat(RETRY_BACKOFF))
    }
}
