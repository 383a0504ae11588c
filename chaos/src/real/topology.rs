//! The cluster under test, on loopback: MariaDB servers, masters behind
//! their proxies, workers, and the actions the fault planner asks for.
//!
//! A database fault stops a server (SIGTERM and a clean shutdown, or
//! SIGKILL) and its end starts it again on the same data directory and
//! port, waiting until it takes connections; an upstream then writes a
//! new binlog file.
//!
//! Masters advertise their proxy's address and workers join through the
//! proxies ([`super::proxy`]); a leader publishes that address in the
//! membership, so followers point workers there too. Raft traffic between
//! masters and the runner's own dmctl go to the masters directly. dmctl is given the masters that are not stopped
//! first, so a SIGSTOPped master (which accepts connections and never
//! answers) only slows the runner's own questions down.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dm_tests::cluster::{create_source, dmctl, workers_view, MasterSpec, Masters, Workers};
use dm_tests::{free_port, MariaDb, MariaDbOptions, Restart};
use serde_json::Value;
use tempfile::TempDir;

use super::faults::{Action, Cluster};
use super::proxy::{self, Partitions};
use super::schema::{self, ID_STEP};
use super::{Options, RunError};

/// How long one dmctl call of the runner may take.
const DMCTL_TIMEOUT: Duration = Duration::from_secs(20);

/// Source ids, in upstream order.
pub fn source_id(shard: usize) -> String {
    format!("mysql-replica-{shard:02}")
}

/// The master addresses for dmctl, answering ones first; shared with the
/// runner's watchers.
#[derive(Debug, Clone, Default)]
pub struct Addrs(Arc<Mutex<String>>);

impl Addrs {
    pub fn get(&self) -> String {
        self.0.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn set(&self, addrs: String) {
        if let Ok(mut a) = self.0.lock() {
            *a = addrs;
        }
    }

    /// `dmctl ARGS` against the masters, bounded in time.
    pub async fn dmctl(&self, args: &[&str]) -> Result<Value, RunError> {
        let addrs = self.get();
        tokio::time::timeout(DMCTL_TIMEOUT, dmctl(&addrs, args))
            .await
            .map_err(|_| RunError::Check(format!("dmctl {args:?} did not answer in time")))?
            .map_err(RunError::Harness)
    }
}

/// A proxy in front of `port`; its own port.
async fn proxy_to(port: u16, partitions: &Partitions) -> Result<u16, RunError> {
    proxy::start(([127, 0, 0, 1], port).into(), partitions)
        .await
        .map_err(|e| RunError::Check(format!("starting a proxy: {e}")))
}

/// Everything the run started.
#[derive(Debug)]
pub struct Topology {
    pub upstreams: Vec<MariaDb>,
    pub downstream: MariaDb,
    pub masters: Masters,
    pub workers: Workers,
    pub addrs: Addrs,
    partitions: Partitions,
    stopped_masters: Vec<bool>,
    /// The pid each partitioned worker had when it was cut off.
    cut: Vec<Option<u32>>,
    pub dir: TempDir,
}

impl Topology {
    /// Starts the databases (with the shards' initial data and the
    /// downstream's audit), the masters and their proxies, the sources and
    /// the workers, and waits until every source is bound.
    pub async fn start(options: &Options) -> Result<Self, RunError> {
        let sources = options.sources;
        let mut servers = MariaDb::start_many(sources + 1, |i| {
            let options = MariaDbOptions::new(i as u32 + 1);
            if i < sources {
                options.auto_increment(ID_STEP, i as u16 + 1)
            } else {
                options
            }
        })
        .await
        .map_err(RunError::Harness)?;
        let downstream = servers
            .pop()
            .ok_or_else(|| RunError::Check("no downstream server".into()))?;
        let upstreams = servers;
        for (i, server) in upstreams.iter().enumerate() {
            let mut conn = server.conn().await.map_err(RunError::Harness)?;
            schema::create_shard(&mut conn, i + 1, options.initial_rows_log2).await?;
        }
        super::audit::prepare(&downstream).await?;

        let partitions = Partitions::default();
        let mut specs = Vec::new();
        let mut proxies = Vec::new();
        for i in 1..=options.masters {
            let client_port = free_port().map_err(RunError::Harness)?;
            let peer_port = free_port().map_err(RunError::Harness)?;
            let client_proxy = proxy_to(client_port, &partitions).await?;
            proxies.push(format!("127.0.0.1:{client_proxy}"));
            specs.push(MasterSpec {
                name: format!("master{i}"),
                client_port,
                peer_port,
                advertise_port: Some(client_proxy),
            });
        }
        let masters = Masters::start_with(specs).map_err(RunError::Harness)?;
        let addrs = Addrs::default();
        addrs.set(masters.client_addrs());
        masters
            .leader(Duration::from_secs(30))
            .await
            .map_err(RunError::Harness)?;
        let dir = tempfile::Builder::new()
            .prefix("dm-chaos-run-")
            .tempdir()
            .map_err(|e| RunError::Check(format!("creating a temp dir: {e}")))?;
        for (i, server) in upstreams.iter().enumerate() {
            create_source(&addrs.get(), dir.path(), &source_id(i + 1), server.port())
                .await
                .map_err(RunError::Harness)?;
        }
        let workers = Workers::start(options.workers, &proxies.join(","), options.ttl_secs)
            .map_err(RunError::Harness)?;
        let topology = Self {
            upstreams,
            downstream,
            masters,
            workers,
            addrs,
            partitions,
            stopped_masters: vec![false; options.masters],
            cut: vec![None; options.workers],
            dir,
        };
        topology.worker_pids_changed();
        for i in 1..=sources {
            dm_tests::cluster::wait_bound(
                &topology.addrs.get(),
                &source_id(i),
                None,
                Duration::from_secs(30),
            )
            .await
            .map_err(RunError::Harness)?;
        }
        Ok(topology)
    }

