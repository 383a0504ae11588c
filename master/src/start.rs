//! Starting a master from its configuration: open the store, start Raft,
//! serve, then bootstrap the group, join it, or simply rejoin it.
//!
//! - Fresh data dir and `--initial-cluster`: every listed master calls
//!   openraft's `initialize` with the same membership (harmless on all of
//!   them; the first to succeed wins, the others find it done).
//! - Fresh data dir and `--join`: ask the masters listed to add this one
//!   (as a learner that catches up, then as a voter).
//! - A data dir with Raft state: nothing to do; the master rejoins the group
//!   it was part of and catches up from the leader.
//!
//! Node ids are hashes of names (see [`crate::raft::node_id`]), so every
//! master derives the same membership from `--initial-cluster`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use dm_proto::config::{
    advertise_for, parse_host_port, parse_initial_cluster, parse_peer_url, split_list, MasterConfig,
};
use dm_proto::net::{ChannelTimeouts, SharedConnector, TcpConnector};
use dm_proto::pb::raft::raft_transport_client::RaftTransportClient;
use dm_proto::pb::raft::JoinClusterRequest;
use openraft::error::{InitializeError, RaftError};
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{Raft, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt;

use crate::databases::{Databases, MySqlDatabases};
use crate::node::Node;
use crate::raft::{node_id, open_stores, MasterNode, Network, StateReader, TypeConfig};
use crate::server::serve;

/// How long a write may wait for its commit before the client is told.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a joining master keeps asking to be added.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(60);

/// openraft's settings from the master's configuration.
pub fn raft_config(cfg: &MasterConfig) -> anyhow::Result<Arc<openraft::Config>> {
    let config = openraft::Config {
        cluster_name: "dm-master".into(),
        heartbeat_interval: cfg.raft_heartbeat_interval_ms,
        election_timeout_min: cfg.raft_election_timeout_ms,
        election_timeout_max: cfg.raft_election_timeout_ms * 2,
        install_snapshot_timeout: 2_000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(1_000),
        max_in_snapshot_log_to_keep: 100,
        ..Default::default()
    };
    Ok(Arc::new(config.validate().context("raft settings")?))
}

/// Addresses a master listens on and advertises.
#[derive(Debug, Clone)]
pub struct Addresses {
    pub client_listen: String,
    pub peer_listen: String,
    pub me: MasterNode,
}

impl Addresses {
    pub fn from_config(cfg: &MasterConfig) -> anyhow::Result<Self> {
        let listen = |addr: &str| -> anyhow::Result<String> {
            let (host, port) = parse_host_port(addr).map_err(anyhow::Error::msg)?;
            Ok(if host.is_empty() {
                format!("0.0.0.0:{port}")
            } else {
                format!("{host}:{port}")
            })
        };
        let first = |urls: &str, key: &str| -> anyhow::Result<String> {
            let url = split_list(urls)
                .into_iter()
                .next()
                .with_context(|| format!("{key} is empty"))?;
            parse_peer_url(&url).map_err(anyhow::Error::msg)
        };
        let peer_listen = first(&cfg.peer_urls, "peer-urls")?;
        let peer_advertise =
            advertise_for(&first(&cfg.advertise_peer_urls, "advertise-peer-urls")?)
                .map_err(anyhow::Error::msg)?;
        Ok(Self {
            client_listen: listen(&cfg.master_addr)?,
            peer_listen: listen(&peer_listen)?,
            me: MasterNode {
                name: cfg.name.clone(),
                client_addr: cfg.advertise_addr.clone(),
                peer_addr: peer_advertise,
            },
        })
    }
}

/// A started master; dropping it does not stop it, [`Running::stop`] does.
#[derive(Debug)]
pub struct Running {
    pub node: Arc<Node>,
    stop: watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops serving and shuts Raft down (flushing the store).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for server in self.servers {
            let _ = server.await;
        }
        if let Err(e) = self.node.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

/// What a master runs on besides its configuration.
#[allow(missing_debug_implementations)]
pub struct Parts<LS, SM> {
    pub connector: SharedConnector,
    pub databases: Arc<dyn Databases>,
    pub log_store: LS,
    pub state_machine: SM,
    /// The state machine's read handle.
    pub reader: StateReader,
}

/// Starts Raft on `parts` and builds the node; nothing is served yet.
pub async fn build<LS, SM>(cfg: &MasterConfig, parts: Parts<LS, SM>) -> anyhow::Result<Arc<Node>>
where
    LS: RaftLogStorage<TypeConfig>,
    SM: RaftStateMachine<TypeConfig>,
{
    let addrs = Addresses::from_config(cfg)?;
    let raft = Raft::<TypeConfig>::new(
        node_id(&cfg.name),
        raft_config(cfg)?,
        Network::new(parts.connector.clone()),
        parts.log_store,
        parts.state_machine,
    )
    .await
    .context("starting raft")?;
    Ok(Arc::new(Node::new(
        addrs.me,
        raft,
        parts.connector,
        parts.databases,
        parts.reader,
        WRITE_TIMEOUT,
        Duration::from_millis(cfg.raft_election_timeout_ms),
    )))
}

/// The leader's background loops (catch-up, scheduling, checkpoint
/// flushes), until `stopped` turns true.
pub fn spawn_loops(node: &Arc<Node>, stopped: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut loops = vec![
        tokio::spawn(crate::catch_up::run(node.clone(), stopped.clone())),
        tokio::spawn(crate::scheduling::run(node.clone(), stopped.clone())),
        tokio::spawn(crate::checkpoints::run(node.clone(), stopped.clone())),
    ];
    if crate::advertise::needed(node) {
        loops.push(tokio::spawn(crate::advertise::run(
            node.clone(),
            stopped.clone(),
        )));
    }
    loops
}

/// Starts a master on real TCP from its configuration.
pub async fn start(cfg: &MasterConfig) -> anyhow::Result<Running> {
    let addrs = Addresses::from_config(cfg)?;
    let connector = TcpConnector::shared(ChannelTimeouts::default());
    let (log_store, state_machine) = open_stores(Path::new(&cfg.data_dir))
        .with_context(|| format!("opening the data dir {}", cfg.data_dir))?;
    let reader = state_machine.reader();
    let node = build(
        cfg,
        Parts {
            connector: connector.clone(),
            databases: Arc::new(MySqlDatabases),
            log_store,
            state_machine,
            reader,
        },
    )
    .await?;

    let (stop, stopped) = watch::channel(false);
    let mut servers = Vec::new();
    let mut listen = vec![addrs.client_listen.clone()];
    if addrs.peer_listen != addrs.client_listen {
        listen.push(addrs.peer_listen.clone());
    }
    for addr in listen {
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let node = node.clone();
        let mut stopped = stopped.clone();
        servers.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            // Accepted sockets skip tonic's own nodelay setting: without it,
            // Nagle and delayed ACKs add ~40 ms to every small request.
            let incoming = TcpListenerStream::new(listener).map(|stream| {
                let stream = stream?;
                stream.set_nodelay(true)?;
                Ok::<_, std::io::Error>(stream)
            });
            if let Err(e) = serve(node, incoming, shutdown).await {
                tracing::error!(%addr, error = %e, "server stopped");
            }
        }));
    }
    tracing::info!(id = node.id, me = %addrs.me, "master serving");
    servers.extend(spawn_loops(&node, &stopped));

    let running = Running {
        node,
        stop,
        servers,
    };
    if let Err(e) = bootstrap(cfg, &running.node, &connector).await {
        running.stop().await;
        return Err(e);
    }
    Ok(running)
}

