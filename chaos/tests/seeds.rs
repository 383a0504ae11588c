//! Fixed seeds of the simulation: a seed replays exactly (same fault
//! schedule, same trace), and the invariants hold. Seeds that ever found a
//! bug are added here as regressions.

use dm_chaos::sim::{run_seed, Options};

#[test]
fn a_seed_replays_exactly_and_holds_every_invariant() {
    let opts = Options::default();
    let first = run_seed(1, &opts);
    let again = run_seed(1, &opts);
    assert_eq!(first.trace, again.trace);
    assert!(first.schedule.injections() > 0);
    assert!(first.violations.is_empty(), "{:#?}", first.violations);
    assert!(first.converged_after.is_some());
}