    /// Who leads and which workers run a source, as far as the masters say.
    pub async fn facts(&self) -> Cluster {
        let leader = match self.addrs.dmctl(&["list-member", "--leader"]).await {
            Ok(answer) => answer["members"][0]["leader"]["name"]
                .as_str()
                .and_then(|name| self.masters.index_of(name)),
            Err(_) => None,
        };
        let bound_workers =
            match tokio::time::timeout(DMCTL_TIMEOUT, workers_view(&self.addrs.get())).await {
                Ok(Ok(view)) => view
                    .iter()
                    .filter(|w| w.stage == "bound")
                    .filter_map(|w| self.workers.index_of(&w.name))
                    .collect(),
                _ => Vec::new(),
            };
        Cluster {
            leader,
            bound_workers,
        }
    }

    /// Carries out one action (starting a database waits until it takes
    /// connections).
    pub async fn apply(&mut self, action: Action) -> Result<(), RunError> {
        let harness = RunError::Harness;
        match action {
            Action::RestartUpstream(i) => self.halt_upstream(i, Restart::Clean)?,
            Action::CrashUpstream(i) => self.halt_upstream(i, Restart::Crash)?,
            Action::StartUpstream(i) => {
                let server = self.upstream(i)?;
                server.start_again().await.map_err(harness)?;
            }
            Action::StopDownstream => {
                let downstream = &mut self.downstream;
                // A clean shutdown takes a second or two.
                tokio::task::block_in_place(|| downstream.halt(Restart::Clean)).map_err(harness)?;
            }
            Action::StartDownstream => self.downstream.start_again().await.map_err(harness)?,
            Action::KillLeader(i) | Action::KillMaster(i) => {
                self.masters.kill(i).map_err(harness)?
            }
            Action::StopMaster(i) => {
                self.masters.signal(i, libc::SIGSTOP).map_err(harness)?;
                self.set_stopped(i, true);
            }
            Action::RestartMaster(i) => self.masters.spawn(i).map_err(harness)?,
            Action::ResumeMaster(i) => {
                self.masters.signal(i, libc::SIGCONT).map_err(harness)?;
                self.set_stopped(i, false);
            }
            Action::EvictLeader(i) => self.operate_leader("evict", i).await?,
            Action::CancelEvict(i) => self.operate_leader("cancel-evict", i).await?,
            Action::KillWorker(i) => self.workers.kill(i).map_err(harness)?,
            Action::StopWorker(i) => self.workers.signal(i, libc::SIGSTOP).map_err(harness)?,
            Action::RestartWorker(i) => {
                self.workers.spawn(i).map_err(harness)?;
                self.worker_pids_changed();
            }
            Action::ResumeWorker(i) => self.workers.signal(i, libc::SIGCONT).map_err(harness)?,
            Action::PartitionWorker(i) => {
                if let (Some(pid), Some(slot)) = (self.workers.pid(i), self.cut.get_mut(i)) {
                    self.partitions.cut(pid);
                    *slot = Some(pid);
                }
            }
            Action::HealWorker(i) => {
                if let Some(pid) = self.cut.get_mut(i).and_then(Option::take) {
                    self.partitions.heal(pid);
                }
            }
        }
        Ok(())
    }

    /// `operate-leader OP --name` master `i`; a refusal fails the run.
    async fn operate_leader(&self, op: &str, i: usize) -> Result<(), RunError> {
        let name = self
            .masters
            .spec(i)
            .map(|s| s.name.clone())
            .ok_or_else(|| RunError::Check(format!("no master {}", i + 1)))?;
        let answer = self
            .addrs
            .dmctl(&["operate-leader", op, "--name", &name])
            .await?;
        if answer["result"] != true {
            return Err(RunError::Check(format!(
                "operate-leader {op} --name {name}: {answer}"
            )));
        }
        Ok(())
    }

    fn upstream(&mut self, i: usize) -> Result<&mut MariaDb, RunError> {
        self.upstreams
            .get_mut(i)
            .ok_or_else(|| RunError::Check(format!("no upstream shard {}", i + 1)))
    }

    fn halt_upstream(&mut self, i: usize, how: Restart) -> Result<(), RunError> {
        let server = self.upstream(i)?;
        // A clean shutdown takes a second or two.
        tokio::task::block_in_place(|| server.halt(how)).map_err(RunError::Harness)
    }

    fn set_stopped(&mut self, i: usize, stopped: bool) {
        if let Some(slot) = self.stopped_masters.get_mut(i) {
            *slot = stopped;
        }
        let (mut first, mut last) = (Vec::new(), Vec::new());
        for i in 0..self.masters.len() {
            if let Some(spec) = self.masters.spec(i) {
                if self.stopped_masters.get(i).copied().unwrap_or(false) {
                    last.push(spec.client_addr());
                } else {
                    first.push(spec.client_addr());
                }
            }
        }
        first.extend(last);
        self.addrs.set(first.join(","));
    }

    /// Lines of every worker's log (restarts included) that contain
    /// `needle`.
    pub fn worker_log_lines(&self, needle: &str) -> u64 {
        (0..self.workers.len())
            .filter_map(|i| std::fs::read(self.workers.log_path(i)).ok())
            .map(|log| {
                String::from_utf8_lossy(&log)
                    .lines()
                    .filter(|l| l.contains(needle))
                    .count() as u64
            })
            .sum()
    }

    fn worker_pids_changed(&self) {
        let pids = (0..self.workers.len())
            .filter_map(|i| self.workers.pid(i))
            .collect();
        self.partitions.set_pids(pids);
    }
}
