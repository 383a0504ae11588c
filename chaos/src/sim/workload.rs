//! The client of the simulation: `dmctl`'s requests (through the same gRPC
//! API), each sent to a master the seed picks and retried on the next one
//! when a master does not answer, as `dmctl --master-addr a,b,c` does. Every
//! request's outcome is recorded: acknowledged, refused, or unknown (no
//! answer: it may or may not have happened). After the faults stop, one
//! more request must be acknowledged (liveness).

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use dm_proto::net::Connector;
use dm_proto::pb;
use dm_proto::pb::master_client::MasterClient;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;

use super::hosts::{master_addr, master_name};
use super::net::SimConnector;

/// A request of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateSource(String),
    StopSource(String),
    /// `start-task` of the merge task over these sources.
    StartTask(Vec<String>),
    /// `operate-leader evict --name` of this master.
    EvictMaster(String),
    /// `operate-leader cancel-evict --name` of this master.
    CancelEvict(String),
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Acked,
    Refused(String),
    /// No master answered in time: it may have happened.
    Unknown(String),
}

#[derive(Debug, Clone)]
pub struct Record {
    pub op: Op,
    pub outcome: Outcome,
    /// Simulated time of the answer.
    pub at: Duration,
    /// Sent after the faults stopped (must be acknowledged).
    pub after_faults: bool,
}

/// Shared between the client host and the checks.
#[derive(Debug, Default, Clone)]
pub struct Journal {
    pub records: Rc<RefCell<Vec<Record>>>,
    /// Set by the runner when the faults are over.
    pub settled: Rc<watch::Sender<bool>>,
}

pub fn source_yaml(id: &str) -> String {
    format!("source-id: {id}\nfrom:\n  host: up-{id}\n  port: 3306\n  user: root\n")
}

/// How the task migrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// `task-mode: incremental` from the start of each source's binlog.
    Incremental,
    /// `task-mode: all`: the full copy of the rows already there, then
    /// the binlog from the copy's snapshots on.
    Full,
}

/// Rows per chunk of the full copy (several chunks per shard).
pub const COPY_ROWS_PER_CHUNK: u64 = 100;

/// The task's name.
pub const TASK: &str = "merge";

/// The task merging every shard `app.t_<i>` into `app.t`. Its copy stops
/// on a row already downstream (`on-duplicate-logical: error`, not DM's
/// default `replace`): a chunk copied twice must show, not be overwritten.
pub fn task_yaml(sources: &[String], migration: Migration) -> String {
    let mode = match migration {
        Migration::Incremental => "incremental",
        Migration::Full => "all",
    };
    let mut yaml = format!(
        "name: {TASK}\ntask-mode: {mode}\nshard-mode: pessimistic\nignore-checking-items: [\"all\"]\n\
         target-database:\n  host: down\n  port: 3306\n  user: root\n\
         block-allow-list:\n  app:\n    do-dbs: [\"app\"]\n\
         routes:\n  merge:\n    schema-pattern: \"app\"\n    table-pattern: \"t_*\"\n    target-schema: \"app\"\n    target-table: \"t\"\n\
         mydumpers:\n  small:\n    threads: 2\n    rows: {COPY_ROWS_PER_CHUNK}\n\
         loaders:\n  small:\n    pool-size: 2\n    on-duplicate-logical: error\n\
         syncers:\n  small:\n    worker-count: 2\n    batch: 50\n\
         mysql-instances:\n",
    );
    for id in sources {
        yaml.push_str(&format!(
            "  - source-id: \"{id}\"\n    block-allow-list: \"app\"\n    route-rules: [\"merge\"]\n    \
             mydumper-config-name: \"small\"\n    loader-config-name: \"small\"\n    syncer-config-name: \"small\"\n"
        ));
        if migration == Migration::Incremental {
            yaml.push_str(
                "    meta:\n      binlog-name: \"mem-bin.000001\"\n      binlog-pos: 4\n",
            );
        }
    }
    yaml
}

/// Attempts per request before its outcome is unknown.
const ATTEMPTS: usize = 12;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

type Answer = Result<Result<(bool, String), tonic::Status>, tokio::time::error::Elapsed>;

/// One attempt of a call, bounded by [`ATTEMPT_TIMEOUT`]; `read` gives
/// the answer's result and message.
async fn ask<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    read: impl FnOnce(T) -> (bool, String),
) -> Answer {
    tokio::time::timeout(ATTEMPT_TIMEOUT, call)
        .await
        .map(|answer| answer.map(|a| read(a.into_inner())))
}

fn source_answer(a: pb::OperateSourceResponse) -> (bool, String) {
    (a.result, format!("{} {:?}", a.msg, a.sources))
}

