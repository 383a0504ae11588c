//! The subtasks a worker runs, kept in line with the leader's answers.
//!
//! The heartbeat loop hands every answer to the [`Supervisor`]: it updates
//! which sources run under which epoch ([`Assignments`]), then, for every
//! subtask of a running source, asks the pure stage machine ([`stage`])
//! whether to start or stop its unit ([`unit`]). Units run as tokio tasks
//! and report how they ended through shared state; a fenced unit stops its
//! whole source. A subtask paused by a transient error is resumed as its
//! source's `checker` says ([`backoff`]). Everything the heartbeat reports
//! (stage, unit, progress, error, fenced) comes from here, and so do the
//! worker's metrics of those values ([`crate::metrics`]), set as the
//! report is built; a subtask's series go with it.

pub mod backoff;
pub mod stage;
pub mod unit;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

use dm_proto::config::SourceConfig;
use dm_proto::pb;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::assignments::{self, Assignments, Change};
use crate::databases::{Databases, MySqlDatabases};
use crate::lock;
use crate::metrics::{Reported, Series, SubtaskMetrics};
use crate::schema::SchemaOp;
use crate::sync::binlog_ops::BinlogOp;
use crate::sync::progress::Progress;
use backoff::{AutoResume, Policy, Seen, Verdict};
use stage::{Decision, Expected, UnitState};
use unit::{UnitEnd, UnitShared, UnitSpec};

/// One subtask (task x source) of a running source.
#[derive(Debug)]
struct Subtask {
    spec: UnitSpec,
    expected: Expected,
    resume_seq: u64,
    state: UnitState,
    /// The source's `checker`.
    policy: Policy,
    auto_resume: AutoResume,
    handle: Option<JoinHandle<()>>,
    shared: Arc<Mutex<UnitShared>>,
    /// The leader's shard-DDL operation, as its unit sees it.
    shard_ops: watch::Sender<Option<pb::ShardDdlOperation>>,
    /// The `binlog-schema` operations the leader holds for this subtask;
    /// a sync takes them when it starts.
    schema_ops: watch::Sender<Vec<SchemaOp>>,
    /// The `binlog` operations the leader holds for this subtask; its sync
    /// sees the latest.
    binlog_ops: watch::Sender<Vec<BinlogOp>>,
    /// Its metric handles, shared with its runs.
    metrics: Arc<SubtaskMetrics>,
    /// Removes its series when the subtask is dropped.
    _series: Series,
}

impl Subtask {
    fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

impl Drop for Subtask {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the worker's subtasks.
#[derive(Debug)]
pub struct Supervisor {
    /// The worker's name (the metrics' `worker` label).
    worker: String,
    assignments: Assignments,
    subtasks: BTreeMap<(String, String), Subtask>,
    wake: Arc<Notify>,
    /// Fence probes of stopped sources report here: (source, newer epoch).
    fenced_tx: mpsc::UnboundedSender<(String, u64)>,
    fenced_rx: mpsc::UnboundedReceiver<(String, u64)>,
    databases: Arc<dyn Databases>,
    /// Draws the auto-resume's jitter.
    jitter: StdRng,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new("", Arc::new(MySqlDatabases), dm_proto::clock::unix_ms())
    }
}

impl Supervisor {
    /// A supervisor of worker `worker` whose subtasks use `databases`;
    /// `jitter_seed` seeds the auto-resume's jitter (the simulation passes
    /// its own, so a seed replays the same retries).
    pub fn new(worker: &str, databases: Arc<dyn Databases>, jitter_seed: u64) -> Self {
        let (fenced_tx, fenced_rx) = mpsc::unbounded_channel();
        Self {
            worker: worker.to_string(),
            assignments: Assignments::default(),
            subtasks: BTreeMap::new(),
            wake: Arc::new(Notify::new()),
            fenced_tx,
            fenced_rx,
            databases,
            jitter: StdRng::seed_from_u64(jitter_seed),
        }
    }

    /// Notified when a unit ends (report it without waiting).
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn running_sources(&self) -> usize {
        self.assignments.running().len()
    }

