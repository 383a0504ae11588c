//! dm-master's metric families (Prometheus, served at `GET /metrics` on the
//! client address) and the functions that set them.
//!
//! Every master exports the Raft view it has (term, leader, applied index,
//! voters) and its counters. The families that describe the cluster
//! (workers, subtasks, bindings, shard-DDL locks) are exported by the
//! leader only: they are read from the state the leader has applied and
//! the workers it judges alive, and a master that does not lead exports
//! none of them (its vecs are emptied), so summing over masters never
//! counts anything twice. Names, labels and values are DM's where DM has
//! them (`dm_master_worker_state`, `dm_master_ddl_state_number`,
//! `dm_master_start_leader_counter`).
//!
//! Nothing here runs inside the replicated state machine: the values are
//! set at the edges ([`watch`] follows Raft's metrics and refreshes the
//! leader's families; the write path, the scheduling loop and check-diff
//! count their events), and [`leader_gauges`] computes the leader's values
//! from a state as a pure function.

mod leader_gauges;
mod raft_view;
pub mod watch;

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use dm_proto::metrics::register;
use prometheus::core::{Atomic, GenericGaugeVec};
use prometheus::{
    exponential_buckets, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts,
};

pub use leader_gauges::{leader_gauges, LeaderGauges, DDL_SYNCED, DDL_UNSYNCED};
pub use raft_view::{RaftEvents, RaftSeen};

static START_LEADER: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "dm_master_start_leader_counter",
            "number of times this dm-master became leader",
        )
        .expect("a valid family"),
    )
});

static RAFT_IS_LEADER: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "dm_master_raft_is_leader",
            "1 when this dm-master is the Raft leader, 0 otherwise",
        )
        .expect("a valid family"),
    )
});

static RAFT_TERM: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new("dm_master_raft_term", "current Raft term of this dm-master")
            .expect("a valid family"),
    )
});

static RAFT_LEADER_CHANGES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "dm_master_raft_leader_changes_total",
            "leader changes this dm-master observed (the leader it knows changed to another master, or from none to one)",
        )
        .expect("a valid family"),
    )
});

static RAFT_APPLIED_INDEX: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "dm_master_raft_applied_index",
            "index of the last Raft log entry applied on this dm-master",
        )
        .expect("a valid family"),
    )
});

static RAFT_VOTERS: LazyLock<IntGauge> = LazyLock::new(|| {
    register(
        IntGauge::new(
            "dm_master_raft_voters",
            "voting members in the Raft membership this dm-master knows",
        )
        .expect("a valid family"),
    )
});

static COMMIT_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new(
                "dm_master_raft_commit_duration_seconds",
                "seconds from proposing a client write to its being applied, on the leader",
            )
            .buckets(exponential_buckets(0.0005, 2.0, 16).unwrap_or_default()),
        )
        .expect("a valid family"),
    )
});

static WORKER_STATE: LazyLock<GaugeVec> = LazyLock::new(|| {
    register(
        GaugeVec::new(
            Opts::new(
                "dm_master_worker_state",
                "state of worker, -1 - unrecognized, 0 - offline, 1 - free, 2 - bound (leader only)",
            ),
            &["worker"],
        )
        .expect("a valid family"),
    )
});

static TASK_STATE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new(
                "dm_master_task_state",
                "expected stage of each subtask, DM's stage numbers: 2 - Running, 3 - Paused (leader only)",
            ),
            &["task", "source_id"],
        )
        .expect("a valid family"),
    )
});

static BINDINGS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new(
                "dm_master_bindings",
                "sources bound to a worker (leader only)",
            ),
            &[],
        )
        .expect("a valid family"),
    )
});

static BINDING_EPOCH: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new(
                "dm_master_binding_epoch",
                "epoch of the source's current binding (leader only)",
            ),
            &["source_id"],
        )
        .expect("a valid family"),
    )
});

static LEASE_EXPIRIES: LazyLock<IntCounter> = LazyLock::new(|| {
    register(
        IntCounter::new(
            "dm_master_worker_lease_expiries_total",
            "workers that lost their sources because their keepalive TTL ran out (counted by the leader)",
        )
        .expect("a valid family"),
    )
});

