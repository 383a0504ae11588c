//! The upstream conformance suite: what every [`BinlogSource`] must give
//! the sync unit, run against MariaDB (integration tests) and the
//! simulation's in-memory upstream (unit tests): each transaction's row
//! changes in order with full before/after images, a commit after each,
//! positions that only grow, a reopen after an event that continues right
//! after it, DDL as a statement, the tables, and the binlog's end; and
//! across a restart of the server: the binlog goes on in a new file that
//! the upstream lists, a reader of the old file reaches it, and a position
//! in a file the upstream does not list is refused. The tables'
//! definitions (`schema_seed`, what the schema tracker starts from when the
//! binlog carries no column names) read as the tracker needs them: every
//! column in order, its type the row events' type, the primary key, the
//! text columns' character set.
//!
//! The implementation under test is written to through a [`Writer`] (SQL
//! for a server, the in-memory API for the simulation's).

use super::snapshot as snapshot_conformance;
use dm_rules::TaskRules;
use dm_worker::position::Position;
use dm_worker::schema::SchemaTracker;
use dm_worker::upstream::{BinlogSource, Column, CopySource, Event, Located, RowKind, Value};
use futures::future::BoxFuture;

/// Writes to the upstream under test: `app.t (id BIGINT PRIMARY KEY, c
/// VARCHAR(64))`, one transaction per call.
pub trait Writer: Send + Sync {
    fn create_table(&self) -> BoxFuture<'_, Result<(), String>>;
    fn insert(&self, rows: &[(i64, &'static str)]) -> BoxFuture<'_, Result<(), String>>;
    fn update(&self, id: i64, c: &'static str) -> BoxFuture<'_, Result<(), String>>;
    fn delete(&self, id: i64) -> BoxFuture<'_, Result<(), String>>;
    fn add_column(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Restarts the server (its binlog goes on in a new file).
    fn restart(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// A row change as the suite compares it: kind, before, after.
type Change = (RowKind, Option<Vec<Value>>, Option<Vec<Value>>);

fn row(id: i64, c: &str) -> Vec<Value> {
    vec![Value::Int(id), Value::Bytes(c.as_bytes().to_vec())]
}

/// A row of `app.t` after its `extra` column was added.
fn with_extra(mut row: Vec<Value>) -> Vec<Value> {
    row.push(Value::Bytes(b"d".to_vec()));
    row
}

/// What the events between `from` and the binlog's end say: the row
/// changes of `app.t` per transaction, and the DDL statements.
pub(crate) async fn read(
    source: &dyn BinlogSource,
    from: &Position,
) -> Result<(Vec<Vec<Change>>, Vec<String>, Vec<Located>), String> {
    let end = source.position().await.map_err(|e| e.to_string())?;
    let mut events = source
        .open(4_000_001, from)
        .await
        .map_err(|e| e.to_string())?;
    let mut transactions: Vec<Vec<Change>> = Vec::new();
    let mut open: Vec<Change> = Vec::new();
    let mut ddl = Vec::new();
    let mut all = Vec::new();
    let mut last = from.clone();
    while last.binlog_pos < end.binlog_pos || last.binlog_name != end.binlog_name {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), events.next())
            .await
            .map_err(|_| format!("no event after {last} before the end {end}"))?
            .map_err(|e| e.to_string())?
            .ok_or("the stream closed")?;
        if matches!(next.event, Event::Heartbeat | Event::Other) {
            continue;
        }
        if next.end.at_or_before(&last) {
            return Err(format!("positions must grow: {} after {last}", next.end));
        }
        last = next.end.clone();
        match &next.event {
            Event::Rows {
                schema,
                table,
                rows,
                ..
            } if schema == "app" && table == "t" => {
                open.extend(
                    rows.iter()
                        .map(|r| (r.kind, r.before.clone(), r.after.clone())),
                );
            }
            Event::Commit => transactions.push(std::mem::take(&mut open)),
            Event::Query { sql, .. } if sql.to_ascii_uppercase().contains("ALTER TABLE") => {
                ddl.push(sql.clone())
            }
            _ => {}
        }
        all.push(next);
    }
    Ok((transactions, ddl, all))
}

pub(crate) fn expect<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: T,
    want: T,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Runs the suite, snapshots for the full copy included; `rules`
/// selects `app.*`.
pub async fn run(
    source: &dyn BinlogSource,
    copy: &dyn CopySource,
    writer: &dyn Writer,
    rules: &TaskRules,
) -> Result<(), String> {
    writer.create_table().await?;
    let start = source.position().await.map_err(|e| e.to_string())?;
    writer.insert(&[(1, "a"), (2, "b")]).await?;
    writer.update(1, "z").await?;
    writer.delete(2).await?;
    writer.add_column().await?;
    let (transactions, ddl, all) = read(source, &start).await?;
    expect(
        "row changes per transaction",
        transactions,
        vec![
            vec![
                (RowKind::Insert, None, Some(row(1, "a"))),
                (RowKind::Insert, None, Some(row(2, "b"))),
            ],
            vec![(RowKind::Update, Some(row(1, "a")), Some(row(1, "z")))],
            vec![(RowKind::Delete, Some(row(2, "b")), None)],
        ],
    )?;
    if ddl.len() != 1 || !ddl[0].to_ascii_uppercase().contains("ADD COLUMN") {
        return Err(format!(
            "the ALTER TABLE must arrive as one statement: {ddl:?}"
        ));
    }
    let end = source.position().await.map_err(|e| e.to_string())?;
    // File and offset: a server's status may not carry the GTID.
    let place = |p: &Position| (p.binlog_name.clone(), p.binlog_pos);
    expect(
        "the last event ends at the binlog's end",
        all.last().map(|e| place(&e.end)),
        Some(place(&end)),
    )?;

    // Reopening after the first commit continues with the second
    // transaction.
    let first_commit = all
        .iter()
        .find(|e| matches!(e.event, Event::Commit))
        .map(|e| e.end.clone())
        .ok_or("no commit")?;
    let (rest, _, _) = read(source, &first_commit).await?;
    expect("transactions after the first commit", rest.len(), 2)?;

    let tables = source.tables(rules).await.map_err(|e| e.to_string())?;
    if !tables.contains(&("app".to_string(), "t".to_string())) {
        return Err(format!("the tables must list app.t: {tables:?}"));
    }
    seed_cases(source, rules, &all).await?;
    restart_cases(source, writer, &end).await?;
    snapshot_conformance::cases(copy, source, writer, rules).await
}

/// `app.t`'s definition from `schema_seed` (after its `extra` column was
/// added), as the schema tracker reads it, against what the row events in
/// `events` (written before the column was added) logged.
async fn seed_cases(
    source: &dyn BinlogSource,
    rules: &TaskRules,
    events: &[Located],
) -> Result<(), String> {
    let seed = source.schema_seed(rules).await.map_err(|e| e.to_string())?;
    if !seed.schemas.iter().any(|s| s.name == "app") {
        return Err(format!(
            "the seed must list the schema app: {:?}",
            seed.schemas
        ));
    }
    let (tracker, left_out) = SchemaTracker::from_seed(&seed);
    expect("tables the tracker cannot read", left_out, Vec::new())?;
    let def = tracker
        .table("app", "t")
        .ok_or_else(|| format!("the seed must define app.t: {:?}", seed.tables))?;
    let columns = def.row_columns();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    expect("app.t's columns, in order", names, vec!["id", "c", "extra"])?;
    let keys: Vec<bool> = columns.iter().map(|c| c.primary_key).collect();
    expect(
        "app.t's primary key columns",
        keys,
        vec![true, false, false],
    )?;
    let charsets: Vec<bool> = columns.iter().map(|c| c.charset.is_some()).collect();
    expect(
        "which of app.t's columns have a character set",
        charsets,
        vec![false, true, true],
    )?;
    let logged: &[Column] = events
        .iter()
        .find_map(|e| match &e.event {
            Event::Rows { table, columns, .. } if table == "t" => Some(&columns[..]),
            _ => None,
        })
        .ok_or("no row event of app.t")?;
    let kinds = |cs: &[Column]| cs.iter().map(|c| c.kind).collect::<Vec<_>>();
    expect(
        "the tracked types of the columns the row events logged",
        kinds(&columns[..logged.len().min(columns.len())]),
        kinds(logged),
    )
}

/// Across a restart: `before` is the binlog's end before it.
async fn restart_cases(
    source: &dyn BinlogSource,
    writer: &dyn Writer,
    before: &Position,
) -> Result<(), String> {
    let files_before = source.files().await.map_err(|e| e.to_string())?;
    if files_before.last() != Some(&before.binlog_name) {
        return Err(format!(
            "the files must end with the binlog's current file {}: {files_before:?}",
            before.binlog_name
        ));
    }
    let mut open = source
        .open(4_000_002, before)
        .await
        .map_err(|e| e.to_string())?;
    writer.restart().await?;
    // A stream open across the restart ends (closed or failed), never
    // silently stalls; what it read before the end is whatever was there.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = open.next().await {}
    })
    .await;
    if ended.is_err() {
        return Err("a binlog stream open across a restart must end".into());
    }
    writer.insert(&[(9, "i")]).await?;
    let files = source.files().await.map_err(|e| e.to_string())?;
    let (newest, older) = files.split_last().ok_or("no binlog files")?;
    if older.last() != files_before.last() || !files_before.iter().all(|f| files.contains(f)) {
        return Err(format!(
            "after a restart the upstream lists its old files and a new one: {files_before:?} then {files:?}"
        ));
    }
    let (transactions, _, all) = read(source, before).await?;
    expect(
        "the transaction after the restart",
        transactions,
        vec![vec![(RowKind::Insert, None, Some(with_extra(row(9, "i"))))]],
    )?;
    let last = all.last().map(|e| e.end.clone()).unwrap_or_default();
    expect(
        "the reader follows into the new file",
        &last.binlog_name,
        newest,
    )?;
    // The snapshot cases expect row 1 alone.
    writer.delete(9).await?;
    // A position in a file the upstream never had is refused, not read.
    let unknown = Position {
        binlog_name: format!("{}x", newest),
        binlog_pos: 4,
        binlog_gtid: String::new(),
    };
    match source.open(4_000_003, &unknown).await {
        Err(e) if e.to_string().contains(&unknown.binlog_name) => Ok(()),
        Err(e) => Err(format!("refusing {unknown} must name the file: {e}")),
        Ok(_) => Err(format!("{unknown} must be refused")),
    }
}

/// Rules selecting the suite's `app` schema.
pub fn app_rules() -> Result<TaskRules, String> {
    let task = dm_proto::config::TaskConfig::parse(
        "conformance.yaml",
        "name: conformance\ntask-mode: all\n\
         target-database: {host: \"127.0.0.1\", port: 4000, user: \"root\"}\n\
         mysql-instances:\n  - source-id: \"s1\"\n    block-allow-list: \"app\"\n\
         block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n",
    )
    .map_err(|e| e.to_string())?;
    TaskRules::for_source(&task, "s1").map_err(|e| e.to_string())
}
