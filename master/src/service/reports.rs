//! Which subtask reports of a worker's heartbeat the leader acts on: a
//! report is about a source bound to that worker under the epoch it
//! reports (and not fenced), and about the task's current generation (a
//! task stopped and started again is a new one). Anything else is stale
//! and changes nothing.

use dm_proto::pb;

use crate::state::ClusterState;

/// The current subtask reports of `sources` (one heartbeat of `worker`),
/// each with its source.
pub fn current<'a>(
    state: &'a ClusterState,
    worker: &'a str,
    sources: &'a [pb::SourceReport],
) -> impl Iterator<Item = (&'a str, &'a pb::SubtaskReport)> + 'a {
    sources
        .iter()
        .filter(move |report| {
            !report.fenced
                && state
                    .bindings
                    .get(&report.source)
                    .is_some_and(|b| b.worker == worker && b.epoch == report.epoch)
        })
        .flat_map(|report| {
            report
                .subtasks
                .iter()
                .map(move |sub| (report.source.as_str(), sub))
        })
        .filter(move |(_, sub)| {
            state
                .tasks
                .get(&sub.task)
                .is_some_and(|t| t.created_at_ms == sub.generation)
        })
}
