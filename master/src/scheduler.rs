//! Which worker runs which source: a pure function of the replicated state
//! and the leader's view of which workers are alive.
//!
//! The leader runs [`schedule`] on every tick and proposes the commands it
//! returns. Rules (DM's, with its preferences):
//! - A source bound to a worker that is not alive moves to a free alive
//!   worker, or is unbound when there is none.
//! - An unbound source goes to a free alive worker.
//! - A worker last bound to a source is preferred for it (its checkpoints
//!   and caches are warm; DM's `last-bound-worker`); then workers by name.
//!
//! Every `Bind` gets a new, larger epoch when applied, which fences the
//! previous worker's writes downstream. Liveness is the caller's: a new
//! leader counts every worker alive for one full TTL before judging it.

use std::collections::BTreeSet;

use crate::state::{ClusterState, Command};

/// The bind / unbind commands that bring `state` in line with `alive`.
pub fn schedule(state: &ClusterState, alive: &BTreeSet<String>) -> Vec<Command> {
    let is_live_worker = |w: &String| alive.contains(w) && state.workers.contains_key(w);
    // Sources that need a worker: unbound, or bound to a worker not alive.
    let needing: Vec<&String> = state
        .sources
        .keys()
        .filter(|source| match state.bindings.get(*source) {
            None => true,
            Some(binding) => !is_live_worker(&binding.worker),
        })
        .collect();
    let mut free: BTreeSet<&String> = state
        .workers
        .keys()
        .filter(|w| is_live_worker(w))
        .filter(|w| !state.bindings.values().any(|b| &b.worker == *w))
        .collect();

    let mut commands = Vec::new();
    let mut placed = BTreeSet::new();
    // First the pairs a worker was last bound to, then the rest in order.
    for source in &needing {
        let preferred = free
            .iter()
            .find(|w| state.last_bindings.get(**w) == Some(*source))
            .copied();
        if let Some(worker) = preferred {
            free.remove(worker);
            placed.insert(*source);
            commands.push(bind(source, worker));
        }
    }
    for source in needing.iter().filter(|s| !placed.contains(**s)) {
        match free.pop_first() {
            Some(worker) => commands.push(bind(source, worker)),
            None if state.bindings.contains_key(*source) => commands.push(Command::Unbind {
                source: (*source).clone(),
            }),
            None => {}
        }
    }
    commands
}

/// Registered workers bound to a source that are not alive: their
/// keepalive TTL ran out, and [`schedule`] takes their sources away.
pub fn lapsed_workers(state: &ClusterState, alive: &BTreeSet<String>) -> BTreeSet<String> {
    state
        .bindings
        .values()
        .map(|b| &b.worker)
        .filter(|w| state.workers.contains_key(*w) && !alive.contains(*w))
        .cloned()
        .collect()
}

