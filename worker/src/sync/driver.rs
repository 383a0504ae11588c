//! The reader's loop: one binlog event at a time, each handed to the one
//! module that deals with it.
//!
//! ```text
//! start            claim, checkpoints, resume plan, lanes   (start)
//! loop:
//!   next event  |  a lane stopped  |  the leader's shard-DDL operation
//!   progress.read
//!   window.reread          re-read held rows of a sharding group (window)
//!   Rows    -> schemas.decode -> rows::admit -> transaction.add
//!                                                   (schemas, rows, transaction)
//!   Commit  -> transaction.commit -> lanes          (transaction, dispatch)
//!   Query   -> a binlog operation at its start? (binlog_ops)
//!           -> schemas.follow -> statement::apply; maybe re-read
//!                                                   (schemas, statement, window)
//!   Heartbeat -> progress.heartbeat
//! ```

use std::sync::Arc;

use tokio::task::JoinSet;

use super::binlog_ops::{self, Kind, Starts};
use super::progress::Progress;
use super::rows::RowEvent;
use super::schemas::Schemas;
use super::start::{start, Started};
use super::statement::{self, Running};
use super::status::ErrorAt;
use super::targets::Targets;
use super::transaction::Transaction;
use super::window::Step;
use super::{rows, shard, stop, upstream_end, Stop, SyncError, SyncJob, SyncOutcome};
use crate::downstream::Commit;
use crate::upstream::{Event, Located};

/// Runs the sync until fenced (`Ok`, or `Err(Ok(..))` from deep inside)
/// or an error.
pub async fn drive(job: Arc<SyncJob>, progress: Progress) -> Result<SyncOutcome, Stop> {
    let Started {
        mut lanes,
        from,
        replay_until,
        mut window,
        mut schemas,
    } = start(&job, &progress).await?;
    // Aborted when the run ends (the set is dropped).
    let mut background = JoinSet::new();
    background.spawn(upstream_end::follow(job.upstream.clone(), progress.clone()));
    let mut reader = job
        .upstream
        .open(job.server_id, &from)
        .await
        .map_err(stop)?;
    let mut targets = Targets::default();
    let mut txn = Transaction::default();
    let mut ops = job.shard_ops.clone();
    shard::passed(&ops, &progress);
    let mut starts = Starts::new(&from);
    let replaying = |end: &super::Position| {
        replay_until
            .as_ref()
            .is_some_and(|until| end.at_or_before(until))
    };
    loop {
        let next = tokio::select! {
            next = reader.next() => next.map_err(stop)?,
            failed = lanes.failure() => return Err(failed),
            Ok(()) = ops.changed() => {
                shard::passed(&ops, &progress);
                continue;
            }
        };
        let Some(located) = next else {
            return Err(Err(SyncError::Closed));
        };
        progress.read(&located.end, located.timestamp);
        let start = starts.read(&located.end);
        if let Event::Gtid(gtid) = &located.event {
            starts.gtid.clone_from(gtid);
        }
        passed_ops(&job, &progress, &start, &starts.gtid);
        if window
            .reread(&job, &progress, &mut targets, &mut schemas, &located)
            .await?
            == Step::Consumed
        {
            continue;
        }
        let Located {
            event,
            end,
            timestamp,
        } = located;
        match event {
            Event::Rows {
                schema,
                table,
                columns,
                mut rows,
            } => {
                if window.holds(&schema, &table, &end) {
                    // Held: its table reached a shard DDL; re-read later.
                    continue;
                }
                let row_error = |e: SyncError| {
                    progress.error_at(ErrorAt {
                        start: start.clone(),
                        end: end.clone(),
                        statement: false,
                    });
                    stop(e)
                };
                let columns = schemas
                    .decode(&job, &schema, &table, &columns, &mut rows)
                    .map_err(row_error)?;
                let safe = job.always_safe || replaying(&end);
                let event = RowEvent {
                    schema: &schema,
                    table: &table,
                    columns: &columns,
                    rows,
                    safe,
                    end: &end,
                };
                let changes = rows::admit(&job, &mut targets, event)
                    .await
                    .map_err(row_error)?;
                txn.add(&mut lanes, changes).await?;
            }
            Event::Commit => {
                txn.commit(&mut lanes, &end, timestamp).await?;
            }
            Event::Query { schema, sql } => {
                let op = {
                    let held = job.binlog_ops.borrow();
                    binlog_ops::matching(&held, &progress.binlog_ops_done(), &start, &starts.gtid)
                        .cloned()
                };
                let replay = replaying(&end);
                let event = Statement {
                    schema: &schema,
                    sql: &sql,
                    end: &end,
                    timestamp,
                    replay,
                };
                let mut running = Running {
                    lanes: &mut lanes,
                    ops: &mut ops,
                    progress: &progress,
                    window: &mut window.group,
                };
                let applied = match op {
                    None => statement(&job, &mut schemas, &mut running, &event).await,
                    Some(op) => {
                        tracing::info!(task = %job.task, source = %job.source, op = %op.describe(), %sql, "binlog operation meets its event");
                        with_op(&job, &mut schemas, &mut running, &event, op.id, &op.kind)
                            .await
                            .map(|()| progress.binlog_op_done(op.id))
                    }
                };
                if let Err(Err(_)) = &applied {
                    progress.error_at(ErrorAt {
                        start: start.clone(),
                        end: end.clone(),
                        statement: true,
                    });
                }
                applied?;
                targets.clear();
                if let Some(first) = window.reread_from(&job, &end) {
                    drop(reader);
                    reader = job
                        .upstream
                        .open(job.server_id, &first)
                        .await
                        .map_err(stop)?;
                }
            }
            Event::Heartbeat => progress.heartbeat(),
            Event::Gtid(_) | Event::Other => {}
        }
    }
}

