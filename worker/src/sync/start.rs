//! How a sync run starts: the meta tables, the claim of the source for
//! this epoch (fencing out any older owner), the lanes' checkpoints (each
//! lane at the start on a first run), the resume plan ([`super::resume`]:
//! where the reader starts and what each lane skips), the tracked table
//! definitions there ([`super::schemas`]), the sharding
//! group's window, and the safe-mode window.

use std::sync::Arc;

use super::dispatch::Lanes;
use super::progress::Progress;
use super::resume;
use super::schemas::Schemas;
use super::window::Window;
use super::{stop, Stop, SyncJob, SyncOutcome};
use crate::downstream::{CheckpointKey, Commit, Position};

/// A started run.
pub struct Started {
    pub lanes: Lanes,
    /// Where the reader starts.
    pub from: Position,
    /// Idempotent statements up to here (the copy's chunks, or a change of
    /// the lane count).
    pub replay_until: Option<Position>,
    pub window: Window,
    /// The tracked definitions at the lanes' resume position.
    pub schemas: Schemas,
}

/// Starts the run: `Err(Ok(fenced))` when a newer owner holds the source.
pub async fn start(job: &Arc<SyncJob>, progress: &Progress) -> Result<Started, Stop> {
    job.downstream.prepare(&job.meta).await.map_err(stop)?;
    if let Commit::Fenced { by_epoch } = job
        .downstream
        .claim(&job.meta, &job.source, job.epoch)
        .await
        .map_err(stop)?
    {
        return Err(Ok(SyncOutcome::Fenced { by_epoch }));
    }
    let lanes_n = job.lanes.max(1);
    let mut stored = job
        .downstream
        .lane_checkpoints(&job.meta, &job.source)
        .await
        .map_err(stop)?;
    if stored.is_empty() {
        // First start: every lane's checkpoint begins at the start, so a
        // lane that has not committed yet still resumes from there.
        for lane in 0..lanes_n {
            let key = CheckpointKey {
                meta_schema: job.meta.meta_schema.clone(),
                task: job.task.clone(),
                source: job.source.clone(),
                lane: lane as u32,
            };
            if let Commit::Fenced { by_epoch } = job
                .downstream
                .commit_fenced(&key, job.epoch, &job.start, &[])
                .await
                .map_err(stop)?
            {
                return Err(Ok(SyncOutcome::Fenced { by_epoch }));
            }
            stored.insert(lane as u32, job.start.clone());
        }
    }
    let files = job.upstream.files().await.map_err(stop)?;
    let resume::ResumePlan {
        mut from,
        skips,
        replay_until: relane_until,
        positions: per_lane,
    } = resume::plan(&stored, lanes_n, &job.start, &files).map_err(stop)?;
    // The definitions where the lanes resume (a re-read of a sharding
    // group's held rows, below, reads only rows written after their DDL).
    progress.restart(per_lane.clone());
    let schemas = Schemas::load(job, &from, progress).await?;
    // A sharding group's window within this source: when its DDL already
    // ran, the held rows are re-read first.
    let lane0 = per_lane.first().cloned().unwrap_or_else(|| from.clone());
    let window = Window::load(job, &mut from, lane0).await?;
    let replay_until = match (&job.replay_until, relane_until) {
        (Some(a), Some(b)) => Some(if a.at_or_before(&b) { b } else { a.clone() }),
        (a, b) => a.clone().or(b),
    };
    progress.shard_group(window.group.as_ref().map(|w| w.status()));
    tracing::info!(task = %job.task, source = %job.source, start = %from, lanes = lanes_n,
        replay_until = ?replay_until.as_ref().map(ToString::to_string), "binlog sync starting");
    let lanes = Lanes::start(job, skips, progress);
    Ok(Started {
        lanes,
        from,
        replay_until,
        window,
        schemas,
    })
}
