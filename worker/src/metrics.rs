//! dm-worker's metric families (served on `worker-addr` as `GET /metrics`,
//! see [`crate::http`]), with DM's names and labels.
//!
//! Two kinds of updates, both plain atomic stores or adds:
//!
//! - **Report values** (stage, lag, binlog positions, copy progress) are
//!   set where the heartbeat's subtask report is built
//!   ([`SubtaskMetrics::report`]), from the very values that report
//!   carries: what `query-status` shows and what `/metrics` shows are the
//!   same numbers, taken at the same moment.
//! - **Events** (transactions committed, copy chunks, fence refusals,
//!   errors) are counted where they happen, through handles resolved once
//!   per subtask ([`SubtaskMetrics`]) or per apply lane ([`LaneMetrics`]):
//!   the data path never looks a label set up.
//!
//! A subtask's series live as long as the supervisor keeps the subtask: its
//! [`Series`] guard removes every label set it may have created when the
//! subtask is dropped (`stop-task`, the source unbound, the lease lost), so
//! no stale series stays behind. Label sets without a `worker` label
//! (DM's binlog, queue and copy families) are the process's: one worker
//! per process runs a given subtask.

use std::sync::LazyLock;

use dm_proto::metrics::register;
use dm_proto::pb;
use prometheus::{
    exponential_buckets, linear_buckets, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec,
    IntCounter, IntCounterVec, Opts,
};

use crate::position::Position;

use crate::subtask::unit::MAX_LANES;

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    register(GaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge family"))
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter family"))
}

fn histogram_vec(name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]) -> HistogramVec {
    register(
        HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
            .expect("a valid histogram family"),
    )
}

static TASK_STATE: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "dm_worker_task_state",
        "state of task, 0 - invalidStage, 1 - New, 2 - Running, 3 - Paused, 4 - Stopped, 5 - Finished",
        &["task", "source_id", "worker"],
    )
});

static LAG_GAUGE: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "dm_syncer_replication_lag_gauge",
        "replication lag gauge in second between mysql and syncer",
        &["task", "source_id", "worker"],
    )
});

static LAG: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "dm_syncer_replication_lag",
        "replication lag histogram in second between mysql and syncer",
        exponential_buckets(0.5, 2.0, 12).expect("valid buckets"),
        &["task", "source_id", "worker"],
    )
});

static BINLOG_FILE: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "dm_syncer_binlog_file",
        "current binlog file index",
        &["node", "task", "source_id"],
    )
});

static BINLOG_POS: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "dm_syncer_binlog_pos",
        "current binlog pos",
        &["node", "task", "source_id"],
    )
});

static FINISHED_TRANSACTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "dm_syncer_finished_transaction_total",
        "total number of finished transaction",
        &["task", "worker", "source_id"],
    )
});

static TXN_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "dm_syncer_txn_duration_time",
        "Bucketed histogram of processing time (s) of a txn.",
        exponential_buckets(0.000_005, 2.0, 25).expect("valid buckets"),
        &["task", "worker", "source_id"],
    )
});

static QUEUE_SIZE: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "dm_syncer_queue_size",
        "remain size of the DML queue",
        &["task", "queue_id", "source_id"],
    )
});

static TRANSACTION_BATCH: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "dm_syncer_replication_transaction_batch",
        "number of sql's contained in a transaction that executed to downstream",
        linear_buckets(1.0, 50.0, 21).expect("valid buckets"),
        &["worker", "task", "source_id", "queueNo", "type"],
    )
});

static LOADER_PROGRESS: LazyLock<GaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "dm_loader_progress",
        "the processing progress of loader in percentage",
        &["task", "source_id"],
    )
});

static CHUNKS_FINISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "dm_loader_chunks_finished_total",
        "copy chunks committed downstream",
        &["task", "source_id"],
    )
});

static ROWS_COPIED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "dm_loader_rows_total",
        "rows copied downstream by the full copy",
        &["task", "source_id"],
    )
});

static FENCE_REJECTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "dm_worker_fence_rejections_total",
        "writes refused by the fence: a newer epoch owns the source",
        &["task", "source_id"],
    )
});

static EXIT_WITH_ERROR: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        "dm_syncer_exit_with_error_count",
        "counter for syncer exits with error",
        &["task", "source_id", "resumable_err"],
    )
});

