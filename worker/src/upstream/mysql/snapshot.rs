//! A consistent snapshot of an upstream and its binlog position.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use crate::position::Position;
use crate::upstream::UpstreamError;

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
        move |source: mysql_async::Error| UpstreamError::Database {
            addr,
            what,
            source: source.into(),
        }
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
            let row = super::binlog_status(&mut conn)
                .await
                .map_err(fail("reading the binlog position"))?;
            Ok::<_, UpstreamError>(row.and_then(|r| {
                let gtid = r.get::<Option<String>, _>(4).flatten();
                Some((r.get::<String, _>(0)?, r.get::<u32, _>(1)?, gtid))
            }))
        }
        .await;
        conn.query_drop("UNLOCK TABLES")
            .await
            .map_err(fail("releasing the global read lock"))?;
        let Some((file, pos, gtid)) = started? else {
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

/// Opens `count` snapshots at one binlog position, so parallel readers see
/// the same data. Without a lock first (MariaDB gives each snapshot's exact
/// position; on a quiet upstream they agree); when writes keep moving the
/// position, the snapshots start under a brief `FLUSH TABLES WITH READ
/// LOCK`; without the privilege for that, the readers go on at their own
/// positions, which each chunk records (the sync unit replays from the
/// earliest).
pub async fn open_snapshots(opts: Opts, count: usize) -> Result<Vec<Snapshot>, UpstreamError> {
    const LOCK_FREE_ATTEMPTS: usize = 2;
    let count = count.max(1);
    let mut group = Vec::with_capacity(count);
    for _ in 0..LOCK_FREE_ATTEMPTS {
        group.clear();
        for _ in 0..count {
            group.push(open_snapshot(opts.clone()).await?);
        }
        if aligned(&group) {
            return Ok(group);
        }
    }
    let addr = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    let mut lock = Conn::new(opts.clone())
        .await
        .map_err(|source| UpstreamError::Database {
            addr: addr.clone(),
            what: "connecting".into(),
            source: source.into(),
        })?;
    if let Err(e) = lock.query_drop("FLUSH TABLES WITH READ LOCK").await {
        tracing::warn!(upstream = %addr, error = %e, "snapshots at different positions and no global read lock; every chunk records its own");
        return Ok(group);
    }
    group.clear();
    let opened = async {
        let mut locked = Vec::with_capacity(count);
        for _ in 0..count {
            locked.push(open_snapshot(opts.clone()).await?);
        }
        Ok::<_, UpstreamError>(locked)
    }
    .await;
    let _ = lock.query_drop("UNLOCK TABLES").await;
    opened
}

fn aligned(group: &[Snapshot]) -> bool {
    group.windows(2).all(|w| w[0].position == w[1].position)
}
