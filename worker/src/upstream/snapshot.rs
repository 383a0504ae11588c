//! A consistent snapshot of an upstream and its binlog position.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use super::UpstreamError;
use crate::downstream::Position;

/// An open snapshot: a connection inside a `REPEATABLE READ` transaction
/// whose reads all see the data as of `position`.
#[derive(Debug)]
pub struct Snapshot {
    pub conn: Conn,
    pub position: Position,
    /// True when the upstream is MariaDB.
    pub mariadb: bool,
}

/// Opens a consistent snapshot and reads the binlog position it matches.
pub async fn open_snapshot(opts: Opts) -> Result<Snapshot, UpstreamError> {
    let addr = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    let fail = |what: &str| {
        let addr = addr.clone();
        let what = what.to_string();
        move |source| UpstreamError::Database { addr, what, source }
    };
    let mut conn = Conn::new(opts).await.map_err(fail("connecting"))?;
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(fail("reading the version"))?;
    let mariadb = version.unwrap_or_default().contains("MariaDB");
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(fail("setting the isolation level"))?;
    let position = if mariadb {
        // MariaDB reports the binlog position exactly at the snapshot: no lock.
        conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .await
            .map_err(fail("starting the snapshot"))?;
        let rows: Vec<(String, String)> = conn
            .query("SHOW STATUS LIKE 'binlog_snapshot_%'")
            .await
            .map_err(fail("reading the snapshot's binlog position"))?;
        let value = |name: &str| {
            rows.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let (Some(file), Some(pos)) = (
            value("binlog_snapshot_file"),
            value("binlog_snapshot_position"),
        ) else {
            return Err(UpstreamError::Unexpected {
                addr,
                what:
                    "no binlog_snapshot_file / binlog_snapshot_position: is the binary log enabled?"
                        .into(),
            });
        };
        let pos: u32 = pos.parse().map_err(|_| UpstreamError::Unexpected {
            addr: addr.clone(),
            what: format!("binlog_snapshot_position {pos:?} is not a number"),
        })?;
        let gtid: Option<Option<String>> = conn
            .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (&file, pos))
            .await
            .map_err(fail("reading the snapshot's GTID position"))?;
        Position {
            binlog_name: file,
            binlog_pos: pos,
            binlog_gtid: gtid.flatten().unwrap_or_default(),
        }
    } else {
        // MySQL: hold the global read lock only while the snapshot starts.
        conn.query_drop("FLUSH TABLES WITH READ LOCK")
            .await
            .map_err(fail("taking the global read lock"))?;
        let started = async {
            conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
                .await
                .map_err(fail("starting the snapshot"))?;
            let row: Option<(String, u32, String, String, Option<String>)> = conn
                .query_first("SHOW MASTER STATUS")
                .await
                .map_err(fail("reading the binlog position"))?;
            Ok::<_, UpstreamError>(row)
        }
        .await;
        conn.query_drop("UNLOCK TABLES")
            .await
            .map_err(fail("releasing the global read lock"))?;
        let Some((file, pos, _, _, gtid)) = started? else {
            return Err(UpstreamError::Unexpected {
                addr,
                what: "SHOW MASTER STATUS is empty: is the binary log enabled?".into(),
            });
        };
        Position {
            binlog_name: file,
            binlog_pos: pos,
            binlog_gtid: gtid.unwrap_or_default(),
        }
    };
    Ok(Snapshot {
        conn,
        position,
        mariadb,
    })
}
