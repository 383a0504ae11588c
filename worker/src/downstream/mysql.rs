//! The fenced downstream on a MySQL-compatible server (mysql_async).

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, Pool, TxOpts};

use super::{Checkpoint, CheckpointKey, Commit, DownstreamError, Position};

/// A downstream database reached through a connection pool.
#[derive(Debug, Clone)]
pub struct MySqlDownstream {
    pool: Pool,
    addr: String,
}

/// Backtick-quotes an identifier.
fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// `dm_meta`.`<task>_checkpoint`: DM names its checkpoint tables after the task.
fn table(key: &CheckpointKey) -> Result<String, DownstreamError> {
    let name = format!("{}_checkpoint", key.task);
    if name.len() > 64 {
        return Err(DownstreamError::Name(name, "longer than 64 characters"));
    }
    Ok(format!("{}.{}", quote(&key.meta_schema), quote(&name)))
}

impl MySqlDownstream {
    pub fn new(opts: Opts) -> Self {
        let addr = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
        Self {
            pool: Pool::new(opts),
            addr,
        }
    }

    fn error(
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

    /// Creates the meta schema and the task's checkpoint table if missing.
    pub async fn prepare(&self, key: &CheckpointKey) -> Result<(), DownstreamError> {
        let table = table(key)?;
        let mut conn = self
            .pool
            .get_conn()
            .await
            .map_err(self.error("connecting"))?;
        conn.query_drop(format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            quote(&key.meta_schema)
        ))
        .await
        .map_err(self.error("creating the meta schema"))?;
        conn.query_drop(format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                source_id VARCHAR(32) NOT NULL,
                lane INT UNSIGNED NOT NULL,
                epoch BIGINT UNSIGNED NOT NULL,
                binlog_name VARCHAR(128) NOT NULL DEFAULT '',
                binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
                binlog_gtid TEXT,
                update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
                PRIMARY KEY (source_id, lane)
            )"
        ))
        .await
        .map_err(self.error("creating the checkpoint table"))?;
        Ok(())
    }

    /// Runs `statements` and moves the checkpoint to `position`, in one
    /// transaction, unless a larger epoch than `epoch` wrote the checkpoint.
    pub async fn commit_fenced(
        &self,
        key: &CheckpointKey,
        epoch: u64,
        position: &Position,
        statements: &[String],
    ) -> Result<Commit, DownstreamError> {
        let table = table(key)?;
        let mut tx = self
            .pool
            .start_transaction(TxOpts::default())
            .await
            .map_err(self.error("starting a transaction"))?;
        // The row must exist to be locked; epoch 0 is below every binding.
        tx.exec_drop(
            format!("INSERT IGNORE INTO {table} (source_id, lane, epoch) VALUES (?, ?, 0)"),
            (&key.source, key.lane),
        )
        .await
        .map_err(self.error("creating the checkpoint row"))?;
        let stored: Option<u64> = tx
            .exec_first(
                format!("SELECT epoch FROM {table} WHERE source_id = ? AND lane = ? FOR UPDATE"),
                (&key.source, key.lane),
            )
            .await
            .map_err(self.error("locking the checkpoint row"))?;
        if let Some(by_epoch) = stored.filter(|stored| *stored > epoch) {
            tx.rollback().await.map_err(self.error("rolling back"))?;
            return Ok(Commit::Fenced { by_epoch });
        }
        for statement in statements {
            tx.query_drop(statement.as_str())
                .await
                .map_err(self.error(format!("applying `{statement}`")))?;
        }
        tx.exec_drop(
            format!(
                "UPDATE {table} SET epoch = ?, binlog_name = ?, binlog_pos = ?, binlog_gtid = ? \
                 WHERE source_id = ? AND lane = ?"
            ),
            (
                epoch,
                &position.binlog_name,
                position.binlog_pos,
                &position.binlog_gtid,
                &key.source,
                key.lane,
            ),
        )
        .await
        .map_err(self.error("updating the checkpoint"))?;
        tx.commit().await.map_err(self.error("committing"))?;
        Ok(Commit::Committed)
    }

    /// The stored checkpoint, if any transaction committed one.
    pub async fn checkpoint(
        &self,
        key: &CheckpointKey,
    ) -> Result<Option<Checkpoint>, DownstreamError> {
        let table = table(key)?;
        let mut conn = self
            .pool
            .get_conn()
            .await
            .map_err(self.error("connecting"))?;
        let row: Option<(u64, String, u32, Option<String>)> = conn
            .exec_first(
                format!(
                    "SELECT epoch, binlog_name, binlog_pos, binlog_gtid FROM {table} \
                     WHERE source_id = ? AND lane = ? AND epoch > 0"
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