/// Initializes, joins, or (with existing state) does nothing.
pub async fn bootstrap(
    cfg: &MasterConfig,
    node: &Node,
    connector: &SharedConnector,
) -> anyhow::Result<()> {
    if node.raft.is_initialized().await.context("raft stopped")? {
        tracing::info!("raft state found in the data dir; rejoining the group");
        return Ok(());
    }
    if !cfg.join.is_empty() {
        return join(cfg, node, connector).await;
    }
    let mut members = BTreeMap::new();
    for (name, url) in parse_initial_cluster(&cfg.initial_cluster).map_err(anyhow::Error::msg)? {
        let peer_addr = parse_peer_url(&url).map_err(anyhow::Error::msg)?;
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
        Err(e) => bail!("initializing the raft group: {e}"),
    }
    Ok(())
}

/// Asks the masters in `--join` to add this one, until one does.
async fn join(cfg: &MasterConfig, node: &Node, connector: &SharedConnector) -> anyhow::Result<()> {
    let request = JoinClusterRequest {
        name: node.me.name.clone(),
        client_addr: node.me.client_addr.clone(),
        peer_addr: node.me.peer_addr.clone(),
    };
    let deadline = tokio::time::Instant::now() + JOIN_DEADLINE;
    let mut last_error = String::new();
    while tokio::time::Instant::now() < deadline {
        for addr in split_list(&cfg.join) {
            let Ok(addr) = advertise_for(&addr) else {
                continue;
            };
            let channel = match connector.channel(&addr) {
                Ok(c) => c,
                Err(e) => {
                    last_error = e;
                    continue;
                }
            };
            let mut req = tonic::Request::new(request.clone());
            req.set_timeout(crate::service::JOIN_TIMEOUT + Duration::from_secs(5));
            match RaftTransportClient::new(channel).join_cluster(req).await {
                Ok(reply) => {
                    let reply = reply.into_inner();
                    if !reply.result {
                        bail!("joining through {addr}: {}", reply.msg);
                    }
                    tracing::info!(leader = %reply.leader_name, cluster = %reply.initial_cluster, "joined the group");
                    return Ok(());
                }
                Err(status) => last_error = format!("{addr}: {}", status.message()),
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    bail!(
        "no master in --join added this master within {} s: {last_error}",
        JOIN_DEADLINE.as_secs()
    )
}