    /// Makes what runs match the leader's answer.
    pub fn apply(&mut self, answer: &[pb::SourceAssignment]) {
        let changes = self.assignments.apply(answer);
        self.stopped(changes);
        for assignment in answer {
            let Some(running) = self.assignments.running().get(&assignment.source) else {
                continue;
            };
            if running.epoch != assignment.epoch {
                continue;
            }
            let source = assignment.source.clone();
            let wanted: Vec<&str> = assignment
                .subtasks
                .iter()
                .map(|s| s.task.as_str())
                .collect();
            self.subtasks
                .retain(|(s, t), _| *s != source || wanted.contains(&t.as_str()));
            for sub in &assignment.subtasks {
                let spec = UnitSpec {
                    task: sub.task.clone(),
                    source: source.clone(),
                    epoch: assignment.epoch,
                    task_yaml: sub.config.clone(),
                    source_json: assignment.source_config.clone(),
                    generation: sub.generation,
                    start_time: sub.start_time.clone(),
                };
                let expected = if sub.expected_stage == pb::Stage::Paused as i32 {
                    Expected::Paused
                } else {
                    Expected::Running
                };
                let key = (source.clone(), sub.task.clone());
                if self.subtasks.get(&key).is_some_and(|s| s.spec != spec) {
                    self.subtasks.remove(&key);
                }
                let worker = &self.worker;
                let entry = self.subtasks.entry(key).or_insert_with(|| {
                    let (metrics, series) = SubtaskMetrics::new(&spec.task, &spec.source, worker);
                    Subtask {
                        policy: checker_policy(&spec.source_json),
                        spec,
                        expected,
                        resume_seq: sub.resume_seq,
                        state: UnitState::Idle,
                        auto_resume: AutoResume::new(Instant::now()),
                        handle: None,
                        shared: Arc::new(Mutex::new(UnitShared::new())),
                        shard_ops: watch::channel(None).0,
                        schema_ops: watch::channel(Vec::new()).0,
                        binlog_ops: watch::channel(Vec::new()).0,
                        metrics,
                        _series: series,
                    }
                });
                entry.expected = expected;
                entry.resume_seq = sub.resume_seq;
                entry.shard_ops.send_if_modified(|op| {
                    let changed = *op != sub.shard_ddl;
                    op.clone_from(&sub.shard_ddl);
                    changed
                });
                let binlog_ops = BinlogOp::from_assignment(&sub.binlog_ops);
                entry.binlog_ops.send_if_modified(|ops| {
                    let changed = *ops != binlog_ops;
                    *ops = binlog_ops;
                    changed
                });
                let schema_ops = SchemaOp::from_assignment(&sub.schema_ops);
                let task = &entry.spec.task;
                entry.schema_ops.send_if_modified(|ops| {
                    if *ops == schema_ops {
                        return false;
                    }
                    let ids: Vec<u64> = schema_ops.iter().map(|op| op.id).collect();
                    tracing::info!(%task, %source, ?ids, "binlog-schema operations held for the subtask (applied when its sync starts)");
                    *ops = schema_ops;
                    true
                });
            }
        }
        self.step();
    }

    /// Stops everything (the lease ran out, or the worker stops).
    pub fn stop_all(&mut self) {
        let changes = self.assignments.stop_all();
        self.stopped(changes);
    }

    fn stopped(&mut self, changes: Vec<Change>) {
        for change in changes {
            let fenced =
                matches!(change, Change::Stopped { why, .. } if why == assignments::FENCED);
            match change {
                Change::Started { source, epoch } => {
                    tracing::info!(%source, epoch, "running source");
                }
                Change::Stopped { source, epoch, why } => {
                    tracing::info!(%source, epoch, why, "stopped source");
                    let stopped: Vec<UnitSpec> = self
                        .subtasks
                        .iter()
                        .filter(|((s, _), _)| *s == source)
                        .map(|(_, sub)| sub.spec.clone())
                        .collect();
                    self.subtasks.retain(|(s, _), _| *s != source);
                    if !fenced {
                        self.probe(stopped);
                    }
                }
            }
        }
    }

    /// A stopped source may have been taken over while this worker could
    /// not hear about it: ask the downstream fence, so that the worker
    /// reports (and logs) that it was fenced out.
    fn probe(&self, stopped: Vec<UnitSpec>) {
        for spec in stopped {
            let report = self.fenced_tx.clone();
            let wake = self.wake.clone();
            let databases = self.databases.clone();
            tokio::spawn(async move {
                if let Some(by_epoch) = unit::probe_fence(&spec, &*databases).await {
                    tracing::warn!(task = %spec.task, source = %spec.source, epoch = spec.epoch, by_epoch,
                        "fenced: a newer epoch owns the source");
                    let _ = report.send((spec.source.clone(), by_epoch));
                    wake.notify_one();
                }
            });
        }
    }

