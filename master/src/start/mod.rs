//! Starting a master: [`start`] takes the configuration and an [`Env`]
//! (where connections come from, how to dial other hosts, the disk under
//! the Raft stores, the users' databases, the wall clock), starts Raft,
//! serves, runs the leader's loops, then brings the master into its group
//! ([`bootstrap`]):
//!
//! - Fresh data dir and `--initial-cluster`: every listed master calls
//!   openraft's `initialize` with the same membership (harmless on all of
//!   them; the first to succeed wins, the others find it done).
//! - Fresh data dir and `--join`: ask the masters listed to add this one
//!   (as a learner that catches up, then as a voter).
//! - A data dir with Raft state: nothing to do; the master rejoins the group
//!   it was part of and catches up from the leader.
//!
//! The binary and the deterministic simulation both start masters through
//! [`start`]; only their [`Env`]s differ. The binary's is
//! [`Env::system`]: TCP (with mutual TLS when `ssl-ca`, `ssl-cert` and
//! `ssl-key` are set), sled under `--data-dir`, MySQL, the system clock.
//!
//! Node ids are hashes of names (see [`crate::raft::node_id`]), so every
//! master derives the same membership from `--initial-cluster`.

mod bootstrap;
mod error;
mod listen;
mod v1_sources;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dm_proto::clock::Clock;
use dm_proto::config::{advertise_for, parse_host_port, parse_peer_url, split_list, MasterConfig};
use dm_proto::net::{ChannelTimeouts, SharedConnector, TcpConnector};
use dm_proto::tls::{Names, ServerTls, TlsFiles};
use openraft::{Raft, SnapshotPolicy};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::bootstrap::bootstrap;
pub use self::bootstrap::JOIN_DEADLINE;
pub use self::error::StartError;
pub use self::listen::{Incoming, Listen, TcpListen};
use crate::databases::{Databases, MySqlDatabases};
use crate::node::{Node, Outside};
use crate::raft::{node_id, open_db, stores_on, Disk, MasterNode, Network, SledDisk, TypeConfig};
use crate::server::serve;

/// How long a write may wait for its commit before the client is told.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// openraft's settings from the master's configuration.
pub fn raft_config(cfg: &MasterConfig) -> Result<Arc<openraft::Config>, StartError> {
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
    Ok(Arc::new(
        config
            .validate()
            .map_err(|e| StartError::RaftSettings(Box::new(e)))?,
    ))
}

/// Addresses a master listens on and advertises.
#[derive(Debug, Clone)]
pub struct Addresses {
    pub client_listen: String,
    pub peer_listen: String,
    pub me: MasterNode,
}

