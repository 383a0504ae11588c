//! The downstream port on a MySQL-compatible server (mysql_async): the
//! only place the downstream meets the client library.
//!
//! - [`MySqlDownstream`] (here): connections, meta tables, claims, fenced
//!   commits and checkpoints; `port`: it as the [`Downstream`] trait.
//! - `sync_tx`: a lane's transaction in pieces; `copy_chunks`: the copy
//!   plan and chunk transactions; `shard_intents`, `shard_groups`: the
//!   shard-DDL records; `schema_states`: the schema tracker's states; [`session`]: the downstream sessions' settings.
//!
//! [`Downstream`]: crate::downstream::Downstream
//!
//! ## Meta tables in utf8mb4
//!
//! The meta tables hold upstream names (schemas, tables, DDL text) that
//! may be any Unicode; a server whose default character set is latin1
//! (MariaDB's) would reject them. So the meta schema and every meta table
//! are created in utf8mb4 with the binary collation (names compare byte
//! for byte, as the server compares table names), and sessions send
//! utf8mb4 (`SET NAMES`). Meta tables an older version created in another
//! character set are converted when the task prepares them (`ALTER TABLE
//! ... CONVERT TO CHARACTER SET`): they are small, converting latin1 or
//! utf8 text to utf8mb4 loses nothing, and a binary collation only makes
//! keys more distinct, so the conversion cannot fail on the data.
//!
//! ## Statement size
//!
//! The server refuses a packet longer than its `max_allowed_packet`
//! (fixed for a session when it connects). The downstream reads it once,
//! on its first connection, and [`MySqlDownstream::max_statement_bytes`]
//! leaves [`PACKET_HEADROOM_BYTES`] of it for the protocol; the copy and
//! the sync size their statements by that, and several statements share a
//! packet only while they stay under it.

mod binlog_ops;
mod copy_chunks;
mod port;
mod schema_states;
mod server_kind;
pub mod session;
mod shard_groups;
mod shard_intents;
mod sync_tx;

use std::sync::Arc;
use std::time::Duration;

use dm_proto::config::DbConfig;
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, Pool, PoolConstraints, PoolOpts, Transaction, TxOpts};

use crate::downstream::{Checkpoint, CheckpointKey, Commit, DownstreamError, MetaTables};
use crate::position::Position;
use crate::sql::quote;
use sync_tx::MySqlSyncTx;

/// What a statement leaves of the downstream's `max_allowed_packet` for
/// the protocol (the command byte, the separators of a multi-statement
/// packet).
pub const PACKET_HEADROOM_BYTES: usize = 16 << 10;

/// The character set and collation of every meta table.
const META_CHARSET: &str = "utf8mb4";
const META_COLLATION: &str = "utf8mb4_bin";

/// The table options every meta table is created with.
pub(super) fn meta_table_options() -> String {
    format!(" DEFAULT CHARSET={META_CHARSET} COLLATE={META_COLLATION}")
}

/// The longest statement a server with `max_allowed_packet` accepts, less
/// headroom (pure).
pub fn statement_limit(max_allowed_packet: u64) -> usize {
    let packet = usize::try_from(max_allowed_packet).unwrap_or(usize::MAX);
    packet
        .saturating_sub(PACKET_HEADROOM_BYTES)
        .max(packet / 2)
        .max(1)
}

/// How long a claim waits on the fence row before it looks for stale
/// transactions holding it.
const CLAIM_PATIENCE: Duration = Duration::from_millis(500);

/// Connection options for `cfg` (the daemons' one way in, TLS included:
/// [`dm_proto::db_conn::opts`]), with up to `pool_max` pooled connections
/// and `setup` run on every connection.
pub fn db_opts(cfg: &DbConfig, pool_max: usize, setup: Vec<String>) -> Opts {
    let constraints = PoolConstraints::new(0, pool_max.max(1)).unwrap_or_default();
    dm_proto::db_conn::opts(cfg)
        .tcp_nodelay(true)
        .setup(setup)
        .pool_opts(PoolOpts::default().with_constraints(constraints))
        .into()
}

/// A downstream database reached through a connection pool.
#[derive(Debug, Clone)]
pub struct MySqlDownstream {
    pool: Pool,
    addr: String,
    /// [`statement_limit`] of the server's `max_allowed_packet`, once read.
    max_statement: Arc<tokio::sync::OnceCell<usize>>,
}

