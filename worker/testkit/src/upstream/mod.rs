//! The in-memory upstream of the deterministic simulation: tables with an
//! integer primary key and a binlog of row events, as a MariaDB server
//! with `binlog_format=ROW` writes it: with full row metadata (column
//! names, character sets, primary key; `binlog_row_metadata=FULL`) or,
//! in [`RowMetadata::NoLog`], with the column types alone (`@0`, `@1`, ...
//! as names, no character set, no key or signedness flags; MariaDB's
//! default `NO_LOG`), so that a reader must decode them against the
//! definitions it tracks from [`BinlogSource::schema_seed`] and the
//! binlog's DDL. Writes append
//! whole transactions (GTID, rows, commit) and change the tables, so the
//! tables are always the state the binlog leads to: what the downstream
//! must end up equal to. A [`MemUpstream`] is a cheap handle; readers wait
//! on a notification for new events. The full copy reads it through
//! [`snapshot`]: copies of the tables taken atomically at a binlog
//! position.

mod snapshot;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use dm_rules::TaskRules;
use dm_worker::position::Position;
use dm_worker::upstream::{
    BinlogSource, Call, Column, ColumnType, Event, Events, Located, RowChange, RowKind, SchemaSeed,
    SeedSchema, SeedTable, UpstreamError, Value,
};

/// The first binlog file; a restart opens the next (`mem-bin.000002`, ...).
pub const BINLOG_FILE: &str = "mem-bin.000001";
/// Bytes every event takes in the binlog (positions are multiples).
const EVENT_BYTES: u32 = 100;
/// The first event's start, as in a real binlog.
const FIRST_POS: u32 = 4;
/// The text columns' character set.
const UTF8MB4: &str = "utf8mb4";

/// What the row events say about their table's columns, as MariaDB's
/// `binlog_row_metadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowMetadata {
    /// Names, character sets and the primary key (`FULL`).
    #[default]
    Full,
    /// The column types alone (`NO_LOG`): names are `@0`, `@1`, ...
    NoLog,
}

impl std::fmt::Display for RowMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full => "FULL",
            Self::NoLog => "NO_LOG",
        })
    }
}

/// The columns as a row event logs them under `metadata`.
fn logged_columns(columns: &[Column], metadata: RowMetadata) -> Arc<[Column]> {
    match metadata {
        RowMetadata::Full => columns.into(),
        RowMetadata::NoLog => columns
            .iter()
            .enumerate()
            .map(|(i, c)| Column::new(format!("@{i}"), c.kind))
            .collect(),
    }
}

/// A table of the in-memory upstream: `id BIGINT` primary key and text
/// columns.
#[derive(Debug, Clone)]
struct Table {
    columns: Arc<[Column]>,
    /// The columns as the row events log them.
    logged: Arc<[Column]>,
    /// The columns' definitions, as `SHOW CREATE TABLE` prints them.
    definitions: Vec<String>,
    rows: BTreeMap<i64, Vec<Value>>,
}

#[derive(Debug, Default)]
struct Server {
    domain_server: String,
    events: Vec<Located>,
    tables: BTreeMap<(String, String), Table>,
    gtid_seq: u64,
    /// The current binlog file's number (1 until the first restart).
    file: u32,
    /// Where the next event starts in the current file.
    pos: u32,
    /// Restarts so far: a reader opened before one sees its stream close.
    restarts: u64,
    metadata: RowMetadata,
}

impl Table {
    /// The definition as `SHOW CREATE TABLE` prints it.
    fn show_create(&self, name: &str) -> String {
        format!(
            "CREATE TABLE `{name}` (\n  {},\n  PRIMARY KEY (`id`)\n)",
            self.definitions.join(",\n  ")
        )
    }
}

