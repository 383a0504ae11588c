//! A statement of the binlog as the reader hands it on: as it is, or with
//! the `binlog` operation held for it (see [`super::binlog_ops`]), and the
//! operations the stream passed without meeting their event.

use super::binlog_ops::{self, Kind};
use super::progress::Progress;
use super::schemas::Schemas;
use super::statement::{self, Running};
use super::{stop, Stop, SyncJob, SyncOutcome};
use crate::downstream::Commit;
use crate::position::Position;

/// A statement of the binlog.
pub(super) struct Statement<'a> {
    pub schema: &'a str,
    pub sql: &'a str,
    pub end: &'a Position,
    pub timestamp: u32,
    pub replay: bool,
}

/// Applies a statement of the binlog as it is.
pub(super) async fn statement(
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
pub(super) async fn with_op(
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
pub(super) fn passed_ops(job: &SyncJob, progress: &Progress, start: &Position, gtid: &str) {
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
