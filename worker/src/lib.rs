//! dm-worker: registers with the masters, heartbeats to the leader and runs
//! the subtasks of the source it is bound to (dump -> load -> sync).
//!
//! Today this crate loads and validates the configuration; the master
//! client, the units and the upstream/downstream adapters are built on it.

use anyhow::Context;
use dm_proto::config::{WorkerArgs, WorkerConfig};

/// Loads the configuration, sets up logging and runs the worker.
pub fn run(args: &WorkerArgs) -> anyhow::Result<()> {
    let cfg = WorkerConfig::load(args)?;
    dm_proto::logging::init(&cfg.log_level, &cfg.log_file, &cfg.log_format)
        .map_err(anyhow::Error::msg)?;
    let source = cfg.embedded_source().map(|s| s.source_id);
    tracing::info!(name = %cfg.name, worker_addr = %cfg.worker_addr, advertise_addr = %cfg.advertise_addr,
        join = %cfg.join, keepalive_ttl_secs = cfg.keepalive_ttl, embedded_source = ?source,
        "dm-worker configuration loaded");
    serve(&cfg).context("dm-worker stopped")
}

fn serve(cfg: &WorkerConfig) -> anyhow::Result<()> {
    anyhow::bail!(
        "configuration of {} is valid, but this build cannot serve yet (no master client)",
        cfg.name
    )
}
