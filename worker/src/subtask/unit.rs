//! Runs one subtask's units: the full copy, then (for `task-mode: all` and
//! `incremental`) the binlog sync.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use dm_proto::config::task::TaskMode;
use dm_proto::config::{SourceConfig, TaskConfig};
use dm_proto::pb;
use tokio::sync::Notify;

use crate::copy::progress::CopyProgress;
use crate::copy::{self, CopyJob, CopyOutcome, DEFAULT_ROWS_PER_CHUNK};
use crate::downstream::{db_opts, MetaTables, MySqlDownstream};
use crate::rules::TaskRules;

/// What a subtask runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    pub task: String,
    pub source: String,
    pub epoch: u64,
    /// The task file (YAML).
    pub task_yaml: String,
    /// The source configuration (JSON).
    pub source_json: String,
    /// Which start of the task this is.
    pub generation: u64,
}

/// How a unit run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitEnd {
    Finished,
    Fenced { by_epoch: u64 },
    Failed { error: String, transient: bool },
}

/// What a running unit shares with the supervisor.
#[derive(Debug)]
pub struct UnitShared {
    pub unit: pb::UnitType,
    pub progress: Arc<Mutex<CopyProgress>>,
    pub end: Option<UnitEnd>,
}

impl UnitShared {
    pub fn new() -> Self {
        Self {
            unit: pb::UnitType::Load,
            progress: Arc::new(Mutex::new(CopyProgress::new(Instant::now()))),
            end: None,
        }
    }
}

impl Default for UnitShared {
    fn default() -> Self {
        Self::new()
    }
}

fn lock(shared: &Mutex<UnitShared>) -> std::sync::MutexGuard<'_, UnitShared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the subtask and records how it ended; wakes the supervisor.
pub async fn run(spec: UnitSpec, shared: Arc<Mutex<UnitShared>>, wake: Arc<Notify>) {
    let end = run_units(&spec, &shared).await;
    if let Some(end) = end {
        match &end {
            UnitEnd::Failed { error, transient } => {
                tracing::warn!(task = %spec.task, source = %spec.source, transient, %error, "subtask stopped on an error")
            }
            UnitEnd::Fenced { by_epoch } => {
                tracing::warn!(task = %spec.task, source = %spec.source, epoch = spec.epoch, by_epoch, "fenced: a newer epoch owns the source")
            }
            UnitEnd::Finished => {
                tracing::info!(task = %spec.task, source = %spec.source, "subtask finished")
            }
        }
        lock(&shared).end = Some(end);
        wake.notify_one();
    }
}

/// `None` while the subtask keeps running (the sync unit).
async fn run_units(spec: &UnitSpec, shared: &Arc<Mutex<UnitShared>>) -> Option<UnitEnd> {
    let failed = |error: String| {
        Some(UnitEnd::Failed {
            error,
            transient: false,
        })
    };
    let task = match TaskConfig::parse("task", &spec.task_yaml) {
        Ok(t) => t,
        Err(e) => return failed(format!("the task's configuration is not valid: {e}")),
    };
    let source: SourceConfig = match serde_json::from_str(&spec.source_json) {
        Ok(s) => s,
        Err(e) => return failed(format!("the source's configuration is not valid: {e}")),
    };
    let Some(instance) = task.instance(&spec.source) else {
        return failed(format!(
            "task {} has no instance for source {}",
            task.name, spec.source
        ));
    };
    let rules = match TaskRules::for_source(&task, &spec.source) {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    if task.task_mode != TaskMode::Incremental {
        lock(shared).unit = pb::UnitType::Load;
        let dumper = task.mydumper_for(instance);
        let loader = task.loader_for(instance);
        let copiers = dumper.threads.clamp(1, loader.pool_size.max(1)).min(64) as usize;
        let progress = lock(shared).progress.clone();
        let job = CopyJob {
            task: task.name.clone(),
            source: spec.source.clone(),
            epoch: spec.epoch,
            upstream: db_opts(
                &source.from,
                copiers + 1,
                vec![
                    "SET NAMES utf8mb4".to_string(),
                    "SET time_zone = '+00:00'".to_string(),
                ],
            ),
            downstream: MySqlDownstream::connect(&task.target_database, copiers + 2),
            meta: MetaTables {
                meta_schema: task.meta_schema.clone(),
                task: task.name.clone(),
            },
            rules,
            copiers,
            rows_per_chunk: if dumper.rows > 0 {
                dumper.rows
            } else {
                DEFAULT_ROWS_PER_CHUNK
            },
            statement_bytes: usize::try_from(dumper.statement_size)
                .unwrap_or(usize::MAX)
                .clamp(4096, 16 << 20),
        };
        match copy::run(Arc::new(job), progress).await {
            Ok(CopyOutcome::Finished) => {}
            Ok(CopyOutcome::Fenced { by_epoch }) => return Some(UnitEnd::Fenced { by_epoch }),
            Err(e) => {
                return Some(UnitEnd::Failed {
                    transient: e.is_transient(),
                    error: e.to_string(),
                })
            }
        }
        if task.task_mode == TaskMode::Full {
            return Some(UnitEnd::Finished);
        }
    }
    // The binlog sync unit takes over here.
    lock(shared).unit = pb::UnitType::Sync;
    std::future::pending::<()>().await;
    None
}

/// How long a fence probe may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads the downstream fence of a subtask that was stopped: `Some(epoch)`
/// when a newer epoch has claimed the source since, i.e. this worker was
/// fenced out (the source moved while it was paused or cut off).
pub async fn probe_fence(spec: &UnitSpec) -> Option<u64> {
    let task = TaskConfig::parse("task", &spec.task_yaml).ok()?;
    let downstream = MySqlDownstream::connect(&task.target_database, 1);
    let meta = MetaTables {
        meta_schema: task.meta_schema.clone(),
        task: task.name.clone(),
    };
    let stored = tokio::time::timeout(PROBE_TIMEOUT, downstream.fence_epoch(&meta, &spec.source))
        .await
        .ok()?
        .ok()?;
    let _ = downstream.close().await;
    (stored > spec.epoch).then_some(stored)
}