/// An open transaction that passed the fence, or the epoch that fenced it.
#[derive(Debug)]
pub enum FencedTx {
    Open(Transaction<'static>),
    Fenced { by_epoch: u64 },
}

impl MetaTables {
    /// `meta`.`<task>_<suffix>`: DM names its meta tables after the task.
    pub(super) fn table(&self, suffix: &str) -> Result<String, DownstreamError> {
        let name = self.table_name(suffix)?;
        Ok(format!("{}.{}", quote(&self.meta_schema), quote(&name)))
    }

    /// `<task>_<suffix>`, unquoted.
    fn table_name(&self, suffix: &str) -> Result<String, DownstreamError> {
        let name = format!("{}_{suffix}", self.task);
        if name.len() > 64 {
            return Err(DownstreamError::Name(name, "longer than 64 characters"));
        }
        Ok(name)
    }
}

/// The suffixes of a task's meta tables.
const META_SUFFIXES: [&str; 7] = [
    "fence",
    "checkpoint",
    "copy_chunk",
    "shard_ddl",
    "shard_group",
    "schema",
    "binlog_op",
];

impl MySqlDownstream {
    pub fn new(opts: Opts) -> Self {
        let addr = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
        Self {
            pool: Pool::new(opts),
            addr,
            max_statement: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The downstream of a task (`target-database`), with sessions set up
    /// for the copy and the sync (see [`super::session::setup`]).
    pub fn connect(cfg: &DbConfig, pool_max: usize) -> Self {
        Self::new(db_opts(cfg, pool_max, session::setup(&cfg.session)))
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub(super) fn error(
        &self,
        what: impl Into<String>,
    ) -> impl FnOnce(mysql_async::Error) -> DownstreamError + '_ {
        let what = what.into();
        move |source: mysql_async::Error| DownstreamError::Database {
            addr: self.addr.clone(),
            what,
            source: source.into(),
        }
    }

    pub(super) async fn conn(&self) -> Result<mysql_async::Conn, DownstreamError> {
        self.pool.get_conn().await.map_err(self.error("connecting"))
    }

    /// Runs one statement outside any transaction (schema creation).
    pub async fn execute(&self, statement: &str) -> Result<(), DownstreamError> {
        let mut conn = self.conn().await?;
        conn.query_drop(statement)
            .await
            .map_err(self.error(format!("running `{statement}`")))
    }

    /// The longest statement the server accepts: its `max_allowed_packet`
    /// (read on the first call) less [`PACKET_HEADROOM_BYTES`].
    pub async fn max_statement_bytes(&self) -> Result<usize, DownstreamError> {
        self.max_statement
            .get_or_try_init(|| async {
                let mut conn = self.conn().await?;
                let packet: Option<u64> = conn
                    .query_first("SELECT @@max_allowed_packet")
                    .await
                    .map_err(self.error("reading max_allowed_packet"))?;
                let packet = packet.ok_or_else(|| DownstreamError::Unexpected {
                    addr: self.addr.clone(),
                    what: "no value for @@max_allowed_packet".into(),
                })?;
                Ok(statement_limit(packet))
            })
            .await
            .copied()
    }

    /// Creates the meta schema and the task's meta tables if missing, in
    /// utf8mb4 (converting tables an older version created otherwise).
    pub async fn prepare(&self, meta: &MetaTables) -> Result<(), DownstreamError> {
        let fence = meta.table("fence")?;
        let checkpoint = meta.table("checkpoint")?;
        let chunks = meta.table("copy_chunk")?;
        let shard = meta.table("shard_ddl")?;
        let group = meta.table("shard_group")?;
        let schemas = meta.table("schema")?;
        let binlog_ops = meta.table("binlog_op")?;
        let options = meta_table_options();
        let mut conn = self.conn().await?;
        conn.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET {META_CHARSET} COLLATE {META_COLLATION}",
            quote(&meta.meta_schema)
        ))
        .await
        .map_err(self.error("creating the meta schema"))?;
        for (what, ddl) in [
            (
                "creating the fence table",
                format!(
                    "CREATE TABLE IF NOT EXISTS {fence} (
                        source_id VARCHAR(32) NOT NULL PRIMARY KEY,
                        epoch BIGINT UNSIGNED NOT NULL,
                        update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
                    ){options}"
                ),
            ),
            (
                "creating the checkpoint table",
                format!(
                    "CREATE TABLE IF NOT EXISTS {checkpoint} (
                        source_id VARCHAR(32) NOT NULL,
                        lane INT UNSIGNED NOT NULL,
                        epoch BIGINT UNSIGNED NOT NULL,
                        binlog_name VARCHAR(128) NOT NULL DEFAULT '',
                        binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
                        binlog_gtid TEXT,
                        update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
                        PRIMARY KEY (source_id, lane)
                    ){options}"
                ),
            ),
            ("creating the copy chunk table", copy_chunks::ddl(&chunks)),
            ("creating the shard DDL table", shard_intents::ddl(&shard)),
            ("creating the shard group table", shard_groups::ddl(&group)),
            ("creating the schema table", schema_states::ddl(&schemas)),
            (
                "creating the binlog operation table",
                binlog_ops::ddl(&binlog_ops),
            ),
        ] {
            conn.query_drop(ddl).await.map_err(self.error(what))?;
        }
        self.convert_meta_tables(&mut conn, meta).await
    }

    /// Converts the task's meta tables that are not (entirely) in utf8mb4
    /// with the binary collation: tables an older version created in the
    /// server's default character set.
    async fn convert_meta_tables(
        &self,
        conn: &mut mysql_async::Conn,
        meta: &MetaTables,
    ) -> Result<(), DownstreamError> {
        let names = META_SUFFIXES
            .iter()
            .map(|s| meta.table_name(s))
            .collect::<Result<Vec<_>, _>>()?;
        let listed = vec!["?"; names.len()].join(",");
        let mut params: Vec<mysql_async::Value> = vec![meta.meta_schema.clone().into()];
        params.extend(names.iter().map(|n| n.clone().into()));
        params.push(meta.meta_schema.clone().into());
        params.extend(names.iter().map(|n| n.clone().into()));
        let stale: Vec<String> = conn
            .exec(
                format!(
                    "SELECT TABLE_NAME FROM information_schema.TABLES \
                     WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({listed}) \
                     AND TABLE_COLLATION <> '{META_COLLATION}' \
                     UNION SELECT TABLE_NAME FROM information_schema.COLUMNS \
                     WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({listed}) \
                     AND COLLATION_NAME IS NOT NULL AND COLLATION_NAME <> '{META_COLLATION}' \
                     ORDER BY TABLE_NAME"
                ),
                params,
            )
            .await
            .map_err(self.error("reading the character sets of the meta tables"))?;
        for name in stale {
            let table = format!("{}.{}", quote(&meta.meta_schema), quote(&name));
            tracing::info!(downstream = %self.addr, %table,
                "converting a meta table to {META_CHARSET} ({META_COLLATION})");
            conn.query_drop(format!(
                "ALTER TABLE {table} CONVERT TO CHARACTER SET {META_CHARSET} COLLATE {META_COLLATION}"
            ))
            .await
            .map_err(self.error(format!(
                "converting the meta table {table} to {META_CHARSET}"
            )))?;
        }
        Ok(())
    }

    /// Takes `source` for `epoch`: from now on no transaction of a smaller
    /// epoch commits. `Fenced` when a larger epoch already claimed it.
    pub async fn claim(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
    ) -> Result<Commit, DownstreamError> {
        let fence = meta.table("fence")?;
        let mut conn = self.conn().await?;
        conn.exec_drop(
            format!("INSERT IGNORE INTO {fence} (source_id, epoch) VALUES (?, 0)"),
            (source,),
        )
        .await
        .map_err(self.error("creating the fence row"))?;
        let thread_id = conn.id();
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .await
            .map_err(self.error("starting a transaction"))?;
        let stored: Option<u64> = {
            let lock = tx.exec_first(
                format!("SELECT epoch FROM {fence} WHERE source_id = ? FOR UPDATE"),
                (source,),
            );
            tokio::pin!(lock);
            loop {
                tokio::select! {
                    stored = &mut lock => break stored.map_err(self.error("locking the fence row"))?,
                    () = tokio::time::sleep(CLAIM_PATIENCE) => self.kill_blockers(thread_id).await,
                }
            }
        };
        let stored = stored.unwrap_or(0);
        if stored > epoch {
            tx.rollback().await.map_err(self.error("rolling back"))?;
            return Ok(Commit::Fenced { by_epoch: stored });
        }
        tx.exec_drop(
            format!("UPDATE {fence} SET epoch = ? WHERE source_id = ?"),
            (epoch, source),
        )
        .await
        .map_err(self.error("claiming the fence row"))?;
        tx.commit()
            .await
            .map_err(self.error("committing the claim"))?;
        Ok(Commit::Committed)
    }

    /// Kills the transactions that hold what connection `waiting` waits
    /// for: only a stale owner of the fence row can (it holds the row in a
    /// transaction it never finished: paused, cut off). Its transaction
    /// rolls back. Best effort: without the privilege the claim just waits.
    /// Where the lock waits are listed depends on the server
    /// ([`server_kind`]).
    async fn kill_blockers(&self, waiting: u32) {
        let Ok(mut conn) = self.conn().await else {
            return;
        };
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .await
            .unwrap_or_default();
        let kind = server_kind::ServerKind::from_version(version.as_deref().unwrap_or_default());
        let blockers: Vec<u64> = conn
            .exec(kind.blockers_sql(), (waiting,))
            .await
            .unwrap_or_default();
        for thread in blockers {
            tracing::warn!(downstream = %self.addr, thread, "killing a stale transaction that holds the fence");
            if let Err(e) = conn.query_drop(format!("KILL {thread}")).await {
                tracing::warn!(downstream = %self.addr, thread, error = %e, "could not kill the stale transaction");
            }
        }
    }

    /// The epoch that owns `source` (0 if none claimed it yet).
    pub async fn fence_epoch(
        &self,
        meta: &MetaTables,
        source: &str,
    ) -> Result<u64, DownstreamError> {
        let fence = meta.table("fence")?;
        let mut conn = self.conn().await?;
        let stored: Option<u64> = conn
            .exec_first(
                format!("SELECT epoch FROM {fence} WHERE source_id = ?"),
                (source,),
            )
            .await
            .map_err(self.error("reading the fence row"))?;
        Ok(stored.unwrap_or(0))
    }

    /// Opens a transaction for `source` under `epoch`, after reading the
    /// fence row with a shared lock: `Fenced` (and nothing open) when a
    /// larger epoch claimed the source.
    pub async fn begin_fenced(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
    ) -> Result<FencedTx, DownstreamError> {
        let fence = meta.table("fence")?;
        let mut tx = self
            .pool
            .start_transaction(TxOpts::default())
            .await
            .map_err(self.error("starting a transaction"))?;
        let stored: Option<u64> = tx
            .exec_first(
                format!("SELECT epoch FROM {fence} WHERE source_id = ? LOCK IN SHARE MODE"),
                (source,),
            )
            .await
            .map_err(self.error("reading the fence row"))?;
        let stored = stored.unwrap_or(0);
        if stored > epoch {
            tx.rollback().await.map_err(self.error("rolling back"))?;
            return Ok(FencedTx::Fenced { by_epoch: stored });
        }
        if stored < epoch {
            tx.rollback().await.map_err(self.error("rolling back"))?;
            return Err(DownstreamError::NotClaimed {
                source_id: source.to_string(),
                epoch,
                stored,
            });
        }
        Ok(FencedTx::Open(tx))
    }

    /// Runs `statements` and moves the checkpoint to `position`, in one
    /// transaction, unless a larger epoch than `epoch` claimed the source.
    pub async fn commit_fenced<S: AsRef<[u8]>>(
        &self,
        key: &CheckpointKey,
        epoch: u64,
        position: &Position,
        statements: &[S],
    ) -> Result<Commit, DownstreamError> {
        // Read before the transaction takes a connection of the pool.
        let packet_bytes = self.max_statement_bytes().await?;
        let tx = match self.begin_fenced(&key.meta(), &key.source, epoch).await? {
            FencedTx::Open(tx) => tx,
            FencedTx::Fenced { by_epoch } => return Ok(Commit::Fenced { by_epoch }),
        };
        let mut tx = MySqlSyncTx {
            downstream: self.clone(),
            tx,
            key: key.clone(),
            epoch,
            packet_bytes,
        };
        tx.write_all(statements).await?;
        tx.finish(position.clone()).await
    }

    /// The stored checkpoint, if any transaction committed one.
    pub async fn checkpoint(
        &self,
        key: &CheckpointKey,
    ) -> Result<Option<Checkpoint>, DownstreamError> {
        let table = key.meta().table("checkpoint")?;
        let mut conn = self.conn().await?;
        let row: Option<(u64, String, u32, Option<String>)> = conn
            .exec_first(
                format!(
                    "SELECT epoch, binlog_name, binlog_pos, binlog_gtid FROM {table} \
                     WHERE source_id = ? AND lane = ?"
                ),
                (&key.source, key.lane),
            )
            .await
            .map_err(self.error("reading the checkpoint"))?;
        Ok(
            row.map(|(epoch, binlog_name, binlog_pos, gtid)| Checkpoint {
                epoch,
                position: Position {
                    binlog_name,
                    binlog_pos,
                    binlog_gtid: gtid.unwrap_or_default(),
                },
            }),
        )
    }

    /// Closes the pool's connections.
    pub async fn close(self) -> Result<(), DownstreamError> {
        let addr = self.addr.clone();
        self.pool
            .disconnect()
            .await
            .map_err(|source| DownstreamError::Database {
                addr,
                what: "disconnecting".into(),
                source: source.into(),
            })
    }
}