async fn send(op: &Op, first: usize, masters: usize, migration: Migration) -> Outcome {
    let connector = SimConnector::default();
    let mut last = String::new();
    // An attempt that got no answer may have happened: a later refusal
    // ("does not exist", "already exists") then says nothing certain.
    let mut unanswered = false;
    for attempt in 0..ATTEMPTS {
        let addr = master_addr(&master_name((first + attempt) % masters));
        let Ok(channel) = connector.channel(&addr) else {
            continue;
        };
        let mut client = MasterClient::new(channel);
        let answer = match op {
            Op::CreateSource(id) => {
                let request = pb::OperateSourceRequest {
                    op: pb::SourceOp::StartSource as i32,
                    config: vec![source_yaml(id)],
                    source_id: Vec::new(),
                };
                ask(client.operate_source(request), source_answer).await
            }
            Op::StopSource(id) => {
                let request = pb::OperateSourceRequest {
                    op: pb::SourceOp::StopSource as i32,
                    config: Vec::new(),
                    source_id: vec![id.clone()],
                };
                ask(client.operate_source(request), source_answer).await
            }
            Op::EvictMaster(name) | Op::CancelEvict(name) => {
                let op = if matches!(op, Op::EvictMaster(_)) {
                    pb::LeaderOp::EvictLeaderOp
                } else {
                    pb::LeaderOp::CancelEvictLeaderOp
                };
                let request = pb::OperateLeaderRequest {
                    op: op as i32,
                    name: name.clone(),
                };
                ask(client.operate_leader(request), |a| (a.result, a.msg)).await
            }
            Op::StartTask(sources) => {
                let request = pb::StartTaskRequest {
                    task: task_yaml(sources, migration),
                    sources: Vec::new(),
                    remove_meta: false,
                    start_time: String::new(),
                    paused_sources: Vec::new(),
                };
                ask(client.start_task(request), |a| {
                    (a.result, format!("{} {:?}", a.msg, a.sources))
                })
                .await
            }
        };
        match answer {
            Ok(Ok((result, msg))) => {
                if result {
                    return Outcome::Acked;
                }
                // A master without a leader says so: try again.
                if !msg.contains("leader") {
                    if unanswered {
                        return Outcome::Unknown(format!(
                            "refused after an unanswered attempt: {msg}"
                        ));
                    }
                    return Outcome::Refused(msg);
                }
                last = msg;
            }
            Ok(Err(status)) => {
                unanswered = true;
                last = format!("{addr}: {}", status.message());
            }
            Err(_) => {
                unanswered = true;
                last = format!("{addr}: no answer within {ATTEMPT_TIMEOUT:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Outcome::Unknown(last)
}

/// In half the seeds, a master is evicted from leading somewhere among
/// `ops` (after the task started), and in half of those the eviction is
/// cancelled later. A generator of its own keeps the other draws of a seed.
fn evictions(seed: u64, masters: usize, ops: &mut Vec<Op>) {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xe71c_7000);
    if masters == 0 || !rng.gen_bool(0.5) {
        return;
    }
    let name = crate::sim::hosts::master_name(rng.gen_range(0..masters));
    let started = ops
        .iter()
        .position(|op| matches!(op, Op::StartTask(_)))
        .map_or(0, |i| i + 1);
    let at = rng.gen_range(started..=ops.len());
    ops.insert(at, Op::EvictMaster(name.clone()));
    if rng.gen_bool(0.5) {
        let later = rng.gen_range(at + 1..=ops.len());
        ops.insert(later, Op::CancelEvict(name));
    }
}

/// The client host's program.
pub async fn run(
    seed: u64,
    masters: usize,
    sources: Vec<String>,
    migration: Migration,
    journal: Journal,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xc11e_7000);
    let mut ops: Vec<Op> = sources.iter().cloned().map(Op::CreateSource).collect();
    ops.push(Op::StartTask(sources.clone()));
    // A source without a task: created and, sometimes, stopped again.
    ops.push(Op::CreateSource("spare".into()));
    if rng.gen_bool(0.5) {
        ops.push(Op::StopSource("spare".into()));
    }
    evictions(seed, masters, &mut ops);
    for op in ops {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..600))).await;
        let outcome = send(&op, rng.gen_range(0..masters), masters, migration).await;
        journal.records.borrow_mut().push(Record {
            op,
            outcome,
            at: turmoil::elapsed(),
            after_faults: false,
        });
    }
    let _ = journal
        .settled
        .subscribe()
        .wait_for(|settled| *settled)
        .await;
    let probe = Op::CreateSource("probe".into());
    let outcome = send(&probe, rng.gen_range(0..masters), masters, migration).await;
    journal.records.borrow_mut().push(Record {
        op: probe,
        outcome,
        at: turmoil::elapsed(),
        after_faults: true,
    });
    Ok(())
}
