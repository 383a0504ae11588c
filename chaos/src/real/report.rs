//! A run's summary and verdict.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use std::sync::atomic::Ordering;

use super::audit::Twice;
use super::load::Progress;
use super::schema::BIG_ROWS;
use super::verify::Diff;

/// The kinds of action that end a fault.
const ENDS: [&str; 5] = [
    "restart",
    "resume",
    "heal",
    "start-database",
    "cancel-evict",
];

/// What the shards' loads did, added up.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadTotals {
    /// Small transactions committed.
    pub transactions: u64,
    /// Of those, in a `binlog_row_image=MINIMAL` session.
    pub minimal: u64,
    /// Big transactions (every padded row of a shard) committed.
    pub big: u64,
    /// Connections the loads made again after a shard restarted.
    pub reconnects: u64,
    /// Commits in flight when a shard went away (outcome unknown).
    pub unknown_commits: u64,
    /// Transactions the workers applied in pieces (their logs; a piece
    /// applied twice after a failover counts twice).
    pub applied_in_pieces: u64,
}

impl LoadTotals {
    pub fn add(&mut self, p: &Progress) {
        self.transactions += p.transactions.load(Ordering::Relaxed);
        self.minimal += p.minimal.load(Ordering::Relaxed);
        self.big += p.big.load(Ordering::Relaxed);
        self.reconnects += p.reconnects.load(Ordering::Relaxed);
        self.unknown_commits += p.unknown_commits.load(Ordering::Relaxed);
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    /// How long faults were injected.
    pub run_time: Duration,
    /// Faults injected (restarts, resumes and heals not counted).
    pub faults: u32,
    /// Every action by kind, faults and their ends.
    pub kinds: BTreeMap<&'static str, u32>,
    /// What the load did.
    pub load: LoadTotals,
    /// Rows in the shards at the end.
    pub upstream_rows: u64,
    pub lag_max: Option<Duration>,
    pub lag_p99: Option<Duration>,
    pub lag_samples: usize,
    /// From the end of the last fault until the downstream matched.
    pub converge_after_last_fault: Duration,
    pub diff: Diff,
    pub twice: Twice,
    /// Per shard, when its source was first seen past the full copy.
    pub copy_done_after: Vec<Duration>,
    /// Errors subtasks reported during the run.
    pub errors_seen: Vec<String>,
}

impl Report {
    /// Nothing lost, nothing extra, nothing applied twice, and at least
    /// `min_faults` faults.
    pub fn passed(&self, min_faults: u32) -> bool {
        self.faults >= min_faults
            && self.diff.rows_differing == 0
            && self.diff.rows_compared == self.upstream_rows
            && self.twice.outside_window == 0
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} s", d.as_secs_f64()))
        .unwrap_or_else(|| "-".into())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chaos-run seed {}: faults for {:.1} s",
            self.seed,
            self.run_time.as_secs_f64()
        )?;
        let list = |ends: bool| {
            self.kinds
                .iter()
                .filter(|(k, _)| ENDS.contains(k) == ends)
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "  faults injected: {} ({}); ended by: {}",
            self.faults,
            list(false),
            list(true)
        )?;
        let load = &self.load;
        writeln!(
            f,
            "  load: {} upstream transactions ({} in MINIMAL row-image sessions) and {} big ones \
             ({BIG_ROWS} rows each; applied in pieces: {}); {} rows upstream at the end",
            load.transactions, load.minimal, load.big, load.applied_in_pieces, self.upstream_rows
        )?;
        writeln!(
            f,
            "  load reconnects after upstream restarts: {} ({} commits of unknown outcome)",
            load.reconnects, load.unknown_commits
        )?;
        let copies = self
            .copy_done_after
            .iter()
            .map(|d| format!("{:.1} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(f, "  full copy done per source after: {copies}")?;
        writeln!(
            f,
            "  replication lag: max {}, p99 {} ({} samples)",
            secs(self.lag_max),
            secs(self.lag_p99),
            self.lag_samples
        )?;
        writeln!(
            f,
            "  converged {:.2} s after the last fault ended",
            self.converge_after_last_fault.as_secs_f64()
        )?;
        writeln!(
            f,
            "  check-diff: {} rows compared in {} chunks; {} rows differing in {} chunks",
            self.diff.rows_compared,
            self.diff.chunks_compared,
            self.diff.rows_differing,
            self.diff.chunks_differing
        )?;
        writeln!(
            f,
            "  applied twice outside the replay window: {} (of {} rows written after the copy); \
             inside it: {}",
            self.twice.outside_window, self.twice.audited, self.twice.inside_window
        )?;
        for error in &self.errors_seen {
            writeln!(f, "  subtask error seen: {error}")?;
        }
        if self.diff.rows_differing > 0 {
            writeln!(f, "  check-diff answer: {}", self.diff.answer)?;
        }
        Ok(())
    }
}
