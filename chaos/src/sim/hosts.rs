//! The simulated hosts: masters `m1..mN` and workers `w1..wN`, each started
//! by the binaries' own start-up functions (`dm_master::start::start`,
//! `dm_worker::start::run`) in a simulated environment: turmoil's network
//! ([`SimListen`], [`SimConnector`]), an in-memory disk, in-memory
//! databases and a wall clock derived from simulated time.
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
use dm_master::raft::MemDisk;
use dm_master::start::{start, Env as MasterEnv};
use dm_proto::clock::Clock;
use dm_proto::config::{MasterConfig, WorkerConfig};
use dm_worker::databases::Databases;
use dm_worker::start::{run, Env as WorkerEnv};
use tokio::sync::watch;

use super::databases::SimDatabases;
use super::net::{SimConnector, SimListen};

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

/// The wall clock the cluster reads inside the simulation: a fixed epoch
/// plus simulated time, the same on every run of a seed.
fn sim_clock_ms() -> u64 {
    const EPOCH_MS: u64 = 1_767_225_600_000;
    EPOCH_MS
        + turmoil::sim_elapsed().map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The host of master `name`: starts it on `disk`, then runs until crashed.
pub async fn run_master(
    cfg: MasterConfig,
    disk: MemDisk,
    registry: Registry,
) -> Result<(), Box<dyn std::error::Error>> {
    let env = MasterEnv {
        listen: SimListen,
        connector: SimConnector::shared(),
        tls: None,
        disk,
        databases: Arc::new(SimDatabases),
        clock: Clock::new(sim_clock_ms),
    };
    let running = start(&cfg, env).await?;
    registry.add(&cfg.name, running.node.clone());
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
    let (_stop, stop) = watch::channel(false);
    let env = WorkerEnv {
        connector: SimConnector::shared(),
        databases,
        clock: Clock::new(sim_clock_ms),
        stop,
        http: None,
    };
    run(&cfg, env).await?;
    Ok(())
}
