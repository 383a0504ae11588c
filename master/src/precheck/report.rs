//! What a pre-check found: one [`CheckResult`] per check that ran (an item
//! on one subject), each with the problems it found, failures and
//! warnings apart; and DM's text and JSON for them
//! ([`dm_proto::check_result`]).
//!
//! A task with failures is refused; warnings are shown and the task runs
//! (DM's `auto_increment_ID` and missing-key warnings).

use std::fmt;

use dm_proto::check_result::{self, CheckError, CheckResults, State, Summary};

use super::Item;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Shown; the task may run.
    Warn,
    /// The task is refused.
    Fail,
}

/// What a check is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// The task's `target-database`, as `user@host:port`.
    Target(String),
    /// A source, by id.
    Source(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Target(addr) => write!(f, "target-database {addr}"),
            Subject::Source(id) => write!(f, "source {id}"),
        }
    }
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// What is wrong, why DM cares and the fix, without the subject.
    pub message: String,
}

/// One check that ran: an item on a subject, and what it found (nothing
/// when it passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub item: Item,
    pub subject: Subject,
    pub findings: Vec<Finding>,
}

impl CheckResult {
    /// Failed if any finding fails, else warned if any warns.
    pub fn state(&self) -> State {
        match self.findings.iter().map(|f| f.severity).max() {
            Some(Severity::Fail) => State::Failure,
            Some(Severity::Warn) => State::Warning,
            None => State::Success,
        }
    }
}

/// A problem with its subject and item, as one line reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem<'a> {
    pub subject: &'a Subject,
    pub item: Item,
    pub severity: Severity,
    pub message: &'a str,
}

impl fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

/// Every check that ran, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub results: Vec<CheckResult>,
}

/// How many failures and warnings `check-task` shows unless told otherwise
/// (DM's `--error` / `--warn` defaults).
pub const SHOWN_BY_DEFAULT: usize = 10;

impl CheckReport {
    /// Records that `item` was checked on `subject` (a check that finds
    /// nothing passed).
    pub fn ran(&mut self, subject: &Subject, item: Item) -> &mut CheckResult {
        let at = match self
            .results
            .iter()
            .position(|r| r.item == item && &r.subject == subject)
        {
            Some(at) => at,
            None => {
                self.results.push(CheckResult {
                    item,
                    subject: subject.clone(),
                    findings: Vec::new(),
                });
                self.results.len() - 1
            }
        };
        &mut self.results[at]
    }

    /// Records a problem of `item` on `subject`.
    pub fn found(&mut self, subject: &Subject, item: Item, severity: Severity, message: String) {
        self.ran(subject, item)
            .findings
            .push(Finding { severity, message });
    }

    /// Whether nothing failed (warnings pass).
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.state() != State::Failure)
    }

    /// Every problem of `severity`, in order.
    pub fn problems(&self, severity: Severity) -> Vec<Problem<'_>> {
        self.results
            .iter()
            .flat_map(|r| {
                r.findings
                    .iter()
                    .filter(move |f| f.severity == severity)
                    .map(move |f| Problem {
                        subject: &r.subject,
                        item: r.item,
                        severity: f.severity,
                        message: &f.message,
                    })
            })
            .collect()
    }

    /// DM's results: the checks that did not pass, showing at most
    /// `errors` failures and `warnings` warnings (a check left with
    /// nothing to show is left out), and a summary counting every check.
    pub fn results(&self, errors: usize, warnings: usize) -> CheckResults {
        let (mut errors, mut warnings) = (errors, warnings);
        let mut shown = Vec::new();
        let mut summary = Summary {
            passed: self.passed(),
            total: 0,
            successful: 0,
            failed: 0,
            warning: 0,
        };
        for (id, result) in self.results.iter().enumerate() {
            summary.total += 1;
            let state = result.state();
            match state {
                State::Success => {
                    summary.successful += 1;
                    continue;
                }
                State::Warning => summary.warning += 1,
                State::Failure => summary.failed += 1,
            }
            let mut kept = Vec::new();
            for finding in &result.findings {
                let budget = match finding.severity {
                    Severity::Fail => &mut errors,
                    Severity::Warn => &mut warnings,
                };
                if *budget == 0 {
                    continue;
                }
                *budget -= 1;
                kept.push(CheckError {
                    severity: match finding.severity {
                        Severity::Fail => State::Failure,
                        Severity::Warn => State::Warning,
                    },
                    short_error: finding.message.clone(),
                });
            }
            if kept.is_empty() {
                continue;
            }
            shown.push(check_result::CheckResult {
                id: id as u64,
                name: result.item.name().to_string(),
                desc: result.item.desc().to_string(),
                state,
                errors: kept,
                extra: result.subject.to_string(),
            });
        }
        CheckResults {
            results: shown,
            summary,
        }
    }

    /// DM's answer text (see [`CheckResults::to_message`]).
    pub fn message(&self, errors: usize, warnings: usize) -> String {
        self.results(errors, warnings).to_message()
    }
}

impl fmt::Display for CheckReport {
    /// DM's answer text, with the default limits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(SHOWN_BY_DEFAULT, SHOWN_BY_DEFAULT))
    }
}
