//! Auto-resume of subtasks paused by a transient error: DM's task checker
//! (`dm/worker/task_checker.go`) and backoff (`dm/pkg/backoff`), driven by
//! the source file's `checker` keys. Pure: the supervisor passes the time
//! and a random number, and acts on the verdict.
//!
//! Every `check-interval` each subtask of the source is inspected:
//!
//! - paused by a transient error: resumed when at least the current backoff
//!   has passed since its last (automatic) resume, or since it was first
//!   seen; each resume moves the backoff one step up (`backoff-factor`
//!   times longer, from `backoff-min`, until it reaches `backoff-max`);
//! - paused by an error that a retry cannot fix: left for `resume-task`;
//! - anything else (running, finished, paused by the user): once it has
//!   been so for `backoff-rollback`, the backoff moves one step down, and
//!   again after each further `backoff-rollback`.
//!
//! `backoff-jitter` draws each wait between half of it and all of it (DM's
//! "equal jitter"), so that many subtasks do not retry in step.
//! `check-enable: false` turns it all off: a paused subtask waits for
//! `resume-task`.

use std::time::Duration;

use dm_proto::config::{duration, CheckerConfig};
use tokio::time::Instant;

/// The `checker` keys, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub enabled: bool,
    pub check_interval: Duration,
    pub min: Duration,
    pub max: Duration,
    pub factor: f64,
    pub jitter: bool,
    pub rollback: Duration,
}

impl Default for Policy {
    /// DM's defaults.
    fn default() -> Self {
        Self::from_config(&CheckerConfig::default())
    }
}

impl Policy {
    /// The policy of a source's `checker`. The source's validation has
    /// refused durations that do not parse and factors below 1; should one
    /// reach here anyway, DM's default for that key applies.
    pub fn from_config(c: &CheckerConfig) -> Self {
        let defaults = CheckerConfig::default();
        let parse = |text: &str, default: &str| {
            duration::parse(text)
                .or_else(|_| duration::parse(default))
                .unwrap_or(Duration::from_secs(1))
        };
        let min = parse(&c.backoff_min, &defaults.backoff_min);
        Self {
            enabled: c.check_enable,
            check_interval: parse(&c.check_interval, &defaults.check_interval),
            min,
            max: parse(&c.backoff_max, &defaults.backoff_max).max(min),
            factor: if c.backoff_factor >= 1.0 {
                c.backoff_factor
            } else {
                defaults.backoff_factor
            },
            jitter: c.backoff_jitter,
            rollback: parse(&c.backoff_rollback, &defaults.backoff_rollback),
        }
    }

    /// The wait of backoff step `step`: `min * factor^step`, capped at
    /// `max`; with jitter, between half of that and all of it, by `random`
    /// in `[0, 1)` (never below `min`).
    pub fn wait(&self, step: u32, random: f64) -> Duration {
        let min = self.min.as_secs_f64();
        let full = min * self.factor.powi(i32::try_from(step).unwrap_or(i32::MAX));
        let drawn = if self.jitter && full > min {
            full / 2.0 + random.clamp(0.0, 1.0) * (full / 2.0)
        } else {
            full
        };
        if !drawn.is_finite() || drawn >= self.max.as_secs_f64() {
            return self.max;
        }
        Duration::from_secs_f64(drawn.max(0.0)).max(self.min.min(self.max))
    }
}

/// What an inspection sees of a subtask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Running, finished, idle or paused by the user.
    Other,
    /// Paused by an error a retry may fix.
    PausedTransient,
    /// Paused by an error only the user can fix.
    PausedFatal,
}

/// What the checker does with a subtask at one inspection (DM's resume
/// strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not paused by an error (the backoff may roll back a step).
    Ignore,
    /// Paused by an error no retry fixes.
    NoSense,
    /// Paused, but its backoff has not passed yet.
    Skip,
    /// Resume it now.
    Resume,
}

/// One subtask's auto-resume bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoResume {
    /// The backoff step (DM's `cwnd`).
    step: u32,
    /// The last inspection that found it paused (or the last rollback).
    latest_paused: Instant,
    /// The last automatic resume, or when the subtask was first seen.
    latest_resume: Instant,
    /// When the next inspection is due.
    next_check: Instant,
    /// Automatic resumes since it last ran well through an inspection.
    resumes: u32,
}