impl Addresses {
    pub fn from_config(cfg: &MasterConfig) -> Result<Self, StartError> {
        let listen = |addr: &str| -> Result<String, StartError> {
            let (host, port) = parse_host_port(addr)?;
            Ok(if host.is_empty() {
                format!("0.0.0.0:{port}")
            } else {
                format!("{host}:{port}")
            })
        };
        let first = |urls: &str, key: &'static str| -> Result<String, StartError> {
            let url = split_list(urls)
                .into_iter()
                .next()
                .ok_or(StartError::NoUrl(key))?;
            Ok(parse_peer_url(&url)?)
        };
        let peer_listen = first(&cfg.peer_urls, "peer-urls")?;
        let peer_advertise =
            advertise_for(&first(&cfg.advertise_peer_urls, "advertise-peer-urls")?)?;
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
pub struct Env<D, L> {
    /// Where the client API and the Raft transport accept connections.
    pub listen: L,
    /// How the master dials other masters and forwards requests.
    pub connector: SharedConnector,
    /// The server side of mutual TLS, on every address the master serves;
    /// plaintext when none.
    pub tls: Option<ServerTls>,
    /// The disk under the Raft log and state machine.
    pub disk: D,
    /// The users' databases (upstream checks, pre-checks, `check-diff`).
    pub databases: Arc<dyn Databases>,
    /// The wall clock the leader stamps into proposals.
    pub clock: Clock,
}

impl Env<SledDisk, TcpListen> {
    /// The binary's: TCP, sled under `--data-dir`, MySQL, the system clock.
    /// Checks the addresses, the TLS files and `--v1-sources-path` before
    /// it creates the data dir, and makes `secret-key-path`'s key the
    /// process's.
    pub fn system(cfg: &MasterConfig) -> Result<Self, StartError> {
        Addresses::from_config(cfg)?;
        let timeouts = ChannelTimeouts::default();
        let tls = TlsFiles::load(&cfg.tls_paths(), Names::KEYS, true)?;
        let server_tls = tls
            .as_ref()
            .map(|files| files.server(&cfg.cert_allowed_cn))
            .transpose()?;
        let client_tls = tls.as_ref().map(|files| files.client(timeouts.connect));
        v1_sources::check(&cfg.v1_sources_path)?;
        if !cfg.secret_key_path.is_empty() {
            let key = dm_proto::secret::load_key_file(Path::new(&cfg.secret_key_path))?;
            dm_proto::secret::install_process_key(key);
        }
        let db = open_db(Path::new(&cfg.data_dir)).map_err(|source| StartError::DataDir {
            dir: cfg.data_dir.clone(),
            source: Box::new(source),
        })?;
        Ok(Self {
            listen: TcpListen,
            connector: TcpConnector::shared_with_tls(timeouts, client_tls),
            tls: server_tls,
            disk: SledDisk::new(db),
            databases: Arc::new(MySqlDatabases),
            clock: Clock::system(),
        })
    }
}

/// Starts a master in `env`: opens its stores, starts Raft, serves, runs
/// the leader's loops and joins the group. Stop it with [`Running::stop`].
pub async fn start<D: Disk, L: Listen>(
    cfg: &MasterConfig,
    env: Env<D, L>,
) -> Result<Running, StartError> {
    let addrs = Addresses::from_config(cfg)?;
    let Env {
        listen,
        connector,
        tls,
        disk,
        databases,
        clock,
    } = env;
    let (log_store, state_machine) = stores_on(&disk).map_err(|source| StartError::DataDir {
        dir: cfg.data_dir.clone(),
        source: Box::new(source),
    })?;
    let reader = state_machine.reader();
    let raft = Raft::<TypeConfig>::new(
        node_id(&cfg.name),
        raft_config(cfg)?,
        Network::new(connector.clone()),
        log_store,
        state_machine,
    )
    .await
    .map_err(|source| StartError::Raft {
        doing: "starting raft",
        source: Box::new(source),
    })?;
    let node = Arc::new(
        Node::new(
            addrs.me.clone(),
            raft,
            reader,
            Outside {
                connector: connector.clone(),
                databases,
                clock,
            },
            WRITE_TIMEOUT,
            Duration::from_millis(cfg.raft_election_timeout_ms),
        )
        .with_running_config(cfg.to_toml().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the configuration cannot be shown by get-config");
            String::new()
        })),
    );

    let (stop, stopped) = watch::channel(false);
    let mut servers = Vec::new();
    let mut addresses = vec![addrs.client_listen.clone()];
    if addrs.peer_listen != addrs.client_listen {
        addresses.push(addrs.peer_listen.clone());
    }
    for addr in addresses {
        let incoming = listen
            .bind(&addr)
            .await
            .map_err(|source| StartError::Listen {
                addr: addr.clone(),
                source,
            })?;
        let node = node.clone();
        let tls = tls.clone();
        let mut stopped = stopped.clone();
        servers.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = serve(node, incoming, shutdown, tls).await {
                tracing::error!(%addr, error = %e, "server stopped");
            }
        }));
    }
    tracing::info!(id = node.id, me = %addrs.me, tls = tls.is_some(), "master serving");
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

/// The background loops (catch-up, scheduling, checkpoint flushes, who
/// may lead, metrics), until `stopped` turns true.
fn spawn_loops(node: &Arc<Node>, stopped: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let mut loops = vec![
        tokio::spawn(crate::catch_up::run(node.clone(), stopped.clone())),
        tokio::spawn(crate::scheduling::run(node.clone(), stopped.clone())),
        tokio::spawn(crate::checkpoints::run(node.clone(), stopped.clone())),
        tokio::spawn(crate::leadership::run(node.clone(), stopped.clone())),
        tokio::spawn(crate::metrics::watch::run(node.clone(), stopped.clone())),
    ];
    if crate::advertise::needed(node) {
        loops.push(tokio::spawn(crate::advertise::run(
            node.clone(),
            stopped.clone(),
        )));
    }
    loops
}
