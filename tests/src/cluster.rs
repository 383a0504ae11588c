//! Real dm-master processes on loopback, and dmctl, for tests and benchmarks.
//!
//! Each master gets two free ports (client API, Raft peer traffic), a data
//! dir and a log file in one temp dir that outlives restarts, so a master can
//! be SIGKILLed and started again on the same data, as an operator would.
//! Processes are [`ChildGuard`]s: stopped when the cluster is dropped, also
//! when a test panics.
//!
//! Masters started with [`MasterTls`] run mutual TLS. Their client
//! addresses are registered with the harness's client certificate
//! ([`MasterTls::dmctl`]) for as long as they run, so every helper here that
//! runs dmctl against them ([`dmctl`], [`wait_bound`], [`wait_syncing`],
//! ...) connects with it; a test that wants dmctl with other flags (or
//! none) calls [`dmctl_with`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::binaries::workspace_binary;
use crate::certs::TlsFlags;
use crate::error::{HarnessError, Result};
use crate::port::free_port;
use crate::process::ChildGuard;
use crate::wait::wait_until;

/// One master's identity and ports.
#[derive(Debug, Clone)]
pub struct MasterSpec {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// `--advertise-addr` port, when clients are to reach this master
    /// through something in between (a proxy); the client port otherwise.
    pub advertise_port: Option<u16>,
}

impl MasterSpec {
    pub fn client_addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
}

/// How a master process is started.
#[derive(Debug, Clone)]
enum Bootstrap {
    InitialCluster(String),
    Join(String),
}

/// Mutual TLS for a set of masters.
#[derive(Debug, Clone)]
pub struct MasterTls {
    /// Every master's `--ssl-ca`, `--ssl-cert`, `--ssl-key`.
    pub flags: TlsFlags,
    /// `--cert-allowed-cn` (empty: not given).
    pub cert_allowed_cn: Vec<String>,
    /// What the harness's dmctl connects to these masters with.
    pub dmctl: TlsFlags,
}

/// The dmctl flags for masters that run TLS, by client address.
fn dmctl_flags_by_addr() -> &'static Mutex<HashMap<String, Vec<String>>> {
    static FLAGS: OnceLock<Mutex<HashMap<String, Vec<String>>>> = OnceLock::new();
    FLAGS.get_or_init(Default::default)
}

/// The flags [`dmctl`] uses for `master_addrs` (those of its first address).
fn dmctl_flags_for(master_addrs: &str) -> Vec<String> {
    let first = master_addrs.split(',').next().unwrap_or_default().trim();
    dmctl_flags_by_addr()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(first)
        .cloned()
        .unwrap_or_default()
}

#[derive(Debug)]
struct MasterProcess {
    spec: MasterSpec,
    bootstrap: Bootstrap,
    process: Option<ChildGuard>,
}

/// `master1..n` on free ports.
fn free_specs(n: usize) -> Result<Vec<MasterSpec>> {
    (1..=n)
        .map(|i| {
            Ok(MasterSpec {
                name: format!("master{i}"),
                client_port: free_port()?,
                peer_port: free_port()?,
                advertise_port: None,
            })
        })
        .collect()
}

/// A set of dm-master processes.
#[derive(Debug)]
pub struct Masters {
    masters: Vec<MasterProcess>,
    binary: PathBuf,
    tls: Option<MasterTls>,
    // Last: removed after the processes are stopped.
    dir: TempDir,
}

impl Masters {
    /// Starts `n` masters on free ports forming one group (`--initial-cluster`).
    pub fn start(n: usize) -> Result<Self> {
        Self::start_with(free_specs(n)?)
    }

    /// Starts `n` masters forming one group, with mutual TLS.
    pub fn start_tls(n: usize, tls: MasterTls) -> Result<Self> {
        Self::start_with_tls(free_specs(n)?, Some(tls))
    }

    /// Starts masters with the given names and ports forming one group.
    pub fn start_with(specs: Vec<MasterSpec>) -> Result<Self> {
        Self::start_with_tls(specs, None)
    }