/// A statement of the binlog.
struct Statement<'a> {
    schema: &'a str,
    sql: &'a str,
    end: &'a super::Position,
    timestamp: u32,
    replay: bool,
}

/// Applies a statement of the binlog as it is.
async fn statement(
    job: &SyncJob,
    schemas: &mut Schemas,
    running: &mut Running<'_>,
    event: &Statement<'_>,
) -> Result<(), Stop> {
    // The definitions move on first: a statement the tracker cannot
    // follow pauses before anything runs downstream.
    schemas
        .follow(job, event.schema, event.sql, event.end)
        .await?;
    statement::apply(
        job,
        running.again(),
        event.schema,
        event.sql,
        event.end,
        event.timestamp,
        event.replay,
    )
    .await
}

/// Applies a statement of the binlog with the `binlog` operation held for
/// it (see [`binlog_ops`]).
async fn with_op(
    job: &SyncJob,
    schemas: &mut Schemas,
    running: &mut Running<'_>,
    event: &Statement<'_>,
    id: u64,
    kind: &Kind,
) -> Result<(), Stop> {
    match kind {
        Kind::Skip | Kind::Replace(_) if job.sharded => {
            // Through the event's shard-DDL lock: see `statement::Instead`.
            let instead = match kind {
                Kind::Replace(sqls) => {
                    // Every source's tracker follows the statement the lock
                    // is about (the upstream tables changed so); one the
                    // tracker cannot read is followed by its replacement.
                    match schemas
                        .follow(job, event.schema, event.sql, event.end)
                        .await
                    {
                        Ok(()) => {}
                        Err(Ok(fenced)) => return Err(Ok(fenced)),
                        Err(Err(_)) => {
                            for sql in sqls {
                                schemas.follow(job, event.schema, sql, event.end).await?;
                            }
                        }
                    }
                    statement::Instead::Statements(sqls)
                }
                _ => {
                    follow_skipped(job, schemas, event).await?;
                    statement::Instead::Nothing
                }
            };
            statement::apply_instead(
                job,
                running.again(),
                event.schema,
                event.sql,
                event.end,
                event.timestamp,
                event.replay,
                instead,
            )
            .await
        }
        Kind::Skip => {
            follow_skipped(job, schemas, event).await?;
            statement::skip(running.again(), event.end, event.timestamp).await
        }
        Kind::Replace(sqls) | Kind::Inject(sqls) => {
            statements_once(job, schemas, running, event, id, sqls).await?;
            if matches!(kind, Kind::Replace(_)) {
                // The statements stood for the event: the checkpoints
                // move past it.
                statement::skip(running.again(), event.end, event.timestamp).await
            } else {
                statement(job, schemas, running, event).await
            }
        }
    }
}

/// Runs the statements of the `binlog` operation `id` that its mark in
/// the downstream does not show run, marking each (fenced) as it goes; the
/// tracker follows every one of them.
async fn statements_once(
    job: &SyncJob,
    schemas: &mut Schemas,
    running: &mut Running<'_>,
    event: &Statement<'_>,
    id: u64,
    sqls: &[String],
) -> Result<(), Stop> {
    let done = job
        .downstream
        .binlog_op_done(&job.meta, &job.source, id)
        .await
        .map_err(stop)?;
    for (i, sql) in sqls.iter().enumerate() {
        schemas.follow(job, event.schema, sql, event.end).await?;
        let count = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if count <= done {
            tracing::info!(task = %job.task, source = %job.source, id, %sql, "statement of a binlog operation already ran");
            continue;
        }
        statement::apply_first(
            job,
            running.again(),
            event.schema,
            sql,
            event.end,
            event.replay,
        )
        .await?;
        if let Commit::Fenced { by_epoch } = job
            .downstream
            .save_binlog_op_done(&job.meta, &job.source, job.epoch, id, count)
            .await
            .map_err(stop)?
        {
            return Err(Ok(SyncOutcome::Fenced { by_epoch }));
        }
    }
    Ok(())
}

/// The tracker follows a skipped statement: the upstream table changed
/// all the same; one it cannot read is left behind (logged).
async fn follow_skipped(
    job: &SyncJob,
    schemas: &mut Schemas,
    event: &Statement<'_>,
) -> Result<(), Stop> {
    match schemas
        .follow(job, event.schema, event.sql, event.end)
        .await
    {
        Ok(()) => Ok(()),
        Err(Ok(fenced)) => Err(Ok(fenced)),
        Err(Err(e)) => {
            tracing::warn!(task = %job.task, source = %job.source, sql = %event.sql, error = %e,
                "a skipped statement the schema tracker cannot follow");
            Ok(())
        }
    }
}

/// The `binlog` operations whose position the stream passed without an
/// event starting there: done, with a warning.
fn passed_ops(job: &SyncJob, progress: &Progress, start: &super::Position, gtid: &str) {
    let held = job.binlog_ops.borrow();
    if held.is_empty() {
        return;
    }
    let done = progress.binlog_ops_done();
    for op in binlog_ops::passed(&held, &done, start, gtid) {
        let warning = format!(
            "{} was not applied: no event of this subtask starts at its position (the stream passed it at ({}, {}))",
            op.describe(),
            start.binlog_name,
            start.binlog_pos
        );
        tracing::warn!(task = %job.task, source = %job.source, %warning);
        progress.warn(warning);
        progress.binlog_op_done(op.id);
    }
}
