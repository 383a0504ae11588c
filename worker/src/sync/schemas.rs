//! The reader's schema tracker ([`crate::schema`]): every row event is
//! decoded against the definition its table had where the event was
//! written, and every DDL moves the definitions on, in binlog order.
//!
//! ## Where the definitions come from
//!
//! - A full copy reads them inside its snapshot and stores them at the
//!   snapshot's position (`copy`), so they match the data it copied.
//! - A run that finds no stored state (an incremental task's first start,
//!   or a copy made by a version without the tracker) reads the
//!   upstream's definitions as they are now and says so in
//!   `query-status`: DDL between the start position and now would make
//!   them wrong (a mismatch with the row events then pauses the subtask,
//!   and `binlog-schema update` repairs the definition).
//!
//! ## Stored with the checkpoints
//!
//! After a DDL that changes a tracked table, the new state is written to
//! the downstream (`<task>_schema`, fenced by the run's epoch) at the
//! position after the DDL, before any lane's checkpoint passes it. A run
//! that resumes at `from` (the earliest lane checkpoint) takes the latest
//! state stored at or before `from`: exactly the definitions the events
//! after `from` were written with, whichever worker wrote them. A DDL is a
//! barrier, so the lanes' checkpoints are never more than one DDL apart
//! and the two latest states are all a resume can need; a start keeps
//! only the one it resumes with (the DDLs after it are read again and
//! store their states again).
//!
//! ## Decoding a row event
//!
//! The tracked definition gives each column its name, signedness,
//! character set and whether it is part of the primary key (the lanes and
//! WHERE clauses need the keys). Without the signedness a row event's
//! unsigned integers decode as negative numbers; they are brought back to
//! their unsigned values by the column's width. When the event does carry
//! its table's metadata (`binlog_row_metadata=FULL`), width, names and
//! types are checked against the definition, and so are width and types
//! without it: a difference pauses the subtask, naming the column, rather
//! than write a value into the wrong column.

use std::collections::HashMap;
use std::sync::Arc;

use super::progress::Progress;
use super::{stop, Stop, SyncError, SyncJob, SyncOutcome};
use crate::downstream::{Commit, StoredSchema};
use crate::position::Position;
use crate::schema::{Applied, SchemaTracker, Subject, TableDef};
use crate::upstream::{Column, ColumnType, RowChange, Value};

/// States a DDL keeps stored: its own and the one before it, and any
/// others stored at its event (several statements of one `binlog
/// replace`, or a statement followed again after a pause), so a run that
/// replays the event starts from the state before it.
const KEEP_STATES: usize = 2;

/// The tracked definitions of one run.
#[derive(Debug)]
pub struct Schemas {
    tracker: SchemaTracker,
    /// The highest `binlog-schema` operation applied.
    applied_op: u64,
    /// Each table's decoding by schema and table, made once per version
    /// of its definition (looked up without allocating: row events are
    /// many).
    decoded: HashMap<String, HashMap<String, Decoding>>,
    /// Whether the last row event read named its columns (`None`: none
    /// read yet in this run).
    names_logged: Option<bool>,
}

/// How one version of a table's definition decodes its row events.
#[derive(Debug)]
struct Decoding {
    version: u64,
    /// Whether the events this was made for carried column names.
    named: bool,
    columns: Arc<[Column]>,
    /// Unsigned integer columns the events did not say were unsigned, with
    /// their width in bits.
    unsigned: Vec<(usize, u32)>,
}

impl Schemas {
    /// The definitions a run resuming at `from` decodes with (see the
    /// module docs); `Err(Ok(fenced))` when a newer owner holds the source.
    pub async fn load(job: &SyncJob, from: &Position, progress: &Progress) -> Result<Self, Stop> {
        let states = job
            .downstream
            .schema_states(&job.meta, &job.source)
            .await
            .map_err(stop)?;
        let in_effect = states
            .iter()
            .rev()
            .find(|s| s.position.at_or_before(from))
            // A copy's snapshots at different positions: the plan's may be
            // after the earliest chunk's.
            .or_else(|| states.first());
        let (mut schemas, at, mut changed) = match in_effect {
            Some(stored) => {
                let tracker = SchemaTracker::from_text(&stored.state)
                    .map_err(|e| stop(SyncError::Schema(e.to_string())))?;
                let schemas = Self::new(tracker, stored.applied_op);
                (schemas, stored.position.clone(), states.len() != 1)
            }
            None => {
                let seed = job.upstream.schema_seed(&job.rules).await.map_err(stop)?;
                let (tracker, left_out) = SchemaTracker::from_seed(&seed);
                for why in left_out {
                    let warning = format!("the schema tracker does not follow {why}");
                    tracing::warn!(task = %job.task, source = %job.source, "{warning}");
                    progress.warn(warning);
                }
                let warning = format!(
                    "the table definitions were read from the upstream at start, not at the start position {from}: a DDL run upstream between the two makes them wrong (fix one with `binlog-schema update`)"
                );
                tracing::warn!(task = %job.task, source = %job.source, "{warning}");
                progress.warn(warning);
                (Self::new(tracker, 0), from.clone(), true)
            }
        };
        changed |= schemas.apply_ops(job)?;
        if changed {
            schemas.store(job, &at, 1).await?;
        }
        // Also after a restart that had stored them: the leader then stops
        // sending them.
        progress.schema_ops_applied(schemas.applied_op);
        Ok(schemas)
    }