    /// [`Masters::start_with`], with mutual TLS when `tls` is given.
    pub fn start_with_tls(specs: Vec<MasterSpec>, tls: Option<MasterTls>) -> Result<Self> {
        let n = specs.len();
        let mut dir = tempfile::Builder::new()
            .prefix("dm-masters-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating the masters' temp dir", e))?;
        // DM_KEEP_TEST_DIRS=1 keeps data dirs and logs for a post-mortem.
        if std::env::var_os("DM_KEEP_TEST_DIRS").is_some() {
            dir.disable_cleanup(true);
        }
        let initial = specs
            .iter()
            .map(|s| format!("{}={}", s.name, s.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let mut masters = Self {
            masters: specs
                .into_iter()
                .map(|spec| MasterProcess {
                    spec,
                    bootstrap: Bootstrap::InitialCluster(initial.clone()),
                    process: None,
                })
                .collect(),
            binary: workspace_binary("dm-master")?,
            tls,
            dir,
        };
        for i in 0..n {
            masters.spawn(i)?;
        }
        Ok(masters)
    }

    /// Starts one more master that joins through the running ones; returns its index.
    pub fn join_new(&mut self) -> Result<usize> {
        let join = self.client_addrs();
        let index = self.masters.len();
        self.masters.push(MasterProcess {
            spec: MasterSpec {
                name: format!("master{}", index + 1),
                client_port: free_port()?,
                peer_port: free_port()?,
                advertise_port: None,
            },
            bootstrap: Bootstrap::Join(join),
            process: None,
        });
        self.spawn(index)?;
        Ok(index)
    }

    /// (Re)starts master `i` on its data dir.
    pub fn spawn(&mut self, i: usize) -> Result<()> {
        let dir = self.dir.path().to_path_buf();
        let binary = self.binary.clone();
        let tls = self.tls.clone();
        let master = self
            .masters
            .get_mut(i)
            .ok_or_else(|| HarnessError::Task(format!("no master {i}")))?;
        let spec = &master.spec;
        let mut cmd = Command::new(binary);
        cmd.arg("--name")
            .arg(&spec.name)
            .arg("--master-addr")
            .arg(spec.client_addr())
            .arg("--peer-urls")
            .arg(spec.peer_url())
            .arg("--data-dir")
            .arg(dir.join(format!("{}.data", spec.name)))
            .env(
                "RUST_LOG",
                std::env::var("DM_MASTER_LOG").unwrap_or_else(|_| "info,openraft=warn".into()),
            );
        if let Some(port) = spec.advertise_port {
            cmd.arg("--advertise-addr").arg(format!("127.0.0.1:{port}"));
        }
        match &master.bootstrap {
            Bootstrap::InitialCluster(ic) => cmd.arg("--initial-cluster").arg(ic),
            Bootstrap::Join(join) => cmd.arg("--join").arg(join),
        };
        if let Some(tls) = &tls {
            cmd.args(tls.flags.args());
            if !tls.cert_allowed_cn.is_empty() {
                cmd.arg(format!(
                    "--cert-allowed-cn={}",
                    tls.cert_allowed_cn.join(",")
                ));
            }
            dmctl_flags_by_addr()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(spec.client_addr(), tls.dmctl.args());
        }
        let log = dir.join(format!("{}.log", spec.name));
        master.process = Some(ChildGuard::spawn(spec.name.clone(), cmd, log)?);
        Ok(())
    }

    /// SIGKILLs master `i`.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut process) = self.masters.get_mut(i).and_then(|m| m.process.take()) {
            process.kill()?;
        }
        Ok(())
    }

    /// Stops master `i` gracefully (SIGTERM).
    pub fn stop(&mut self, i: usize) -> Result<()> {
        if let Some(mut process) = self.masters.get_mut(i).and_then(|m| m.process.take()) {
            process.stop()?;
        }
        Ok(())
    }

    /// Sends `signal` (e.g. SIGSTOP / SIGCONT) to master `i`.
    pub fn signal(&mut self, i: usize, signal: libc::c_int) -> Result<()> {
        match self.masters.get_mut(i).and_then(|m| m.process.as_mut()) {
            Some(process) => process.signal(signal),
            None => Err(HarnessError::Task(format!("master {i} is not running"))),
        }
    }

    pub fn len(&self) -> usize {
        self.masters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.masters.is_empty()
    }

    pub fn spec(&self, i: usize) -> Option<&MasterSpec> {
        self.masters.get(i).map(|m| &m.spec)
    }

    /// Index of the master named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.masters.iter().position(|m| m.spec.name == name)
    }

    /// Every master's client address, comma-separated (for `--master-addr`).
    pub fn client_addrs(&self) -> String {
        self.masters
            .iter()
            .map(|m| m.spec.client_addr())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Where the masters' data dirs and logs are.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The leader's name as `list-member --leader` reports it, waiting
    /// until there is one.
    pub async fn leader(&self, deadline: Duration) -> Result<String> {
        let addrs = self.client_addrs();
        wait_until(
            "a leader is elected",
            deadline,
            Duration::from_millis(50),
            || {
                let addrs = addrs.clone();
                async move {
                    let answer = dmctl(&addrs, &["list-member", "--leader"]).await?;
                    answer["members"][0]["leader"]["name"]
                        .as_str()
                        .map(str::to_string)
                        .filter(|name| !name.is_empty())
                        .ok_or_else(|| HarnessError::Task(format!("no leader in {answer}")))
                }
            },
        )
        .await
    }
}

