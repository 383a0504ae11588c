//! The driver's side of a sharding group's window within the source (the
//! state is [`super::shard_group`], its IO [`super::resync`]).
//!
//! While the group waits at its DDL, the rows of tables that already
//! reached it are *held*: skipped by the reader. Once the DDL ran, the
//! reader goes back to the window's first position and *re-reads* them:
//! inside the window only the held rows are re-applied (with their own
//! fenced batches, not the lanes); at the window's end it is closed and
//! the reader goes on as before.

use super::progress::Progress;
use super::resync::{self, Resync};
use super::rows::{self, RowEvent};
use super::schemas::Schemas;
use super::shard_group::GroupWindow;
use super::targets::Targets;
use super::{stop, Stop, SyncJob, SyncOutcome};
use crate::downstream::Position;
use crate::upstream::{Event, Located};

/// The source's window, and its re-read when one runs.
#[derive(Debug, Default)]
pub struct Window {
    pub group: Option<GroupWindow>,
    resync: Option<Resync>,
}

/// What the window made of an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Re-read (or the window closed on it): the reader goes on.
    Consumed,
    /// Not the window's: the driver handles it.
    Pass,
}

impl Window {
    /// The source's saved window. When its DDL already ran (a restart
    /// inside the re-read), the re-read starts over: `from` moves back to
    /// the window's first position if that is earlier; `lane0` is lane 0's
    /// checkpoint.
    pub async fn load(job: &SyncJob, from: &mut Position, lane0: Position) -> Result<Self, Stop> {
        let group = resync::load(job).await.map_err(stop)?;
        let mut resync = None;
        if let Some(w) = group.as_ref() {
            if let (Some(until), Some(first)) = (w.until(), w.first()) {
                tracing::info!(task = %job.task, source = %job.source, %first, %until,
                    "the shard group's DDL already ran: re-reading its held rows first");
                resync = Some(Resync::new(job, until, lane0));
                if first.at_or_before(from) {
                    *from = first;
                }
            }
        }
        Ok(Self { group, resync })
    }

    /// Whether a row event of `schema`.`table` ending at `end` is held.
    pub fn holds(&self, schema: &str, table: &str, end: &Position) -> bool {
        self.group
            .as_ref()
            .is_some_and(|w| w.holds(schema, table, end))
    }

    /// Re-reads `located` when a re-read runs; closes the window at its end.
    pub async fn reread(
        &mut self,
        job: &SyncJob,
        progress: &Progress,
        targets: &mut Targets,
        schemas: &mut Schemas,
        located: &Located,
    ) -> Result<Step, Stop> {
        let Some(r) = self.resync.as_mut() else {
            return Ok(Step::Pass);
        };
        if r.covers(&located.end) {
            if let (
                Some(w),
                Event::Rows {
                    schema,
                    table,
                    columns,
                    rows,
                },
            ) = (self.group.as_ref(), &located.event)
            {
                if w.replays(schema, table, &located.end) {
                    // Written after their table's DDL, which the tracked
                    // definitions have already passed.
                    let mut rows = rows.clone();
                    let columns = schemas
                        .decode(job, schema, table, columns, &mut rows)
                        .map_err(stop)?;
                    let event = RowEvent {
                        schema,
                        table,
                        columns: &columns,
                        rows,
                        safe: true,
                        end: &located.end,
                    };
                    let (routed, _) = rows::shaped(job, targets, event).await.map_err(stop)?;
                    r.add(routed).map_err(stop)?;
                }
            }
            if matches!(located.event, Event::Commit) && r.is_full(job.batch_rows) {
                if let Some(by_epoch) = r.flush(job).await.map_err(stop)? {
                    return Err(Ok(SyncOutcome::Fenced { by_epoch }));
                }
            }
            if !r.ends_at(&located.end) {
                return Ok(Step::Consumed);
            }
        }
        // The window's end: the held rows are all applied; close it.
        if let Some(by_epoch) = r.flush(job).await.map_err(stop)? {
            return Err(Ok(SyncOutcome::Fenced { by_epoch }));
        }
        if let Some(by_epoch) = resync::save(job, None).await.map_err(stop)? {
            return Err(Ok(SyncOutcome::Fenced { by_epoch }));
        }
        tracing::info!(task = %job.task, source = %job.source, rows = r.rows, until = %r.until,
            "shard group window closed: held rows re-applied");
        let inside = r.covers(&located.end);
        progress.shard_group(None);
        self.group = None;
        self.resync = None;
        Ok(if inside { Step::Consumed } else { Step::Pass })
    }

    /// After a DDL at `end`: when it was the group's and its rows wait to
    /// be re-read, starts the re-read and returns where the reader goes.
    pub fn reread_from(&mut self, job: &SyncJob, end: &Position) -> Option<Position> {
        if self.resync.is_some() {
            return None;
        }
        let (until, first) = self.group.as_ref().and_then(|w| w.until().zip(w.first()))?;
        tracing::info!(task = %job.task, source = %job.source, from = %first, %until,
            "re-reading the rows held by the shard group");
        self.resync = Some(Resync::new(job, until, end.clone()));
        Some(first)
    }
}
