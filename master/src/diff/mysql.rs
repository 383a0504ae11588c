//! The comparison against real servers: one connection per source and one
//! to the downstream, held for the whole diff; tables compared one after
//! another, chunk by chunk (see the [module docs](super) for the method).
//!
//! Every query is a prepared statement: chunk bounds are the downstream's
//! key values passed back as parameters, so any key type works and no value
//! is ever spliced into SQL text.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use dm_proto::config::{DbConfig, SourceConfig, TaskConfig};
use dm_rules::TaskRules;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use super::chunks::{self, Checksum, Chunk, TextRow};
use super::plan::{self, Member, Target};
use super::{DiffError, DiffLimits, DiffReport, TableError, TableReport};
use dm_proto::sql::qualified;

/// How long connecting to one server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A key's values, in key-column order.
type Key = Vec<Value>;

/// One server of the comparison.
struct Side {
    /// "upstream of source mysql1", "downstream": for messages.
    which: String,
    /// `user@host:port`.
    addr: String,
    conn: Conn,
}

impl Side {
    async fn connect(which: String, db: &DbConfig, block: &str) -> Result<Self, DiffError> {
        let addr = format!("{}@{}:{}", db.user, db.host, db.port);
        let failed = |reason: String| DiffError::Connect {
            which: which.clone(),
            addr: addr.clone(),
            reason,
        };
        let conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, crate::db_opts::connect(db, block)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(failed(e.to_string())),
                Err(_) => {
                    return Err(failed(format!(
                        "no answer within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )))
                }
            };
        Ok(Self { which, addr, conn })
    }

    /// A query error as a table's error.
    fn failed(&self, e: mysql_async::Error) -> TableError {
        TableError::Query {
            which: self.which.clone(),
            addr: self.addr.clone(),
            reason: e.to_string(),
        }
    }

    /// The base tables `rules` select.
    async fn selected_tables(
        &mut self,
        rules: &TaskRules,
    ) -> Result<Vec<(String, String)>, DiffError> {
        let rows: Vec<Row> = self
            .conn
            .query(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
                 WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
                 ORDER BY TABLE_SCHEMA, TABLE_NAME",
            )
            .await
            .map_err(|e| DiffError::Query {
                which: self.which.clone(),
                addr: self.addr.clone(),
                what: "the table list (information_schema.TABLES)",
                reason: e.to_string(),
            })?;
        Ok(rows
            .iter()
            .map(|r| (text(r, 0), text(r, 1)))
            .filter(|(schema, table)| rules.selects(schema, table))
            .collect())
    }

    /// The table's columns in table order and its primary key in key order;
    /// no columns when the table does not exist.
    async fn layout(
        &mut self,
        schema: &str,
        table: &str,
    ) -> Result<(Vec<String>, Vec<String>), TableError> {
        let columns: Vec<Row> = self
            .conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (schema, table),
            )
            .await
            .map_err(|e| self.failed(e))?;
        let key: Vec<Row> = self
            .conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
                 ORDER BY SEQ_IN_INDEX",
                (schema, table),
            )
            .await
            .map_err(|e| self.failed(e))?;
        Ok((
            columns.iter().map(|r| text(r, 0)).collect(),
            key.iter().map(|r| text(r, 0)).collect(),
        ))
    }

    /// The first key of every piece but the first when `chunk` is cut
    /// every `chunk_rows` of this side's keys.
    async fn boundaries(
        &mut self,
        table: &str,
        key: &[String],
        chunk_rows: u64,
        chunk: &Chunk<Key>,
    ) -> Result<Vec<Key>, TableError> {
        let mut boundaries: Vec<Key> = Vec::new();
        loop {
            let from = boundaries.last().or(chunk.lower.as_ref());
            let sql = chunks::next_boundary_sql(
                table,
                key,
                chunk_rows,
                (from.is_some(), chunk.upper.is_some()),
            );
            let mut params: Vec<Value> = from.cloned().unwrap_or_default();
            params.extend(chunk.upper.iter().flatten().cloned());
            let row: Option<Row> = self
                .conn
                .exec_first(sql, params)
                .await
                .map_err(|e| self.failed(e))?;
            match row {
                Some(r) => boundaries.push((0..key.len()).map(|i| cell(&r, i)).collect()),
                None => return Ok(boundaries),
            }
        }
    }

