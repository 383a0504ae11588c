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
//! as v1 events on MariaDB, v2 on MySQL. Idle upstreams send heartbeats
//! (requested every second) so the reader notices a dead connection.
//!
//! ## File names and rotations
//!
//! Every position the reader hands out names the file its events came
//! from, and checkpoints are made of these positions, so a wrong name is
//! lost data: a resume from it fails, or worse, reads the wrong place. The
//! server names files in Rotate events:
//! - a *fake* rotate (`log_pos` 0) starts every stream, and another one
//!   follows whenever the server moves on to a file that the previous one
//!   does not end by rotating into: after a restart or a crash, the old
//!   file ends with a stop event or nothing at all;
//! - a real rotate ends a file the server closed while running.
//!
//! A checksummed server appends its 4 checksum bytes to every event, the
//! stream's first fake rotate included. mysql_common strips them once the
//! stream's format description event told it the algorithm, so only a
//! rotate that arrives *before* that event (the first one) still carries
//! them glued to the name; whether they are there follows from the
//! server's `binlog_checksum`, never from the name's length.
//!
//! Each rotation's file name is then checked against the files the server
//! lists (`SHOW BINARY LOGS`, read again when a new file appears): a name
//! the server does not list is an error that stops the sync before any
//! position in that file is handed out. A start position in a file the
//! server does not list is resumed from the position's GTID when it has
//! one (the same place in the stream), and is an error naming the file and
//! what the server has otherwise.

use std::collections::HashMap;

use futures::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData, TableMapEvent};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts};

use super::gtid_set::{is_mysql_gtid, GtidSet};
use super::rows::{sign_extend_24, signed_mediumints, table_columns, widen};
use crate::position::Position;
use crate::upstream::binlog::{describe, purged};
use crate::upstream::{Event, Located, Logged, RowChange, RowKind, UpstreamError};
use mysql_async::binlog::row::BinlogRow;

/// Seconds between heartbeats from an idle upstream.
pub const HEARTBEAT_PERIOD_SECS: u64 = 1;

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
    /// The server's binlog files as last listed, to check rotations by.
    files: BinlogFiles,
    /// Whether this stream has passed a format description event (from
    /// then on mysql_common strips checksums itself).
    described: bool,
    /// Whether the server checksums its events.
    checksummed: bool,
}

impl std::fmt::Debug for BinlogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogReader")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

fn db(what: &str) -> impl FnOnce(mysql_async::Error) -> UpstreamError + '_ {
    UpstreamError::query(what)
}

