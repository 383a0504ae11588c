//! Bringing a started master into its Raft group: initialize the group
//! (fresh data dir and `--initial-cluster`), join it (fresh data dir and
//! `--join`), or, with Raft state on disk, simply rejoin it.

use std::collections::BTreeMap;
use std::time::Duration;

use dm_proto::config::{join_addresses, parse_initial_cluster, parse_peer_url, MasterConfig};
use dm_proto::net::SharedConnector;
use dm_proto::pb::raft::raft_transport_client::RaftTransportClient;
use dm_proto::pb::raft::JoinClusterRequest;
use openraft::error::{InitializeError, RaftError};

use super::StartError;
use crate::node::Node;
use crate::raft::{node_id, MasterNode};

/// How long a joining master keeps asking to be added.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(60);

/// Initializes, joins, or (with existing state) does nothing.
pub(super) async fn bootstrap(
    cfg: &MasterConfig,
    node: &Node,
    connector: &SharedConnector,
) -> Result<(), StartError> {
    let initialized = node
        .raft
        .is_initialized()
        .await
        .map_err(|source| StartError::Raft {
            doing: "raft stopped",
            source: Box::new(source),
        })?;
    if initialized {
        tracing::info!("raft state found in the data dir; rejoining the group");
        return Ok(());
    }
    if !cfg.join.is_empty() {
        return join(cfg, node, connector).await;
    }
    let mut members = BTreeMap::new();
    for (name, url) in parse_initial_cluster(&cfg.initial_cluster)? {
        let peer_addr = parse_peer_url(&url)?;
        let member = if name == node.me.name {
            node.me.clone()
        } else {
            MasterNode {
                name: name.clone(),
                client_addr: String::new(),
                peer_addr,
            }
        };
        members.insert(node_id(&name), member);
    }
    match node.raft.initialize(members).await {
        Ok(()) => tracing::info!("raft group initialized from initial-cluster"),
        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
            tracing::info!("raft group already initialized");
        }
        Err(e) => return Err(StartError::Initialize(e.to_string())),
    }
    Ok(())
}

/// Asks the masters in `--join` to add this one, until one does.
async fn join(
    cfg: &MasterConfig,
    node: &Node,
    connector: &SharedConnector,
) -> Result<(), StartError> {
    let request = JoinClusterRequest {
        name: node.me.name.clone(),
        client_addr: node.me.client_addr.clone(),
        peer_addr: node.me.peer_addr.clone(),
    };
    let deadline = tokio::time::Instant::now() + JOIN_DEADLINE;
    let mut last_error = String::new();
    while tokio::time::Instant::now() < deadline {
        for addr in join_addresses(&cfg.join) {
            let channel = match connector.channel(&addr) {
                Ok(c) => c,
                Err(e) => {
                    last_error = e.to_string();
                    continue;
                }
            };
            let mut req = tonic::Request::new(request.clone());
            req.set_timeout(crate::service::JOIN_TIMEOUT + Duration::from_secs(5));
            match RaftTransportClient::new(channel).join_cluster(req).await {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    if !reply.result {
                        return Err(StartError::JoinRefused {
                            addr,
                            reason: reply.msg,
                        });
                    }
                    tracing::info!(leader = %reply.leader_name, cluster = %reply.initial_cluster, "joined the group");
                    return Ok(());
                }
                Err(status) => last_error = format!("{addr}: {}", status.message()),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Err(StartError::JoinTimeout {
        secs: JOIN_DEADLINE.as_secs(),
        last_error,
    })
}
