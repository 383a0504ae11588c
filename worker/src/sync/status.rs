//! What the sync unit reports: position, GTID, lag, rows applied and rates.
//! Pure: the caller passes the clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dm_proto::pb;

use crate::downstream::Position;

/// Window of the "recent" rate.
const RECENT: Duration = Duration::from_secs(10);

/// Where the event a run stopped on starts and ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAt {
    pub start: Position,
    pub end: Position,
    /// A statement (a DDL), not a row change.
    pub statement: bool,
}

impl ErrorAt {
    /// DM's text for it, as `query-status` shows it after the error.
    pub fn describe(&self) -> String {
        let loc = |p: &Position| {
            format!(
                "position: ({}, {}), gtid-set: {}",
                p.binlog_name, p.binlog_pos, p.binlog_gtid
            )
        };
        format!(
            "startLocation: [{}], endLocation: [{}]",
            loc(&self.start),
            loc(&self.end)
        )
    }
}

#[derive(Debug, Clone)]
pub struct SyncProgress {
    started: Instant,
    /// The position every lane has committed up to.
    pub committed: Position,
    /// Each lane's committed position.
    pub lanes: Vec<Position>,
    /// The last position read from the upstream.
    pub read: Position,
    /// Where the upstream's binlog ended when last asked (see
    /// `upstream_end`); `None` until then.
    pub upstream_end: Option<Position>,
    /// Seconds behind the upstream's event time.
    pub lag_seconds: i64,
    pub rows: u64,
    /// The shard DDL this source waits at or last finished.
    pub shard_ddl: Option<pb::ShardDdlInfo>,
    /// The open window of a sharding group within the source.
    pub shard_group: Option<pb::ShardingGroup>,
    /// What may make this run wrong without stopping it (see
    /// `SyncStatus.warnings`).
    pub warnings: Vec<String>,
    /// The highest `binlog-schema` operation id applied (and persisted).
    pub schema_ops_applied: u64,
    /// The `binlog` operations done (applied, or passed): kept across
    /// restarts of the subtask in this process.
    pub binlog_ops_done: std::collections::BTreeSet<u64>,
    /// The event this run stopped on by an error, if it stopped on one.
    pub error_at: Option<ErrorAt>,
    samples: VecDeque<(Instant, u64)>,
}

impl SyncProgress {
    /// Progress of a sync whose lanes resume at `lanes` (one position each).
    pub fn new(now: Instant, lanes: Vec<Position>) -> Self {
        let committed = earliest(&lanes);
        Self {
            started: now,
            read: committed.clone(),
            upstream_end: None,
            committed,
            lanes,
            lag_seconds: 0,
            rows: 0,
            shard_ddl: None,
            shard_group: None,
            warnings: Vec::new(),
            schema_ops_applied: 0,
            binlog_ops_done: std::collections::BTreeSet::new(),
            error_at: None,
            samples: VecDeque::new(),
        }
    }

    /// Lane `lane` committed `rows` row changes up to `at`, whose upstream
    /// transaction was written at `timestamp` (Unix seconds, 0 unknown).
    pub fn lane_committed(
        &mut self,
        lane: usize,
        at: &Position,
        rows: u64,
        timestamp: u32,
        now: Instant,
    ) {
        if let Some(slot) = self.lanes.get_mut(lane) {
            *slot = at.clone();
        }
        self.committed = earliest(&self.lanes);
        self.rows += rows;
        if timestamp > 0 && rows > 0 {
            let now_unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            self.lag_seconds = (now_unix - i64::from(timestamp)).max(0);
        }
        self.samples.push_back((now, self.rows));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > RECENT)
        {
            self.samples.pop_front();
        }
    }

    /// Every change up to the upstream's end is applied: the checkpoints
    /// reached where the upstream's binlog ended when last asked, and
    /// nothing read since is pending.
    pub fn synced(&self) -> bool {
        self.upstream_end.as_ref().is_some_and(|end| {
            end.at_or_before(&self.committed) && self.read.at_or_before(&self.committed)
        }) && self.lag_seconds == 0
    }

    /// `masterBinlog`: the upstream's end, or what was read when it was
    /// never asked.
    pub fn master(&self) -> &Position {
        self.upstream_end.as_ref().unwrap_or(&self.read)
    }

    pub fn status(&self, now: Instant) -> pb::SyncStatus {
        let master = self.master();
        let elapsed = now.saturating_duration_since(self.started).as_secs_f64();
        let total_tps = if elapsed > 0.0 {
            (self.rows as f64 / elapsed) as i64
        } else {
            0
        };
        let recent_tps = match (self.samples.front(), self.samples.back()) {
            (Some((t0, r0)), Some((_, r1))) => {
                let span = now.saturating_duration_since(*t0).as_secs_f64();
                if span > 0.0 {
                    ((r1 - r0) as f64 / span) as i64
                } else {
                    0
                }
            }
            _ => 0,
        };
        pb::SyncStatus {
            total_events: i64::try_from(self.rows).unwrap_or(i64::MAX),
            total_tps,
            recent_tps,
            master_binlog: format!("({}, {})", master.binlog_name, master.binlog_pos),
            master_binlog_gtid: master.binlog_gtid.clone(),
            syncer_binlog: format!(
                "({}, {})",
                self.committed.binlog_name, self.committed.binlog_pos
            ),
            syncer_binlog_gtid: self.committed.binlog_gtid.clone(),
            // The DDL the source waits at for its shard-DDL lock.
            blocking_dd_ls: self
                .shard_ddl
                .as_ref()
                .filter(|i| !i.done)
                .map(|i| i.ddls.clone())
                .unwrap_or_default(),
            unresolved_groups: self.shard_group.clone().into_iter().collect(),
            synced: self.synced(),
            binlog_type: "remote".into(),
            seconds_behind_master: self.lag_seconds,
            warnings: self.warnings.clone(),
        }
    }
}

/// The earliest of `positions` (the default position if none).
pub fn earliest(positions: &[Position]) -> Position {
    Position::earliest(positions).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pos: u32) -> Position {
        Position {
            binlog_name: "bin.000001".into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        }
    }

    #[test]
    fn synced_only_when_the_checkpoints_reached_the_upstreams_end() {
        let now = Instant::now();
        let mut p = SyncProgress::new(now, vec![at(100)]);
        assert!(!p.synced(), "the upstream's end is not known yet");
        p.upstream_end = Some(at(500));
        assert!(!p.synced(), "behind the upstream");
        assert_eq!(p.status(now).master_binlog, "(bin.000001, 500)");
        p.read = at(500);
        assert!(!p.synced(), "read but not applied");
        p.lane_committed(0, &at(500), 0, 0, now);
        assert!(p.synced());
        assert!(p.status(now).synced);
    }
}