static DDL_STATE_NUMBER: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new(
                "dm_master_ddl_state_number",
                "number of pending DDL in different states, Un-synced (waiting all upstream), Synced (all upstream finished, waiting all downstream) (leader only)",
            ),
            &["task", "type"],
        )
        .expect("a valid family"),
    )
});

static LOCKS_PENDING: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new(
                "dm_master_shard_ddl_locks_pending",
                "shard-DDL locks not resolved (leader only)",
            ),
            &[],
        )
        .expect("a valid family"),
    )
});

static LOCK_OLDEST_AGE: LazyLock<GaugeVec> = LazyLock::new(|| {
    register(
        GaugeVec::new(
            Opts::new(
                "dm_master_shard_ddl_lock_oldest_age_seconds",
                "seconds since the oldest pending shard-DDL lock was created, 0 when none (leader only)",
            ),
            &[],
        )
        .expect("a valid family"),
    )
});

static CHECK_DIFF_TABLES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "dm_master_check_diff_tables_total",
                "tables compared by check-diff on this dm-master, by result (equal, different)",
            ),
            &["task", "result"],
        )
        .expect("a valid family"),
    )
});

/// Registers every family, so that a scrape shows the counters (at 0)
/// before their first event.
pub fn init() {
    LazyLock::force(&START_LEADER);
    LazyLock::force(&RAFT_IS_LEADER);
    LazyLock::force(&RAFT_TERM);
    LazyLock::force(&RAFT_LEADER_CHANGES);
    LazyLock::force(&RAFT_APPLIED_INDEX);
    LazyLock::force(&RAFT_VOTERS);
    LazyLock::force(&COMMIT_DURATION);
    LazyLock::force(&WORKER_STATE);
    LazyLock::force(&TASK_STATE);
    LazyLock::force(&BINDINGS);
    LazyLock::force(&BINDING_EPOCH);
    LazyLock::force(&LEASE_EXPIRIES);
    LazyLock::force(&DDL_STATE_NUMBER);
    LazyLock::force(&LOCKS_PENDING);
    LazyLock::force(&LOCK_OLDEST_AGE);
    LazyLock::force(&CHECK_DIFF_TABLES);
}

/// What this master's Raft reports (openraft's metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftGauges {
    pub leading: bool,
    pub term: u64,
    pub applied_index: u64,
    pub voters: usize,
}

/// Sets the Raft gauges and counts `events`.
pub fn publish_raft(gauges: RaftGauges, events: RaftEvents) {
    RAFT_IS_LEADER.set(i64::from(gauges.leading));
    RAFT_TERM.set(int(gauges.term));
    RAFT_APPLIED_INDEX.set(int(gauges.applied_index));
    RAFT_VOTERS.set(i64::try_from(gauges.voters).unwrap_or(i64::MAX));
    if events.leader_changed {
        RAFT_LEADER_CHANGES.inc();
    }
    if events.became_leader {
        START_LEADER.inc();
    }
}

/// Sets the leader-only families to exactly `gauges` (series no longer in
/// them are removed).
pub fn publish_leader(gauges: &LeaderGauges) {
    set_exactly(
        &WORKER_STATE,
        &["worker"],
        &gauges
            .worker_state
            .iter()
            .map(|(w, s)| (vec![w.clone()], *s))
            .collect(),
    );
    set_exactly(
        &TASK_STATE,
        &["task", "source_id"],
        &gauges
            .task_state
            .iter()
            .map(|((t, s), v)| (vec![t.clone(), s.clone()], *v))
            .collect(),
    );
    set_exactly(&BINDINGS, &[], &one(gauges.bindings));
    set_exactly(
        &BINDING_EPOCH,
        &["source_id"],
        &gauges
            .binding_epoch
            .iter()
            .map(|(s, e)| (vec![s.clone()], *e))
            .collect(),
    );
    set_exactly(
        &DDL_STATE_NUMBER,
        &["task", "type"],
        &gauges
            .ddl_state_number
            .iter()
            .map(|((t, k), v)| (vec![t.clone(), (*k).to_string()], *v))
            .collect(),
    );
    set_exactly(&LOCKS_PENDING, &[], &one(gauges.locks_pending));
    set_exactly(&LOCK_OLDEST_AGE, &[], &one(gauges.oldest_lock_age_seconds));
}

