//! The data: once the faults are over and the writes stopped, the
//! downstream's merged table equals the merge of the upstream shards, row
//! for row; and across the whole run, the downstream saw no commit under a
//! stale epoch, no checkpoint moving back, no insert of a row that was
//! already there (an event applied twice outside the declared safe-mode
//! replay), and no shard DDL that ran downstream more than once.

use crate::sim::data::World;

/// `Ok` when the downstream equals the merged upstream.
pub fn converged(world: &World) -> Result<(), String> {
    let want = world.merged_upstream();
    let got = world.downstream_rows();
    if want == got {
        return Ok(());
    }
    let missing = want.iter().filter(|r| !got.contains(r)).count();
    let extra = got.iter().filter(|r| !want.contains(r)).count();
    let first = want
        .iter()
        .zip(&got)
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("; first difference: upstream {a:?}, downstream {b:?}"))
        .unwrap_or_default();
    Err(format!(
        "downstream has {} rows, the merged upstream {}: {missing} missing or different, {extra} extra{first}",
        got.len(),
        want.len()
    ))
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
