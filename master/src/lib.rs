//! dm-master: the Raft group that holds every source, task, binding and
//! shard-DDL lock, and the API dmctl and workers call.
//!
//! - [`state`]: the replicated state, a pure state machine.
//! - [`raft`]: openraft's types, stores and network.
//! - [`scheduler`]: which worker runs which source (pure).
//! - [`node`]: one running master and how requests reach the state.
//! - [`service`]: the gRPC services (client API with forwarding, Raft transport).
//! - [`precheck`]: the task pre-check (`check-task`, `start-task`): binlog
//!   settings, privileges and table structure of each upstream.
//! - [`diff`]: `check-diff`, the task's upstream and downstream tables
//!   compared by chunk checksums, then row by row where they differ.
//! - [`metrics`]: the Prometheus families served at `GET /metrics`.
//! - [`start`]: one master started in an environment (listener, network,
//!   disk, databases, clock), the same for the binary and the simulation.

pub(crate) mod advertise;
mod catch_up;
mod checkpoints;
pub mod databases;
mod db_opts;
pub mod diff;
pub mod error;
mod leadership;
pub mod liveness;
pub mod metrics;
pub mod node;
pub mod precheck;
pub mod raft;
mod remove_meta;
pub mod scheduler;
mod scheduling;
pub mod server;
pub mod service;
pub mod start;
pub mod state;
pub mod tracked_schema;
mod upstream_check;

use anyhow::Context;
use dm_proto::config::{MasterArgs, MasterConfig};

/// Loads the configuration, sets up logging and runs the master until
/// SIGTERM or Ctrl-C.
pub fn run(args: &MasterArgs) -> anyhow::Result<()> {
    let cfg = MasterConfig::load(args)?;
    // Kept until run returns: dropping it writes out the queued lines.
    let _log_guard =
        dm_proto::logging::init(&cfg.log_level, &cfg.log_file, &cfg.log_format, &cfg.log)?;
    if let Some(note) = dm_proto::config::log_rotate_note(&cfg.log_rotate) {
        tracing::warn!("{note}");
    }
    tracing::info!(name = %cfg.name, master_addr = %cfg.master_addr, advertise_addr = %cfg.advertise_addr,
        peer_urls = %cfg.peer_urls, initial_cluster = %cfg.initial_cluster, join = %cfg.join,
        data_dir = %cfg.data_dir, "dm-master starting");
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let running = start::start(&cfg, start::Env::system(&cfg)?).await?;
        dm_proto::shutdown::signalled().await;
        tracing::info!("dm-master stopping");
        running.stop().await;
        Ok(())
    })
}
