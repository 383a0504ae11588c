//! The client of the simulation: `dmctl`'s requests (through the same gRPC
//! API), each sent to a master the seed picks and retried on the next one
//! when a master does not answer, as `dmctl --master-addr a,b,c` does. Every
//! request's outcome is recorded: acknowledged, refused, or unknown (no
//! answer: it may or may not have happened). After the faults stop, one
//! more request must be acknowledged (liveness).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use dm_proto::net::Connector;
use dm_proto::pb;
use dm_proto::pb::master_client::MasterClient;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::hosts::{master_addr, master_name};
use super::net::SimConnector;

/// A request of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateSource(String),
    StopSource(String),
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
    pub settled: Rc<RefCell<bool>>,
}

pub fn source_yaml(id: &str) -> String {
    format!("source-id: {id}\nfrom:\n  host: up-{id}\n  port: 3306\n  user: root\n")
}

/// Attempts per request before its outcome is unknown.
const ATTEMPTS: usize = 12;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

async fn send(op: &Op, first: usize, masters: usize) -> Outcome {
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
        let request = match op {
            Op::CreateSource(id) => pb::OperateSourceRequest {
                op: pb::SourceOp::StartSource as i32,
                config: vec![source_yaml(id)],
                source_id: Vec::new(),
            },
            Op::StopSource(id) => pb::OperateSourceRequest {
                op: pb::SourceOp::StopSource as i32,
                config: Vec::new(),
                source_id: vec![id.clone()],
            },
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, client.operate_source(request)).await {
            Ok(Ok(answer)) => {
                let answer = answer.into_inner();
                if answer.result {
                    return Outcome::Acked;
                }
                let msg = format!("{} {:?}", answer.msg, answer.sources);
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

/// The client host's program.
pub async fn run(
    seed: u64,
    masters: usize,
    journal: Journal,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xc11e_7000);
    let sources = rng.gen_range(2..=4);
    let mut ops = Vec::new();
    for i in 0..sources {
        ops.push(Op::CreateSource(format!("s{i}")));
    }
    if rng.gen_bool(0.5) {
        ops.push(Op::StopSource(format!("s{}", rng.gen_range(0..sources))));
    }
    for op in ops {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..2500))).await;
        let outcome = send(&op, rng.gen_range(0..masters), masters).await;
        journal.records.borrow_mut().push(Record {
            op,
            outcome,
            at: turmoil::elapsed(),
            after_faults: false,
        });
    }
    while !*journal.settled.borrow() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let probe = Op::CreateSource("probe".into());
    let outcome = send(&probe, rng.gen_range(0..masters), masters).await;
    journal.records.borrow_mut().push(Record {
        op: probe,
        outcome,
        at: turmoil::elapsed(),
        after_faults: true,
    });
    Ok(())
}
