//! A subtask's stage machine. Pure: the supervisor feeds it the stage the
//! leader expects, the resume counter and what the unit did, and acts on
//! the decision.
//!
//! - Expected `Paused`: a running unit is stopped; the stage is `Paused`.
//! - Expected `Running`: an idle subtask starts; a finished one stays
//!   `Finished`; a failed one stays `Paused` with its error until either a
//!   `resume-task` (the resume counter grew past the one seen at the
//!   failure) or, for a transient error, the auto-resume checker
//!   ([`super::backoff`]) resumes it.

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
        /// Whether a retry may fix it (the auto-resume checker's business).
        transient: bool,
    },
}

/// What to do with the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Start,
    Stop,
    Keep,
}

/// The next action for a subtask; `auto_resume`: the checker resumes it
/// now.
pub fn decide(
    expected: Expected,
    resume_seq: u64,
    state: &UnitState,
    auto_resume: bool,
) -> Decision {
    match (expected, state) {
        (Expected::Paused, UnitState::Running) => Decision::Stop,
        (Expected::Paused, _) => Decision::Keep,
        (Expected::Running, UnitState::Idle) => Decision::Start,
        (Expected::Running, UnitState::Running | UnitState::Finished) => Decision::Keep,
        (
            Expected::Running,
            UnitState::Failed {
                resume_seq: failed_at,
                transient,
                ..
            },
        ) => {
            if resume_seq > *failed_at || (*transient && auto_resume) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(resume_seq: u64, transient: bool) -> UnitState {
        UnitState::Failed {
            error: "boom".into(),
            resume_seq,
            transient,
        }
    }

    #[test]
    fn decisions() {
        use Decision::{Keep, Start, Stop};
        use Expected::{Paused, Running};
        // (expected, resume counter, state, auto-resume now, decision, stage)
        let cases = [
            (
                Running,
                0,
                UnitState::Idle,
                false,
                Start,
                pb::Stage::Running,
            ),
            (
                Running,
                0,
                UnitState::Running,
                false,
                Keep,
                pb::Stage::Running,
            ),
            (
                Paused,
                0,
                UnitState::Running,
                false,
                Stop,
                pb::Stage::Paused,
            ),
            (Paused, 0, UnitState::Idle, false, Keep, pb::Stage::Paused),
            (
                Running,
                0,
                UnitState::Finished,
                false,
                Keep,
                pb::Stage::Finished,
            ),
            (
                Paused,
                0,
                UnitState::Finished,
                false,
                Keep,
                pb::Stage::Finished,
            ),
            // An error pauses until resume-task...
            (Running, 2, failed(2, false), false, Keep, pb::Stage::Paused),
            (
                Running,
                3,
                failed(2, false),
                false,
                Start,
                pb::Stage::Paused,
            ),
            (Running, 3, failed(2, true), false, Start, pb::Stage::Paused),
            // ...or, when transient, until the checker resumes it...
            (Running, 2, failed(2, true), false, Keep, pb::Stage::Paused),
            (Running, 2, failed(2, true), true, Start, pb::Stage::Paused),
            // ...which it never does for an error a retry cannot fix...
            (Running, 2, failed(2, false), true, Keep, pb::Stage::Paused),
            // ...nor for a subtask the user paused.
            (Paused, 9, failed(2, true), true, Keep, pb::Stage::Paused),
        ];
        for (expected, resume_seq, state, auto, decision, shown) in cases {
            assert_eq!(
                decide(expected, resume_seq, &state, auto),
                decision,
                "{expected:?} {resume_seq} {state:?} {auto}"
            );
            assert_eq!(stage(expected, &state), shown, "{expected:?} {state:?}");
        }
    }
}
