//! Reading a MariaDB / MySQL binlog with mysql_async, as a stream of
//! decoded events with the position after each.
//!
//! MariaDB needs `@mariadb_slave_capability=4` (or it replaces GTID events
//! with a dummy `BEGIN`) and writes events mysql_common 0.37 does not know
//! (types 160-163): the GTID event (162) is decoded here by hand
//! (`seq_no u64 LE, domain u32 LE, flags u8`; the server id is the header's),
//! the others are skipped. MySQL GTID events (33) add `uuid:gno` to the
//! executed GTID set the reader carries (see `gtid_set`); a MySQL start by
//! GTID alone sends that set with `COM_BINLOG_DUMP_GTID`. Row events arrive
//! as v1 events on MariaDB, v2 on MySQL. The stream starts
//! with a synthetic Rotate that names the file (with 4 checksum bytes glued
//! to the name on MariaDB). Idle upstreams send heartbeats (requested every
//! second) so the reader notices a dead connection.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Column, Conn, Opts, Value};

use super::gtid_set::{is_mysql_gtid, GtidSet};
use super::SyncError;
use crate::downstream::Position;

/// Seconds between heartbeats from an idle upstream.
pub const HEARTBEAT_PERIOD_SECS: u64 = 1;

/// What a row change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Insert,
    Update,
    Delete,
}

/// One row of a row event: the before and/or after image.
#[derive(Debug, Clone)]
pub struct RowChange {
    pub kind: RowKind,
    pub before: Option<Vec<Value>>,
    pub after: Option<Vec<Value>>,
}

/// A decoded binlog event.
#[derive(Debug, Clone)]
pub enum Event {
    /// The following transaction's GTID: MariaDB `domain-server-seq`, or
    /// MySQL `uuid:gno`.
    Gtid(String),
    /// Row changes of one table.
    Rows {
        schema: String,
        table: String,
        columns: Arc<[Column]>,
        rows: Vec<RowChange>,
    },
    /// A statement: DDL, or `BEGIN` / `COMMIT` of a non-transactional
    /// engine's transaction.
    Query { schema: String, sql: String },
    /// End of a transaction (XID).
    Commit,
    /// An idle upstream's heartbeat.
    Heartbeat,
    /// Anything else (format description, table maps, rotate, ...).
    Other,
}

/// An event and where it ends: resuming at `end` skips it.
#[derive(Debug, Clone)]
pub struct Located {
    pub event: Event,
    pub end: Position,
    /// Upstream time the event was written (Unix seconds; 0 if unknown).
    pub timestamp: u32,
}

/// A binlog stream positioned in a file.
pub struct BinlogReader {
    stream: BinlogStream,
    file: String,
    last_gtid: String,
    /// MySQL: the executed set, `last_gtid` in structured form.
    mysql_gtids: Option<GtidSet>,
    tables: HashMap<u64, TableMapEvent<'static>>,
    /// Set by a rotate: the position in the new file.
    rotated_to: Option<u32>,
}

impl std::fmt::Debug for BinlogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogReader")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn db(what: &str) -> impl FnOnce(mysql_async::Error) -> SyncError + '_ {
    move |source| SyncError::Upstream {
        what: what.to_string(),
        source,
    }
}