    /// Applies the `binlog-schema` operations not applied yet (their ids
    /// are above the stored one), in order; whether there were any. A
    /// definition that cannot be read pauses the subtask, naming it.
    fn apply_ops(&mut self, job: &SyncJob) -> Result<bool, Stop> {
        let mut any = false;
        let stored = self.applied_op;
        for op in job.schema_ops.iter().filter(|op| op.id > stored) {
            match &op.create {
                Some(create) => {
                    self.tracker
                        .replace(&op.schema, &op.table, create)
                        .map_err(|e| {
                            stop(SyncError::Schema(format!(
                                "binlog-schema update of `{}`.`{}` (operation {}): {e}",
                                op.schema, op.table, op.id
                            )))
                        })?;
                }
                None => {
                    self.tracker.forget(&op.schema, &op.table);
                }
            }
            tracing::info!(task = %job.task, source = %job.source, op = op.id,
                table = %format!("`{}`.`{}`", op.schema, op.table),
                deleted = op.create.is_none(), "binlog-schema operation applied");
            self.applied_op = op.id;
            any = true;
        }
        Ok(any)
    }

    fn new(tracker: SchemaTracker, applied_op: u64) -> Self {
        Self {
            tracker,
            applied_op,
            decoded: HashMap::new(),
            names_logged: None,
        }
    }

    /// Stores the state a statement ending at `end` left, keeping the
    /// states stored at or after `end` and the one before (see
    /// [`KEEP_STATES`]).
    async fn store_at_event(&self, job: &SyncJob, end: &Position) -> Result<(), Stop> {
        let stored = job
            .downstream
            .schema_states(&job.meta, &job.source)
            .await
            .map_err(stop)?;
        let at_event = stored
            .iter()
            .filter(|s| !s.position.binlog_cmp(end).is_lt())
            .count();
        self.store(job, end, KEEP_STATES + at_event).await
    }

    /// Stores the state at `at`, keeping the `keep` latest.
    async fn store(&self, job: &SyncJob, at: &Position, keep: usize) -> Result<(), Stop> {
        let state = StoredSchema {
            seq: 0,
            position: at.clone(),
            applied_op: self.applied_op,
            state: self.tracker.to_text(),
        };
        match job
            .downstream
            .save_schema_state(&job.meta, &job.source, job.epoch, &state, keep)
            .await
            .map_err(stop)?
        {
            Commit::Committed => Ok(()),
            Commit::Fenced { by_epoch } => Err(Ok(SyncOutcome::Fenced { by_epoch })),
        }
    }

    /// Follows the statement `sql` (default schema `schema`) that ends at
    /// `end`, storing the new state when it changed a tracked table.
    pub async fn follow(
        &mut self,
        job: &SyncJob,
        schema: &str,
        sql: &str,
        end: &Position,
    ) -> Result<(), Stop> {
        let selects = |s: &str, t: &str| {
            if t.is_empty() {
                job.rules.selects_schema(s)
            } else {
                job.rules.selects(s, t)
            }
        };
        match self.tracker.apply_selected(schema, sql, &selects) {
            Ok(Applied::Unchanged) => Ok(()),
            Ok(Applied::Changed(_)) => {
                self.decoded.clear();
                self.store_at_event(job, end).await
            }
            Err(e) => match e.subject() {
                // The binlog names its columns: rows of the table decode
                // by their names, so it is no longer tracked rather than
                // stopping the sync (should the names go, its rows pause).
                Some(Subject::Table((s, t))) if self.names_logged == Some(true) => {
                    tracing::warn!(task = %job.task, source = %job.source, error = %e,
                        "the schema tracker stops following `{s}`.`{t}`; its row events are decoded by the column names they carry");
                    self.tracker.forget(s, t);
                    self.decoded.clear();
                    self.store_at_event(job, end).await
                }
                _ => Err(stop(SyncError::Schema(format!(
                    "{e}; set the table's definition after this statement with `binlog-schema update` (or skip the statement), then resume-task"
                )))),
            },
        }
    }