impl MySqlDownstream {
    /// Every stored checkpoint of `source` in `meta`, by lane.
    pub async fn lane_checkpoints(
        &self,
        meta: &MetaTables,
        source: &str,
    ) -> Result<std::collections::BTreeMap<u32, Position>, DownstreamError> {
        let table = meta.table("checkpoint")?;
        let mut conn = self.conn().await?;
        let rows: Vec<(u32, String, u32, Option<String>)> = conn
            .exec(
                format!(
                    "SELECT lane, binlog_name, binlog_pos, binlog_gtid FROM {table} \
                     WHERE source_id = ? AND binlog_name <> ''"
                ),
                (source,),
            )
            .await
            .map_err(self.error("reading the checkpoints"))?;
        Ok(rows
            .into_iter()
            .map(|(lane, binlog_name, binlog_pos, gtid)| {
                (
                    lane,
                    Position {
                        binlog_name,
                        binlog_pos,
                        binlog_gtid: gtid.unwrap_or_default(),
                    },
                )
            })
            .collect())
    }

    /// Every row of `schema`.`table`, values as text (`None` is NULL).
    pub async fn table_rows(
        &self,
        schema: &str,
        table: &str,
    ) -> Result<Vec<Vec<Option<String>>>, DownstreamError> {
        let mut conn = self.conn().await?;
        let rows: Vec<mysql_async::Row> = conn
            .query(format!("SELECT * FROM {}.{}", quote(schema), quote(table)))
            .await
            .map_err(self.error("reading the table"))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                row.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        mysql_async::Value::NULL => None,
                        mysql_async::Value::Bytes(b) => {
                            Some(String::from_utf8_lossy(&b).into_owned())
                        }
                        other => Some(other.as_sql(true)),
                    })
                    .collect()
            })
            .collect())
    }

    /// Whether `schema`.`table` has a unique key besides its primary key.
    pub async fn has_other_unique_keys(
        &self,
        schema: &str,
        table: &str,
    ) -> Result<bool, DownstreamError> {
        let mut conn = self.conn().await?;
        let count: Option<u64> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY'",
                (schema, table),
            )
            .await
            .map_err(self.error("reading the table's unique keys"))?;
        Ok(count.unwrap_or(0) > 0)
    }

    /// The generated columns of `schema`.`table` (MySQL and MariaDB both
    /// fill `GENERATION_EXPRESSION` for them only).
    pub async fn generated_columns(
        &self,
        schema: &str,
        table: &str,
    ) -> Result<Vec<String>, DownstreamError> {
        let mut conn = self.conn().await?;
        conn.exec(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COALESCE(GENERATION_EXPRESSION, '') <> ''",
            (schema, table),
        )
        .await
        .map_err(self.error("reading the table's generated columns"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_leave_headroom_in_the_packet() {
        assert_eq!(
            statement_limit(16 << 20),
            (16 << 20) - PACKET_HEADROOM_BYTES
        );
        assert_eq!(statement_limit(1 << 30), (1 << 30) - PACKET_HEADROOM_BYTES);
        // The server's smallest packet (1 KiB): half of it.
        assert_eq!(statement_limit(1024), 512);
        assert_eq!(statement_limit(0), 1);
    }
}