/// DM's `node` label of the binlog families: the position applied...
const SYNCER: &str = "syncer";
/// ...and the upstream's latest.
const MASTER: &str = "master";
/// DM's `type` label of the batch histogram.
const BATCH_TYPES: [&str; 2] = ["statements", "rows"];

/// DM's queue name of lane `index` (`q_0`, `q_1`, ...).
pub fn queue_name(index: usize) -> String {
    format!("q_{index}")
}

/// The index of a binlog file (`mysql-bin.000042` is 42), as DM's
/// `GetFilenameIndex` reads it; `None` for a name without one (an empty
/// name of a GTID-only checkpoint, say).
pub fn binlog_file_index(name: &str) -> Option<u64> {
    let (base, seq) = name.rsplit_once('.')?;
    if base.is_empty() || seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse::<u64>().ok().filter(|i| *i > 0)
}

/// The gauge value of a binlog file: its index, NaN when it has none (as
/// DM: an unknown file is not file 0).
fn file_value(name: &str) -> f64 {
    binlog_file_index(name).map_or(f64::NAN, |i| i as f64)
}

/// The labels of one subtask on this worker.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Labels {
    task: String,
    source: String,
    worker: String,
}

/// The handles of one subtask's series, resolved once (see the module
/// docs). Clones of the `Arc` go to its copy and sync runs.
#[derive(Debug)]
pub struct SubtaskMetrics {
    labels: Labels,
    /// Copy chunks committed.
    pub chunks_finished: IntCounter,
    /// Rows the copy committed.
    pub rows_copied: IntCounter,
    fence_rejections: IntCounter,
    exit_resumable: IntCounter,
    exit_fatal: IntCounter,
    finished_transactions: IntCounter,
    txn_duration: Histogram,
}

/// What a subtask report says, for [`SubtaskMetrics::report`].
#[derive(Debug, Clone, Copy)]
pub struct Reported<'a> {
    pub stage: pb::Stage,
    /// The sync's lag (`secondsBehindMaster`), when the subtask has a sync.
    pub lag_seconds: Option<i64>,
    /// `syncerBinlog` and `masterBinlog`, when the report shows the sync.
    pub binlog: Option<(&'a Position, &'a Position)>,
    /// The copy's progress (0..1), when the copy has one to show.
    pub copy_progress: Option<f64>,
}

impl SubtaskMetrics {
    /// The handles of `task` on `source`, run by `worker`; with the
    /// [`Series`] guard that removes them.
    pub fn new(task: &str, source: &str, worker: &str) -> (std::sync::Arc<Self>, Series) {
        let labels = Labels {
            task: task.to_string(),
            source: source.to_string(),
            worker: worker.to_string(),
        };
        let ts = [task, source];
        let tws = [task, worker, source];
        let metrics = Self {
            chunks_finished: CHUNKS_FINISHED.with_label_values(&ts),
            rows_copied: ROWS_COPIED.with_label_values(&ts),
            fence_rejections: FENCE_REJECTIONS.with_label_values(&ts),
            exit_resumable: EXIT_WITH_ERROR.with_label_values(&[task, source, "true"]),
            exit_fatal: EXIT_WITH_ERROR.with_label_values(&[task, source, "false"]),
            finished_transactions: FINISHED_TRANSACTIONS.with_label_values(&tws),
            txn_duration: TXN_DURATION.with_label_values(&tws),
            labels: labels.clone(),
        };
        (std::sync::Arc::new(metrics), Series { labels })
    }

    /// The handles of apply lane `index`.
    pub fn lane(&self, index: usize) -> LaneMetrics {
        let l = &self.labels;
        let queue = queue_name(index);
        let batch = |kind: &str| {
            TRANSACTION_BATCH.with_label_values(&[&l.worker, &l.task, &l.source, &queue, kind])
        };
        LaneMetrics {
            queue_size: QUEUE_SIZE.with_label_values(&[&l.task, &queue, &l.source]),
            batch_statements: batch(BATCH_TYPES[0]),
            batch_rows: batch(BATCH_TYPES[1]),
            finished_transactions: self.finished_transactions.clone(),
            txn_duration: self.txn_duration.clone(),
        }
    }

    /// A run stopped because the fence refused its write.
    pub fn fenced(&self) {
        self.fence_rejections.inc();
    }