    async fn checksum(
        &mut self,
        table: &str,
        columns: &[String],
        key: &[String],
        chunk: &Chunk<Key>,
    ) -> Result<Checksum, TableError> {
        let sql = chunks::checksum_sql(table, columns, key, bounds(chunk));
        let row: Option<Row> = self
            .conn
            .exec_first(sql, chunk.params(Clone::clone))
            .await
            .map_err(|e| self.failed(e))?;
        let parsed = row.and_then(|r| {
            Some(Checksum {
                rows: number(&cell(&r, 0))?,
                sum: number(&cell(&r, 1))?,
            })
        });
        parsed.ok_or_else(|| TableError::NoChecksum {
            which: self.which.clone(),
            addr: self.addr.clone(),
        })
    }

    /// The chunk's rows as text (`key_at`: the key columns' positions).
    async fn rows(
        &mut self,
        table: &str,
        columns: &[String],
        key: &[String],
        key_at: &[usize],
        chunk: &Chunk<Key>,
    ) -> Result<Vec<TextRow>, TableError> {
        let sql = chunks::rows_sql(table, columns, key, bounds(chunk));
        let rows: Vec<Row> = self
            .conn
            .exec(sql, chunk.params(Clone::clone))
            .await
            .map_err(|e| self.failed(e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let shown: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(i, column)| format!("{column}={}", show(&cell(r, i))))
                    .collect();
                TextRow {
                    key: key_at
                        .iter()
                        .filter_map(|i| shown.get(*i).cloned())
                        .collect::<Vec<_>>()
                        .join(","),
                    image: shown.join(", "),
                }
            })
            .collect())
    }

    async fn close(self) {
        if let Err(e) = self.conn.disconnect().await {
            tracing::debug!(which = %self.which, error = %e, "closing a check-diff connection");
        }
    }
}

fn bounds<K>(chunk: &Chunk<K>) -> (bool, bool) {
    (chunk.lower.is_some(), chunk.upper.is_some())
}

/// Cell `i` (NULL when absent).
fn cell(row: &Row, i: usize) -> Value {
    row.as_ref(i).cloned().unwrap_or(Value::NULL)
}

/// Cell `i` as plain text.
fn text(row: &Row, i: usize) -> String {
    match cell(row, i) {
        Value::NULL => String::new(),
        Value::Bytes(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => show(&other),
    }
}

/// A value as the report shows it: numbers bare, text quoted, NULL.
fn show(value: &Value) -> String {
    match value {
        Value::NULL => "NULL".into(),
        Value::Int(v) => v.to_string(),
        Value::UInt(v) => v.to_string(),
        other => other.as_sql(true),
    }
}

/// An unsigned number, whichever protocol type carried it.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Int(v) => u64::try_from(*v).ok(),
        Value::UInt(v) => Some(*v),
        Value::Bytes(bytes) => std::str::from_utf8(bytes).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Compares `task`'s tables: connects to every source's upstream and to the
/// downstream, lists and routes the selected tables, compares each target.
pub async fn check_diff(
    task: &TaskConfig,
    sources: &BTreeMap<String, SourceConfig>,
    limits: DiffLimits,
) -> Result<DiffReport, DiffError> {
    let rules = plan::rules(task)?;
    let mut upstreams: BTreeMap<String, Side> = BTreeMap::new();
    let mut selected = BTreeMap::new();
    for source in &rules {
        let id = &source.source_id().to_string();
        let config = sources.get(id).ok_or_else(|| DiffError::Rules {
            source_id: id.clone(),
            reason: "the source does not exist".into(),
        })?;
        let mut side = Side::connect(
            format!("upstream of source {id}"),
            &config.from,
            crate::db_opts::FROM,
        )
        .await?;
        selected.insert(id.clone(), side.selected_tables(source).await?);
        upstreams.insert(id.clone(), side);
    }
    let mut downstream = Side::connect(
        "downstream".into(),
        &task.target_database,
        crate::db_opts::TARGET_DATABASE,
    )
    .await?;
    let mut targets = plan::targets(&rules, &selected)?;
    plan::filter_members(&mut targets, &plan::row_filters(task));

    let mut report = DiffReport::default();
    for target in &targets {
        let mut table = TableReport {
            target: qualified(&target.schema, &target.table),
            sources: target.members.iter().map(Member::label).collect(),
            filter: target.downstream_filter(),
            ..TableReport::default()
        };
        let compared = match &target.problem {
            Some(problem) => Err(TableError::Planned(problem.clone())),
            None => compare(target, &mut upstreams, &mut downstream, limits, &mut table).await,
        };
        if let Err(e) = compared {
            table.error = Some(e.to_string());
        }
        tracing::info!(task = %task.name, target = %table.target, rows = table.rows_compared,
            differing = table.rows_differing, error = ?table.error, "check-diff compared a table");
        report.tables.push(table);
    }
    for side in upstreams.into_values() {
        side.close().await;
    }
    downstream.close().await;
    Ok(report)
}

/// The side of `member`.
fn side_of<'a>(
    upstreams: &'a mut BTreeMap<String, Side>,
    member: &Member,
) -> Result<&'a mut Side, TableError> {
    upstreams
        .get_mut(&member.source)
        .ok_or_else(|| TableError::NoConnection(member.source.clone()))
}