impl Drop for Masters {
    fn drop(&mut self) {
        if self.tls.is_some() {
            let mut flags = dmctl_flags_by_addr()
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for master in &self.masters {
                flags.remove(&master.spec.client_addr());
            }
        }
    }
}

/// The source ids `operate-source show` lists; an error unless it answers
/// `result: true`.
pub async fn shown_sources(master_addrs: &str) -> Result<std::collections::BTreeSet<String>> {
    let answer = dmctl(master_addrs, &["operate-source", "show"]).await?;
    if answer["result"] != true {
        return Err(HarnessError::Task(format!("operate-source show: {answer}")));
    }
    Ok(answer["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["source"].as_str().map(str::to_string))
        .collect())
}

/// Runs `dmctl --master-addr ADDRS ARGS...` and parses its JSON answer;
/// with the harness's TLS flags when the masters run TLS ([`MasterTls`]).
pub async fn dmctl(master_addrs: &str, args: &[&str]) -> Result<Value> {
    dmctl_with(master_addrs, &dmctl_flags_for(master_addrs), args).await
}

/// Runs `dmctl --master-addr ADDRS FLAGS... ARGS...` and parses its JSON
/// answer (`flags`: the TLS flags, [`TlsFlags::args`], or none).
pub async fn dmctl_with(master_addrs: &str, flags: &[String], args: &[&str]) -> Result<Value> {
    let binary = workspace_binary("dmctl")?;
    let output = tokio::process::Command::new(binary)
        .arg("--master-addr")
        .arg(master_addrs)
        .args(flags)
        .args(args)
        .env_remove("DM_MASTER_ADDR")
        .output()
        .await
        .map_err(|e| HarnessError::io("running dmctl", e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&stdout).map_err(|e| {
        HarnessError::Task(format!(
            "dmctl {args:?} printed no JSON ({e}): {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    })
}

/// A set of dm-worker processes joined to a set of masters.
#[derive(Debug)]
pub struct Workers {
    workers: Vec<(String, u16, Option<ChildGuard>)>,
    join: String,
    keepalive_ttl_secs: u64,
    tls: Option<TlsFlags>,
    binary: PathBuf,
    dir: TempDir,
}

impl Workers {
    /// Starts `n` workers named `worker1..` joining `join` (master addresses).
    pub fn start(n: usize, join: &str, keepalive_ttl_secs: u64) -> Result<Self> {
        Self::start_tls(n, join, keepalive_ttl_secs, None)
    }

    /// [`Workers::start`], each worker given the TLS flags `tls`.
    pub fn start_tls(
        n: usize,
        join: &str,
        keepalive_ttl_secs: u64,
        tls: Option<TlsFlags>,
    ) -> Result<Self> {
        let mut dir = tempfile::Builder::new()
            .prefix("dm-workers-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating the workers' temp dir", e))?;
        if std::env::var_os("DM_KEEP_TEST_DIRS").is_some() {
            dir.disable_cleanup(true);
        }
        let mut workers = Self {
            workers: Vec::new(),
            join: join.to_string(),
            keepalive_ttl_secs,
            tls,
            binary: workspace_binary("dm-worker")?,
            dir,
        };
        for i in 1..=n {
            workers
                .workers
                .push((format!("worker{i}"), free_port()?, None));
            workers.spawn(i - 1)?;
        }
        Ok(workers)
    }

    /// (Re)starts worker `i`.
    pub fn spawn(&mut self, i: usize) -> Result<()> {
        let log = self.dir.path().join(format!("worker{}.log", i + 1));
        let (name, port, process) = self
            .workers
            .get_mut(i)
            .ok_or_else(|| HarnessError::Task(format!("no worker {i}")))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--name")
            .arg(&*name)
            .arg("--worker-addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--join")
            .arg(&self.join)
            .arg("--keepalive-ttl")
            .arg(self.keepalive_ttl_secs.to_string())
            .args(self.tls.iter().flat_map(TlsFlags::args))
            .env("RUST_LOG", "info");
        *process = Some(ChildGuard::spawn(name.clone(), cmd, log)?);
        Ok(())
    }

    /// SIGKILLs worker `i`.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut process) = self.workers.get_mut(i).and_then(|w| w.2.take()) {
            process.kill()?;
        }
        Ok(())
    }

    /// Sends `signal` (e.g. SIGSTOP / SIGCONT) to worker `i`.
    pub fn signal(&mut self, i: usize, signal: libc::c_int) -> Result<()> {
        match self.workers.get_mut(i).and_then(|w| w.2.as_mut()) {
            Some(process) => process.signal(signal),
            None => Err(HarnessError::Task(format!("worker {i} is not running"))),
        }
    }

    /// Index of the worker named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.workers.iter().position(|w| w.0 == name)
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Process id of worker `i`, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.workers
            .get(i)
            .and_then(|w| w.2.as_ref())
            .map(ChildGuard::pid)
    }

    /// The `worker-addr` of worker `i` (`127.0.0.1:<port>`: `/status`,
    /// `/metrics`).
    pub fn addr(&self, i: usize) -> Option<String> {
        self.workers.get(i).map(|w| format!("127.0.0.1:{}", w.1))
    }

    /// The log file of worker `i`.
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("worker{}.log", i + 1))
    }
}

