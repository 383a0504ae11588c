//! `<task>_shard_group`: per source, the open window of a sharding group
//! within the source (several of its tables merged into one downstream
//! table, see `sync::shard_group`), stored as JSON. Written in fenced
//! transactions like every other write of a source, so a worker that lost
//! the source cannot change it.

use mysql_async::prelude::Queryable;

use super::{FencedTx, MySqlDownstream};
use crate::downstream::{Commit, DownstreamError, MetaTables};

pub(super) fn ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            source_id VARCHAR(32) NOT NULL PRIMARY KEY,
            state LONGTEXT NOT NULL,
            epoch BIGINT UNSIGNED NOT NULL,
            update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
        ){}",
        super::meta_table_options()
    )
}

impl MySqlDownstream {
    /// The source's stored window, if one is open.
    pub async fn shard_group(
        &self,
        meta: &MetaTables,
        source: &str,
    ) -> Result<Option<String>, DownstreamError> {
        let table = meta.table("shard_group")?;
        let mut conn = self.conn().await?;
        conn.exec_first(
            format!("SELECT state FROM {table} WHERE source_id = ?"),
            (source,),
        )
        .await
        .map_err(self.error("reading the shard group"))
    }

    /// Stores the source's window (`Some`) or closes it (`None`), fenced by
    /// `epoch`.
    pub async fn save_shard_group(
        &self,
        meta: &MetaTables,
        source: &str,
        epoch: u64,
        state: Option<&str>,
    ) -> Result<Commit, DownstreamError> {
        let table = meta.table("shard_group")?;
        let mut tx = match self.begin_fenced(meta, source, epoch).await? {
            FencedTx::Open(tx) => tx,
            FencedTx::Fenced { by_epoch } => return Ok(Commit::Fenced { by_epoch }),
        };
        match state {
            Some(state) => tx
                .exec_drop(
                    format!("REPLACE INTO {table} (source_id, state, epoch) VALUES (?, ?, ?)"),
                    (source, state, epoch),
                )
                .await
                .map_err(self.error("recording the shard group"))?,
            None => tx
                .exec_drop(
                    format!("DELETE FROM {table} WHERE source_id = ?"),
                    (source,),
                )
                .await
                .map_err(self.error("closing the shard group"))?,
        }
        tx.commit()
            .await
            .map_err(self.error("committing the shard group"))?;
        Ok(Commit::Committed)
    }
}