/// The definitions of the tables `rules` select; the server's character
/// set is utf8mb4, as its text columns are.
fn schema_seed(tables: &BTreeMap<(String, String), Table>, rules: &TaskRules) -> SchemaSeed {
    let selected: Vec<_> = tables
        .iter()
        .filter(|((schema, table), _)| rules.selects(schema, table))
        .collect();
    let mut schemas: Vec<String> = selected.iter().map(|((s, _), _)| s.clone()).collect();
    schemas.dedup();
    SchemaSeed {
        server_charset: UTF8MB4.into(),
        server_collation: "utf8mb4_general_ci".into(),
        mariadb: true,
        schemas: schemas
            .into_iter()
            .map(|name| SeedSchema {
                name,
                charset: UTF8MB4.into(),
                collation: "utf8mb4_general_ci".into(),
            })
            .collect(),
        tables: selected
            .into_iter()
            .map(|((schema, table), t)| SeedTable {
                schema: schema.clone(),
                table: table.clone(),
                create: t.show_create(table),
            })
            .collect(),
    }
}

/// The name of binlog file number `n`.
fn file_name(n: u32) -> String {
    format!("mem-bin.{n:06}")
}

impl Server {
    fn new(domain_server: String) -> Self {
        Self {
            domain_server,
            file: 1,
            pos: FIRST_POS,
            ..Self::default()
        }
    }

    fn push(&mut self, event: Event) {
        self.pos += EVENT_BYTES;
        let gtid = format!("{}-{}", self.domain_server, self.gtid_seq);
        self.events.push(Located {
            event,
            end: Position {
                binlog_name: file_name(self.file),
                binlog_pos: self.pos,
                binlog_gtid: gtid,
            },
            timestamp: 0,
        });
    }

    /// The end of the binlog: where the next transaction starts.
    fn position(&self) -> Position {
        Position {
            binlog_name: file_name(self.file),
            binlog_pos: self.pos,
            binlog_gtid: format!("{}-{}", self.domain_server, self.gtid_seq),
        }
    }

    fn begin(&mut self) {
        self.gtid_seq += 1;
        let gtid = format!("{}-{}", self.domain_server, self.gtid_seq);
        self.push(Event::Gtid(gtid));
    }

    /// The sequence number of a `domain-server-seq` GTID of this server.
    fn seq_of(gtid: &str) -> Option<u64> {
        gtid.rsplit('-').next()?.parse().ok()
    }

    /// The index of the first event after `from`.
    fn first_after(&self, from: &Position) -> Result<usize, UpstreamError> {
        if from.binlog_name.is_empty() && !from.binlog_gtid.is_empty() {
            // By GTID: the first event of a later transaction.
            let seq = Self::seq_of(&from.binlog_gtid).ok_or_else(|| {
                UpstreamError::Position(format!("`{}` is not a GTID", from.binlog_gtid))
            })?;
            return Ok(self
                .events
                .iter()
                .position(|e| Self::seq_of(&e.end.binlog_gtid).is_some_and(|n| n > seq))
                .unwrap_or(self.events.len()));
        }
        if !from.binlog_name.is_empty() && !self.files().contains(&from.binlog_name) {
            return Err(UpstreamError::Position(format!(
                "the position {from} names a binlog file the upstream does not list ({})",
                dm_worker::upstream::binlog::describe(&self.files())
            )));
        }
        // Events ending at or before `from` were read already.
        Ok(self
            .events
            .iter()
            .position(|e| !e.end.at_or_before(from))
            .unwrap_or(self.events.len()))
    }

    fn files(&self) -> Vec<String> {
        (1..=self.file).map(file_name).collect()
    }
}

/// One in-memory upstream server.
#[derive(Debug, Clone)]
pub struct MemUpstream {
    server: Arc<Mutex<Server>>,
    appended: Arc<Notify>,
    /// Simulated time a snapshot takes to read one row.
    read_per_row: std::time::Duration,
}

/// A change inside a transaction.
#[derive(Debug, Clone)]
pub enum Write {
    Insert(Vec<Value>),
    /// New values for the row with this id (same id).
    Update(i64, Vec<Value>),
    Delete(i64),
}

fn id_of(row: &[Value]) -> Option<i64> {
    match row.first() {
        Some(Value::Int(v)) => Some(*v),
        Some(Value::UInt(v)) => i64::try_from(*v).ok(),
        _ => None,
    }
}

impl MemUpstream {
    /// A server whose GTIDs are `0-<server_id>-N`, logging full row
    /// metadata.
    pub fn new(server_id: u32) -> Self {
        Self::with_metadata(server_id, RowMetadata::Full)
    }

