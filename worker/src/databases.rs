//! The databases a worker's sync units talk to, behind one trait: real
//! servers for the binary, in-memory ones for the deterministic
//! simulation, so the same supervisor, copy and sync code runs in both.

use std::fmt;
use std::sync::Arc;

use dm_proto::config::{DbConfig, SourceConfig};
use futures::future::BoxFuture;

use crate::downstream::mysql::session::DEFAULT_TIME_ZONE;
use crate::downstream::{db_opts, Downstream, MySqlDownstream};
use crate::upstream::mysql::{MySqlCopySource, MySqlSource};
use crate::upstream::{BinlogSource, CopySource};
use dm_proto::sql::set_session;

/// Where a worker's subtasks read and write.
pub trait Databases: Send + Sync + fmt::Debug {
    /// A task's downstream, with room for `connections` at once.
    fn downstream(&self, target: &DbConfig, connections: usize) -> Arc<dyn Downstream>;

    /// A source's binlog (and tables).
    fn source(&self, source: &SourceConfig) -> Arc<dyn BinlogSource>;

    /// A source's snapshots for the full copy, with `connections` readers.
    fn copy_source(&self, source: &SourceConfig, connections: usize) -> Arc<dyn CopySource>;

    /// Before a subtask's units connect: whether `db` (written at `block`,
    /// `from` or `target-database`) can be reached as its TLS settings
    /// say. `Err` only for what no retry mends (a `security` file that
    /// cannot be used, a server that wants TLS the block does not ask for,
    /// a failed TLS handshake); other failures are left to the units,
    /// which report and retry them as they always do.
    fn preflight<'a>(
        &'a self,
        db: &'a DbConfig,
        block: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        let _ = (db, block);
        Box::pin(async { Ok(()) })
    }
}

/// How long [`Databases::preflight`] waits for a server before leaving it
/// to the units.
const PREFLIGHT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Real MySQL / MariaDB servers.
#[derive(Debug, Clone, Copy, Default)]
pub struct MySqlDatabases;

/// Connection options of a source: UTF-8, and the time zone of its
/// `from.session` `time_zone` (a task's, see [`crate::downstream::mysql::session`]),
/// else UTC.
pub fn upstream_opts(source: &SourceConfig, pool_max: usize) -> mysql_async::Opts {
    let time_zone = source
        .from
        .session
        .get("time_zone")
        .map_or(DEFAULT_TIME_ZONE, String::as_str);
    db_opts(
        &source.from,
        pool_max,
        vec![
            "SET NAMES utf8mb4".to_string(),
            set_session("time_zone", time_zone),
        ],
    )
}

impl Databases for MySqlDatabases {
    fn downstream(&self, target: &DbConfig, connections: usize) -> Arc<dyn Downstream> {
        Arc::new(MySqlDownstream::connect(target, connections))
    }

    fn source(&self, source: &SourceConfig) -> Arc<dyn BinlogSource> {
        Arc::new(MySqlSource::new(upstream_opts(source, 2)))
    }

    fn copy_source(&self, source: &SourceConfig, connections: usize) -> Arc<dyn CopySource> {
        Arc::new(MySqlCopySource {
            opts: upstream_opts(source, connections),
        })
    }

    fn preflight<'a>(
        &'a self,
        db: &'a DbConfig,
        block: &'a str,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let connecting = dm_proto::db_conn::connect(db, block);
            match tokio::time::timeout(PREFLIGHT_TIMEOUT, connecting).await {
                Ok(Ok(conn)) => {
                    // Only the connection was in question.
                    let _ = conn.disconnect().await;
                    Ok(())
                }
                Ok(Err(e)) if e.is_tls() => Err(e.to_string()),
                // The units meet (and report) anything else themselves.
                Ok(Err(_)) | Err(_) => Ok(()),
            }
        })
    }
}