    /// Collects the units' ends and starts or stops units as the stage
    /// machine decides.
    pub fn step(&mut self) {
        let now = Instant::now();
        let mut fenced = Vec::new();
        while let Ok(probed) = self.fenced_rx.try_recv() {
            fenced.push(probed);
        }
        for subtask in self.subtasks.values_mut() {
            let end = lock(&subtask.shared).end.take();
            match end {
                None => {}
                Some(UnitEnd::Finished) => {
                    subtask.handle = None;
                    subtask.state = UnitState::Finished;
                }
                Some(UnitEnd::Fenced { by_epoch }) => {
                    subtask.handle = None;
                    subtask.metrics.fenced();
                    fenced.push((subtask.spec.source.clone(), by_epoch));
                }
                Some(UnitEnd::Failed { error, transient }) => {
                    subtask.handle = None;
                    subtask.metrics.exited_with_error(transient);
                    subtask.state = UnitState::Failed {
                        error,
                        resume_seq: subtask.resume_seq,
                        transient,
                    };
                }
            }
        }
        for (source, by_epoch) in fenced {
            if let Some(change) = self.assignments.fence(&source, by_epoch) {
                self.stopped(vec![change]);
            }
        }
        for subtask in self.subtasks.values_mut() {
            let seen = match (subtask.expected, &subtask.state) {
                (Expected::Running, UnitState::Failed { transient, .. }) => {
                    if *transient {
                        Seen::PausedTransient
                    } else {
                        Seen::PausedFatal
                    }
                }
                _ => Seen::Other,
            };
            let verdict =
                subtask
                    .auto_resume
                    .inspect(&subtask.policy, seen, now, self.jitter.gen::<f64>());
            if verdict == Some(Verdict::Resume) {
                tracing::info!(task = %subtask.spec.task, source = %subtask.spec.source,
                    resumes = subtask.auto_resume.resumes(), "resuming a subtask paused by a transient error");
            }
            let auto_resume = verdict == Some(Verdict::Resume);
            match stage::decide(
                subtask.expected,
                subtask.resume_seq,
                &subtask.state,
                auto_resume,
            ) {
                Decision::Keep => {}
                Decision::Stop => {
                    subtask.stop();
                    subtask.state = UnitState::Idle;
                }
                Decision::Start => {
                    subtask.stop();
                    // Until the new run says otherwise, it is where the
                    // last one was (a retried sync is not a new copy).
                    let restarted = lock(&subtask.shared).restarted();
                    subtask.shared = Arc::new(Mutex::new(restarted));
                    subtask.handle = Some(tokio::spawn(unit::run(
                        subtask.spec.clone(),
                        subtask.shared.clone(),
                        self.wake.clone(),
                        unit::FromLeader {
                            shard_ops: subtask.shard_ops.subscribe(),
                            schema_ops: subtask.schema_ops.subscribe(),
                            binlog_ops: subtask.binlog_ops.subscribe(),
                        },
                        self.databases.clone(),
                        subtask.metrics.clone(),
                    )));
                    subtask.state = UnitState::Running;
                }
            }
        }
    }

