//! The upstream as the sync unit sees it: a binlog to read from a
//! position, the tables it has, and where its binlog ends now. One trait,
//! two implementations: [`MySqlSource`] (a real server, [`BinlogReader`])
//! and `upstream::memory::MemUpstream` (the simulation's).

use std::fmt;

use futures::future::BoxFuture;
use mysql_async::{Conn, Opts, Pool};

use super::stream::{BinlogReader, Located};
use super::SyncError;
use crate::copy::{discover, CopyError};
use crate::downstream::Position;
use dm_rules::TaskRules;

/// A call's future.
pub type Call<'a, T> = BoxFuture<'a, Result<T, SyncError>>;

/// Decoded binlog events from a position on.
pub trait Events: Send {
    /// The next event; `None` when the upstream closed the stream.
    fn next(&mut self) -> Call<'_, Option<Located>>;
}

/// What the sync unit reads from a source.
pub trait BinlogSource: Send + Sync + fmt::Debug {
    /// The binlog after `from`, read as replica `server_id`.
    fn open<'a>(&'a self, server_id: u32, from: &'a Position) -> Call<'a, Box<dyn Events>>;

    /// The base tables `rules` select (schema, table).
    fn tables<'a>(&'a self, rules: &'a TaskRules) -> Call<'a, Vec<(String, String)>>;

    /// The end of the binlog now.
    fn position(&self) -> Call<'_, Position>;

    /// The binlog files the upstream has, oldest first.
    fn files(&self) -> Call<'_, Vec<String>>;
}

/// A MySQL / MariaDB server.
#[derive(Debug, Clone)]
pub struct MySqlSource {
    pub opts: Opts,
    /// For the short questions (where the binlog ends, its files), asked
    /// every second while a sync runs: connections are kept, not redone.
    pool: Pool,
}

impl MySqlSource {
    pub fn new(opts: Opts) -> Self {
        Self {
            pool: Pool::new(opts.clone()),
            opts,
        }
    }
}

impl Events for BinlogReader {
    fn next(&mut self) -> Call<'_, Option<Located>> {
        Box::pin(BinlogReader::next(self))
    }
}

fn upstream(what: &str) -> impl FnOnce(mysql_async::Error) -> SyncError + '_ {
    move |source| SyncError::Upstream {
        what: what.to_string(),
        source,
    }
}

impl BinlogSource for MySqlSource {
    fn open<'a>(&'a self, server_id: u32, from: &'a Position) -> Call<'a, Box<dyn Events>> {
        Box::pin(async move {
            let reader = BinlogReader::open(self.opts.clone(), server_id, from).await?;
            Ok(Box::new(reader) as Box<dyn Events>)
        })
    }

    fn tables<'a>(&'a self, rules: &'a TaskRules) -> Call<'a, Vec<(String, String)>> {
        Box::pin(async move {
            let mut conn = Conn::new(self.opts.clone())
                .await
                .map_err(upstream("connecting to list the tables"))?;
            let tables = discover::list_tables(&mut conn, rules)
                .await
                .map_err(|e| match e {
                    CopyError::Upstream { what, source } => SyncError::Upstream { what, source },
                    other => SyncError::Rules(other.to_string()),
                })?;
            let _ = conn.disconnect().await;
            Ok(tables.into_iter().map(|t| (t.schema, t.table)).collect())
        })
    }

    fn position(&self) -> Call<'_, Position> {
        Box::pin(async move {
            let fail = upstream("reading the current binlog position");
            let mut conn = self.pool.get_conn().await.map_err(fail)?;
            let row = crate::upstream::binlog_status(&mut conn)
                .await
                .map_err(upstream("reading the current binlog position"))?;
            // MySQL's fifth column is the executed GTID set; MariaDB has four.
            let (file, pos, gtid) = row
                .and_then(|r| {
                    let gtid = r.get::<Option<String>, _>(4).flatten().unwrap_or_default();
                    Some((r.get::<String, _>(0)?, r.get::<u32, _>(1)?, gtid))
                })
                .ok_or_else(|| {
                    SyncError::Decode(
                        "SHOW MASTER STATUS is empty: is the binary log enabled?".into(),
                    )
                })?;
            Ok(Position {
                binlog_name: file,
                binlog_pos: pos,
                binlog_gtid: gtid,
            })
        })
    }

    fn files(&self) -> Call<'_, Vec<String>> {
        Box::pin(async move {
            let mut conn = self
                .pool
                .get_conn()
                .await
                .map_err(upstream("connecting to list the binlog files"))?;
            super::stream::binlog_files(&mut conn).await
        })
    }
}
