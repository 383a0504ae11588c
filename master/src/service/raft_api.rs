//! `dm.raft.RaftTransport`: Raft traffic from other masters, joins, pings.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dm_proto::pb::raft::raft_transport_client::RaftTransportClient;
use dm_proto::pb::raft::{
    CampaignRequest, CampaignResponse, JoinClusterRequest, JoinClusterResponse, PingRequest,
    PingResponse, RaftReply, RaftRequest,
};
use openraft::ChangeMembers;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::{Request, Response, Status};

use super::routed;
use crate::error::MasterError;
use crate::node::Node;
use crate::raft::{node_id, MasterNode};

/// How long adding a master (learner catch-up plus the membership change)
/// may take.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The transport between masters.
#[derive(Debug, Clone)]
pub struct RaftApi {
    pub node: Arc<Node>,
}

impl RaftApi {
    /// The message's payload, if it is meant for this master.
    fn decode<T: DeserializeOwned>(&self, req: Request<RaftRequest>) -> Result<T, Status> {
        let req = req.into_inner();
        if req.target != self.node.id {
            return Err(Status::failed_precondition(format!(
                "raft message for node {} reached {} (node {}): check --initial-cluster / peer URLs",
                req.target, self.node.me.name, self.node.id
            )));
        }
        serde_json::from_slice(&req.payload)
            .map_err(|e| Status::invalid_argument(format!("undecodable raft message: {e}")))
    }
}

/// openraft's result as a reply: the value, or openraft's error for the sender.
fn reply<T: Serialize, E: Serialize>(result: Result<T, E>) -> Result<Response<RaftReply>, Status> {
    let reply = match result {
        Ok(value) => RaftReply {
            payload: encode(&value)?,
            error: Vec::new(),
        },
        Err(err) => RaftReply {
            payload: Vec::new(),
            error: encode(&err)?,
        },
    };
    Ok(Response::new(reply))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Status> {
    serde_json::to_vec(value)
        .map_err(|e| Status::internal(format!("cannot encode raft reply: {e}")))
}

#[tonic::async_trait]
impl dm_proto::pb::raft::raft_transport_server::RaftTransport for RaftApi {
    async fn vote(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        reply(self.node.raft.vote(self.decode(request)?).await)
    }

    async fn append_entries(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        reply(self.node.raft.append_entries(self.decode(request)?).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftRequest>,
    ) -> Result<Response<RaftReply>, Status> {
        reply(self.node.raft.install_snapshot(self.decode(request)?).await)
    }

    async fn join_cluster(
        &self,
        request: Request<JoinClusterRequest>,
    ) -> Result<Response<JoinClusterResponse>, Status> {
        routed!(self, request, RaftTransportClient, join_cluster, |req| {
            join(&self.node, req).await
        })
    }

    async fn ping(&self, _request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        Ok(Response::new(PingResponse {
            name: self.node.me.name.clone(),
            client_addr: self.node.me.client_addr.clone(),
            peer_addr: self.node.me.peer_addr.clone(),
        }))
    }

    async fn campaign(
        &self,
        request: Request<CampaignRequest>,
    ) -> Result<Response<CampaignResponse>, Status> {
        let (standing, msg) =
            crate::leadership::campaign(&self.node, request.into_inner().term).await;
        Ok(Response::new(CampaignResponse { standing, msg }))
    }
}

/// On the leader: adds the master as a learner (it catches up), then as a voter.
async fn join(node: &Node, req: JoinClusterRequest) -> Result<JoinClusterResponse, MasterError> {
    let id = node_id(&req.name);
    let joining = MasterNode {
        name: req.name.clone(),
        client_addr: req.client_addr.clone(),
        peer_addr: req.peer_addr.clone(),
    };
    let membership = node.raft.metrics().borrow().membership_config.clone();
    if let Some(existing) = membership.membership().get_node(&id) {
        if existing.peer_addr != joining.peer_addr {
            return Ok(refused(
                node,
                format!(
                    "a master named {} is already a member at {}: missing data or joining a duplicate member",
                    req.name, existing.peer_addr
                ),
            ));
        }
    }
    let change = async {
        node.raft
            .add_learner(id, joining, true)
            .await
            .map_err(|e| MasterError::Raft(format!("adding {} as learner: {e}", req.name)))?;
        node.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
            .await
            .map_err(|e| MasterError::Raft(format!("making {} a voter: {e}", req.name)))
    };
    tokio::time::timeout(JOIN_TIMEOUT, change)
        .await
        .map_err(|_| MasterError::NotCommitted {
            timeout_ms: u64::try_from(JOIN_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
        })??;
    tracing::info!(master = %req.name, peer = %req.peer_addr, "master joined the group");
    let membership = node.raft.metrics().borrow().membership_config.clone();
    let initial_cluster = membership
        .membership()
        .nodes()
        .map(|(_, n)| format!("{}=http://{}", n.name, n.peer_addr))
        .collect::<Vec<_>>()
        .join(",");
    Ok(JoinClusterResponse {
        result: true,
        msg: String::new(),
        leader_name: node.me.name.clone(),
        leader_addr: node.me.client_addr.clone(),
        initial_cluster,
    })
}

fn refused(node: &Node, msg: String) -> JoinClusterResponse {
    JoinClusterResponse {
        result: false,
        msg,
        leader_name: node.me.name.clone(),
        leader_addr: node.me.client_addr.clone(),
        initial_cluster: String::new(),
    }
}