impl AutoResume {
    /// A subtask first seen at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            step: 0,
            latest_paused: now,
            latest_resume: now,
            next_check: now,
            resumes: 0,
        }
    }

    /// The current backoff step.
    pub fn step(&self) -> u32 {
        self.step
    }

    /// Automatic resumes since the subtask last ran well.
    pub fn resumes(&self) -> u32 {
        self.resumes
    }

    /// Inspects the subtask at `now` if an inspection is due (`None`
    /// otherwise, and always when the checker is off); `random` in `[0, 1)`
    /// draws the jitter.
    pub fn inspect(
        &mut self,
        policy: &Policy,
        seen: Seen,
        now: Instant,
        random: f64,
    ) -> Option<Verdict> {
        if !policy.enabled || now < self.next_check {
            return None;
        }
        self.next_check = now + policy.check_interval;
        let verdict = match seen {
            Seen::Other => Verdict::Ignore,
            Seen::PausedFatal => Verdict::NoSense,
            Seen::PausedTransient => {
                if now.saturating_duration_since(self.latest_resume)
                    < policy.wait(self.step, random)
                {
                    Verdict::Skip
                } else {
                    Verdict::Resume
                }
            }
        };
        match verdict {
            Verdict::Ignore => {
                self.resumes = 0;
                if now.saturating_duration_since(self.latest_paused) > policy.rollback {
                    self.step = self.step.saturating_sub(1);
                    self.latest_paused = now;
                }
            }
            Verdict::NoSense | Verdict::Skip => self.latest_paused = now,
            Verdict::Resume => {
                self.latest_paused = now;
                self.latest_resume = now;
                self.resumes = self.resumes.saturating_add(1);
                if policy.wait(self.step, random) < policy.max {
                    self.step += 1;
                }
            }
        }
        Some(verdict)
    }

    /// The latest time the next automatic resume happens, if the error
    /// stays transient: the first inspection at least the (unjittered)
    /// backoff after the last resume. `None` when the checker is off.
    pub fn resume_by(&self, policy: &Policy) -> Option<Instant> {
        if !policy.enabled {
            return None;
        }
        let due = self.latest_resume + policy.wait(self.step, 1.0);
        if due <= self.next_check || policy.check_interval.is_zero() {
            return Some(self.next_check.max(due));
        }
        let behind = due.saturating_duration_since(self.next_check).as_secs_f64();
        let ticks = (behind / policy.check_interval.as_secs_f64()).ceil();
        Some(self.next_check + policy.check_interval.mul_f64(ticks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min_ms: u64, max_ms: u64, factor: f64, jitter: bool) -> Policy {
        Policy {
            enabled: true,
            check_interval: Duration::from_secs(1),
            min: Duration::from_millis(min_ms),
            max: Duration::from_millis(max_ms),
            factor,
            jitter,
            rollback: Duration::from_secs(10),
        }
    }

    #[test]
    fn waits_grow_by_the_factor_up_to_the_cap() {
        let ms = Duration::from_millis;
        let cases = [
            // (min, max, factor, jitter, step, random, wait)
            (1000, 300_000, 2.0, false, 0, 0.0, ms(1000)),
            (1000, 300_000, 2.0, false, 3, 0.0, ms(8000)),
            (1000, 300_000, 2.0, false, 40, 0.0, ms(300_000)),
            (1000, 300_000, 2.0, false, u32::MAX, 0.0, ms(300_000)),
            (500, 10_000, 3.0, false, 2, 0.9, ms(4500)),
            (1000, 1000, 2.0, false, 5, 0.0, ms(1000)),
            // Equal jitter: between half and all of the wait...
            (1000, 300_000, 2.0, true, 3, 0.0, ms(4000)),
            (1000, 300_000, 2.0, true, 3, 0.5, ms(6000)),
            (1000, 300_000, 2.0, true, 3, 1.0, ms(8000)),
            // ...never below min, and the first step is min itself.
            (1000, 300_000, 2.0, true, 0, 0.0, ms(1000)),
            (1000, 300_000, 1.0, true, 9, 0.0, ms(1000)),
        ];
        for (min, max, factor, jitter, step, random, wait) in cases {
            assert_eq!(
                policy(min, max, factor, jitter).wait(step, random),
                wait,
                "min {min} max {max} factor {factor} jitter {jitter} step {step} random {random}"
            );
        }
    }

    #[test]
    fn dm_defaults() {
        let p = Policy::default();
        assert!(p.enabled && p.jitter);
        assert_eq!(p.check_interval, Duration::from_secs(5));
        assert_eq!(p.min, Duration::from_secs(1));
        assert_eq!(p.max, Duration::from_secs(300));
        assert_eq!(p.rollback, Duration::from_secs(300));
        assert_eq!(p.factor, 2.0);
    }

    #[test]
    fn resumes_wait_the_backoff_since_the_last_resume_and_grow() {
        let p = policy(2000, 8000, 2.0, false);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut a = AutoResume::new(t0);
        let t = Seen::PausedTransient;
        // Fails at once: first seen at t0, min 2 s.
        assert_eq!(a.inspect(&p, t, at(0), 0.0), Some(Verdict::Skip));
        // Not due before check-interval.
        assert_eq!(a.inspect(&p, t, t0 + Duration::from_millis(500), 0.0), None);
        assert_eq!(a.inspect(&p, t, at(1), 0.0), Some(Verdict::Skip));
        assert_eq!(a.resume_by(&p), Some(at(2)));
        assert_eq!(a.inspect(&p, t, at(2), 0.0), Some(Verdict::Resume));
        assert_eq!((a.step(), a.resumes()), (1, 1));
        // Now 4 s from the resume.
        assert_eq!(a.resume_by(&p), Some(at(6)));
        for s in 3..6 {
            assert_eq!(a.inspect(&p, t, at(s), 0.0), Some(Verdict::Skip), "{s}");
        }
        assert_eq!(a.inspect(&p, t, at(6), 0.0), Some(Verdict::Resume));
        assert_eq!(a.step(), 2);
        // Capped: 8 s, and the step stays.
        assert_eq!(a.inspect(&p, t, at(13), 0.0), Some(Verdict::Skip));
        assert_eq!(a.inspect(&p, t, at(14), 0.0), Some(Verdict::Resume));
        assert_eq!(a.step(), 2);
        assert_eq!(a.inspect(&p, t, at(22), 0.0), Some(Verdict::Resume));
        assert_eq!((a.step(), a.resumes()), (2, 4));
        // A fatal error is left alone.
        assert_eq!(
            a.inspect(&p, Seen::PausedFatal, at(40), 0.0),
            Some(Verdict::NoSense)
        );
    }

    #[test]
    fn running_for_backoff_rollback_steps_the_backoff_down() {
        let p = policy(1000, 60_000, 2.0, false);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut a = AutoResume::new(t0);
        // Waits of 1, 2 and 4 s.
        for s in [1, 3, 7] {
            assert_eq!(
                a.inspect(&p, Seen::PausedTransient, at(s), 0.0),
                Some(Verdict::Resume),
                "{s}"
            );
        }
        assert_eq!(a.step(), 3);
        // Running well: the resume count starts over; rollback (10 s)
        // after the last paused inspection, then every 10 s.
        assert_eq!(
            a.inspect(&p, Seen::Other, at(8), 0.0),
            Some(Verdict::Ignore)
        );
        assert_eq!(a.resumes(), 0);
        a.inspect(&p, Seen::Other, at(17), 0.0);
        assert_eq!(a.step(), 3);
        a.inspect(&p, Seen::Other, at(18), 0.0);
        assert_eq!(a.step(), 2);
        a.inspect(&p, Seen::Other, at(25), 0.0);
        assert_eq!(a.step(), 2);
        a.inspect(&p, Seen::Other, at(29), 0.0);
        assert_eq!(a.step(), 1);
    }

    #[test]
    fn check_enable_false_never_resumes() {
        let p = Policy {
            enabled: false,
            ..policy(1, 1, 2.0, false)
        };
        let t0 = Instant::now();
        let mut a = AutoResume::new(t0);
        assert_eq!(
            a.inspect(
                &p,
                Seen::PausedTransient,
                t0 + Duration::from_secs(3600),
                0.0
            ),
            None
        );
        assert_eq!(a.resume_by(&p), None);
    }
}