    /// A run stopped on an error (`transient`: DM's resumable error).
    pub fn exited_with_error(&self, transient: bool) {
        if transient {
            self.exit_resumable.inc();
        } else {
            self.exit_fatal.inc();
        }
    }

    /// Sets the report values from `report` (see the module docs); the
    /// lag histogram is observed while the subtask runs.
    pub fn report(&self, report: &Reported<'_>) {
        let l = &self.labels;
        let tsw = [l.task.as_str(), &l.source, &l.worker];
        TASK_STATE
            .with_label_values(&tsw)
            .set(f64::from(report.stage as i32));
        if let Some(lag) = report.lag_seconds {
            let lag = lag as f64;
            LAG_GAUGE.with_label_values(&tsw).set(lag);
            if report.stage == pb::Stage::Running {
                LAG.with_label_values(&tsw).observe(lag);
            }
        }
        if let Some((syncer, master)) = report.binlog {
            for (node, at) in [(SYNCER, syncer), (MASTER, master)] {
                let labels = [node, &l.task, &l.source];
                BINLOG_FILE
                    .with_label_values(&labels)
                    .set(file_value(&at.binlog_name));
                BINLOG_POS
                    .with_label_values(&labels)
                    .set(f64::from(at.binlog_pos));
            }
        }
        if let Some(progress) = report.copy_progress {
            LOADER_PROGRESS
                .with_label_values(&[&l.task, &l.source])
                .set(progress);
        }
    }
}

/// The handles of one apply lane.
#[derive(Debug, Clone)]
pub struct LaneMetrics {
    queue_size: Gauge,
    batch_statements: Histogram,
    batch_rows: Histogram,
    finished_transactions: IntCounter,
    txn_duration: Histogram,
}

impl LaneMetrics {
    /// Messages waiting in the lane's queue.
    pub fn queue(&self, waiting: usize) {
        self.queue_size.set(waiting as f64);
    }

    /// A downstream transaction of `rows` row changes in `statements`
    /// statements committed in `seconds`, completing `transactions`
    /// upstream transactions.
    pub fn committed(&self, rows: usize, statements: usize, transactions: u64, seconds: f64) {
        self.finished_transactions.inc_by(transactions);
        self.txn_duration.observe(seconds);
        self.batch_rows.observe(rows as f64);
        self.batch_statements.observe(statements as f64);
    }
}

/// Removes a subtask's series when dropped. Kept by the supervisor with
/// the subtask (not by its runs, which may outlive it for a moment).
#[derive(Debug)]
pub struct Series {
    labels: Labels,
}

