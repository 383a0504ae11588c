//! Copy progress: rows and bytes per table against the plan's estimate, and
//! the rate since the copy (re)started. Pure: the caller passes the clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dm_proto::pb;

use crate::downstream::{Position, StoredChunk};

/// Progress of one upstream table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableProgress {
    pub target: String,
    pub rows: u64,
    pub bytes: u64,
    pub estimate_rows: u64,
    pub chunks_done: u32,
    pub chunks: u32,
    /// Rows copied by this run (for the rate).
    pub rows_this_run: u64,
}

/// Progress of one source's copy.
#[derive(Debug, Clone)]
pub struct CopyProgress {
    started: Instant,
    tables: BTreeMap<(String, String), TableProgress>,
    /// The earliest snapshot position of a finished chunk.
    earliest: Option<Position>,
    /// Whether a plan was loaded (an empty plan is a finished copy).
    planned: bool,
}

impl CopyProgress {
    pub fn new(now: Instant) -> Self {
        Self {
            started: now,
            tables: BTreeMap::new(),
            earliest: None,
            planned: false,
        }
    }

    /// Starts over from a plan (chunks already done count as copied).
    pub fn load_plan(&mut self, plan: &[StoredChunk], now: Instant) {
        self.started = now;
        self.planned = true;
        self.tables.clear();
        for chunk in plan {
            let t = self
                .tables
                .entry((chunk.schema.clone(), chunk.table.clone()))
                .or_insert_with(|| TableProgress {
                    target: format!("`{}`.`{}`", chunk.target_schema, chunk.target_table),
                    ..TableProgress::default()
                });
            t.chunks += 1;
            t.estimate_rows += chunk.estimate_rows;
            if let Some(done) = &chunk.done {
                t.chunks_done += 1;
                t.rows += done.rows;
                t.bytes += done.bytes;
                self.earliest = earlier(self.earliest.take(), &done.position);
            }
        }
    }

    /// A chunk of `schema`.`table` committed.
    pub fn chunk_done(&mut self, schema: &str, table: &str, rows: u64, bytes: u64, at: &Position) {
        if let Some(t) = self
            .tables
            .get_mut(&(schema.to_string(), table.to_string()))
        {
            t.chunks_done += 1;
            t.rows += rows;
            t.bytes += bytes;
            t.rows_this_run += rows;
        }
        self.earliest = earlier(self.earliest.take(), at);
    }

    pub fn tables(&self) -> &BTreeMap<(String, String), TableProgress> {
        &self.tables
    }

    pub fn finished(&self) -> bool {
        self.tables.values().all(|t| t.chunks_done == t.chunks)
    }

    fn totals(&self) -> (u64, u64, u64, u64) {
        self.tables.values().fold((0, 0, 0, 0), |acc, t| {
            (
                acc.0 + t.rows,
                acc.1 + t.bytes,
                acc.2 + total_estimate(t),
                acc.3 + t.rows_this_run,
            )
        })
    }

    /// (done, all) chunks of every table.
    fn chunk_totals(&self) -> (u64, u64) {
        let (done, all) = self.tables.values().fold((0, 0), |acc, t| {
            (
                acc.0 + u64::from(t.chunks_done),
                acc.1 + u64::from(t.chunks),
            )
        });
        // A plan without chunks: nothing to copy, so done.
        if all == 0 && self.planned {
            (1, 1)
        } else {
            (done, all)
        }
    }

    /// One line for the log.
    pub fn summary(&self, now: Instant) -> String {
        let (rows, bytes, total, this_run) = self.totals();
        let done = self
            .tables
            .values()
            .filter(|t| t.chunks_done == t.chunks)
            .count();
        let (chunks_done, chunks) = self.chunk_totals();
        format!(
            "{rows} of ~{total} rows ({}), {bytes} bytes, {done}/{} tables, {:.0} rows/s",
            percent(rows, total, chunks_done, chunks),
            self.tables.len(),
            rate(this_run, now.saturating_duration_since(self.started))
        )
    }

    /// Whether a plan was loaded (before, nothing is known).
    pub fn planned(&self) -> bool {
        self.planned
    }

    /// The whole copy's progress in percent, as the status shows it
    /// (rounded there to two decimals); the metric's value over 100.
    pub fn percent(&self) -> f64 {
        let (rows, _, total, _) = self.totals();
        let (chunks_done, chunks) = self.chunk_totals();
        share(rows, total, chunks_done, chunks)
    }