    /// The columns of a row event of `schema`.`table` as the binlog gave
    /// them (`logged`), decoded against the tracked definition; the rows'
    /// unsigned values are brought back. Tables the task does not read
    /// are left as they are (the rules drop their rows).
    pub fn decode(
        &mut self,
        job: &SyncJob,
        schema: &str,
        table: &str,
        logged: &Arc<[Column]>,
        rows: &mut [RowChange],
    ) -> Result<Arc<[Column]>, SyncError> {
        if !job.rules.selects(schema, table) {
            return Ok(logged.clone());
        }
        let named = logged.iter().all(|c| !is_unnamed(c));
        self.names_logged = Some(named);
        let Some(def) = self.tracker.table(schema, table) else {
            if named {
                // The event names its columns: decoded as logged.
                return Ok(logged.clone());
            }
            return Err(SyncError::Schema(format!(
                "a row event of `{schema}`.`{table}` carries no column names and the schema tracker has no definition of the table; set it with `binlog-schema update` (or set binlog_row_metadata=FULL upstream), then resume-task"
            )));
        };
        let fresh = self
            .decoded
            .get(schema)
            .and_then(|tables| tables.get(table))
            .is_none_or(|d| d.version != def.version || d.named != named);
        if fresh {
            let decoding = decoding(def, logged, named)?;
            self.decoded
                .entry(schema.to_string())
                .or_default()
                .insert(table.to_string(), decoding);
        }
        let Some(decoding) = self
            .decoded
            .get(schema)
            .and_then(|tables| tables.get(table))
        else {
            return Ok(logged.clone());
        };
        if !decoding.unsigned.is_empty() {
            for change in rows.iter_mut() {
                for image in [change.before.as_mut(), change.after.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    for &(at, bits) in &decoding.unsigned {
                        if let Some(value) = image.get_mut(at) {
                            unsign(value, bits);
                        }
                    }
                }
            }
        }
        Ok(decoding.columns.clone())
    }
}

/// A column the binlog did not name (`@N`).
fn is_unnamed(column: &Column) -> bool {
    column.name.starts_with('@')
}

/// How `def` decodes events whose columns are `logged`; a mismatch names
/// the column.
fn decoding(def: &TableDef, logged: &[Column], named: bool) -> Result<Decoding, SyncError> {
    let table = format!("`{}`.`{}`", def.schema, def.name);
    let mismatch = |what: String| {
        SyncError::Schema(format!(
            "a row event of {table} does not match the table's tracked definition (version {}): {what}; correct the definition with `binlog-schema update`, then resume-task",
            def.version
        ))
    };
    if def.columns.len() != logged.len() {
        return Err(mismatch(format!(
            "the event has {} columns, the definition {}",
            logged.len(),
            def.columns.len()
        )));
    }
    let mut columns = def.row_columns();
    let mut unsigned = Vec::new();
    for (at, (column, event)) in columns.iter_mut().zip(logged).enumerate() {
        if named && !column.name.eq_ignore_ascii_case(&event.name) {
            return Err(mismatch(format!(
                "column {} is `{}` in the binlog and `{}` in the definition",
                at + 1,
                event.name,
                column.name
            )));
        }
        if column.kind != event.kind {
            return Err(mismatch(format!(
                "column {} `{}` is {:?} in the binlog and {:?} in the definition",
                at + 1,
                column.name,
                event.kind,
                column.kind
            )));
        }
        if event.charset.is_some() {
            column.charset.clone_from(&event.charset);
        }
        if column.unsigned && !event.unsigned && column.kind == ColumnType::Integer {
            let bits = def
                .columns
                .get(at)
                .map_or(64, |c| integer_bits(&c.type_name));
            unsigned.push((at, bits));
        }
    }
    Ok(Decoding {
        version: def.version,
        named,
        columns: columns.into(),
        unsigned,
    })
}

/// The width of an integer type (`tinyint` 8 ... `bigint` 64).
fn integer_bits(type_name: &str) -> u32 {
    match type_name.split(['(', ' ']).next().unwrap_or_default() {
        "tinyint" => 8,
        "smallint" => 16,
        "mediumint" => 24,
        "int" => 32,
        _ => 64,
    }
}

/// An unsigned column's value that decoded as signed, as the server
/// stored it (a value that fits a signed 64-bit integer stays `Int`, as
/// the decoder gives it with the signedness known).
fn unsign(value: &mut Value, bits: u32) {
    if let Value::Int(v) = *value {
        if v < 0 {
            *value = if bits >= 64 {
                Value::UInt(v as u64)
            } else {
                Value::Int(v + (1i64 << bits))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_values_come_back_by_width() {
        let cases = [
            (Value::Int(-1), 8, Value::Int(255)),
            (Value::Int(-128), 8, Value::Int(128)),
            (Value::Int(-1), 16, Value::Int(65535)),
            (Value::Int(-1), 24, Value::Int(16_777_215)),
            (Value::Int(-1), 32, Value::Int(4_294_967_295)),
            (Value::Int(-1), 64, Value::UInt(u64::MAX)),
            (Value::Int(5), 8, Value::Int(5)),
            (Value::Null, 8, Value::Null),
        ];
        for (mut value, bits, expected) in cases {
            unsign(&mut value, bits);
            assert_eq!(value, expected);
        }
        assert_eq!(integer_bits("mediumint"), 24);
        assert_eq!(integer_bits("bigint"), 64);
    }
}
