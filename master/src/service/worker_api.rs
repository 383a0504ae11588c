//! `dm.WorkerControl`: registration and the level-triggered heartbeat.
//!
//! Registration is routed to the leader like any write. Heartbeats are not
//! forwarded: a master that is not the leader answers with the leader's
//! address and the worker talks to the leader directly from then on.
//!
//! A heartbeat answer grants a lease, so only a leader that can still prove
//! its leadership may answer: one whose last quorum acknowledgement is older
//! than an election timeout may have been deposed without knowing it, and
//! renewing leases from there could let a worker write after a new leader
//! moved its source. Such a leader answers "not leader" instead.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use dm_proto::config::SourceConfig;
use dm_proto::pb;
use dm_proto::pb::worker_control_client::WorkerControlClient;
use tonic::{Request, Response, Status};

use super::{binlog, routed, schema, shard_ddl};
use crate::error::MasterError;
use crate::node::Node;
use crate::state::{ClusterState, Command, Response as Applied, TaskStage};

/// The worker's TTL when it does not say.
const FALLBACK_TTL: Duration = crate::liveness::DEFAULT_TTL;

#[derive(Debug, Clone)]
pub struct WorkerApi {
    pub node: Arc<Node>,
}

/// Lease granted for a TTL: shorter than the TTL, so the worker stops
/// writing before the leader may give its sources to someone else.
pub fn lease_for(ttl: Duration) -> Duration {
    ttl * 3 / 4
}

/// Heartbeat interval for a TTL: several heartbeats fit in one lease.
pub fn heartbeat_interval_for(ttl: Duration) -> Duration {
    (ttl / 10).max(Duration::from_millis(50))
}

fn ttl_of(ms: u64) -> Duration {
    if ms == 0 {
        FALLBACK_TTL
    } else {
        Duration::from_millis(ms)
    }
}

#[tonic::async_trait]
impl pb::worker_control_server::WorkerControl for WorkerApi {
    async fn register_worker(
        &self,
        request: Request<pb::RegisterWorkerRequest>,
    ) -> Result<Response<pb::RegisterWorkerResponse>, Status> {
        routed!(self, request, WorkerControlClient, register_worker, |req| {
            register(&self.node, req).await
        })
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let req = request.into_inner();
        match self.node.proven_leader() {
            Some(true) => {
                shard_ddl::apply_reports(&self.node, &req.name, &req.sources).await;
                schema::apply_reports(&self.node, &req.name, &req.sources).await;
                binlog::apply_reports(&self.node, &req.name, &req.sources).await;
                heartbeat(&self.node, req)
                    .map(Response::new)
                    .map_err(Status::from)
            }
            _ => Ok(Response::new(pb::HeartbeatResponse {
                is_leader: false,
                leader_addr: self
                    .node
                    .leader()
                    .filter(|(id, _)| *id != self.node.id)
                    .map(|(_, n)| n.client_or_peer_addr().to_string())
                    .unwrap_or_default(),
                lease_ms: 0,
                assignments: Vec::new(),
                heartbeat_interval_ms: 0,
            })),
        }
    }
}

async fn register(
    node: &Node,
    req: pb::RegisterWorkerRequest,
) -> Result<pb::RegisterWorkerResponse, MasterError> {
    if req.name.is_empty() || req.address.is_empty() {
        return Err(MasterError::InvalidRequest(
            "a worker registers with a name and an address".into(),
        ));
    }
    // The worker is handed this master's key: it must be the cluster's.
    if let Some(why) = super::key_check::ensure(node).await? {
        return Ok(pb::RegisterWorkerResponse {
            result: false,
            msg: why.to_string(),
            secret_key: Vec::new(),
        });
    }
    let command = Command::RegisterWorker {
        name: req.name.clone(),
        addr: req.address.clone(),
        keepalive_ttl_ms: req.keepalive_ttl_ms,
        config: req.config.clone(),
    };
    if let Applied::Rejected(why) = node.write(command).await? {
        return Ok(pb::RegisterWorkerResponse {
            result: false,
            msg: why.to_string(),
            secret_key: Vec::new(),
        });
    }
    node.liveness
        .heard(&req.name, ttl_of(req.keepalive_ttl_ms), Instant::now());
    tracing::info!(worker = %req.name, addr = %req.address, "worker registered");
    if !req.embedded_source_config.is_empty() {
        offer_source(node, &req.name, &req.embedded_source_config).await;
    }
    Ok(pb::RegisterWorkerResponse {
        result: true,
        msg: String::new(),
        secret_key: dm_proto::secret::installed_process_key()
            .map(|key| key.bytes().to_vec())
            .unwrap_or_default(),
    })
}