/// One worker as `list-member --worker` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerView {
    pub name: String,
    /// The address it registered with (`worker-addr`, where it serves
    /// `/status` and `/metrics`).
    pub addr: String,
    pub stage: String,
    pub source: String,
}

/// `list-member --worker`, parsed.
pub async fn workers_view(master_addrs: &str) -> Result<Vec<WorkerView>> {
    let answer = dmctl(master_addrs, &["list-member", "--worker"]).await?;
    let workers = answer["members"][0]["worker"]["workers"]
        .as_array()
        .ok_or_else(|| HarnessError::Task(format!("no workers in {answer}")))?;
    Ok(workers
        .iter()
        .map(|w| WorkerView {
            name: w["name"].as_str().unwrap_or_default().to_string(),
            addr: w["addr"].as_str().unwrap_or_default().to_string(),
            stage: w["stage"].as_str().unwrap_or_default().to_string(),
            source: w["source"].as_str().unwrap_or_default().to_string(),
        })
        .collect())
}

/// The worker `source` is bound to, per `list-member --worker`.
pub async fn bound_worker(master_addrs: &str, source: &str) -> Result<Option<String>> {
    Ok(workers_view(master_addrs)
        .await?
        .into_iter()
        .find(|w| w.stage == "bound" && w.source == source)
        .map(|w| w.name))
}

/// Waits until `list-member --worker` shows `worker` in `stage`.
pub async fn wait_worker_stage(
    master_addrs: &str,
    worker: &str,
    stage: &str,
    deadline: Duration,
) -> Result<()> {
    wait_until(
        &format!("{worker} shows {stage}"),
        deadline,
        Duration::from_millis(50),
        || async move {
            let view = workers_view(master_addrs).await.ok()?;
            view.iter()
                .any(|w| w.name == worker && w.stage == stage)
                .then_some(())
        },
    )
    .await
}

/// A minimal source file's text for an upstream at 127.0.0.1:`port` (user
/// root, no password).
pub fn source_yaml(id: &str, port: u16) -> String {
    format!("source-id: {id}\nfrom:\n  host: 127.0.0.1\n  port: {port}\n  user: root\n")
}

/// Writes [`source_yaml`] to `dir/<id>.yaml` and returns the path.
pub fn write_source_file(dir: &Path, id: &str, port: u16) -> Result<String> {
    let path = dir.join(format!("{id}.yaml"));
    std::fs::write(&path, source_yaml(id, port))
        .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
    Ok(path.display().to_string())
}

/// `operate-source create` of a minimal source file; an error unless the
/// answer says `result: true`.
pub async fn create_source(master_addrs: &str, dir: &Path, id: &str, port: u16) -> Result<()> {
    create_source_from(master_addrs, dir, id, &source_yaml(id, port)).await
}

