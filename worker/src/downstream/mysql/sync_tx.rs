//! A lane's fenced transaction ([`SyncTx`], see `downstream::sync_tx`)
//! on MySQL: one `Transaction` that read the fence row under a shared lock
//! when it opened, its statements sent as multi-statement packets of up to
//! [`MULTI_STATEMENT_BYTES`], the checkpoint row written last.

use mysql_async::prelude::Queryable;
use mysql_async::Transaction;

use super::{FencedTx, MySqlDownstream};
use crate::downstream::{Call, CheckpointKey, Commit, DownstreamError, OpenSync, SyncTx};
use crate::position::Position;

/// Statements per round trip: up to this many bytes travel as one
/// multi-statement packet (less when the downstream's
/// `max_allowed_packet` is smaller).
pub(super) const MULTI_STATEMENT_BYTES: usize = 4 << 20;

/// The MySQL transaction.
pub(super) struct MySqlSyncTx {
    pub(super) downstream: MySqlDownstream,
    pub(super) tx: Transaction<'static>,
    pub(super) key: CheckpointKey,
    pub(super) epoch: u64,
    /// The largest statement the downstream accepts.
    pub(super) packet_bytes: usize,
}

impl MySqlDownstream {
    /// Opens a lane's fenced transaction (see the module docs).
    pub async fn begin_sync(
        &self,
        key: &CheckpointKey,
        epoch: u64,
    ) -> Result<OpenSync, DownstreamError> {
        // Read before the transaction takes a connection of the pool.
        let packet_bytes = self.max_statement_bytes().await?;
        Ok(
            match self.begin_fenced(&key.meta(), &key.source, epoch).await? {
                FencedTx::Open(tx) => OpenSync::Open(Box::new(MySqlSyncTx {
                    downstream: self.clone(),
                    tx,
                    key: key.clone(),
                    epoch,
                    packet_bytes,
                })),
                FencedTx::Fenced { by_epoch } => OpenSync::Fenced { by_epoch },
            },
        )
    }
}

impl MySqlSyncTx {
    pub(super) async fn write_all<S: AsRef<[u8]>>(
        &mut self,
        statements: &[S],
    ) -> Result<(), DownstreamError> {
        // Statements travel several to a packet (one round trip each
        // packet, not each statement).
        let packet_bytes = MULTI_STATEMENT_BYTES.min(self.packet_bytes);
        let mut packet: Vec<u8> = Vec::new();
        let mut first = String::new();
        for statement in statements {
            let statement = statement.as_ref();
            if !packet.is_empty() && packet.len() + 2 + statement.len() > packet_bytes {
                self.send(&packet, &first).await?;
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
            self.send(&packet, &first).await?;
        }
        Ok(())
    }

    /// Runs one packet of `;`-separated statements; `first` names it in
    /// errors.
    async fn send(&mut self, packet: &[u8], first: &str) -> Result<(), DownstreamError> {
        self.tx
            .query_drop(packet)
            .await
            .map_err(self.downstream.error(format!(
                "applying `{first}` (and what follows it in the batch)"
            )))
    }

    pub(super) async fn finish(mut self, position: Position) -> Result<Commit, DownstreamError> {
        let checkpoint = self.key.meta().table("checkpoint")?;
        self.tx
            .exec_drop(
                format!(
                    "INSERT INTO {checkpoint} (source_id, lane, epoch, binlog_name, binlog_pos, binlog_gtid) \
                     VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE epoch = VALUES(epoch), \
                     binlog_name = VALUES(binlog_name), binlog_pos = VALUES(binlog_pos), \
                     binlog_gtid = VALUES(binlog_gtid)"
                ),
                (
                    &self.key.source,
                    self.key.lane,
                    self.epoch,
                    &position.binlog_name,
                    position.binlog_pos,
                    &position.binlog_gtid,
                ),
            )
            .await
            .map_err(self.downstream.error("updating the checkpoint"))?;
        self.tx
            .commit()
            .await
            .map_err(self.downstream.error("committing"))?;
        Ok(Commit::Committed)
    }
}

impl SyncTx for MySqlSyncTx {
    fn write(&mut self, statements: Vec<Vec<u8>>) -> Call<'_, ()> {
        Box::pin(async move { self.write_all(&statements).await })
    }

    fn commit(self: Box<Self>, position: Position) -> Call<'static, Commit> {
        Box::pin(self.finish(position))
    }
}
