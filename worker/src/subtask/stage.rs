//! A subtask's stage machine. Pure: the supervisor feeds it the stage the
//! leader expects, the resume counter and what the unit did, and acts on
//! the decision.
//!
//! - Expected `Paused`: a running unit is stopped; the stage is `Paused`.
//! - Expected `Running`: an idle subtask starts; a finished one stays
//!   `Finished`; a failed one stays `Paused` with its error until either a
//!   `resume-task` (the resume counter grew past the one seen at the
//!   failure) or, for a transient error, its retry time.

use std::time::Duration;

use tokio::time::Instant;

use dm_proto::pb;

/// What the leader wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Running,
    Paused,
}

/// What the subtask's unit is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitState {
    /// Not running (never started, or stopped by a pause).
    Idle,
    Running,
    /// The task's work is done (`task-mode: full` after the copy).
    Finished,
    /// The unit stopped on an error.
    Failed {
        error: String,
        /// The resume counter when it failed: a larger one retries.
        resume_seq: u64,
        /// When a transient error is retried by itself.
        retry_at: Option<Instant>,
    },
}

/// What to do with the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Start,
    Stop,
    Keep,
}

/// The next action for a subtask.
pub fn decide(expected: Expected, resume_seq: u64, state: &UnitState, now: Instant) -> Decision {
    match (expected, state) {
        (Expected::Paused, UnitState::Running) => Decision::Stop,
        (Expected::Paused, _) => Decision::Keep,
        (Expected::Running, UnitState::Idle) => Decision::Start,
        (Expected::Running, UnitState::Running | UnitState::Finished) => Decision::Keep,
        (
            Expected::Running,
            UnitState::Failed {
                resume_seq: failed_at,
                retry_at,
                ..
            },
        ) => {
            if resume_seq > *failed_at || retry_at.is_some_and(|at| at <= now) {
                Decision::Start
            } else {
                Decision::Keep
            }
        }
    }
}

/// The stage `query-status` shows.
pub fn stage(expected: Expected, state: &UnitState) -> pb::Stage {
    match (expected, state) {
        (_, UnitState::Finished) => pb::Stage::Finished,
        (_, UnitState::Failed { .. }) | (Expected::Paused, _) => pb::Stage::Paused,
        (Expected::Running, _) => pb::Stage::Running,
    }
}

/// Backoff before the `attempt`-th automatic retry of a transient error.
pub fn retry_backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500);
    base.saturating_mul(1 << attempt.min(6))
        .min(Duration::from_secs(30))
}

/// The attempt count for a transient error of a unit that ran `ran_for`
/// after `attempts` automatic retries: a unit that stayed healthy at least
/// as long as its last backoff starts over, so a blip after a long healthy
/// run is retried at once, not after the capped backoff of an old outage.
pub fn attempts_after(attempts: u32, ran_for: Duration) -> u32 {
    let waited = attempts
        .checked_sub(1)
        .map_or(Duration::ZERO, retry_backoff);
    if attempts > 0 && ran_for >= waited.max(MIN_HEALTHY) {
        0
    } else {
        attempts
    }
}

/// The shortest run that counts as healthy (a unit that fails again right
/// after a retry keeps backing off).
const MIN_HEALTHY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(resume_seq: u64, retry_at: Option<Instant>) -> UnitState {
        UnitState::Failed {
            error: "boom".into(),
            resume_seq,
            retry_at,
        }
    }

    #[test]
    fn decisions() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let cases = [
            (
                Expected::Running,
                0,
                UnitState::Idle,
                Decision::Start,
                pb::Stage::Running,
            ),
            (
                Expected::Running,
                0,
                UnitState::Running,
                Decision::Keep,
                pb::Stage::Running,
            ),
            (
                Expected::Paused,
                0,
                UnitState::Running,
                Decision::Stop,
                pb::Stage::Paused,
            ),
            (
                Expected::Paused,
                0,
                UnitState::Idle,
                Decision::Keep,
                pb::Stage::Paused,
            ),
            (
                Expected::Running,
                0,
                UnitState::Finished,
                Decision::Keep,
                pb::Stage::Finished,
            ),
            (
                Expected::Paused,
                0,
                UnitState::Finished,
                Decision::Keep,
                pb::Stage::Finished,
            ),
            // An error pauses until resume-task...
            (
                Expected::Running,
                2,
                failed(2, None),
                Decision::Keep,
                pb::Stage::Paused,
            ),
            (
                Expected::Running,
                3,
                failed(2, None),
                Decision::Start,
                pb::Stage::Paused,
            ),
            // ...or, when transient, until its retry time.
            (
                Expected::Running,
                2,
                failed(2, Some(later)),
                Decision::Keep,
                pb::Stage::Paused,
            ),
            (
                Expected::Running,
                2,
                failed(2, Some(now)),
                Decision::Start,
                pb::Stage::Paused,
            ),
            (
                Expected::Paused,
                9,
                failed(2, Some(now)),
                Decision::Keep,
                pb::Stage::Paused,
            ),
        ];
        for (expected, resume_seq, state, decision, shown) in cases {
            assert_eq!(
                decide(expected, resume_seq, &state, now),
                decision,
                "{expected:?} {resume_seq} {state:?}"
            );
            assert_eq!(stage(expected, &state), shown, "{expected:?} {state:?}");
        }
    }

    #[test]
    fn a_healthy_run_as_long_as_the_last_backoff_starts_the_count_over() {
        assert_eq!(attempts_after(0, Duration::ZERO), 0);
        // Failed again soon after a retry: keeps counting.
        assert_eq!(attempts_after(7, Duration::from_secs(2)), 7);
        assert_eq!(attempts_after(7, Duration::from_secs(29)), 7);
        // Healthy for the capped backoff: a new blip is a first error.
        assert_eq!(attempts_after(7, Duration::from_secs(30)), 0);
        assert_eq!(attempts_after(3, Duration::from_secs(4)), 3);
        assert_eq!(attempts_after(3, Duration::from_secs(5)), 0);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(retry_backoff(0), Duration::from_millis(500));
        assert_eq!(retry_backoff(1), Duration::from_secs(1));
        assert_eq!(retry_backoff(20), Duration::from_secs(30));
    }
}