/// Empties the leader-only families (this master does not lead).
pub fn clear_leader() {
    WORKER_STATE.reset();
    TASK_STATE.reset();
    BINDINGS.reset();
    BINDING_EPOCH.reset();
    DDL_STATE_NUMBER.reset();
    LOCKS_PENDING.reset();
    LOCK_OLDEST_AGE.reset();
}

/// A client write took `took` from proposal to applied.
pub fn write_committed(took: Duration) {
    COMMIT_DURATION.observe(took.as_secs_f64());
}

/// A worker lost its sources because its keepalive TTL ran out.
pub fn lease_expired() {
    LEASE_EXPIRIES.inc();
}

/// check-diff compared `equal` tables of `task` that match and `different`
/// ones that do not (or could not be compared).
pub fn check_diff_tables(task: &str, equal: u64, different: u64) {
    CHECK_DIFF_TABLES
        .with_label_values(&[task, "equal"])
        .inc_by(equal);
    CHECK_DIFF_TABLES
        .with_label_values(&[task, "different"])
        .inc_by(different);
}

/// The one series of a family without labels.
fn one<T>(value: T) -> BTreeMap<Vec<String>, T> {
    BTreeMap::from([(Vec::new(), value)])
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Sets `vec` to exactly `values` (label values in the order of `names`):
/// each value is stored, then every other series is removed. A scrape in
/// between sees new values beside old ones, never a missing series.
fn set_exactly<P: Atomic>(
    vec: &GenericGaugeVec<P>,
    names: &[&str],
    values: &BTreeMap<Vec<String>, P::T>,
) {
    for (labels, value) in values {
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        vec.with_label_values(&labels).set(*value);
    }
    let stale: Vec<Vec<String>> = prometheus::core::Collector::collect(vec)
        .iter()
        .flat_map(|family| family.get_metric())
        .map(|metric| {
            names
                .iter()
                .map(|name| {
                    metric
                        .get_label()
                        .iter()
                        .find(|pair| pair.name() == *name)
                        .map(|pair| pair.value().to_string())
                        .unwrap_or_default()
                })
                .collect()
        })
        .filter(|labels| !values.contains_key(labels))
        .collect();
    for labels in stale {
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        // A series another master of this process removed first is gone
        // already; nothing else can fail here.
        let _ = vec.remove_label_values(&labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_exactly_keeps_only_the_given_series() {
        let vec = IntGaugeVec::new(Opts::new("dm_master_test_set_exactly", "test"), &["task"])
            .expect("a valid family");
        let values = |pairs: &[(&str, i64)]| {
            pairs
                .iter()
                .map(|(t, v)| (vec![t.to_string()], *v))
                .collect::<BTreeMap<_, _>>()
        };
        set_exactly(&vec, &["task"], &values(&[("a", 1), ("b", 2)]));
        set_exactly(&vec, &["task"], &values(&[("b", 3), ("c", 4)]));
        let mut shown: Vec<(String, i64)> = prometheus::core::Collector::collect(&vec)
            .iter()
            .flat_map(|f| f.get_metric().to_vec())
            .map(|m| {
                (
                    m.get_label()[0].value().to_string(),
                    m.get_gauge().get_value() as i64,
                )
            })
            .collect();
        shown.sort();
        assert_eq!(shown, vec![("b".into(), 3), ("c".into(), 4)]);
    }

    #[test]
    fn every_family_is_registered_with_its_contract_name() {
        init();
        let names: Vec<String> = prometheus::gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        for name in [
            "dm_master_start_leader_counter",
            "dm_master_raft_is_leader",
            "dm_master_raft_term",
            "dm_master_raft_leader_changes_total",
            "dm_master_raft_applied_index",
            "dm_master_raft_voters",
            "dm_master_raft_commit_duration_seconds",
            "dm_master_worker_lease_expiries_total",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }
}
