//! The invariants, one module each, checked on every seed. `observe` runs
//! after every simulation step on the running masters; the final checks
//! run once the cluster settled.
//!
//! - [`log_matching`]: masters that applied an index applied the same
//!   entry there;
//! - [`state_safety`]: masters that applied the same log entry hold the
//!   same cluster state;
//! - [`bindings`]: a (source, epoch) binding names one worker, ever, and
//!   epochs only grow;
//! - [`shard_locks`]: a shard-DDL lock has one owner on every master;
//! - [`acked`]: every request `dmctl` saw acknowledged survived;
//! - [`data`]: every full copy is done and the downstream equals the
//!   merged upstream shards; no commit (copy chunk or sync) under a stale
//!   epoch, no checkpoint moved back, no event or chunk applied twice
//!   outside safe mode;
//! - [`liveness`]: with every fault over, the masters agree, every source is
//!   bound to a live worker and a new request is acknowledged.

pub mod acked;
pub mod bindings;
pub mod data;
pub mod liveness;
pub mod log_matching;
pub mod shard_locks;
pub mod state_safety;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use dm_master::node::Node;

/// What a run still lacks before it counts as converged (the liveness
/// and data checks' answer while the cluster settles).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Pending(pub String);

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub at: Duration,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] at {:?}: {}", self.invariant, self.at, self.detail)
    }
}

/// The per-step checks and what they remember between steps.
#[derive(Debug, Default)]
pub struct Checker {
    pub log_matching: log_matching::LogMatching,
    pub state_safety: state_safety::StateSafety,
    pub bindings: bindings::Bindings,
    pub shard_locks: shard_locks::ShardLocks,
    pub violations: Vec<Violation>,
}

impl Checker {
    /// Looks at every running master after a step.
    pub fn observe(&mut self, at: Duration, masters: &BTreeMap<String, Arc<Node>>) {
        for (name, node) in masters {
            let metrics = node.raft.metrics().borrow().clone();
            let applied = node.state();
            let found = [
                self.log_matching.observe(name, &metrics),
                self.state_safety.observe(name, &applied),
                self.bindings.observe(name, &applied.state),
                self.shard_locks.observe(name, &applied.state),
            ];
            for (invariant, detail) in found.into_iter().flatten() {
                self.violations.push(Violation {
                    invariant,
                    at,
                    detail,
                });
            }
        }
    }
}
