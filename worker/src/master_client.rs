//! The worker's side of `dm.WorkerControl`: register, then heartbeat to the
//! leader for as long as the worker runs.
//!
//! The worker starts with the `--join` addresses. A master that is not the
//! leader answers with the leader's address, and the worker talks to that one
//! from then on; when its target fails it moves to the next known address.
//! Meanwhile what it runs keeps running, until the lease runs out (see
//! [`crate::lease`]): a master failover is much shorter than the lease.
//!
//! A master that refuses the worker itself (TLS required, no certificate,
//! a certificate from another CA or a name outside the master's
//! `cert-allowed-cn`) is a setting to fix, not a failover: the worker logs
//! the reason as an error, once until it changes, and keeps trying every
//! [`REFUSED_RETRY`].

use std::time::Duration;

use tokio::time::Instant;

use dm_proto::clock::Clock;
use dm_proto::config::{join_addresses, WorkerConfig};
use dm_proto::net::SharedConnector;
use dm_proto::pb;
use dm_proto::pb::worker_control_client::WorkerControlClient;
use dm_proto::tls::Names;
use tokio::sync::watch;

use crate::lease::Lease;
use crate::subtask::Supervisor;

/// Pause before trying the next master after a failure.
pub const RETRY: Duration = Duration::from_millis(50);
/// Pause before trying again after a master refused this worker's TLS
/// settings or certificate.
pub const REFUSED_RETRY: Duration = Duration::from_secs(1);
/// Heartbeat interval until the leader says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(300);

/// Why the worker stopped talking to the masters.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Asked to stop before any master accepted the registration.
    #[error("stopped before registering")]
    Stopped,
    /// A master refused the registration (a name taken by another address,
    /// say); it says why.
    #[error("registration refused: {0}")]
    Refused(String),
}

/// The worker's identity and where the masters are.
#[derive(Debug)]
pub struct MasterClient {
    name: String,
    address: String,
    ttl: Duration,
    embedded_source: String,
    /// The running configuration, passwords masked (`get-config worker`).
    config_toml: String,
    /// Known master addresses; `target` indexes the one tried first.
    masters: Vec<String>,
    target: usize,
    connector: SharedConnector,
    /// The channel to the master last talked to, kept while it answers:
    /// one connection (and, with TLS, one handshake) for every heartbeat,
    /// not one each. Dropped when a call fails, so the next one dials anew.
    channel: Option<(String, tonic::transport::Channel)>,
    boot_id: u64,
    seq: u64,
    /// The last refusal logged, so that a retry logs only a new one.
    refused: Option<String>,
}

