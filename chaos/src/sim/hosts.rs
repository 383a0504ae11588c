//! The simulated hosts: masters `m1..mN` and workers `w1..wN`, each running
//! the production code (`dm_master::start::build` + `serve` + its loops +
//! `bootstrap`; the worker's `MasterClient` and `Supervisor`) on the
//! simulated network.
//!
//! A master's "disk" ([`MemDisk`]) lives outside its host: a crashed and
//! restarted master reopens its Raft log and state machine from it, as a
//! real one reopens its data dir. The [`Registry`] lets the checks read the
//! running masters' Raft metrics and applied state between steps.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use dm_master::node::Node;
use dm_master::raft::{mem_stores, MemDisk};
use dm_master::server::serve;
use dm_master::start::{bootstrap, build, spawn_loops, Parts};
use dm_proto::config::{MasterConfig, WorkerConfig};
use dm_worker::databases::Databases;
use dm_worker::master_client::MasterClient;
use dm_worker::subtask::Supervisor;
use tokio::sync::watch;

use super::databases::SimDatabases;
use super::net::{incoming, SimConnector};

/// The port every master serves clients and peers on.
pub const MASTER_PORT: u16 = 8261;

pub fn master_name(i: usize) -> String {
    format!("m{}", i + 1)
}

pub fn worker_name(i: usize) -> String {
    format!("w{}", i + 1)
}

pub fn master_addr(name: &str) -> String {
    format!("{name}:{MASTER_PORT}")
}

/// The running masters' nodes, by name (a crashed master is removed).
#[derive(Debug, Default, Clone)]
pub struct Registry {
    masters: Rc<RefCell<BTreeMap<String, Arc<Node>>>>,
}

impl Registry {
    pub fn masters(&self) -> BTreeMap<String, Arc<Node>> {
        self.masters.borrow().clone()
    }

    pub fn forget(&self, name: &str) {
        self.masters.borrow_mut().remove(name);
    }

    fn add(&self, name: &str, node: Arc<Node>) {
        self.masters.borrow_mut().insert(name.to_string(), node);
    }
}

/// One master's configuration in a cluster of `masters`.
pub fn master_config(name: &str, masters: usize) -> MasterConfig {
    let initial_cluster = (0..masters)
        .map(|i| {
            let n = master_name(i);
            format!("{n}=http://{}", master_addr(&n))
        })
        .collect::<Vec<_>>()
        .join(",");
    MasterConfig {
        name: name.to_string(),
        master_addr: master_addr(name),
        advertise_addr: master_addr(name),
        peer_urls: format!("http://{}", master_addr(name)),
        advertise_peer_urls: format!("http://{}", master_addr(name)),
        initial_cluster,
        ..MasterConfig::default()
    }
}

/// The host of master `name`: opens its stores on `disk`, serves, runs its
/// loops and bootstraps, then runs until crashed.
pub async fn run_master(
    cfg: MasterConfig,
    disk: MemDisk,
    registry: Registry,
) -> Result<(), Box<dyn std::error::Error>> {
    let connector = SimConnector::shared();
    let (log_store, state_machine) = mem_stores(&disk)?;
    let reader = state_machine.reader();
    let node = build(
        &cfg,
        Parts {
            connector: connector.clone(),
            databases: Arc::new(SimDatabases),
            log_store,
            state_machine,
            reader,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let listener = turmoil::net::TcpListener::bind(("0.0.0.0", MASTER_PORT)).await?;
    let (_stop, stopped) = watch::channel(false);
    let serving = node.clone();
    tokio::spawn(async move {
        let _ = serve(serving, incoming(listener), std::future::pending()).await;
    });
    let _loops = spawn_loops(&node, &stopped);
    registry.add(&cfg.name, node.clone());
    bootstrap(&cfg, &node, &connector)
        .await
        .map_err(|e| e.to_string())?;
    std::future::pending::<()>().await;
    Ok(())
}

/// One worker's configuration, joining `masters` masters.
pub fn worker_config(name: &str, masters: usize) -> WorkerConfig {
    WorkerConfig {
        name: name.to_string(),
        worker_addr: format!("{name}:8262"),
        advertise_addr: format!("{name}:8262"),
        join: (0..masters)
            .map(|i| master_addr(&master_name(i)))
            .collect::<Vec<_>>()
            .join(","),
        keepalive_ttl: 2,
        ..WorkerConfig::default()
    }
}

/// The host of a worker: registers, then heartbeats and runs what it is
/// bound to, until crashed.
pub async fn run_worker(
    cfg: WorkerConfig,
    databases: Arc<dyn Databases>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut client = MasterClient::new(&cfg, SimConnector::shared());
    let (_stop, mut stopped) = watch::channel(false);
    client.register(&mut stopped).await?;
    let mut supervisor = Supervisor::new(databases);
    client.run(&mut supervisor, stopped).await?;
    Ok(())
}
