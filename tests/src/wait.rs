//! Polling a condition until a deadline, instead of sleeping.
//!
//! A fixed sleep is either too short (flaky) or too long (slow). [`wait_until`] re-checks a
//! condition every `poll` interval and returns as soon as it holds; if the deadline passes
//! first, the error names what was awaited and why the last attempt failed.
//!
//! The condition is an async closure whose output implements [`Outcome`]: a `bool`, an
//! `Option<T>`, a `Result<T, E>` (an `Err` means "not yet" and its message is kept for the
//! timeout error) or a [`Check<T>`], which can also abort the wait early (e.g. when the
//! process being waited for has died).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{HarnessError, Result};

/// Verdict of one attempt of a polled condition.
#[derive(Debug)]
pub enum Check<T> {
    /// The condition holds; stop waiting and return this value.
    Ready(T),
    /// Not yet; the text says why (kept for the timeout error).
    Pending(String),
    /// Waiting is pointless (e.g. the process died); fail now with this error.
    Abort(HarnessError),
}

/// What a polled condition may return; see the module docs.
pub trait Outcome {
    /// Value returned by [`wait_until`] once the condition holds.
    type Value;
    /// Converts the attempt's output into a verdict.
    fn into_check(self) -> Check<Self::Value>;
}

impl Outcome for bool {
    type Value = ();
    fn into_check(self) -> Check<()> {
        if self {
            Check::Ready(())
        } else {
            Check::Pending("condition was false".to_owned())
        }
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn into_check(self) -> Check<T> {
        match self {
            Some(value) => Check::Ready(value),
            None => Check::Pending("condition returned None".to_owned()),
        }
    }
}

impl<T, E: Display> Outcome for std::result::Result<T, E> {
    type Value = T;
    fn into_check(self) -> Check<T> {
        match self {
            Ok(value) => Check::Ready(value),
            Err(e) => Check::Pending(e.to_string()),
        }
    }
}

impl<T> Outcome for Check<T> {
    type Value = T;
    fn into_check(self) -> Check<T> {
        self
    }
}

/// Polls `condition` every `poll` until it holds, fails with [`HarnessError::Timeout`]
/// naming `what` once `deadline` has passed.
///
/// An attempt still running at the deadline is cancelled. The condition is always tried at
/// least once, and once more at the deadline.
pub async fn wait_until<F, Fut>(
    what: &str,
    deadline: Duration,
    poll: Duration,
    mut condition: F,
) -> Result<<Fut::Output as Outcome>::Value>
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    let end = Instant::now() + deadline;
    let mut attempts = 0u32;
    let mut previous: Option<String> = None;
    loop {
        attempts += 1;
        let remaining = end.saturating_duration_since(Instant::now());
        let last = match tokio::time::timeout(remaining, condition()).await {
            Ok(output) => match output.into_check() {
                Check::Ready(value) => return Ok(value),
                Check::Pending(why) => why,
                Check::Abort(error) => return Err(error),
            },
            Err(_) => match previous.take() {
                Some(why) => {
                    format!("attempt still running at the deadline; the one before: {why}")
                }
                None => "attempt still running at the deadline".to_owned(),
            },
        };
        let now = Instant::now();
        if now >= end {
            return Err(HarnessError::Timeout {
                what: what.to_owned(),
                after: deadline,
                attempts,
                last: Some(last),
            });
        }
        previous = Some(last);
        tokio::time::sleep(poll.min(end - now)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_value_once_condition_holds() {
        let calls = AtomicU32::new(0);
        let value = wait_until(
            "third call",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                async move { (n >= 3).then_some(n) }
            },
        )
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn timeout_names_what_and_last_error() {
        let err = wait_until(
            "the impossible",
            Duration::from_millis(50),
            Duration::from_millis(5),
            || async { Err::<(), _>("still impossible") },
        )
        .await
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("the impossible"), "{message}");
        assert!(message.contains("still impossible"), "{message}");
        assert!(matches!(err, HarnessError::Timeout { attempts, .. } if attempts >= 2));
    }

    #[tokio::test]
    async fn abort_stops_immediately() {
        let calls = AtomicU32::new(0);
        let err = wait_until(
            "never",
            Duration::from_secs(30),
            Duration::from_millis(1),
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Check::<()>::Abort(HarnessError::Task("gave up".to_owned())) }
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, HarnessError::Task(_)));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn hanging_attempt_is_cut_at_deadline() {
        let started = std::time::Instant::now();
        let err = wait_until(
            "a hang",
            Duration::from_millis(100),
            Duration::from_millis(10),
            std::future::pending::<bool>,
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            err.to_string().contains("still running at the deadline"),
            "{err}"
        );
    }
}