    /// A server whose GTIDs are `0-<server_id>-N` and whose row events
    /// carry `metadata`.
    pub fn with_metadata(server_id: u32, metadata: RowMetadata) -> Self {
        let mut server = Server::new(format!("0-{server_id}"));
        server.metadata = metadata;
        Self {
            server: Arc::new(Mutex::new(server)),
            appended: Arc::new(Notify::new()),
            read_per_row: std::time::Duration::ZERO,
        }
    }

    /// What the server's row events carry.
    pub fn metadata(&self) -> RowMetadata {
        self.lock().metadata
    }

    /// Another handle on the same server whose snapshots take `per_row`
    /// (tokio's clock) to read each row of a chunk, as a real scan does.
    pub fn reading_at(&self, per_row: std::time::Duration) -> Self {
        Self {
            read_per_row: per_row,
            ..self.clone()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Server> {
        crate::lock(&self.server)
    }

    fn appended(&self) {
        self.appended.notify_waiters();
    }

    /// `CREATE DATABASE` and `CREATE TABLE schema.table (id BIGINT PRIMARY
    /// KEY, <text columns>)`, written to the binlog.
    pub fn create_table(&self, schema: &str, table: &str, text_columns: &[&str]) {
        let mut columns = vec![Column::new("id", ColumnType::Integer).with_primary_key(true)];
        let mut defs = vec!["`id` BIGINT NOT NULL".to_string()];
        for c in text_columns {
            columns.push(Column::new(*c, ColumnType::String).with_charset(UTF8MB4));
            defs.push(format!("`{c}` VARCHAR(64)"));
        }
        let mut s = self.lock();
        let logged = logged_columns(&columns, s.metadata);
        s.begin();
        s.push(Event::Query {
            schema: schema.into(),
            sql: format!("CREATE DATABASE IF NOT EXISTS `{schema}`"),
        });
        s.begin();
        s.push(Event::Query {
            schema: schema.into(),
            sql: format!(
                "CREATE TABLE `{schema}`.`{table}` ({}, PRIMARY KEY (`id`))",
                defs.join(", ")
            ),
        });
        s.tables.insert(
            (schema.into(), table.into()),
            Table {
                columns: columns.into(),
                logged,
                definitions: defs,
                rows: BTreeMap::new(),
            },
        );
        drop(s);
        self.appended();
    }

    /// One transaction of `writes` on `schema`.`table`; writes that do not
    /// apply (a duplicate id, a missing row) are dropped. Returns how many
    /// applied.
    pub fn transaction(&self, schema: &str, table: &str, writes: &[Write]) -> usize {
        let mut s = self.lock();
        let key = (schema.to_string(), table.to_string());
        // Writes that do not apply leave the table as it was, so the
        // table changes in place (no copy of its rows per transaction).
        let Some(t) = s.tables.get_mut(&key) else {
            return 0;
        };
        let mut changes = Vec::new();
        for w in writes {
            match w {
                Write::Insert(row) => {
                    let Some(id) = id_of(row) else { continue };
                    if t.rows.contains_key(&id) || row.len() != t.columns.len() {
                        continue;
                    }
                    t.rows.insert(id, row.clone());
                    changes.push(RowChange {
                        kind: RowKind::Insert,
                        before: None,
                        after: Some(row.clone()),
                        logged: None,
                    });
                }
                Write::Update(id, row) => {
                    if id_of(row) != Some(*id) || row.len() != t.columns.len() {
                        continue;
                    }
                    let Some(before) = t.rows.insert(*id, row.clone()) else {
                        t.rows.remove(id);
                        continue;
                    };
                    changes.push(RowChange {
                        kind: RowKind::Update,
                        before: Some(before),
                        after: Some(row.clone()),
                        logged: None,
                    });
                }
                Write::Delete(id) => {
                    let Some(before) = t.rows.remove(id) else {
                        continue;
                    };
                    changes.push(RowChange {
                        kind: RowKind::Delete,
                        before: Some(before),
                        after: None,
                        logged: None,
                    });
                }
            }
        }
        if changes.is_empty() {
            return 0;
        }
        let applied = changes.len();
        let columns = t.logged.clone();
        s.begin();
        // One row event per kind run, as a server writes them.
        let mut run: Vec<RowChange> = Vec::new();
        for change in changes {
            if run.last().is_some_and(|r| r.kind != change.kind) {
                s.push(Event::Rows {
                    schema: schema.into(),
                    table: table.into(),
                    columns: columns.clone(),
                    rows: std::mem::take(&mut run),
                });
            }
            run.push(change);
        }
        s.push(Event::Rows {
            schema: schema.into(),
            table: table.into(),
            columns,
            rows: run,
        });
        s.push(Event::Commit);
        drop(s);
        self.appended();
        applied
    }

    /// `ALTER TABLE ... ADD COLUMN column VARCHAR(64) NOT NULL DEFAULT
    /// 'default'`, written to the binlog; existing rows get the default.
    pub fn add_column(&self, schema: &str, table: &str, column: &str, default: &str) {
        let mut s = self.lock();
        let key = (schema.to_string(), table.to_string());
        let metadata = s.metadata;
        let Some(t) = s.tables.get_mut(&key) else {
            return;
        };
        let mut columns = t.columns.to_vec();
        columns.push(Column::new(column, ColumnType::String).with_charset(UTF8MB4));
        t.logged = logged_columns(&columns, metadata);
        t.columns = columns.into();
        t.definitions.push(format!(
            "`{column}` VARCHAR(64) NOT NULL DEFAULT '{default}'"
        ));
        for row in t.rows.values_mut() {
            row.push(Value::Bytes(default.as_bytes().to_vec()));
        }
        s.begin();
        s.push(Event::Query {
            schema: schema.into(),
            sql: format!(
                "ALTER TABLE `{schema}`.`{table}` ADD COLUMN `{column}` VARCHAR(64) NOT NULL DEFAULT '{default}'"
            ),
        });
        drop(s);
        self.appended();
    }

    /// How many columns `schema`.`table` has now.
    pub fn column_count(&self, schema: &str, table: &str) -> usize {
        self.lock()
            .tables
            .get(&(schema.to_string(), table.to_string()))
            .map_or(0, |t| t.columns.len())
    }

    /// The ids of `schema`.`table`'s rows.
    pub fn ids(&self, schema: &str, table: &str) -> Vec<i64> {
        self.lock()
            .tables
            .get(&(schema.to_string(), table.to_string()))
            .map(|t| t.rows.keys().copied().collect())
            .unwrap_or_default()
    }

    /// The rows of `schema`.`table` as text (`None` is NULL), by id.
    pub fn rows(&self, schema: &str, table: &str) -> Vec<Vec<Option<String>>> {
        let s = self.lock();
        let Some(t) = s.tables.get(&(schema.to_string(), table.to_string())) else {
            return Vec::new();
        };
        t.rows
            .values()
            .map(|row| {
                row.iter()
                    .map(|v| match v {
                        Value::Null => None,
                        Value::Int(i) => Some(i.to_string()),
                        Value::UInt(u) => Some(u.to_string()),
                        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                        other => Some(other.as_sql(true)),
                    })
                    .collect()
            })
            .collect()
    }

    /// Events written so far.
    pub fn events(&self) -> usize {
        self.lock().events.len()
    }

    /// Restarts the server, as a clean shutdown or a crash does to a real
    /// one: every open binlog stream ends, and the binlog continues in a
    /// new file that a reader of the old one reaches through a rotate.
    pub fn restart(&self) {
        let mut s = self.lock();
        s.restarts += 1;
        s.file += 1;
        s.pos = FIRST_POS;
        // The rotate a reader of the old file sees: it ends where the new
        // file's first event starts.
        let end = s.position();
        s.events.push(Located {
            event: Event::Other,
            end,
            timestamp: 0,
        });
        drop(s);
        self.appended();
    }
}

/// A reader of a [`MemUpstream`]'s binlog.
struct MemEvents {
    upstream: MemUpstream,
    next: usize,
    /// The server's restarts when the reader opened.
    restarts: u64,
}

impl Events for MemEvents {
    fn next(&mut self) -> Call<'_, Option<Located>> {
        Box::pin(async move {
            loop {
                let notified = self.upstream.appended.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                {
                    let s = self.upstream.lock();
                    if s.restarts != self.restarts {
                        // The server went away: the stream is closed.
                        return Ok(None);
                    }
                    if let Some(event) = s.events.get(self.next).cloned() {
                        self.next += 1;
                        return Ok(Some(event));
                    }
                }
                notified.await;
            }
        })
    }
}

impl BinlogSource for MemUpstream {
    fn open<'a>(&'a self, _server_id: u32, from: &'a Position) -> Call<'a, Box<dyn Events>> {
        let opened = {
            let s = self.lock();
            s.first_after(from).map(|next| MemEvents {
                upstream: self.clone(),
                next,
                restarts: s.restarts,
            })
        };
        Box::pin(std::future::ready(
            opened.map(|events| Box::new(events) as Box<dyn Events>),
        ))
    }

