//! The data: once the faults are over and the writes stopped, the
//! downstream's merged table equals the merge of the upstream shards, row
//! for row (the rows the full copy brought included), and a task with the
//! full copy has every chunk of every source's plan done; and across the
//! whole run, the copy's chunk commits and the sync's alike, the downstream saw no commit under a
//! stale epoch, no checkpoint moving back, no insert of a row that was
//! already there (an event applied twice outside the declared safe-mode
//! replay), and no shard DDL that ran downstream more than once.

use std::collections::BTreeSet;

use dm_worker::downstream::MetaTables;

use crate::sim::data::World;
use crate::sim::invariants::Pending;
use crate::sim::workload::Migration;

/// `Ok` when every source's copy is done (with the full copy) and the
/// downstream equals the merged upstream.
pub fn converged(world: &World, migration: Migration) -> Result<(), Pending> {
    if migration == Migration::Full {
        copied(world)?;
    }
    rows_equal(world)
}

/// Every source has a copy plan and every chunk of it is done.
fn copied(world: &World) -> Result<(), Pending> {
    let meta = MetaTables {
        meta_schema: "dm_meta".into(),
        task: crate::sim::workload::TASK.into(),
    };
    for source in world.upstreams.keys() {
        let plan = world.downstream.stored_plan(&meta, source);
        let pending = plan.iter().filter(|c| c.done.is_none()).count();
        if plan.is_empty() || pending > 0 {
            return Err(Pending(format!(
                "the copy of {source} is not done: {pending} of {} chunks pending",
                plan.len()
            )));
        }
    }
    Ok(())
}

/// `Ok` when the downstream equals the merged upstream.
fn rows_equal(world: &World) -> Result<(), Pending> {
    let want = world.merged_upstream();
    let got = world.downstream_rows();
    if want == got {
        return Ok(());
    }
    // Sets: the check runs every 100 ms until the run converges, on
    // thousands of rows.
    let want_set: BTreeSet<&Vec<Option<String>>> = want.iter().collect();
    let got_set: BTreeSet<&Vec<Option<String>>> = got.iter().collect();
    let missing = want.iter().filter(|r| !got_set.contains(r)).count();
    let extra = got.iter().filter(|r| !want_set.contains(r)).count();
    let first = want
        .iter()
        .zip(&got)
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("; first difference: upstream {a:?}, downstream {b:?}"))
        .unwrap_or_default();
    Err(Pending(format!(
        "downstream has {} rows, the merged upstream {}: {missing} missing or different, {extra} extra{first}",
        got.len(),
        want.len()
    )))
}

/// What the downstream recorded against the invariants: (invariant, detail).
pub fn anomalies(world: &World) -> Vec<(&'static str, String)> {
    let a = world.downstream.anomalies();
    let stale = a
        .stale_commits
        .into_iter()
        .map(|d| ("no commit with a stale epoch", d));
    let back = a
        .regressions
        .into_iter()
        .map(|d| ("checkpoints monotone", d));
    let twice = a
        .duplicates
        .into_iter()
        .map(|d| ("no event applied twice", d));
    let ddl = a
        .alters
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(sql, n)| {
            (
                "a shard DDL runs once",
                format!("`{sql}` ran {n} times downstream"),
            )
        });
    stale.chain(back).chain(twice).chain(ddl).collect()
}