/// Compares one target into `report`; an error stops this table only.
async fn compare(
    target: &Target,
    upstreams: &mut BTreeMap<String, Side>,
    downstream: &mut Side,
    limits: DiffLimits,
    report: &mut TableReport,
) -> Result<(), TableError> {
    let Some(first) = target.members.first() else {
        return Err(TableError::NoMember);
    };
    let (columns, key) = side_of(upstreams, first)?
        .layout(&first.schema, &first.table)
        .await?;
    if key.is_empty() {
        return Err(TableError::NoPrimaryKey(first.label()));
    }
    for member in &target.members[1..] {
        let (theirs, _) = side_of(upstreams, member)?
            .layout(&member.schema, &member.table)
            .await?;
        lacking(&columns, &theirs)
            .map(|columns| TableError::MemberLacks {
                member: member.label(),
                columns,
                first: first.label(),
            })
            .map_or(Ok(()), Err)?;
    }
    let (down_columns, _) = downstream.layout(&target.schema, &target.table).await?;
    if down_columns.is_empty() {
        return Err(TableError::MissingDownstream(report.target.clone()));
    }
    lacking(&columns, &down_columns)
        .map(TableError::DownstreamLacks)
        .map_or(Ok(()), Err)?;
    let key_at: Vec<usize> = key
        .iter()
        .filter_map(|k| columns.iter().position(|c| c == k))
        .collect();

    // Only the rows the filters select, on both sides.
    let down_from = plan::rows_from(&report.target, report.filter.as_deref());
    let whole = Chunk {
        lower: None,
        upper: None,
    };
    let boundaries = downstream
        .boundaries(&down_from, &key, limits.chunk_rows, &whole)
        .await?;
    // Chunks to compare, each with how many times it was cut already.
    let mut queue: VecDeque<(Chunk<Key>, usize)> = chunks::chunks_between(&boundaries)
        .into_iter()
        .map(|c| (c, 0))
        .collect();
    let sides = target.members.len() + 1;
    while let Some((chunk, cuts)) = queue.pop_front() {
        // Side 0 is the downstream, side i the member i - 1.
        let down = downstream
            .checksum(&down_from, &columns, &key, &chunk)
            .await?;
        let mut rows_per_side = vec![down.rows];
        let mut up = Checksum::default();
        for member in &target.members {
            let sum = side_of(upstreams, member)?
                .checksum(&member.rows_from(), &columns, &key, &chunk)
                .await?;
            rows_per_side.push(sum.rows);
            up = up.combine(sum);
        }
        if up == down {
            report.chunks_compared += 1;
            report.rows_compared += up.rows;
            continue;
        }
        let oversized = chunks::oversized_side(&rows_per_side, limits.chunk_rows);
        if let (Some(side), true) = (oversized, cuts < sides) {
            let inner = match side.checked_sub(1).and_then(|i| target.members.get(i)) {
                None => {
                    downstream
                        .boundaries(&down_from, &key, limits.chunk_rows, &chunk)
                        .await?
                }
                Some(member) => {
                    side_of(upstreams, member)?
                        .boundaries(&member.rows_from(), &key, limits.chunk_rows, &chunk)
                        .await?
                }
            };
            if !inner.is_empty() {
                for piece in chunks::chunks_within(&chunk, &inner).into_iter().rev() {
                    queue.push_front((piece, cuts + 1));
                }
                continue;
            }
        }
        report.chunks_compared += 1;
        report.chunks_differing += 1;
        let mut up_rows = Vec::new();
        for member in &target.members {
            up_rows.extend(
                side_of(upstreams, member)?
                    .rows(&member.rows_from(), &columns, &key, &key_at, &chunk)
                    .await?,
            );
        }
        let down_rows = downstream
            .rows(&down_from, &columns, &key, &key_at, &chunk)
            .await?;
        let (compared, differences) = chunks::diff_rows(up_rows, down_rows);
        report.rows_compared += compared;
        report.rows_differing += differences.len() as u64;
        let room = (limits.max_rows_reported as usize).saturating_sub(report.differences.len());
        report
            .differences
            .extend(differences.into_iter().take(room));
    }
    Ok(())
}

/// The `wanted` columns `have` lacks, listed; `None` when it has them all.
fn lacking(wanted: &[String], have: &[String]) -> Option<String> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|c| !have.iter().any(|h| h.eq_ignore_ascii_case(c)))
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}