impl Drop for Series {
    fn drop(&mut self) {
        let Labels {
            task,
            source,
            worker,
        } = &self.labels;
        let (task, source, worker) = (task.as_str(), source.as_str(), worker.as_str());
        // A label set never created is not an error here.
        let tsw = [task, source, worker];
        let _ = TASK_STATE.remove_label_values(&tsw);
        let _ = LAG_GAUGE.remove_label_values(&tsw);
        let _ = LAG.remove_label_values(&tsw);
        for node in [SYNCER, MASTER] {
            let _ = BINLOG_FILE.remove_label_values(&[node, task, source]);
            let _ = BINLOG_POS.remove_label_values(&[node, task, source]);
        }
        let tws = [task, worker, source];
        let _ = FINISHED_TRANSACTIONS.remove_label_values(&tws);
        let _ = TXN_DURATION.remove_label_values(&tws);
        for lane in 0..MAX_LANES {
            let queue = queue_name(lane);
            let _ = QUEUE_SIZE.remove_label_values(&[task, &queue, source]);
            for kind in BATCH_TYPES {
                let _ =
                    TRANSACTION_BATCH.remove_label_values(&[worker, task, source, &queue, kind]);
            }
        }
        let ts = [task, source];
        let _ = LOADER_PROGRESS.remove_label_values(&ts);
        let _ = CHUNKS_FINISHED.remove_label_values(&ts);
        let _ = ROWS_COPIED.remove_label_values(&ts);
        let _ = FENCE_REJECTIONS.remove_label_values(&ts);
        for resumable in ["true", "false"] {
            let _ = EXIT_WITH_ERROR.remove_label_values(&[task, source, resumable]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlog_file_index_is_the_number_after_the_last_dot() {
        assert_eq!(binlog_file_index("mysql-bin.000042"), Some(42));
        assert_eq!(binlog_file_index("mariadb-bin.000001"), Some(1));
        assert_eq!(binlog_file_index("my.host-bin.1000000"), Some(1_000_000));
        assert_eq!(binlog_file_index(""), None, "a GTID-only checkpoint");
        assert_eq!(binlog_file_index("mysql-bin"), None);
        assert_eq!(binlog_file_index("mysql-bin.0000x1"), None);
        assert_eq!(binlog_file_index("mysql-bin.000000"), None, "DM: > 0");
        assert_eq!(binlog_file_index(".000001"), None);
        assert_eq!(binlog_file_index("mysql-bin.+1"), None);
        assert!(file_value("").is_nan());
        assert_eq!(file_value("bin.000007"), 7.0);
    }

    fn at(name: &str, pos: u32) -> Position {
        Position {
            binlog_name: name.into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        }
    }

    /// The sample lines of `name` whose labels contain every `labels` pair.
    fn samples(name: &str, labels: &[(&str, &str)]) -> Vec<String> {
        dm_proto::metrics::text()
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter(|l| {
                labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_report_sets_the_reported_values_and_dropping_the_series_removes_them() {
        let (m, series) = SubtaskMetrics::new("unit-t", "unit-s", "unit-w");
        let lane = m.lane(1);
        let syncer = at("mysql-bin.000003", 1234);
        let master = at("mysql-bin.000004", 99);
        m.report(&Reported {
            stage: pb::Stage::Running,
            lag_seconds: Some(7),
            binlog: Some((&syncer, &master)),
            copy_progress: Some(1.0),
        });
        lane.queue(3);
        lane.committed(10, 2, 4, 0.01);
        m.exited_with_error(true);
        let t = [("task", "unit-t"), ("source_id", "unit-s")];
        let one = |name: &str, extra: &[(&str, &str)]| {
            let mut labels = t.to_vec();
            labels.extend_from_slice(extra);
            let found = samples(name, &labels);
            assert_eq!(found.len(), 1, "{name} {extra:?}: {found:?}");
            found[0].rsplit(' ').next().unwrap_or_default().to_string()
        };
        assert_eq!(one("dm_worker_task_state", &[("worker", "unit-w")]), "2");
        assert_eq!(
            one("dm_syncer_replication_lag_gauge", &[("worker", "unit-w")]),
            "7"
        );
        assert_eq!(
            one("dm_syncer_replication_lag_count", &[("worker", "unit-w")]),
            "1"
        );
        assert_eq!(one("dm_syncer_binlog_file", &[("node", "syncer")]), "3");
        assert_eq!(one("dm_syncer_binlog_pos", &[("node", "syncer")]), "1234");
        assert_eq!(one("dm_syncer_binlog_file", &[("node", "master")]), "4");
        assert_eq!(one("dm_syncer_binlog_pos", &[("node", "master")]), "99");
        assert_eq!(one("dm_loader_progress", &[]), "1");
        assert_eq!(one("dm_syncer_queue_size", &[("queue_id", "q_1")]), "3");
        assert_eq!(one("dm_syncer_finished_transaction_total", &[]), "4");
        assert_eq!(
            one(
                "dm_syncer_replication_transaction_batch_sum",
                &[("queueNo", "q_1"), ("type", "rows")]
            ),
            "10"
        );
        assert_eq!(
            one(
                "dm_syncer_exit_with_error_count",
                &[("resumable_err", "true")]
            ),
            "1"
        );
        assert_eq!(
            one(
                "dm_syncer_exit_with_error_count",
                &[("resumable_err", "false")]
            ),
            "0"
        );
        // A paused subtask: the stage follows; the lag histogram waits.
        m.report(&Reported {
            stage: pb::Stage::Paused,
            lag_seconds: Some(0),
            binlog: None,
            copy_progress: None,
        });
        assert_eq!(one("dm_worker_task_state", &[("worker", "unit-w")]), "3");
        assert_eq!(
            one("dm_syncer_replication_lag_count", &[("worker", "unit-w")]),
            "1"
        );
        drop(series);
        let left: Vec<String> = dm_proto::metrics::text()
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("\"unit-t\""))
            .map(str::to_string)
            .collect();
        assert!(left.is_empty(), "stale series: {left:?}");
    }
}