    /// What to report in the next heartbeat.
    pub fn reports(&self) -> Vec<pb::SourceReport> {
        let now = Instant::now();
        let mut reports = self.assignments.reports();
        for report in reports.iter_mut().filter(|r| !r.fenced) {
            report.subtasks = self
                .subtasks
                .iter()
                .filter(|((source, _), _)| *source == report.source)
                .map(|((_, task), s)| subtask_report(task, s, now))
                .collect();
        }
        reports
    }
}

fn subtask_report(task: &str, s: &Subtask, now: Instant) -> pb::SubtaskReport {
    let shared = lock(&s.shared);
    let unit = shared.unit;
    let sync = shared.sync.as_ref().map(Progress::snapshot);
    let stage = stage::stage(s.expected, &s.state);
    let copy = lock(&shared.progress);
    let progress = match unit {
        pb::UnitType::Sync => sync.as_ref().map(|p| {
            let mut status = p.status(now.into_std());
            // A sync that is not running applies nothing: never synced.
            status.synced &= stage == pb::Stage::Running && s.handle.is_some();
            pb::subtask_report::Progress::Sync(status)
        }),
        pb::UnitType::Load => {
            let status = copy.status(now.into_std());
            Some(pb::subtask_report::Progress::Load(status))
        }
        _ => None,
    };
    // The same values, for the metrics: the copy's progress also once the
    // sync runs (a finished copy stays 1).
    s.metrics.report(&Reported {
        stage,
        lag_seconds: sync.as_ref().map(|p| p.lag_seconds),
        binlog: match (&progress, &sync) {
            (Some(pb::subtask_report::Progress::Sync(_)), Some(p)) => {
                Some((&p.committed, p.master()))
            }
            _ => None,
        },
        copy_progress: (unit == pb::UnitType::Load || copy.planned())
            .then(|| copy.percent() / 100.0),
    });
    drop(copy);
    let error_at = match &s.state {
        UnitState::Failed { .. } => sync.as_ref().and_then(|p| p.error_at.clone()),
        _ => None,
    };
    let result = match &s.state {
        UnitState::Failed {
            error, transient, ..
        } => Some(pb::ProcessResult {
            is_canceled: false,
            errors: vec![pb::ProcessError {
                err_code: String::new(),
                err_class: format!("{:?}", unit).to_lowercase(),
                err_scope: "internal".into(),
                err_level: "high".into(),
                message: match &error_at {
                    Some(at) => format!("{error}; {}", at.describe()),
                    None => error.clone(),
                },
                raw_cause: String::new(),
                workaround: workaround(s, *transient, now),
            }],
            detail: Vec::new(),
        }),
        _ => None,
    };
    pb::SubtaskReport {
        task: task.to_string(),
        stage: stage as i32,
        unit: unit as i32,
        checkpoint: sync.as_ref().map(|p| pb::Checkpoint {
            binlog_name: p.committed.binlog_name.clone(),
            binlog_pos: p.committed.binlog_pos,
            binlog_gtid: p.committed.binlog_gtid.clone(),
        }),
        upstream_position: sync.as_ref().map(|p| pb::Checkpoint {
            binlog_name: p.read.binlog_name.clone(),
            binlog_pos: p.read.binlog_pos,
            binlog_gtid: p.read.binlog_gtid.clone(),
        }),
        lag_seconds: sync.as_ref().map_or(0, |p| p.lag_seconds),
        result,
        shard_ddl: sync.as_ref().and_then(|p| p.shard_ddl.clone()),
        progress,
        generation: s.spec.generation,
        schema_ops_applied: sync.as_ref().map_or(0, |p| p.schema_ops_applied),
        error_start: error_at.as_ref().map(|at| checkpoint(&at.start)),
        error_end: error_at.as_ref().map(|at| checkpoint(&at.end)),
        error_on_statement: error_at.as_ref().is_some_and(|at| at.statement),
        binlog_ops_done: sync
            .as_ref()
            .map(|p| p.binlog_ops_done.iter().copied().collect())
            .unwrap_or_default(),
    }
}

fn checkpoint(p: &crate::position::Position) -> pb::Checkpoint {
    pb::Checkpoint {
        binlog_name: p.binlog_name.clone(),
        binlog_pos: p.binlog_pos,
        binlog_gtid: p.binlog_gtid.clone(),
    }
}

/// The `checker` of the source in `source_json`; DM's defaults when it
/// does not parse (the unit then fails on it and says so).
fn checker_policy(source_json: &str) -> Policy {
    serde_json::from_str::<SourceConfig>(source_json)
        .map(|source| Policy::from_config(&source.checker))
        .unwrap_or_default()
}

/// What `query-status` tells the user to do about a failed subtask.
fn workaround(s: &Subtask, transient: bool, now: Instant) -> String {
    if !transient {
        return "fix the cause, then `resume-task`".into();
    }
    match s.auto_resume.resume_by(&s.policy) {
        Some(at) => format!(
            "the worker retries by itself in at most {:.1} s (automatic retry {} since the error began; the source's checker sets the backoff); `resume-task` retries now",
            at.saturating_duration_since(now).as_secs_f64(),
            s.auto_resume.resumes()
        ),
        None => "automatic resume is off (the source's checker.check-enable is false): fix the cause, then `resume-task`".into(),
    }
}