fn bind(source: &str, worker: &str) -> Command {
    Command::Bind {
        source: source.to_string(),
        worker: worker.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Binding, SourceEntry, WorkerEntry};
    use dm_proto::config::SourceConfig;

    /// A state with `sources`, `workers`, `bound` (source, worker) pairs and
    /// `last` (worker, source) pairs.
    fn state(
        sources: &[&str],
        workers: &[&str],
        bound: &[(&str, &str)],
        last: &[(&str, &str)],
    ) -> ClusterState {
        let mut state = ClusterState::default();
        for id in sources {
            let text = format!("source-id: {id}\nfrom:\n  host: h\n  user: u\n");
            let config = SourceConfig::parse("s.yaml", &text).expect("valid");
            state.sources.insert(
                id.to_string(),
                SourceEntry {
                    config,
                    created_at_ms: 0,
                },
            );
        }
        for name in workers {
            state.workers.insert(
                name.to_string(),
                WorkerEntry {
                    addr: format!("{name}:8262"),
                    registered_at_ms: 0,
                    keepalive_ttl_ms: 0,
                    config: String::new(),
                },
            );
        }
        for (epoch, (source, worker)) in bound.iter().enumerate() {
            state.bindings.insert(
                source.to_string(),
                Binding {
                    worker: worker.to_string(),
                    epoch: epoch as u64 + 1,
                    bound_at_ms: 0,
                },
            );
        }
        for (worker, source) in last {
            state
                .last_bindings
                .insert(worker.to_string(), source.to_string());
        }
        state
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn b(source: &str, worker: &str) -> Command {
        bind(source, worker)
    }

    fn u(source: &str) -> Command {
        Command::Unbind {
            source: source.into(),
        }
    }

    #[test]
    fn scheduling_table() {
        struct Case {
            name: &'static str,
            state: ClusterState,
            alive: &'static [&'static str],
            expected: Vec<Command>,
        }
        let cases = [
            Case {
                name: "unbound sources go to free workers in order",
                state: state(&["s1", "s2"], &["w1", "w2", "w3"], &[], &[]),
                alive: &["w1", "w2", "w3"],
                expected: vec![b("s1", "w1"), b("s2", "w2")],
            },
            Case {
                name: "the worker last bound to a source is preferred",
                state: state(
                    &["s1", "s2"],
                    &["w1", "w2"],
                    &[],
                    &[("w1", "s2"), ("w2", "s1")],
                ),
                alive: &["w1", "w2"],
                expected: vec![b("s1", "w2"), b("s2", "w1")],
            },
            Case {
                name: "a source of a dead worker moves to a free worker",
                state: state(
                    &["s1", "s2"],
                    &["w1", "w2", "w3"],
                    &[("s1", "w1"), ("s2", "w2")],
                    &[],
                ),
                alive: &["w2", "w3"],
                expected: vec![b("s1", "w3")],
            },
            Case {
                name: "with no free worker, a dead worker's source is unbound",
                state: state(
                    &["s1", "s2"],
                    &["w1", "w2"],
                    &[("s1", "w1"), ("s2", "w2")],
                    &[],
                ),
                alive: &["w2"],
                expected: vec![u("s1")],
            },
            Case {
                name: "an unbound source waits when no worker is free",
                state: state(&["s1", "s2"], &["w1"], &[("s1", "w1")], &[]),
                alive: &["w1"],
                expected: vec![],
            },
            Case {
                name: "nothing to do when every source has a live worker",
                state: state(&["s1"], &["w1", "w2"], &[("s1", "w1")], &[]),
                alive: &["w1", "w2"],
                expected: vec![],
            },
            Case {
                name: "a worker that comes back gets its last source back",
                state: state(
                    &["s1", "s2"],
                    &["w1", "w2", "w3"],
                    &[("s2", "w2")],
                    &[("w1", "s1"), ("w3", "s9")],
                ),
                alive: &["w1", "w2", "w3"],
                expected: vec![b("s1", "w1")],
            },
            Case {
                name: "alive but unregistered names are ignored",
                state: state(&["s1"], &[], &[], &[]),
                alive: &["ghost"],
                expected: vec![],
            },
            Case {
                name: "no sources, nothing to bind",
                state: state(&[], &["w1"], &[], &[]),
                alive: &["w1"],
                expected: vec![],
            },
        ];
        for case in cases {
            assert_eq!(
                schedule(&case.state, &set(case.alive)),
                case.expected,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn lapsed_workers_are_the_bound_registered_ones_not_alive() {
        let state = state(
            &["s1", "s2", "s3", "s4"],
            &["w1", "w2", "w3", "w4"],
            &[("s1", "w1"), ("s2", "w2"), ("s3", "w2"), ("s4", "gone")],
            &[],
        );
        // w1 alive; w2 (two sources) dead; w3 dead but free; "gone" is
        // not registered any more.
        assert_eq!(lapsed_workers(&state, &set(&["w1", "w4"])), set(&["w2"]));
    }

    #[test]
    fn applying_the_plan_reaches_a_fixed_point_with_growing_epochs() {
        let mut state = state(&["s1", "s2"], &["w1", "w2", "w3"], &[], &[]);
        let mut alive = set(&["w1", "w2", "w3"]);
        let mut epochs = Vec::new();
        for round in 0..3 {
            for command in schedule(&state, &alive) {
                if let crate::state::Response::Bound { epoch } = state.apply(&command, round) {
                    epochs.push(epoch);
                }
            }
            assert!(
                schedule(&state, &alive).is_empty(),
                "a plan applied leaves nothing to do"
            );
            // Kill whoever runs s1, if anyone still does.
            if let Some(binding) = state.bindings.get("s1") {
                alive.remove(&binding.worker.clone());
            }
        }
        assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
        assert_eq!(
            state.bindings.len(),
            1,
            "one live worker left for two sources"
        );
    }
}
