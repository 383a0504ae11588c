//! What the pre-check knows about one upstream, and the one function that
//! asks the server for it.
//!
//! Everything the items decide on is fetched here, with one connection per
//! source and a handful of queries, before any decision is made; the
//! decisions ([`super::server`], [`super::grants`], [`super::tables`]) are
//! pure functions over these facts.

use std::collections::BTreeMap;
use std::time::Duration;

use dm_proto::config::task::Meta;
use dm_proto::config::SourceConfig;
use dm_proto::sql::set_session;
use dm_rules::TaskRules;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use super::error::PrecheckError;
use super::position::{BinlogFacts, GtidFacts};
use super::server::is_mariadb;

/// How long fetching one source's facts may take. Sources are fetched
/// concurrently, and a request forwarded to the leader has 10 s in all, so
/// the pre-check must finish well within that.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(6);

/// The server variables the items read (`SHOW GLOBAL VARIABLES`).
pub const VARIABLES: &[&str] = &[
    "version",
    "server_id",
    "log_bin",
    "binlog_format",
    "binlog_row_image",
];

/// One upstream's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFacts {
    /// Global variables of [`VARIABLES`] the server has, by lower-case name.
    /// A variable the server does not know (`binlog_row_image` before
    /// MySQL 5.6.2 / MariaDB 10.1.6) is absent.
    pub variables: BTreeMap<String, String>,
    /// `CURRENT_USER()`: the account the grants belong to (`user@host`).
    pub current_user: String,
    /// The lines of `SHOW GRANTS`.
    pub grants: Vec<String>,
    /// The base tables the source's block-allow list selects; `None` when
    /// they were not fetched (no item needs them, or the task's rules for
    /// this source do not compile).
    pub tables: Option<Vec<TableFacts>>,
    /// The binlogs, for the task's `meta` position; `None` when not
    /// fetched (no position to check).
    pub binlog: Option<BinlogFacts>,
    /// Why the server refused the task's session time zone, if it did.
    pub time_zone_refused: Option<String>,
}

/// What to fetch besides the server's variables and grants.
#[derive(Debug, Clone, Copy, Default)]
pub struct FactsRequest<'a> {
    /// The tables this block-allow list selects.
    pub tables: Option<&'a TaskRules>,
    /// The binlogs, to check this start position.
    pub meta: Option<&'a Meta>,
    /// The session time zone the task's workers set (the copy reads
    /// TIMESTAMP values in it).
    pub time_zone: Option<&'a str>,
}

impl SourceFacts {
    /// A variable's value, if the server has it.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str)
    }
}

/// One upstream table: its columns and indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableFacts {
    pub schema: String,
    pub name: String,
    /// In table order.
    pub columns: Vec<ColumnFacts>,
    pub indexes: Vec<IndexFacts>,
}

/// One column (`information_schema.COLUMNS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnFacts {
    pub name: String,
    /// `DATA_TYPE`, lower case: `bigint`, `int`, `varchar`, ...
    pub data_type: String,
    pub nullable: bool,
    /// `EXTRA` contains `auto_increment`.
    pub auto_increment: bool,
}

/// One index (`information_schema.STATISTICS`); the primary key is named
/// `PRIMARY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexFacts {
    pub name: String,
    pub unique: bool,
    /// In index order; empty for a part that is an expression (MySQL 8).
    pub columns: Vec<String>,
}

impl IndexFacts {
    /// Whether this is the primary key.
    pub fn is_primary(&self) -> bool {
        self.name.eq_ignore_ascii_case("PRIMARY")
    }
}

/// `user@host:port` of a source, for messages (never the password).
pub fn address(source: &SourceConfig) -> String {
    let from = &source.from;
    format!("{}@{}:{}", from.user, from.host, from.port)
}

/// Connects as the source's user and fetches its facts: variables, user,
/// grants, and what `request` asks for (the selected tables with their
/// columns and indexes; the binlogs). Gives up after [`FETCH_TIMEOUT`].
pub async fn fetch(
    source: &SourceConfig,
    request: FactsRequest<'_>,
) -> Result<SourceFacts, PrecheckError> {
    let addr = address(source);
    match tokio::time::timeout(FETCH_TIMEOUT, fetch_unbounded(source, request, &addr)).await {
        Ok(result) => result,
        Err(_) => Err(PrecheckError::Timeout {
            addr,
            secs: FETCH_TIMEOUT.as_secs(),
        }),
    }
}

