//! The pre-check's answer on the wire, in DM's shape.
//!
//! `check-task` answers `{result, msg}` and `start-task` puts the pre-check
//! into `msg` (refused) or `checkResult` (started with warnings). When every
//! check passed the text is DM's `"pre-check is passed. "`; otherwise it is
//! DM's header, then `"\n detail: "` and the JSON of [`CheckResults`]: one
//! result per check that did not pass, with `state` `"fail"` or `"warn"`
//! and its errors, and a summary counting the checks that passed, warned
//! and failed. DM's dmctl prints the detail in place; ours prints it as a
//! `detail` object next to the header ([`split`]), so the output stays
//! JSON.

use serde::{Deserialize, Serialize};

/// What DM answers when every check passed.
pub const PASSED: &str = "pre-check is passed. ";

/// DM's header of a pre-check that did not fully pass.
pub const HEADER: &str = "fail to check synchronization configuration with type";

/// Separates the header from the JSON detail.
const DETAIL: &str = "\n detail: ";

/// The state of one check (DM's `checker.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Success,
    #[serde(rename = "warn")]
    Warning,
    #[serde(rename = "fail")]
    Failure,
}

/// One problem a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckError {
    /// `"fail"` or `"warn"`.
    pub severity: State,
    /// What is wrong, why it matters and the fix.
    pub short_error: String,
}

/// One check: an item on one subject (a source, the downstream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's position among all checks that ran.
    pub id: u64,
    /// The item, as `ignore-checking-items` names it where it can.
    pub name: String,
    pub desc: String,
    pub state: State,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<CheckError>,
    /// What was checked: `source mysql1`, `target-database 127.0.0.1:4000`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub extra: String,
}

/// Counts over every check that ran (also those left out of `results`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// No check failed (warnings pass).
    pub passed: bool,
    pub total: u64,
    pub successful: u64,
    pub failed: u64,
    pub warning: u64,
}

/// The checks that did not pass, and the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResults {
    pub results: Vec<CheckResult>,
    pub summary: Summary,
}

impl CheckResults {
    /// DM's text: [`PASSED`] when every check succeeded, else the header,
    /// `check was failed, please see detail` or `no errors but some
    /// warnings`, and the detail.
    pub fn to_message(&self) -> String {
        if self.summary.failed == 0 && self.summary.warning == 0 {
            return PASSED.to_string();
        }
        let what = if self.summary.failed > 0 {
            "check was failed, please see detail"
        } else {
            "no errors but some warnings"
        };
        let detail = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("\"cannot print the check results: {e}\""));
        format!("{HEADER}: {what}{DETAIL}{detail}")
    }
}

/// A message as `(header, detail)`: the detail when `message` carries one
/// ([`CheckResults::to_message`]), else the message unchanged.
pub fn split(message: &str) -> (&str, Option<CheckResults>) {
    if !message.starts_with(HEADER) {
        return (message, None);
    }
    match message.split_once(DETAIL) {
        Some((header, detail)) => match serde_json::from_str(detail) {
            Ok(results) => (header, Some(results)),
            Err(_) => (message, None),
        },
        None => (message, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(state: State) -> CheckResults {
        CheckResults {
            results: vec![CheckResult {
                id: 3,
                name: "table_schema".into(),
                desc: "tables have a primary or unique key".into(),
                state,
                errors: vec![CheckError {
                    severity: state,
                    short_error: "`app`.`t` has no key".into(),
                }],
                extra: "source mysql1".into(),
            }],
            summary: Summary {
                passed: state != State::Failure,
                total: 9,
                successful: 8,
                failed: u64::from(state == State::Failure),
                warning: u64::from(state == State::Warning),
            },
        }
    }

    #[test]
    fn messages_round_trip() {
        for (state, header) in [
            (
                State::Warning,
                "fail to check synchronization configuration with type: no errors but some warnings",
            ),
            (
                State::Failure,
                "fail to check synchronization configuration with type: check was failed, please see detail",
            ),
        ] {
            let r = results(state);
            let message = r.to_message();
            assert!(message.contains("\"state\": \""), "{message}");
            assert_eq!(split(&message), (header, Some(r)));
        }
        assert_eq!(split(PASSED), (PASSED, None));
        assert_eq!(split("other"), ("other", None));
    }

    #[test]
    fn states_print_as_dm_does() {
        assert_eq!(
            serde_json::to_string(&[State::Success, State::Warning, State::Failure]).unwrap(),
            r#"["success","warn","fail"]"#
        );
    }
}
