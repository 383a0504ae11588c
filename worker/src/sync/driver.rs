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

use super::binlog_ops::{self, Starts};
use super::operated::{passed_ops, statement, with_op, Statement};
use super::progress::Progress;
use super::rows::RowEvent;
use super::start::{start, Started};
use super::statement::Running;
use super::status::ErrorAt;
use super::targets::Targets;
use super::transaction::Transaction;
use super::window::Step;
use super::{rows, shard, stop, upstream_end, Stop, SyncError, SyncJob, SyncOutcome};
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