async fn fetch_unbounded(
    source: &SourceConfig,
    request: FactsRequest<'_>,
    addr: &str,
) -> Result<SourceFacts, PrecheckError> {
    let from = &source.from;
    let connected = crate::db_opts::connect(from, crate::db_opts::FROM).await;
    let mut conn = connected.map_err(|e| PrecheckError::Connect {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    let facts = read_facts(&mut conn, request, addr).await;
    if let Err(e) = conn.disconnect().await {
        tracing::debug!(%addr, error = %e, "closing the pre-check connection");
    }
    facts
}

async fn read_facts(
    conn: &mut Conn,
    request: FactsRequest<'_>,
    addr: &str,
) -> Result<SourceFacts, PrecheckError> {
    let failed = |what| query_error(addr, what);
    let names = VARIABLES
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<Row> = conn
        .query(format!(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ({names})"
        ))
        .await
        .map_err(failed("the server variables"))?;
    let variables: BTreeMap<String, String> = rows
        .iter()
        .map(|row| (text(row, 0).to_lowercase(), text(row, 1)))
        .collect();

    let rows: Vec<Row> = conn
        .query("SELECT CURRENT_USER()")
        .await
        .map_err(failed("the current user"))?;
    let current_user = rows.first().map(|r| text(r, 0)).unwrap_or_default();

    let rows: Vec<Row> = conn
        .query("SHOW GRANTS")
        .await
        .map_err(failed("the user's grants (SHOW GRANTS)"))?;
    let grants = rows.iter().map(|r| text(r, 0)).collect();

    let tables = match request.tables {
        None => None,
        Some(rules) => Some(read_tables(conn, rules, addr).await?),
    };
    let time_zone_refused = match request.time_zone {
        None => None,
        Some(zone) => match conn.query_drop(set_session("time_zone", zone)).await {
            Ok(()) => None,
            Err(mysql_async::Error::Server(e)) => Some(e.message),
            Err(e) => return Err(failed("the time zone")(e)),
        },
    };
    let mariadb = variables.get("version").is_some_and(|v| is_mariadb(v));
    let binlog = match request.meta {
        None => None,
        Some(meta) => Some(read_binlog(conn, meta, mariadb, addr).await?),
    };

    Ok(SourceFacts {
        variables,
        current_user,
        grants,
        tables,
        binlog,
        time_zone_refused,
    })
}

/// The binlog facts the position `meta` is checked against (see
/// [`super::position`]).
async fn read_binlog(
    conn: &mut Conn,
    meta: &Meta,
    mariadb: bool,
    addr: &str,
) -> Result<BinlogFacts, PrecheckError> {
    let failed = |what| query_error(addr, what);
    let rows: Vec<Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(failed("the binlogs (SHOW BINARY LOGS)"))?;
    let files: Vec<(String, u64)> = rows
        .iter()
        .map(|r| (text(r, 0), text(r, 1).parse().unwrap_or(0)))
        .collect();
    let mut facts = BinlogFacts {
        files,
        ..BinlogFacts::default()
    };
    if !meta.binlog_name.is_empty() {
        let listed = facts
            .files
            .iter()
            .find(|(f, _)| *f == meta.binlog_name)
            .map(|(_, size)| *size);
        if listed.is_some_and(|size| u64::from(meta.binlog_pos) <= size) {
            // The sync unit starts at position 4 at the least.
            let statement = format!(
                "SHOW BINLOG EVENTS IN '{}' FROM {} LIMIT 1",
                meta.binlog_name.replace('\\', "\\\\").replace('\'', "\\'"),
                meta.binlog_pos.max(4)
            );
            match conn.query_drop(statement).await {
                Ok(()) => {}
                Err(mysql_async::Error::Server(e)) => facts.position_refused = Some(e.message),
                Err(e) => return Err(failed("the binlog events (SHOW BINLOG EVENTS)")(e)),
            }
        }
        return Ok(facts);
    }
    if meta.binlog_gtid.is_empty() {
        return Ok(facts);
    }
    facts.gtid = if mariadb {
        let (binlog_state, binlog_pos): (Option<String>, Option<String>) = conn
            .query_first("SELECT @@gtid_binlog_state, @@gtid_binlog_pos")
            .await
            .map_err(failed("the GTID state (@@gtid_binlog_state)"))?
            .unwrap_or_default();
        let at_oldest: Option<String> = match facts.files.first() {
            Some((oldest, _)) => conn
                .exec_first("SELECT BINLOG_GTID_POS(?, 4)", (oldest.as_str(),))
                .await
                .map_err(failed(
                    "the oldest binlog's GTID position (BINLOG_GTID_POS)",
                ))?
                .flatten(),
            None => None,
        };
        GtidFacts::MariaDb {
            binlog_state: binlog_state.unwrap_or_default(),
            binlog_pos: binlog_pos.unwrap_or_default(),
            at_oldest: at_oldest.unwrap_or_default(),
        }
    } else {
        let gtid = meta.binlog_gtid.as_str();
        let row: Option<(String, String, i64, i64)> = conn
            .exec_first(
                "SELECT @@gtid_executed, @@gtid_purged, GTID_SUBSET(@@gtid_purged, ?), GTID_SUBSET(?, @@gtid_executed)",
                (gtid, gtid),
            )
            .await
            .map_err(failed("the GTID sets (@@gtid_executed, @@gtid_purged)"))?;
        let (executed, purged, holds, within) = row.unwrap_or_default();
        GtidFacts::MySql {
            executed,
            purged,
            holds_purged: holds == 1,
            within_executed: within == 1,
        }
    };
    Ok(facts)
}

async fn read_tables(
    conn: &mut Conn,
    rules: &TaskRules,
    addr: &str,
) -> Result<Vec<TableFacts>, PrecheckError> {
    let failed = |what| query_error(addr, what);
    // Base tables only (views are not migrated); MariaDB's system-versioned
    // tables are base tables too.
    let rows: Vec<Row> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
             ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await
        .map_err(failed("the table list (information_schema.TABLES)"))?;
    let mut tables: BTreeMap<(String, String), TableFacts> = rows
        .iter()
        .map(|r| (text(r, 0), text(r, 1)))
        .filter(|(schema, table)| rules.selects(schema, table))
        .map(|(schema, name)| {
            let table = TableFacts {
                schema: schema.clone(),
                name: name.clone(),
                ..TableFacts::default()
            };
            ((schema, name), table)
        })
        .collect();
    if tables.is_empty() {
        return Ok(Vec::new());
    }

    let mut schemas: Vec<&str> = tables.keys().map(|(s, _)| s.as_str()).collect();
    schemas.dedup();
    let marks = vec!["?"; schemas.len()].join(", ");
    let params: Vec<Value> = schemas.iter().map(|s| Value::from(*s)).collect();

    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, EXTRA \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN ({marks}) \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
            ),
            params.clone(),
        )
        .await
        .map_err(failed("the columns (information_schema.COLUMNS)"))?;
    for row in &rows {
        if let Some(table) = tables.get_mut(&(text(row, 0), text(row, 1))) {
            table.columns.push(ColumnFacts {
                name: text(row, 2),
                data_type: text(row, 3).to_lowercase(),
                nullable: text(row, 4).eq_ignore_ascii_case("YES"),
                auto_increment: text(row, 5).to_lowercase().contains("auto_increment"),
            });
        }
    }

    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN ({marks}) \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
            ),
            params,
        )
        .await
        .map_err(failed("the indexes (information_schema.STATISTICS)"))?;
    for row in &rows {
        let Some(table) = tables.get_mut(&(text(row, 0), text(row, 1))) else {
            continue;
        };
        let name = text(row, 2);
        let column = text(row, 4);
        match table.indexes.iter_mut().find(|i| i.name == name) {
            Some(index) => index.columns.push(column),
            None => table.indexes.push(IndexFacts {
                unique: text(row, 3) == "0",
                name,
                columns: vec![column],
            }),
        }
    }
    Ok(tables.into_values().collect())
}

fn query_error<'a>(
    addr: &'a str,
    what: &'static str,
) -> impl FnOnce(mysql_async::Error) -> PrecheckError + 'a {
    move |e| PrecheckError::Query {
        addr: addr.to_string(),
        what,
        reason: e.to_string(),
    }
}

/// Cell `i` of `row` as text, whatever protocol brought it (the text
/// protocol sends bytes, the binary one integers); NULL and a missing cell
/// are empty.
fn text(row: &Row, i: usize) -> String {
    match row.as_ref(i) {
        None | Some(Value::NULL) => String::new(),
        Some(Value::Bytes(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::Int(v)) => v.to_string(),
        Some(Value::UInt(v)) => v.to_string(),
        Some(other) => other.as_sql(true),
    }
}
