//! Starting a worker: [`run`] takes the configuration and an [`Env`] (how
//! to dial the masters, the users' databases, the wall clock, a stop
//! signal), registers with the masters, then heartbeats and runs what the
//! leader binds to this worker until told to stop.
//!
//! The binary and the deterministic simulation both start workers through
//! [`run`]; only their [`Env`]s differ. The binary's is [`Env::system`]:
//! TCP (with mutual TLS to the masters when `ssl-ca`, `ssl-cert` and
//! `ssl-key` are set; the files are read and checked first), MySQL, the
//! system clock, a stop sent on SIGTERM or Ctrl-C, and the HTTP listener on
//! `worker-addr` ([`crate::http`]), bound before anything else so that a
//! taken port stops the start.

use std::sync::Arc;

use dm_proto::clock::Clock;
use dm_proto::config::WorkerConfig;
use dm_proto::net::{ChannelTimeouts, SharedConnector, TcpConnector};
use dm_proto::tls::{Names, TlsError, TlsFiles};
use tokio::sync::watch;

use crate::databases::{Databases, MySqlDatabases};
use crate::http::{self, BindError};
use crate::master_client::{ClientError, MasterClient};
use crate::subtask::Supervisor;

/// What a worker runs on besides its configuration.
#[derive(Debug)]
pub struct Env {
    /// How the worker dials the masters.
    pub connector: SharedConnector,
    /// Where its subtasks read and write.
    pub databases: Arc<dyn Databases>,
    /// The wall clock that names the worker's boot.
    pub clock: Clock,
    /// Turns true when the worker should stop every subtask and return.
    /// Keep its sender alive: a closed channel also stops the worker.
    pub stop: watch::Receiver<bool>,
    /// `worker-addr`, bound, for the HTTP listener (`/status`); none in
    /// the simulation.
    pub http: Option<std::net::TcpListener>,
}

/// Why the binary's [`Env`] cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// `ssl-ca`, `ssl-cert` or `ssl-key` cannot be used (the file and why).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// `worker-addr` cannot be listened on.
    #[error(transparent)]
    Bind(#[from] BindError),
}

impl Env {
    /// The binary's: TCP (TLS when configured), MySQL, the system clock,
    /// stopped by `stop`, and `worker-addr` bound for the HTTP listener.
    pub fn system(cfg: &WorkerConfig, stop: watch::Receiver<bool>) -> Result<Self, EnvError> {
        let timeouts = ChannelTimeouts::default();
        let tls = TlsFiles::load(&cfg.tls_paths(), Names::KEYS, true)?
            .map(|files| files.client(timeouts.connect));
        Ok(Self {
            connector: TcpConnector::shared_with_tls(timeouts, tls),
            databases: Arc::new(MySqlDatabases),
            clock: Clock::system(),
            stop,
            http: Some(http::bind(&cfg.worker_addr)?),
        })
    }
}

/// Runs a worker in `env` until its stop signal: registers, then
/// heartbeats to the leader and runs the subtasks it is bound to.
pub async fn run(cfg: &WorkerConfig, env: Env) -> Result<(), ClientError> {
    let Env {
        connector,
        databases,
        clock,
        stop,
        http,
    } = env;
    if let Some(listener) = http {
        tokio::spawn(http::serve(listener, stop.clone()));
    }
    let mut client = MasterClient::new(cfg, connector, clock);
    let mut registration_stop = stop.clone();
    client.register(&mut registration_stop).await?;
    let mut supervisor = Supervisor::new(&cfg.name, databases, clock.unix_ms());
    client.run(&mut supervisor, stop).await
}
