//! A statement in the binlog (a DDL): a barrier, then applied directly
//! ([`super::ddl`]) or, in a sharded merge, through the shard-DDL protocol
//! ([`super::shard`], with the sharding group's window, [`super::resync`]),
//! then every lane's checkpoint moves past it.
//!
//! If the worker dies between the DDL and the checkpoints, the DDL is read
//! and applied again on resume: see `ddl::execute` for how a replay is told
//! from a real failure.

use super::ddl;
use super::dispatch::Lanes;
use super::progress::Progress;
use super::resync;
use super::shard;
use super::shard_group::GroupWindow;
use super::{stop, Stop, SyncError, SyncJob, SyncOutcome};
use crate::downstream::{Commit, Position};

/// What the statement needs of the running sync.
pub struct Running<'a> {
    pub lanes: &'a mut Lanes,
    pub ops: &'a mut shard::Ops,
    pub progress: &'a Progress,
    pub window: &'a mut Option<GroupWindow>,
}

impl Running<'_> {
    /// The same running sync, for one more call.
    pub fn again(&mut self) -> Running<'_> {
        Running {
            lanes: self.lanes,
            ops: self.ops,
            progress: self.progress,
            window: self.window,
        }
    }
}

/// Applies the statement `sql` (default schema `schema`) that ends at
/// `end`, written at `timestamp`; `replaying`: it may already be applied
/// (see `ddl::execute`).
pub async fn apply(
    job: &SyncJob,
    running: Running<'_>,
    schema: &str,
    sql: &str,
    end: &Position,
    timestamp: u32,
    replaying: bool,
) -> Result<(), Stop> {
    run(
        job, running, schema, sql, end, timestamp, replaying, true, None,
    )
    .await
}

/// What a `binlog` operation puts in place of running a statement
/// downstream, in a sharded merge: the statement still goes through its
/// shard-DDL lock as read from the binlog (the other sources coordinate on
/// it), and where it would run (the lock's owner, or a DDL that needs no
/// lock) this runs instead.
#[derive(Debug, Clone, Copy)]
pub enum Instead<'a> {
    /// `binlog skip`: nothing runs; the lock counts the DDL done.
    Nothing,
    /// `binlog replace`: these statements run, routed by the task's rules.
    Statements(&'a [String]),
}

/// Applies `sql` as [`apply`] does, with `instead` in place of running it.
#[allow(clippy::too_many_arguments)]
pub async fn apply_instead(
    job: &SyncJob,
    running: Running<'_>,
    schema: &str,
    sql: &str,
    end: &Position,
    timestamp: u32,
    replaying: bool,
    instead: Instead<'_>,
) -> Result<(), Stop> {
    run(
        job,
        running,
        schema,
        sql,
        end,
        timestamp,
        replaying,
        true,
        Some(instead),
    )
    .await
}

/// Applies `sql` as [`apply`] does, leaving the checkpoints where they
/// are: one of several statements that stand for one binlog event
/// (`binlog replace` / `inject`); the last one moves them.
pub async fn apply_first(
    job: &SyncJob,
    running: Running<'_>,
    schema: &str,
    sql: &str,
    end: &Position,
    replaying: bool,
) -> Result<(), Stop> {
    run(job, running, schema, sql, end, 0, replaying, false, None).await
}

/// `binlog skip` of the statement that ends at `end`: nothing runs
/// downstream; the checkpoints move past it.
pub async fn skip(running: Running<'_>, end: &Position, timestamp: u32) -> Result<(), Stop> {
    running.lanes.barrier().await?;
    running.lanes.boundary(end, timestamp).await?;
    running.lanes.barrier().await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    job: &SyncJob,
    mut running: Running<'_>,
    schema: &str,
    sql: &str,
    end: &Position,
    timestamp: u32,
    replaying: bool,
    checkpoint: bool,
    instead: Option<Instead<'_>>,
) -> Result<(), Stop> {
    // Everything before it is applied first.
    running.lanes.barrier().await?;
    if job.sharded {
        if let Some(outcome) = sharded_ddl(
            job,
            &mut running,
            schema,
            sql,
            end.clone(),
            replaying,
            instead,
        )
        .await?
        {
            return Err(Ok(outcome));
        }
    } else {
        match instead {
            None => ddl::apply(job, schema, sql, replaying)
                .await
                .map_err(stop)?,
            Some(Instead::Nothing) => {}
            Some(Instead::Statements(sqls)) => {
                for sql in sqls {
                    ddl::apply(job, schema, sql, replaying)
                        .await
                        .map_err(stop)?;
                }
            }
        }
    }
    if !checkpoint {
        return Ok(());
    }
    // Every lane's checkpoint moves past it.
    running.lanes.boundary(end, timestamp).await?;
    running.lanes.barrier().await?;
    if job.sharded {
        // The source executed or skipped the DDL it reported.
        running.progress.shard_ddl_done();
    }
    Ok(())
}

