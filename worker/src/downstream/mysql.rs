//! The fenced downstream on a MySQL-compatible server (mysql_async).

use std::time::Duration;

use dm_proto::config::DbConfig;
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, Transaction, TxOpts};

use super::session;
use super::{Checkpoint, CheckpointKey, Commit, DownstreamError, MetaTables, Position};
use crate::copy::sql::quote;

/// Upper bound of one multi-statement packet.
const MULTI_STATEMENT_BYTES: usize = 4 << 20;

/// How long a claim waits on the fence row before it looks for stale
/// transactions holding it.
const CLAIM_PATIENCE: Duration = Duration::from_millis(500);

/// Connection options for `cfg`, with up to `pool_max` pooled connections
/// and `setup` run on every connection.
pub fn db_opts(cfg: &DbConfig, pool_max: usize, setup: Vec<String>) -> Opts {
    let constraints = PoolConstraints::new(0, pool_max.max(1)).unwrap_or_default();
    OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(Some(cfg.password.clone()))
        .prefer_socket(false)
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
        let name = format!("{}_{suffix}", self.task);
        if name.len() > 64 {
            return Err(DownstreamError::Name(name, "longer than 64 characters"));
        }
        Ok(format!("{}.{}", quote(&self.meta_schema), quote(&name)))
    }
}

impl MySqlDownstream {
    pub fn new(opts: Opts) -> Self {
        let addr = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
        Self {
            pool: Pool::new(opts),
            addr,
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
        move |source| DownstreamError::Database {
            addr: self.addr.clone(),
            what,
            source,
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

    /// Creates the meta schema and the task's meta tables if missing.
    pub async fn prepare(&self, meta: &MetaTables) -> Result<(), DownstreamError> {
        let fence = meta.table("fence")?;
        let checkpoint = meta.table("checkpoint")?;
        let chunks = meta.table("copy_chunk")?;
        let shard = meta.table("shard_ddl")?;
        let group = meta.table("shard_group")?;
        let mut conn = self.conn().await?;
        conn.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {}",
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
                    )"
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
                    )"
                ),
            ),
            ("creating the copy chunk table", super::copy_chunks::ddl(&chunks)),
            ("creating the shard DDL table", super::shard_intents::ddl(&shard)),
            ("creating the shard group table", super::shard_groups::ddl(&group)),
        ] {
            conn.query_drop(ddl).await.map_err(self.error(what))?;
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
    async fn kill_blockers(&self, waiting: u32) {
        let Ok(mut conn) = self.conn().await else {
            return;
        };
        let blockers: Vec<u64> = conn
            .exec(
                "SELECT DISTINCT b.trx_mysql_thread_id \
                 FROM information_schema.INNODB_LOCK_WAITS w \
                 JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
                 JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
                 WHERE r.trx_mysql_thread_id = ?",
                (waiting,),
            )
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
        let checkpoint = key.meta().table("checkpoint")?;
        let mut tx = match self.begin_fenced(&key.meta(), &key.source, epoch).await? {
            FencedTx::Open(tx) => tx,
            FencedTx::Fenced { by_epoch } => return Ok(Commit::Fenced { by_epoch }),
        };
        // Statements travel several to a packet (one round trip each
        // packet, not each statement).
        let mut packet: Vec<u8> = Vec::new();
        let mut first = String::new();
        for statement in statements {
            let statement = statement.as_ref();
            if !packet.is_empty() && packet.len() + statement.len() > MULTI_STATEMENT_BYTES {
                self.send(&mut tx, &packet, &first).await?;
                packet.clear();
            }
            if packet.is_empty() {
                first =
                    String::from_utf8_lossy(&statement[..statement.len().min(512)]).into_owned();
            } else {
                packet.extend_from_slice(b";\n");
            }
            packet.extend_from_slice(statement);
        }
        if !packet.is_empty() {
            self.send(&mut tx, &packet, &first).await?;
        }
        tx.exec_drop(
            format!(
                "INSERT INTO {checkpoint} (source_id, lane, epoch, binlog_name, binlog_pos, binlog_gtid) \
                 VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE epoch = VALUES(epoch), \
                 binlog_name = VALUES(binlog_name), binlog_pos = VALUES(binlog_pos), \
                 binlog_gtid = VALUES(binlog_gtid)"
            ),
            (
                &key.source,
                key.lane,
                epoch,
                &position.binlog_name,
                position.binlog_pos,
                &position.binlog_gtid,
            ),
        )
        .await
        .map_err(self.error("updating the checkpoint"))?;
        tx.commit().await.map_err(self.error("committing"))?;
        Ok(Commit::Committed)
    }

    /// Runs one packet of `;`-separated statements in `tx`; `first` names
    /// it in errors.
    async fn send(
        &self,
        tx: &mut Transaction<'static>,
        packet: &[u8],
        first: &str,
    ) -> Result<(), DownstreamError> {
        tx.query_drop(packet).await.map_err(self.error(format!(
            "applying `{first}` (and what follows it in the batch)"
        )))
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
                source,
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
}
