//! dm-master: the Raft group that holds every source, task, binding and
//! shard-DDL lock, and the API dmctl and workers call.
//!
//! - [`state`]: the replicated state, a pure state machine.
//! - [`raft`]: openraft's types, stores and network.

pub mod raft;
pub mod state;

use anyhow::Context;
use dm_proto::config::{MasterArgs, MasterConfig};

/// Loads the configuration, sets up logging and runs the master.
pub fn run(args: &MasterArgs) -> anyhow::Result<()> {
    let cfg = MasterConfig::load(args)?;
    dm_proto::logging::init(&cfg.log_level, &cfg.log_file, &cfg.log_format)
        .map_err(anyhow::Error::msg)?;
    tracing::info!(name = %cfg.name, master_addr = %cfg.master_addr, advertise_addr = %cfg.advertise_addr,
        peer_urls = %cfg.peer_urls, initial_cluster = %cfg.initial_cluster, join = %cfg.join,
        data_dir = %cfg.data_dir, "dm-master configuration loaded");
    serve(&cfg).context("dm-master stopped")
}

fn serve(cfg: &MasterConfig) -> anyhow::Result<()> {
    anyhow::bail!(
        "configuration of {} is valid, but this build cannot serve yet (no Raft service)",
        cfg.name
    )
}