    /// DM's load status, with per-table detail.
    pub fn status(&self, now: Instant) -> pb::LoadStatus {
        let elapsed = now.saturating_duration_since(self.started);
        let (rows, bytes, total, this_run) = self.totals();
        let total_bytes = self
            .tables
            .values()
            .map(|t| {
                t.bytes
                    .saturating_mul(total_estimate(t))
                    .checked_div(t.rows)
                    .unwrap_or(0)
            })
            .sum::<u64>()
            .max(bytes);
        pb::LoadStatus {
            finished_bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
            total_bytes: i64::try_from(total_bytes).unwrap_or(i64::MAX),
            progress: percent_text(self.percent()),
            meta_binlog: self
                .earliest
                .as_ref()
                .map(|p| format!("({}, {})", p.binlog_name, p.binlog_pos))
                .unwrap_or_default(),
            meta_binlog_gtid: self
                .earliest
                .as_ref()
                .map(|p| p.binlog_gtid.clone())
                .unwrap_or_default(),
            finished_rows: i64::try_from(rows).unwrap_or(i64::MAX),
            total_rows: i64::try_from(total).unwrap_or(i64::MAX),
            rows_per_second: rate(this_run, elapsed),
            tables: self
                .tables
                .iter()
                .map(|((schema, table), t)| pb::TableCopyStatus {
                    schema: schema.clone(),
                    table: table.clone(),
                    target: t.target.clone(),
                    finished_rows: i64::try_from(t.rows).unwrap_or(i64::MAX),
                    finished_bytes: i64::try_from(t.bytes).unwrap_or(i64::MAX),
                    estimate_total_rows: i64::try_from(total_estimate(t)).unwrap_or(i64::MAX),
                    progress: percent(
                        t.rows,
                        total_estimate(t),
                        u64::from(t.chunks_done),
                        u64::from(t.chunks),
                    ),
                    rows_per_second: rate(t.rows_this_run, elapsed),
                    finished_chunks: t.chunks_done,
                    total_chunks: t.chunks,
                })
                .collect(),
        }
    }
}

/// The estimate, never below what is known: once done, the exact count.
fn total_estimate(t: &TableProgress) -> u64 {
    if t.chunks_done == t.chunks {
        t.rows
    } else {
        t.estimate_rows.max(t.rows)
    }
}

fn earlier(current: Option<Position>, candidate: &Position) -> Option<Position> {
    match current {
        Some(c) if c.at_or_before(candidate) => Some(c),
        _ => Some(candidate.clone()),
    }
}

/// DM's progress text, e.g. `54.37 %`: rows against the estimate, by
/// chunks when nothing is estimated, and 100 % only once every chunk is
/// done (nothing planned yet is 0 %).
fn percent(done: u64, total: u64, chunks_done: u64, chunks: u64) -> String {
    percent_text(share(done, total, chunks_done, chunks))
}

/// The share behind [`percent`], 0..=100.
fn share(done: u64, total: u64, chunks_done: u64, chunks: u64) -> f64 {
    let finished = chunks > 0 && chunks_done >= chunks;
    if finished {
        100.0
    } else if total > 0 {
        (done as f64 * 100.0 / total as f64).min(99.99)
    } else if chunks > 0 {
        chunks_done as f64 * 100.0 / chunks as f64
    } else {
        0.0
    }
}

fn percent_text(share: f64) -> String {
    format!("{share:.2} %")
}

fn rate(rows: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        rows as f64 / secs
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_is_100_percent_only_when_every_chunk_is_done() {
        assert_eq!(percent(0, 0, 0, 0), "0.00 %", "nothing planned yet");
        assert_eq!(percent(0, 0, 1, 4), "25.00 %", "no estimate: by chunks");
        assert_eq!(percent(0, 0, 4, 4), "100.00 %", "an empty table, copied");
        assert_eq!(percent(150, 100, 1, 2), "99.99 %", "an estimate too low");
        assert_eq!(percent(50, 100, 1, 2), "50.00 %");
        let now = Instant::now();
        let mut p = CopyProgress::new(now);
        assert_eq!(p.status(now).progress, "0.00 %", "before the plan");
        assert!(!p.planned());
        p.load_plan(&[], now);
        assert_eq!(p.status(now).progress, "100.00 %", "nothing to copy");
        assert_eq!(p.percent(), 100.0);
    }

    use super::*;
    use crate::downstream::ChunkDone;

    fn chunk(table: &str, index: u32, estimate: u64, done: Option<u64>) -> StoredChunk {
        StoredChunk {
            schema: "db".into(),
            table: table.into(),
            index,
            target_schema: "m".into(),
            target_table: table.into(),
            key_column: Some("id".into()),
            lower: None,
            upper: None,
            estimate_rows: estimate,
            done: done.map(|rows| ChunkDone {
                rows,
                bytes: rows * 10,
                position: Position {
                    binlog_name: "bin.000001".into(),
                    binlog_pos: 400 + index,
                    binlog_gtid: String::new(),
                },
            }),
        }
    }

    #[test]
    fn progress_counts_resumed_chunks_and_rates_this_run() {
        let t0 = Instant::now();
        let mut p = CopyProgress::new(t0);
        p.load_plan(
            &[
                chunk("a", 0, 100, Some(100)),
                chunk("a", 1, 100, None),
                chunk("b", 0, 50, None),
            ],
            t0,
        );
        assert!(!p.finished());
        let at = Position {
            binlog_name: "bin.000001".into(),
            binlog_pos: 300,
            binlog_gtid: String::new(),
        };
        p.chunk_done("db", "a", 100, 1000, &at);
        let status = p.status(t0 + Duration::from_secs(2));
        assert_eq!(status.finished_rows, 200);
        assert_eq!(status.total_rows, 250);
        assert_eq!(status.progress, "80.00 %");
        assert_eq!(p.percent(), 80.0, "the metric's source");
        assert_eq!(status.rows_per_second, 50.0);
        assert_eq!(status.meta_binlog, "(bin.000001, 300)");
        assert_eq!(status.tables[0].progress, "100.00 %");
        assert_eq!(status.tables[1].progress, "0.00 %");
        p.chunk_done("db", "b", 70, 700, &at);
        assert!(p.finished());
        let done = p.status(t0 + Duration::from_secs(3));
        assert_eq!(done.total_rows, 270, "done tables count what was copied");
        assert_eq!(done.progress, "100.00 %");
    }
}