impl MasterClient {
    /// `clock` names the worker's boot.
    pub fn new(cfg: &WorkerConfig, connector: SharedConnector, clock: Clock) -> Self {
        let masters = join_addresses(&cfg.join);
        Self {
            name: cfg.name.clone(),
            address: cfg.advertise_addr.clone(),
            ttl: Duration::from_secs(cfg.keepalive_ttl),
            embedded_source: cfg
                .embedded_source()
                .and_then(|s| serde_json::to_string(&s).ok())
                .unwrap_or_default(),
            config_toml: cfg.to_masked_toml().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the configuration cannot be shown by get-config");
                String::new()
            }),
            masters,
            target: 0,
            connector,
            channel: None,
            boot_id: clock.unix_ms(),
            seq: 0,
            refused: None,
        }
    }

    /// When `status` says a master refused this worker (not that it is
    /// down or not the leader): logs why, once per reason, and returns the
    /// pause before the next try.
    fn refused(&mut self, status: &tonic::Status) -> Option<Duration> {
        let why = match status.code() {
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                status.message().to_string()
            }
            _ => dm_proto::tls::diagnose(status)?.describe(Names::KEYS),
        };
        if self.refused.as_deref() != Some(why.as_str()) {
            tracing::error!(master = ?self.masters.get(self.target), error = %why, "a master refused this worker; retrying");
            self.refused = Some(why);
        }
        Some(REFUSED_RETRY)
    }

    fn client(&mut self) -> Option<WorkerControlClient<tonic::transport::Channel>> {
        let addr = self.masters.get(self.target)?;
        let channel = match &self.channel {
            Some((cached, channel)) if cached == addr => channel.clone(),
            _ => {
                let channel = self.connector.channel(addr).ok()?;
                self.channel = Some((addr.clone(), channel.clone()));
                channel
            }
        };
        Some(WorkerControlClient::new(channel))
    }

    fn next_master(&mut self) {
        self.channel = None;
        if !self.masters.is_empty() {
            self.target = (self.target + 1) % self.masters.len();
        }
    }

    /// Points at `addr`, learning it if new.
    fn follow(&mut self, addr: &str) {
        match self.masters.iter().position(|a| a == addr) {
            Some(i) => self.target = i,
            None => {
                self.masters.push(addr.to_string());
                self.target = self.masters.len() - 1;
            }
        }
    }

    /// Registers through any master, retrying until one accepts or refuses.
    pub async fn register(
        &mut self,
        stopped: &mut watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let request = pb::RegisterWorkerRequest {
            name: self.name.clone(),
            address: self.address.clone(),
            embedded_source_config: self.embedded_source.clone(),
            keepalive_ttl_ms: millis(self.ttl),
            config: self.config_toml.clone(),
        };
        loop {
            if *stopped.borrow() {
                return Err(ClientError::Stopped);
            }
            let attempt = match self.client() {
                Some(mut c) => c.register_worker(request.clone()).await,
                None => Err(tonic::Status::unavailable("no master address")),
            };
            match attempt {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    if answer.result {
                        self.refused = None;
                        tracing::info!(worker = %self.name, "registered");
                        install_cluster_key(&answer.secret_key);
                        return Ok(());
                    }
                    return Err(ClientError::Refused(answer.msg));
                }
                Err(status) => {
                    let pause = self.refused(&status).unwrap_or(RETRY);
                    tracing::debug!(master = ?self.masters.get(self.target), error = %status.message(), "registration attempt failed");
                    self.next_master();
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Heartbeats until `stopped`; keeps the subtasks in line with the
    /// leader's answers and the lease.
    pub async fn run(
        &mut self,
        supervisor: &mut Supervisor,
        mut stopped: watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let mut lease = Lease::default();
        let mut interval = DEFAULT_INTERVAL;
        let wake = supervisor.wake();
        loop {
            supervisor.step();
            let sent_at = Instant::now();
            self.seq += 1;
            let request = pb::HeartbeatRequest {
                name: self.name.clone(),
                address: self.address.clone(),
                seq: self.seq,
                boot_id: self.boot_id,
                sources: supervisor.reports(),
                keepalive_ttl_ms: millis(self.ttl),
            };
            let attempt = match self.client() {
                Some(mut c) => {
                    let mut req = tonic::Request::new(request);
                    req.set_timeout(interval.max(Duration::from_millis(500)));
                    c.heartbeat(req).await
                }
                None => Err(tonic::Status::unavailable("no master address")),
            };
            let pause = match attempt {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    if answer.is_leader {
                        lease.renew(sent_at, Duration::from_millis(answer.lease_ms));
                        if answer.heartbeat_interval_ms > 0 {
                            interval = Duration::from_millis(answer.heartbeat_interval_ms);
                        }
                        if lease.is_valid(Instant::now()) {
                            supervisor.apply(&answer.assignments);
                        }
                        interval
                    } else {
                        if answer.leader_addr.is_empty() {
                            self.next_master();
                        } else {
                            self.follow(&answer.leader_addr);
                        }
                        RETRY
                    }
                }
                Err(status) if status.code() == tonic::Code::NotFound => {
                    tracing::warn!(error = %status.message(), "the leader does not know this worker; registering again");
                    lease.revoke();
                    supervisor.stop_all();
                    self.register(&mut stopped).await?;
                    Duration::ZERO
                }
                Err(status) => {
                    let pause = self.refused(&status).unwrap_or(RETRY);
                    tracing::debug!(master = ?self.masters.get(self.target), error = %status.message(), "heartbeat failed; trying another master");
                    self.next_master();
                    pause
                }
            };
            if !lease.is_valid(Instant::now()) && supervisor.running_sources() > 0 {
                tracing::warn!("lease expired: stopping every source until the leader answers");
                supervisor.stop_all();
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = wake.notified() => {}
                _ = stopped.wait_for(|s| *s) => {
                    supervisor.stop_all();
                    return Ok(());
                }
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Makes the key the masters handed over at registration the process's
/// password key (nothing when they use DM's built-in key).
fn install_cluster_key(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match dm_proto::secret::SecretKey::from_bytes(bytes) {
        Ok(key) => dm_proto::secret::install_process_key(key),
        Err(e) => tracing::error!(error = %e, "the masters sent a password key that is not one"),
    }
}