impl BinlogReader {
    /// Opens the binlog at `from` as replica `server_id`: at its file and
    /// position, or (no file given) at its GTID position: a MariaDB GTID
    /// list, or a MySQL GTID set.
    pub async fn open(opts: Opts, server_id: u32, from: &Position) -> Result<Self, UpstreamError> {
        let mut files = BinlogFiles::new(opts.clone());
        let mut conn = Conn::new(opts)
            .await
            .map_err(db("connecting for the binlog"))?;
        files.refresh_on(&mut conn).await?;
        let checksum: Option<String> = conn
            .query_first("SELECT @@global.binlog_checksum")
            .await
            .map_err(db("reading binlog_checksum"))?;
        let checksummed = checksum.is_some_and(|c| !c.eq_ignore_ascii_case("NONE"));
        files.check_start(from)?;
        let mut setup = vec![
            "SET @mariadb_slave_capability = 4".to_string(),
            format!(
                "SET @master_heartbeat_period = {}",
                HEARTBEAT_PERIOD_SECS * 1_000_000_000
            ),
        ];
        let mysql_gtids = if is_mysql_gtid(&from.binlog_gtid) {
            Some(
                GtidSet::parse(&from.binlog_gtid)
                    .map_err(|e| UpstreamError::Decode(e.to_string()))?,
            )
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
            files,
            described: false,
            checksummed,
        })
    }

    /// The GTID of the last transaction seen (or the start's).
    pub fn last_gtid(&self) -> &str {
        &self.last_gtid
    }

    /// The next event; `None` when the upstream closed the stream.
    pub async fn next(&mut self) -> Result<Option<Located>, UpstreamError> {
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
                Ok(Some(data)) => self.decode(data, header.log_pos() == 0).await?,
                Ok(None) => Event::Other,
                Err(e) => {
                    return Err(UpstreamError::Decode(format!(
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

    async fn decode(&mut self, data: EventData<'_>, fake: bool) -> Result<Event, UpstreamError> {
        Ok(match data {
            EventData::RotateEvent(rotate) => {
                let glued = fake && self.checksummed && !self.described;
                let name = rotate_name(rotate.name_raw(), glued);
                self.files.check(&name).await?;
                self.file = name;
                self.rotated_to = Some(u32::try_from(rotate.position()).unwrap_or(4));
                Event::Other
            }
            EventData::FormatDescriptionEvent(_) => {
                self.described = true;
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

    fn decode_rows(&self, rows: &RowsEventData<'_>) -> Result<Event, UpstreamError> {
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
            return Err(UpstreamError::Decode(format!(
                "row event for unknown table id {} in {}",
                rows.table_id(),
                self.file
            )));
        };
        let schema = tme.database_name().into_owned();
        let table = tme.table_name().into_owned();
        let columns = table_columns(tme).map_err(|e| {
            UpstreamError::Decode(format!("the columns of `{schema}`.`{table}`: {e}"))
        })?;
        let width = columns.len();
        let logged = Logged::from_bitmaps(
            rows.columns_before_image()
                .map(|b| b.iter().by_vals().collect()),
            rows.columns_after_image()
                .map(|b| b.iter().by_vals().collect()),
            width,
        );
        let bad_row = |e: &dyn std::fmt::Display| {
            UpstreamError::Decode(format!("a row of `{schema}`.`{table}`: {e}"))
        };
        let mediumints = signed_mediumints(tme, &columns);
        let image = |row: BinlogRow, bits: Option<&[bool]>| {
            let mut values = widen(row, bits, width).map_err(|e| bad_row(&e))?;
            for &at in &mediumints {
                if let Some(value) = values.get_mut(at) {
                    sign_extend_24(value);
                }
            }
            Ok::<_, UpstreamError>(values)
        };
        let mut changes = Vec::new();
        for row in rows.rows(tme) {
            let (before, after) = row.map_err(|e| bad_row(&e))?;
            let before_bits = logged.as_ref().map(|l| l.before.as_slice());
            let after_bits = logged.as_ref().map(|l| l.after.as_slice());
            changes.push(RowChange {
                kind,
                before: before.map(|r| image(r, before_bits)).transpose()?,
                after: after.map(|r| image(r, after_bits)).transpose()?,
                logged: logged.clone(),
            });
        }
        Ok(Event::Rows {
            schema,
            table,
            columns,
            rows: changes,
        })
    }
}

/// The file name of a rotate; `glued`: the event still carries the
/// server's 4 checksum bytes after the name (see the module docs).
fn rotate_name(raw: &[u8], glued: bool) -> String {
    let name = match raw.len().checked_sub(CHECKSUM_BYTES) {
        Some(end) if glued => raw.get(..end).unwrap_or(raw),
        _ => raw,
    };
    String::from_utf8_lossy(name).into_owned()
}

/// The binlog files the server lists (`SHOW BINARY LOGS`), oldest first.
pub async fn binlog_files(conn: &mut Conn) -> Result<Vec<String>, UpstreamError> {
    let rows: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(db("listing the binlog files"))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.get::<String, _>(0))
        .collect())
}

/// Length of a binlog event checksum (CRC32).
const CHECKSUM_BYTES: usize = 4;

/// The binlog files a server lists, read again on demand.
struct BinlogFiles {
    opts: Opts,
    names: Vec<String>,
}

impl BinlogFiles {
    fn new(opts: Opts) -> Self {
        Self {
            opts,
            names: Vec::new(),
        }
    }

    async fn refresh_on(&mut self, conn: &mut Conn) -> Result<(), UpstreamError> {
        self.names = binlog_files(conn).await?;
        Ok(())
    }

    /// Checks that `name` is a file the server lists (listing again when
    /// it is new: the server has just opened it).
    async fn check(&mut self, name: &str) -> Result<(), UpstreamError> {
        if self.names.iter().any(|n| n == name) {
            return Ok(());
        }
        let mut conn = Conn::new(self.opts.clone())
            .await
            .map_err(db("connecting to list the binlog files"))?;
        let listed = self.refresh_on(&mut conn).await;
        let _ = conn.disconnect().await;
        listed?;
        if self.names.iter().any(|n| n == name) {
            return Ok(());
        }
        Err(UpstreamError::Position(format!(
            "the upstream rotated to binlog file `{}`, which it does not list ({}); \
             no position in it is recorded",
            name.escape_debug(),
            self.describe()
        )))
    }

    /// `from`, when its file is one the server lists.
    fn check_start(&self, from: &Position) -> Result<(), UpstreamError> {
        // A purged file is the server's to refuse: its error says so.
        if from.binlog_name.is_empty()
            || self.names.contains(&from.binlog_name)
            || purged(&from.binlog_name, &self.names)
        {
            return Ok(());
        }
        Err(UpstreamError::Position(format!(
            "the position {from} names a binlog file the upstream does not list ({}); to start \
             again: stop-task, then start-task --remove-meta with a `meta` position the \
             upstream has (or task-mode all)",
            self.describe()
        )))
    }

    fn describe(&self) -> String {
        describe(&self.names)
    }
}

#[cfg(test)]
mod tests {
    use super::rotate_name;

    #[test]
    fn only_a_rotate_before_the_format_description_loses_glued_checksum_bytes() {
        assert_eq!(
            rotate_name(b"mysql-bin.000002\x01\x02\x03\x04", true),
            "mysql-bin.000002"
        );
        // After a restart the server moves to the next file with another
        // fake rotate: its checksum is already gone.
        assert_eq!(rotate_name(b"mysql-bin.000008", false), "mysql-bin.000008");
        assert_eq!(rotate_name(b"abc", true), "abc");
    }
}