/// A DM 1.x worker file names its source: create it if the cluster does not
/// have it yet (it goes through the same checks as `operate-source create`).
async fn offer_source(node: &Node, worker: &str, config_json: &str) {
    let config: SourceConfig = match serde_json::from_str(config_json) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%worker, error = %e, "the worker's embedded source is not valid");
            return;
        }
    };
    if node.state().state.sources.contains_key(&config.source_id) {
        return;
    }
    let id = config.source_id.clone();
    if let Err(e) = config.validate().map_err(|(k, m)| format!("{k}: {m}")) {
        tracing::warn!(%worker, source = %id, error = %e, "the worker's embedded source is not valid");
        return;
    }
    if let Err(e) = node.databases.check_upstream(&config).await {
        tracing::warn!(%worker, source = %id, error = %e, "the worker's embedded source was not created");
        return;
    }
    let mut config = config;
    config.from = config.from.encrypted();
    match node
        .write(Command::CreateSource {
            config: Box::new(config),
        })
        .await
    {
        Ok(Applied::Rejected(why)) => {
            tracing::debug!(source = %id, %why, "embedded source not created")
        }
        Ok(_) => tracing::info!(%worker, source = %id, "source created from the worker's config"),
        Err(e) => tracing::warn!(source = %id, error = %e, "embedded source not created"),
    }
}

fn heartbeat(node: &Node, req: pb::HeartbeatRequest) -> Result<pb::HeartbeatResponse, MasterError> {
    let applied = node.state();
    let state = &applied.state;
    if !state.workers.contains_key(&req.name) {
        return Err(MasterError::UnknownWorker(req.name));
    }
    let ttl = ttl_of(req.keepalive_ttl_ms);
    node.liveness.heard(&req.name, ttl, Instant::now());
    for (source, by_epoch) in node.liveness.reported(&req.name, req.sources.clone()) {
        tracing::warn!(worker = %req.name, %source, by_epoch, "worker reports it was fenced: a newer binding owns the source");
    }
    Ok(pb::HeartbeatResponse {
        is_leader: true,
        leader_addr: node.me.client_or_peer_addr().to_string(),
        lease_ms: millis(lease_for(ttl)),
        assignments: assignments(state, &req.name),
        heartbeat_interval_ms: millis(heartbeat_interval_for(ttl)),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Everything `worker` should run: its bound sources with their tasks.
fn assignments(state: &ClusterState, worker: &str) -> Vec<pb::SourceAssignment> {
    state
        .bindings
        .iter()
        .filter(|(_, b)| b.worker == worker)
        .filter_map(|(source, binding)| {
            let entry = state.sources.get(source)?;
            let subtasks = state
                .tasks
                .iter()
                .filter_map(|(name, task)| {
                    let stage = task.stages.get(source)?;
                    Some(pb::SubtaskAssignment {
                        task: name.clone(),
                        config: task.config_yaml.clone(),
                        expected_stage: match stage {
                            TaskStage::Running => pb::Stage::Running,
                            TaskStage::Paused => pb::Stage::Paused,
                        } as i32,
                        shard_ddl: shard_ddl::operation_for(state, name, source),
                        resume_seq: task.resumes.get(source).copied().unwrap_or(0),
                        generation: task.created_at_ms,
                        schema_ops: schema::operations_for(state, name, source),
                        start_time: task.start_time.clone(),
                        binlog_ops: binlog::operations_for(state, name, source),
                    })
                })
                .collect();
            Some(pb::SourceAssignment {
                source: source.clone(),
                epoch: binding.epoch,
                source_config: serde_json::to_string(&entry.config).unwrap_or_default(),
                subtasks,
            })
        })
        .collect()
}