/// A DDL of a sharded merge (see [`super::shard`]): applied, skipped, or
/// coordinated through its lock, waiting until the leader says whether to
/// execute or skip it. The caller moves the checkpoints past it.
async fn sharded_ddl(
    job: &SyncJob,
    ctx: &mut Running<'_>,
    schema: &str,
    sql: &str,
    at: Position,
    replaying: bool,
    instead: Option<Instead<'_>>,
) -> Result<Option<SyncOutcome>, Stop> {
    let refused = |error: ddl::DdlError| {
        stop(SyncError::Ddl {
            sql: sql.to_string(),
            error: error.to_string(),
        })
    };
    // The routed statements of a replacement.
    let routed = |sqls: &[String]| -> Result<Vec<String>, Stop> {
        let mut out = Vec::new();
        for sql in sqls {
            let plan = ddl::plan(&job.rules, schema, sql).map_err(|error| {
                stop(SyncError::Ddl {
                    sql: sql.clone(),
                    error: error.to_string(),
                })
            })?;
            out.extend(plan.statements());
        }
        Ok(out)
    };
    let plan = ddl::plan(&job.rules, schema, sql).map_err(refused)?;
    let ddl = match shard::classify(plan).map_err(refused)? {
        shard::Sharded::Skip(why) => {
            tracing::debug!(task = %job.task, source = %job.source, %sql, why, "DDL skipped");
            return Ok(None);
        }
        shard::Sharded::Direct(statements) => {
            let statements = match instead {
                None => statements,
                Some(Instead::Nothing) => Vec::new(),
                Some(Instead::Statements(sqls)) => routed(sqls)?,
            };
            ddl::execute(job, &statements, replaying)
                .await
                .map_err(stop)?;
            return Ok(None);
        }
        shard::Sharded::Coordinate {
            schema,
            table,
            ddls,
            upstream,
        } => {
            let target = (schema, table);
            let step = resync::arrive(job, ctx.progress, ctx.window, upstream, &target, &ddls, &at)
                .await
                .map_err(stop)?;
            match step {
                Err(by_epoch) => return Ok(Some(SyncOutcome::Fenced { by_epoch })),
                // Other shard tables of this source have not reached it.
                Ok(resync::GroupStep::Waiting) => return Ok(None),
                Ok(resync::GroupStep::Single | resync::GroupStep::AllArrived) => {}
            }
            let (schema, table) = target;
            shard::ShardDdl {
                schema,
                table,
                ddls,
                at,
            }
        }
    };
    shard::arrived(ctx.progress, &job.task, &ddl);
    let op = tokio::select! {
        op = shard::wait_op(ctx.ops, &ddl.at) => op.map_err(stop)?,
        failed = ctx.lanes.failure() => return Err(failed),
    };
    if op.execute && matches!(instead, Some(Instead::Nothing)) {
        tracing::info!(task = %job.task, source = %job.source, lock = %op.lock_id, "shard DDL not run: binlog skip at the owner");
    } else if op.execute {
        let replaced;
        let run = match instead {
            Some(Instead::Statements(sqls)) => {
                replaced = shard::ShardDdl {
                    ddls: routed(sqls)?,
                    ..ddl.clone()
                };
                &replaced
            }
            _ => &ddl,
        };
        let outcome = shard::execute_once(job, run, &op.lock_id, replaying)
            .await
            .map_err(stop)?;
        if let Commit::Fenced { by_epoch } = outcome {
            return Ok(Some(SyncOutcome::Fenced { by_epoch }));
        }
    } else {
        tracing::info!(task = %job.task, source = %job.source, lock = %op.lock_id, "shard DDL skipped: the owner executed it");
    }
    if let Some(w) = ctx.window.as_mut() {
        // Recorded before the checkpoints pass the DDL: a successor then
        // knows to re-read the held rows.
        w.resolved(&ddl.at);
        if let Some(by_epoch) = resync::save(job, Some(w)).await.map_err(stop)? {
            return Ok(Some(SyncOutcome::Fenced { by_epoch }));
        }
    }
    Ok(None)
}
