//! `<task>_shard_ddl` on MySQL: the table holding each source's
//! [`ShardIntent`] (see `downstream::shard_intent` for why), read and
//! written in fenced transactions.

use mysql_async::prelude::Queryable;

use super::{FencedTx, MySqlDownstream};
use crate::downstream::{Commit, DownstreamError, MetaTables, ShardIntent};

/// MySQL's "table doesn't exist".
const ER_NO_SUCH_TABLE: u16 = 1146;

pub(super) fn ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            source_id VARCHAR(32) NOT NULL PRIMARY KEY,
            lock_id VARCHAR(512) NOT NULL,
            binlog_name VARCHAR(128) NOT NULL,
            binlog_pos INT UNSIGNED NOT NULL,
            table_before LONGTEXT NULL,
            epoch BIGINT UNSIGNED NOT NULL,
            update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
        ){}",
        super::meta_table_options()
    )
}

impl MySqlDownstream {
    /// The source's last recorded intent, if any.
    pub async fn shard_intent(
        &self,
        meta: &MetaTables,
        source: &str,
    ) -> Result<Option<ShardIntent>, DownstreamError> {
        let table = meta.table("shard_ddl")?;
        let mut conn = self.conn().await?;
        let row: Option<(String, String, u32, Option<String>)> = conn
            .exec_first(
                format!(
                    "SELECT lock_id, binlog_name, binlog_pos, table_before FROM {table} WHERE source_id = ?"
                ),
                (source,),
            )
            .await
            .map_err(self.error("reading the shard DDL record"))?;
        Ok(row.map(
            |(lock_id, binlog_name, binlog_pos, table_before)| ShardIntent {
                lock_id,
                binlog_name,
                binlog_pos,
                table_before,
            },
        ))
    }

    /// Records `intent` for `source`, fenced by `epoch`.
    pub async fn save_shard_intent(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        intent: &ShardIntent,
    ) -> Result<Commit, DownstreamError> {
        let table = meta.table("shard_ddl")?;
        let mut tx = match self.begin_fenced(meta, source, epoch).await? {
            FencedTx::Open(tx) => tx,
            FencedTx::Fenced { by_epoch } => return Ok(Commit::Fenced { by_epoch }),
        };
        tx.exec_drop(
            format!(
                "REPLACE INTO {table} (source_id, lock_id, binlog_name, binlog_pos, table_before, epoch) \
                 VALUES (?, ?, ?, ?, ?, ?)"
            ),
            (
                source,
                &intent.lock_id,
                &intent.binlog_name,
                intent.binlog_pos,
                intent.table_before.as_deref(),
                epoch,
            ),
        )
        .await
        .map_err(self.error("recording the shard DDL"))?;
        tx.commit()
            .await
            .map_err(self.error("committing the shard DDL record"))?;
        Ok(Commit::Committed)
    }

    /// `SHOW CREATE TABLE` of a downstream table; `None` when it is absent.
    pub async fn show_create_table(
        &self,
        schema: &str,
        table: &str,
    ) -> Result<Option<String>, DownstreamError> {
        let mut conn = self.conn().await?;
        let quoted = |s: &str| format!("`{}`", s.replace('`', "``"));
        match conn
            .query_first::<(String, String), _>(format!(
                "SHOW CREATE TABLE {}.{}",
                quoted(schema),
                quoted(table)
            ))
            .await
        {
            Ok(row) => Ok(row.map(|(_, create)| create)),
            Err(mysql_async::Error::Server(e)) if e.code == ER_NO_SUCH_TABLE => Ok(None),
            Err(e) => Err(self.error("reading the table definition")(e)),
        }
    }
}