/// `operate-source create` of a source file with the text `yaml`, written
/// to `dir/<id>.yaml`; an error unless the answer says `result: true`.
pub async fn create_source_from(
    master_addrs: &str,
    dir: &Path,
    id: &str,
    yaml: &str,
) -> Result<()> {
    let file = dir.join(format!("{id}.yaml"));
    std::fs::write(&file, yaml)
        .map_err(|e| HarnessError::io(format!("writing {}", file.display()), e))?;
    let path = file.display().to_string();
    let answer = dmctl(master_addrs, &["operate-source", "create", &path]).await?;
    if answer["result"] == true {
        Ok(())
    } else {
        Err(HarnessError::Task(format!(
            "source {id} not created: {answer}"
        )))
    }
}

/// Waits until `source` is bound to a worker other than `not`; returns it.
pub async fn wait_bound(
    master_addrs: &str,
    source: &str,
    not: Option<&str>,
    deadline: Duration,
) -> Result<String> {
    wait_until(
        &format!("{source} bound to a worker other than {not:?}"),
        deadline,
        Duration::from_millis(50),
        || async move {
            let worker = bound_worker(master_addrs, source).await.ok().flatten()?;
            (Some(worker.as_str()) != not).then_some(worker)
        },
    )
    .await
}

/// The subtasks of `task` in a `query-status TASK` answer: (source, status).
pub fn subtasks_of<'a>(answer: &'a Value, task: &str) -> Vec<(String, &'a Value)> {
    answer["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| {
            let source = s["sourceStatus"]["source"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            s["subTaskStatus"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(move |t| t["name"] == task)
                .map(move |t| (source.clone(), t))
        })
        .collect()
}

/// The first subtask of `task` that is paused in a `query-status TASK`
/// answer, as `<task> on <source> paused: <its status>`.
pub fn paused_subtask(answer: &Value, task: &str) -> Option<String> {
    subtasks_of(answer, task)
        .into_iter()
        .find(|(_, subtask)| subtask["stage"] == "Paused")
        .map(|(source, subtask)| format!("{task} on {source} paused: {subtask}"))
}

/// Waits until every subtask of `task` shows `stage` in `query-status`;
/// returns that answer. Fails at once when a subtask is paused by an error
/// (unless `stage` is "Paused"), with the error.
pub async fn wait_task_stage(
    master_addrs: &str,
    task: &str,
    stage: &str,
    deadline: Duration,
) -> Result<Value> {
    use crate::wait::Check;
    wait_until(
        &format!("every subtask of {task} {stage}"),
        deadline,
        Duration::from_millis(100),
        || async move {
            let answer = match dmctl(master_addrs, &["query-status", task]).await {
                Ok(a) => a,
                Err(e) => return Check::Pending(e.to_string()),
            };
            let subtasks = subtasks_of(&answer, task);
            if stage != "Paused" {
                if let Some((source, failed)) = subtasks
                    .iter()
                    .find(|(_, t)| t["stage"] == "Paused" && t["result"]["errors"].is_array())
                {
                    return Check::Abort(HarnessError::Task(format!(
                        "{task} on {source} paused by an error: {}",
                        failed["result"]["errors"]
                    )));
                }
            }
            if !subtasks.is_empty() && subtasks.iter().all(|(_, t)| t["stage"] == stage) {
                Check::Ready(answer)
            } else {
                Check::Pending(answer.to_string())
            }
        },
    )
    .await
}

/// Waits until every subtask of `task` runs the sync unit (a timeout shows
/// the last status).
pub async fn wait_syncing(master_addrs: &str, task: &str, deadline: Duration) -> Result<()> {
    use crate::wait::Check;
    wait_until(
        &format!("every subtask of {task} replicating"),
        deadline,
        Duration::from_millis(50),
        || async move {
            let answer = match dmctl(master_addrs, &["query-status", task]).await {
                Ok(a) => a,
                Err(e) => return Check::Pending(e.to_string()),
            };
            let subtasks = subtasks_of(&answer, task);
            if !subtasks.is_empty()
                && subtasks
                    .iter()
                    .all(|(_, t)| t["stage"] == "Running" && t["unit"] == "Sync")
            {
                Check::Ready(())
            } else {
                Check::Pending(answer.to_string())
            }
        },
    )
    .await
}
