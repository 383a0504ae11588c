//! Reading the pre-check's answer as dmctl prints it: `check-task` and a
//! refused `start-task` carry `msg` (DM's header) and a `detail` object
//! with DM's `results` (each with `state` "fail" or "warn", `extra` naming
//! the subject and `errors`) and `summary`.

use serde_json::Value;

/// `"<extra>: <short_error>"` of every error whose result has `state`
/// (`"fail"` or `"warn"`), in order.
pub fn problems(answer: &Value, state: &str) -> Vec<String> {
    answer["detail"]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["state"] == state)
        .flat_map(|r| {
            let extra = r["extra"].as_str().unwrap_or_default().to_string();
            r["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |e| format!("{extra}: {}", e["short_error"].as_str().unwrap_or_default()))
        })
        .collect()
}

/// The `name` of every result with `state`, in order.
pub fn names(answer: &Value, state: &str) -> Vec<String> {
    answer["detail"]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["state"] == state)
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect()
}

/// `(failed, warning)` from the summary.
pub fn counts(answer: &Value) -> (u64, u64) {
    let summary = &answer["detail"]["summary"];
    (
        summary["failed"].as_u64().unwrap_or(u64::MAX),
        summary["warning"].as_u64().unwrap_or(u64::MAX),
    )
}

/// DM's header of a check that failed.
pub const FAILED: &str =
    "fail to check synchronization configuration with type: check was failed, please see detail";

/// DM's header of a check that only warned.
pub const WARNED: &str =
    "fail to check synchronization configuration with type: no errors but some warnings";
