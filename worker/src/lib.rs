//! dm-worker: registers with the masters, heartbeats to the leader and runs
//! the sources it is bound to.
//!
//! - [`master_client`]: registration and the heartbeat loop, following the
//!   leader across master failovers.
//! - [`lease`]: how long the worker may write without an answer (pure).
//! - [`assignments`]: what runs, under which epoch (pure).
//! - [`upstream`]: the upstream port (binlog and snapshots, with its MySQL
//!   adapter); [`downstream`]: the downstream port (fenced transactional
//!   writes and checkpoints, the same shape). [`position`] is the binlog
//!   position both speak of; [`db_error`] how both report a database's
//!   failures.
//! - [`sql`]: SQL text (quoting, literals, multi-row INSERTs, row-change
//!   statements).
//! - [`copy`]: the full copy, streamed and resumable chunk by chunk.
//! - [`sync`]: the binlog sync, exactly once.
//! - [`subtask`]: the subtasks of the bound sources and their stages.
//! - [`start`]: one worker started in an environment (network, databases,
//!   clock), the same for the binary and the simulation.
//! - [`http`]: the HTTP listener on `worker-addr` (`/status`, `/metrics`);
//!   [`metrics`]: the worker's metric families and where they are set.
//!
//! `copy` and `sync` see the databases only through the two ports: they
//! never name the MySQL client library (`tests/walls.rs` checks it). The
//! in-memory adapters of both ports and their conformance suites are test
//! support, in the `dm-worker-testkit` crate (`worker/testkit`).
//!
//! DM's table rules (block-allow lists, routes, binlog event filters,
//! column mappings) are the `dm-rules` crate, which the masters share.

pub mod assignments;
pub mod copy;
pub mod databases;
pub mod db_error;
pub mod downstream;
pub mod http;
pub mod lease;
pub mod master_client;
pub mod metrics;
pub mod position;
pub mod schema;
pub mod sql;
pub mod start;
pub mod subtask;
pub mod sync;
pub mod upstream;

use anyhow::Context;
use dm_proto::config::{WorkerArgs, WorkerConfig};
use tokio::sync::watch;

/// Locks `mutex`, also after a panic elsewhere left it poisoned: the
/// shared state here (progress, unit outcomes) stays meaningful.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Loads the configuration, sets up logging and runs the worker until
/// SIGTERM or Ctrl-C.
pub fn run(args: &WorkerArgs) -> anyhow::Result<()> {
    let cfg = WorkerConfig::load(args)?;
    // Kept until run returns: dropping it writes out the queued lines.
    let _log_guard =
        dm_proto::logging::init(&cfg.log_level, &cfg.log_file, &cfg.log_format, &cfg.log)?;
    if let Some(note) = dm_proto::config::log_rotate_note(&cfg.log_rotate) {
        tracing::warn!("{note}");
    }
    let source = cfg.embedded_source().map(|s| s.source_id);
    tracing::info!(name = %cfg.name, worker_addr = %cfg.worker_addr, advertise_addr = %cfg.advertise_addr,
        join = %cfg.join, keepalive_ttl_secs = cfg.keepalive_ttl, embedded_source = ?source,
        "dm-worker starting");
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let (stop, stopped) = watch::channel(false);
        let env = start::Env::system(&cfg, stopped)?;
        let work = start::run(&cfg, env);
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => Ok(result?),
            () = dm_proto::shutdown::signalled() => {
                tracing::info!("dm-worker stopping");
                let _ = stop.send(true);
                Ok(work.await?)
            }
        }
    })
}