impl BinlogReader {
    /// Opens the binlog at `from` as replica `server_id`: at its file and
    /// position, or (no file given) at its GTID position: a MariaDB GTID
    /// list, or a MySQL GTID set.
    pub async fn open(opts: Opts, server_id: u32, from: &Position) -> Result<Self, SyncError> {
        let mut conn = Conn::new(opts)
            .await
            .map_err(db("connecting for the binlog"))?;
        let mut setup = vec![
            "SET @mariadb_slave_capability = 4".to_string(),
            format!(
                "SET @master_heartbeat_period = {}",
                HEARTBEAT_PERIOD_SECS * 1_000_000_000
            ),
        ];
        let mysql_gtids = if is_mysql_gtid(&from.binlog_gtid) {
            Some(GtidSet::parse(&from.binlog_gtid).map_err(SyncError::Decode)?)
        } else {
            None
        };
        // A GTID position alone (no file) starts from that GTID.
        let by_gtid = from.binlog_name.is_empty() && !from.binlog_gtid.is_empty();
        if by_gtid && mysql_gtids.is_none() {
            let gtid = from.binlog_gtid.replace('\'', "");
            setup.push(format!("SET @slave_connect_state = '{gtid}'"));
            setup.push("SET @slave_gtid_strict_mode = 1".to_string());
        }
        for setup in setup {
            conn.query_drop(setup)
                .await
                .map_err(db("setting up the binlog session"))?;
        }
        let mut request = BinlogStreamRequest::new(server_id)
            .with_filename(from.binlog_name.as_bytes())
            .with_pos(if by_gtid {
                4
            } else {
                u64::from(from.binlog_pos.max(4))
            });
        if let Some(set) = mysql_gtids.as_ref().filter(|_| by_gtid) {
            request = request.with_gtid().with_gtid_set(set.to_sids());
        }
        let stream = conn
            .get_binlog_stream(request)
            .await
            .map_err(db("requesting the binlog"))?;
        Ok(Self {
            stream,
            file: from.binlog_name.clone(),
            last_gtid: from.binlog_gtid.clone(),
            mysql_gtids,
            tables: HashMap::new(),
            rotated_to: None,
        })
    }

    /// The GTID of the last transaction seen (or the start's).
    pub fn last_gtid(&self) -> &str {
        &self.last_gtid
    }

    /// The next event; `None` when the upstream closed the stream.
    pub async fn next(&mut self) -> Result<Option<Located>, SyncError> {
        let Some(event) = self.stream.next().await else {
            return Ok(None);
        };
        let event = event.map_err(db("reading the binlog"))?;
        let header = event.header();
        let timestamp = header.timestamp();
        let decoded = match header.event_type_raw() {
            // MariaDB GTID.
            162 => {
                let data = event.data();
                let gtid = match (data.get(0..8), data.get(8..12)) {
                    (Some(seq), Some(domain)) => {
                        let seq = u64::from_le_bytes(seq.try_into().unwrap_or([0; 8]));
                        let domain = u32::from_le_bytes(domain.try_into().unwrap_or([0; 4]));
                        format!("{domain}-{}-{seq}", header.server_id())
                    }
                    _ => String::new(),
                };
                if !gtid.is_empty() {
                    self.last_gtid.clone_from(&gtid);
                }
                Event::Gtid(gtid)
            }
            160 | 161 | 163 => Event::Other,
            _ => match event.read_data() {
                Ok(Some(data)) => self.decode(data, header.log_pos() == 0)?,
                Ok(None) => Event::Other,
                Err(e) => {
                    return Err(SyncError::Decode(format!(
                        "event at ({}, {}): {e}",
                        self.file,
                        header.log_pos()
                    )))
                }
            },
        };
        // After a rotate the stream is at the start of the new file, not at
        // the rotate's position in the old one.
        let end = Position {
            binlog_name: self.file.clone(),
            binlog_pos: self.rotated_to.take().unwrap_or(header.log_pos()),
            binlog_gtid: self.last_gtid.clone(),
        };
        Ok(Some(Located {
            event: decoded,
            end,
            timestamp,
        }))
    }

