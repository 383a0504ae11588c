//! Liveness: once every fault is over, the masters agree on one leader and
//! on their state, every source is bound to a registered worker, and the
//! request sent after the faults was acknowledged.

use std::collections::BTreeMap;
use std::sync::Arc;

use dm_master::node::Node;
use openraft::ServerState;

use crate::sim::invariants::Pending;
use crate::sim::workload::{Outcome, Record};

/// `Ok` when the cluster has converged; otherwise what is still missing.
pub fn check(
    masters: &BTreeMap<String, Arc<Node>>,
    expected_masters: usize,
    expected_workers: usize,
    records: &[Record],
) -> Result<(), Pending> {
    if masters.len() != expected_masters {
        return Err(Pending(format!(
            "{} of {expected_masters} masters running",
            masters.len()
        )));
    }
    let mut leaders = Vec::new();
    let mut applied = Vec::new();
    for (name, node) in masters {
        let m = node.raft.metrics().borrow().clone();
        if m.state == ServerState::Leader {
            leaders.push(name.clone());
        }
        applied.push((name.clone(), m.last_applied, m.current_leader));
    }
    if leaders.len() != 1 {
        return Err(Pending(format!("leaders: {leaders:?}")));
    }
    let first = &applied[0];
    if applied.iter().any(|a| a.1 != first.1 || a.2 != first.2) {
        return Err(Pending(format!("masters disagree: {applied:?}")));
    }
    let state = masters
        .get(&leaders[0])
        .map(|n| n.state())
        .ok_or_else(|| Pending("no leader node".into()))?;
    // A worker runs one source: as many sources as workers are bound.
    let s = &state.state;
    let bound = s
        .bindings
        .iter()
        .filter(|(source, b)| s.sources.contains_key(*source) && s.workers.contains_key(&b.worker))
        .count();
    let want = s.sources.len().min(s.workers.len());
    if bound != want || s.workers.len() != expected_workers {
        return Err(Pending(format!(
            "{bound} of {want} sources bound, {} of {expected_workers} workers registered: {:?}",
            s.workers.len(),
            s.bindings
        )));
    }
    match records.iter().find(|r| r.after_faults) {
        Some(r) if r.outcome == Outcome::Acked => Ok(()),
        Some(r) => Err(Pending(format!(
            "the request after the faults ended {:?}",
            r.outcome
        ))),
        None => Err(Pending(
            "the request after the faults has no answer yet".into(),
        )),
    }
}