    fn tables<'a>(&'a self, rules: &'a TaskRules) -> Call<'a, Vec<(String, String)>> {
        let tables = self
            .lock()
            .tables
            .keys()
            .filter(|(s, t)| rules.selects(s, t))
            .cloned()
            .collect();
        Box::pin(std::future::ready(Ok(tables)))
    }

    fn schema_seed<'a>(&'a self, rules: &'a TaskRules) -> Call<'a, SchemaSeed> {
        let seed = schema_seed(&self.lock().tables, rules);
        Box::pin(std::future::ready(Ok(seed)))
    }

    fn position(&self) -> Call<'_, Position> {
        let position = self.lock().position();
        Box::pin(std::future::ready(Ok(position)))
    }

    fn files(&self) -> Call<'_, Vec<String>> {
        let files = self.lock().files();
        Box::pin(std::future::ready(Ok(files)))
    }

    /// The in-memory upstream's time zone is UTC.
    fn unix_time<'a>(&'a self, local: &'a str) -> Call<'a, i64> {
        let seconds = dm_proto::start_time::StartTime::parse(local)
            .map(|t| t.unix_seconds_taking_utc())
            .map_err(|e| UpstreamError::Decode(e.to_string()));
        Box::pin(std::future::ready(seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::upstream::{self as conformance, Writer};
    use futures::future::BoxFuture;

    impl Writer for MemUpstream {
        fn create_table(&self) -> BoxFuture<'_, Result<(), String>> {
            MemUpstream::create_table(self, "app", "t", &["c"]);
            Box::pin(async { Ok(()) })
        }

        fn insert(&self, rows: &[(i64, &'static str)]) -> BoxFuture<'_, Result<(), String>> {
            // Columns added since take their default, as in SQL.
            let columns = self.column_count("app", "t");
            let writes: Vec<Write> = rows
                .iter()
                .map(|(id, c)| Write::Insert(padded(row(*id, c), columns)))
                .collect();
            self.transaction("app", "t", &writes);
            Box::pin(async { Ok(()) })
        }

        fn update(&self, id: i64, c: &'static str) -> BoxFuture<'_, Result<(), String>> {
            // An update of `c` keeps the other columns.
            let mut new = self
                .lock()
                .tables
                .get(&("app".to_string(), "t".to_string()))
                .and_then(|t| t.rows.get(&id).cloned())
                .unwrap_or_else(|| row(id, c));
            if let Some(v) = new.get_mut(1) {
                *v = Value::Bytes(c.as_bytes().to_vec());
            }
            self.transaction("app", "t", &[Write::Update(id, new)]);
            Box::pin(async { Ok(()) })
        }

        fn delete(&self, id: i64) -> BoxFuture<'_, Result<(), String>> {
            self.transaction("app", "t", &[Write::Delete(id)]);
            Box::pin(async { Ok(()) })
        }

        fn add_column(&self) -> BoxFuture<'_, Result<(), String>> {
            MemUpstream::add_column(self, "app", "t", "extra", "d");
            Box::pin(async { Ok(()) })
        }

        fn restart(&self) -> BoxFuture<'_, Result<(), String>> {
            MemUpstream::restart(self);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn the_in_memory_upstream_passes_the_conformance_suite() {
        let up = MemUpstream::new(1);
        let rules = conformance::app_rules().unwrap();
        conformance::run(&up, &up, &up, &rules).await.unwrap();
    }

    #[tokio::test]
    async fn the_in_memory_upstream_without_column_names_passes_the_conformance_suite() {
        let up = MemUpstream::with_metadata(1, RowMetadata::NoLog);
        let rules = conformance::app_rules().unwrap();
        conformance::run(&up, &up, &up, &rules).await.unwrap();
    }

    #[tokio::test]
    async fn without_column_names_row_events_carry_the_types_alone() {
        let up = MemUpstream::with_metadata(1, RowMetadata::NoLog);
        up.create_table("app", "t", &["c"]);
        up.add_column("app", "t", "extra", "d");
        up.transaction("app", "t", &[Write::Insert(padded(row(1, "a"), 3))]);
        let mut events = up.open(0, &Position::default()).await.unwrap();
        let mut logged = None;
        for _ in 0..up.events() {
            if let Event::Rows { columns, .. } = events.next().await.unwrap().unwrap().event {
                logged = Some(columns);
            }
        }
        let want: Vec<Column> = [ColumnType::Integer, ColumnType::String, ColumnType::String]
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Column::new(format!("@{i}"), kind))
            .collect();
        assert_eq!(logged.unwrap().to_vec(), want);
        // The definitions still have the names.
        let seed = up
            .schema_seed(&conformance::app_rules().unwrap())
            .await
            .unwrap();
        assert_eq!(
            seed.tables[0].create,
            "CREATE TABLE `t` (\n  `id` BIGINT NOT NULL,\n  `c` VARCHAR(64),\n  `extra` VARCHAR(64) NOT NULL DEFAULT 'd',\n  PRIMARY KEY (`id`)\n)"
        );
    }

    fn row(id: i64, c: &str) -> Vec<Value> {
        vec![Value::Int(id), Value::Bytes(c.as_bytes().to_vec())]
    }

    fn padded(mut row: Vec<Value>, columns: usize) -> Vec<Value> {
        while row.len() < columns {
            row.push(Value::Bytes(b"d".to_vec()));
        }
        row
    }

    #[tokio::test]
    async fn writes_change_the_tables_and_the_binlog_replays_them() {
        let up = MemUpstream::new(1);
        up.create_table("app", "t_1", &["c"]);
        assert_eq!(
            up.transaction(
                "app",
                "t_1",
                &[Write::Insert(row(1, "a")), Write::Insert(row(2, "b"))]
            ),
            2
        );
        assert_eq!(
            up.transaction(
                "app",
                "t_1",
                &[
                    Write::Update(1, row(1, "z")),
                    Write::Delete(2),
                    Write::Delete(9)
                ]
            ),
            2
        );
        assert_eq!(
            up.rows("app", "t_1"),
            vec![vec![Some("1".to_string()), Some("z".to_string())]]
        );
        let mut events = up.open(0, &Position::default()).await.unwrap();
        let mut kinds = Vec::new();
        let mut last = Position::default();
        for _ in 0..up.events() {
            let e = events.next().await.unwrap().unwrap();
            assert!(!e.end.at_or_before(&last), "positions grow");
            last = e.end.clone();
            kinds.push(match e.event {
                Event::Gtid(_) => "gtid",
                Event::Query { .. } => "query",
                Event::Rows { rows, .. } => match rows[0].kind {
                    RowKind::Insert => "insert",
                    RowKind::Update => "update",
                    RowKind::Delete => "delete",
                },
                Event::Commit => "commit",
                _ => "other",
            });
        }
        assert_eq!(
            kinds,
            [
                "gtid", "query", "gtid", "query", "gtid", "insert", "commit", "gtid", "update",
                "delete", "commit"
            ]
        );
        // Resuming after an event skips it.
        let position = up.position().await.unwrap();
        assert_eq!(position, last);
        let mut again = up.open(0, &last).await.unwrap();
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(20), again.next()).await;
        assert!(waiting.is_err(), "nothing after the end yet");
        up.transaction("app", "t_1", &[Write::Insert(row(3, "c"))]);
        let next = again.next().await.unwrap().unwrap();
        assert!(matches!(next.event, Event::Gtid(_)));
    }
}
