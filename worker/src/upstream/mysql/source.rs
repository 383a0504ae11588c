//! The binlog port on a MySQL / MariaDB server: the binlog through a
//! [`BinlogReader`], the short questions (where the binlog ends, its
//! files, the tables) through pooled connections.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Pool};

use super::binlog::{binlog_files, BinlogReader};
use super::copy_source::reading_opts;
use super::discover;
use crate::position::Position;
use crate::upstream::{BinlogSource, Call, Events, Located, SchemaSeed, UpstreamError};
use dm_rules::TaskRules;

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

fn upstream(what: &str) -> impl FnOnce(mysql_async::Error) -> UpstreamError + '_ {
    UpstreamError::query(what)
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
            let tables = discover::list_tables(&mut conn, rules).await?;
            let _ = conn.disconnect().await;
            Ok(tables.into_iter().map(|t| (t.schema, t.table)).collect())
        })
    }

    fn schema_seed<'a>(&'a self, rules: &'a TaskRules) -> Call<'a, SchemaSeed> {
        Box::pin(async move {
            let mut conn = Conn::new(reading_opts(&self.opts))
                .await
                .map_err(upstream("connecting to read the table definitions"))?;
            let seed = discover::schema_seed(&mut conn, rules).await;
            let _ = conn.disconnect().await;
            seed
        })
    }

    fn position(&self) -> Call<'_, Position> {
        Box::pin(async move {
            let fail = upstream("reading the current binlog position");
            let mut conn = self.pool.get_conn().await.map_err(fail)?;
            let row = super::binlog_status(&mut conn)
                .await
                .map_err(upstream("reading the current binlog position"))?;
            // MySQL's fifth column is the executed GTID set; MariaDB has four.
            let (file, pos, gtid) = row
                .and_then(|r| {
                    let gtid = r.get::<Option<String>, _>(4).flatten().unwrap_or_default();
                    Some((r.get::<String, _>(0)?, r.get::<u32, _>(1)?, gtid))
                })
                .ok_or_else(|| {
                    UpstreamError::Decode(
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
            binlog_files(&mut conn).await
        })
    }

    fn unix_time<'a>(&'a self, local: &'a str) -> Call<'a, i64> {
        Box::pin(async move {
            let what = "placing the start time in the upstream's time zone";
            // A connection of its own: the session's time zone is set to
            // the server's (the task's session settings may change it).
            let mut conn = Conn::new(self.opts.clone()).await.map_err(upstream(what))?;
            conn.query_drop("SET time_zone = @@global.time_zone")
                .await
                .map_err(upstream(what))?;
            let seconds: Option<Option<i64>> = conn
                .exec_first(
                    "SELECT CAST(UNIX_TIMESTAMP(CAST(? AS DATETIME)) AS SIGNED)",
                    (local,),
                )
                .await
                .map_err(upstream(what))?;
            let _ = conn.disconnect().await;
            seconds.flatten().ok_or_else(|| {
                UpstreamError::Decode(format!(
                    "the upstream cannot place {local:?} in its time zone (UNIX_TIMESTAMP is NULL)"
                ))
            })
        })
    }
}