    fn decode(&mut self, data: EventData<'_>, fake: bool) -> Result<Event, SyncError> {
        Ok(match data {
            EventData::RotateEvent(rotate) => {
                self.file = rotate_name(rotate.name_raw(), fake, &self.file);
                self.rotated_to = Some(u32::try_from(rotate.position()).unwrap_or(4));
                Event::Other
            }
            EventData::TableMapEvent(tme) => {
                self.tables.insert(tme.table_id(), tme.into_owned());
                Event::Other
            }
            EventData::GtidEvent(gtid) => {
                let uuid = uuid::Uuid::from_bytes(gtid.sid())
                    .as_hyphenated()
                    .to_string();
                let set = self.mysql_gtids.get_or_insert_with(GtidSet::default);
                set.add(&uuid, gtid.gno());
                self.last_gtid = set.to_string();
                Event::Gtid(format!("{uuid}:{}", gtid.gno()))
            }
            EventData::XidEvent(_) => Event::Commit,
            EventData::HeartbeatEvent => Event::Heartbeat,
            EventData::QueryEvent(query) => {
                let sql = query.query().into_owned();
                if sql.eq_ignore_ascii_case("COMMIT") {
                    Event::Commit
                } else if sql.eq_ignore_ascii_case("BEGIN") {
                    Event::Other
                } else {
                    Event::Query {
                        schema: query.schema().into_owned(),
                        sql: super::query_mode::statement(&query, sql),
                    }
                }
            }
            EventData::RowsEvent(rows) => self.decode_rows(&rows)?,
            _ => Event::Other,
        })
    }

    fn decode_rows(&self, rows: &RowsEventData<'_>) -> Result<Event, SyncError> {
        let kind = match rows {
            RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) => {
                RowKind::Insert
            }
            RowsEventData::UpdateRowsEventV1(_)
            | RowsEventData::UpdateRowsEvent(_)
            | RowsEventData::PartialUpdateRowsEvent(_) => RowKind::Update,
            RowsEventData::DeleteRowsEventV1(_) | RowsEventData::DeleteRowsEvent(_) => {
                RowKind::Delete
            }
        };
        let Some(tme) = self.tables.get(&rows.table_id()) else {
            return Err(SyncError::Decode(format!(
                "row event for unknown table id {} in {}",
                rows.table_id(),
                self.file
            )));
        };
        let schema = tme.database_name().into_owned();
        let table = tme.table_name().into_owned();
        let mut columns: Option<Arc<[Column]>> = None;
        let mut changes = Vec::new();
        for row in rows.rows(tme) {
            let (before, after) =
                row.map_err(|e| SyncError::Decode(format!("a row of `{schema}`.`{table}`: {e}")))?;
            if columns.is_none() {
                columns = after.as_ref().or(before.as_ref()).map(BinlogRow::columns);
            }
            changes.push(RowChange {
                kind,
                before: before.map(values).transpose()?,
                after: after.map(values).transpose()?,
            });
        }
        Ok(Event::Rows {
            schema,
            table,
            columns: columns.unwrap_or_else(|| Arc::from(Vec::new())),
            rows: changes,
        })
    }
}

/// The file name of a rotate. The synthetic rotate that starts a stream
/// (`log_pos` 0) carries 4 checksum bytes glued to the name on MariaDB:
/// when it names the file we asked for, that is the name; otherwise the
/// last 4 bytes go.
fn rotate_name(raw: &[u8], fake: bool, requested: &str) -> String {
    let name = if fake && !requested.is_empty() && raw.starts_with(requested.as_bytes()) {
        requested.as_bytes()
    } else if fake && raw.len() > 4 {
        &raw[..raw.len() - 4]
    } else {
        raw
    };
    String::from_utf8_lossy(name).into_owned()
}

fn values(row: BinlogRow) -> Result<Vec<Value>, SyncError> {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            BinlogValue::Value(v) => Ok(v),
            other => {
                Value::try_from(other).map_err(|e| SyncError::Decode(format!("a JSON value: {e}")))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::rotate_name;

    #[test]
    fn rotate_names_lose_glued_checksums() {
        assert_eq!(
            rotate_name(
                b"mysql-bin.000002\x01\x02\x03\x04",
                true,
                "mysql-bin.000002"
            ),
            "mysql-bin.000002"
        );
        assert_eq!(
            rotate_name(b"mysql-bin.000003abcd", true, ""),
            "mysql-bin.000003"
        );
        assert_eq!(
            rotate_name(b"mysql-bin.000004", false, "mysql-bin.000003"),
            "mysql-bin.000004"
        );
    }
}
