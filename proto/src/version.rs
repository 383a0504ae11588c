//! What a build says about itself, in the lines DM's `/status` answers
//! (`Release Version`, `Git Commit Hash`, `Git Branch`, `UTC Build Time`),
//! or as JSON to a client that asks for it.
//!
//! The version is the crate's; the other three come from the environment
//! of the build (`DM_GIT_HASH`, `DM_GIT_BRANCH`, `DM_BUILD_TS`, set by a
//! release script) and read `None` when unset, as DM's do.

/// The release version.
pub const RELEASE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The build's facts: release version, git hash, git branch, UTC build
/// time (`None` when the build did not set one).
fn facts() -> [(&'static str, &'static str, &'static str); 4] {
    let or_none = |value: Option<&'static str>| value.filter(|v| !v.is_empty()).unwrap_or("None");
    [
        ("Release Version", "version", RELEASE_VERSION),
        (
            "Git Commit Hash",
            "git_hash",
            or_none(option_env!("DM_GIT_HASH")),
        ),
        (
            "Git Branch",
            "git_branch",
            or_none(option_env!("DM_GIT_BRANCH")),
        ),
        (
            "UTC Build Time",
            "utc_build_time",
            or_none(option_env!("DM_BUILD_TS")),
        ),
    ]
}

/// DM's version text: one `Key: value` line each.
pub fn raw_info() -> String {
    facts()
        .iter()
        .map(|(line, _, value)| format!("{line}: {value}\n"))
        .collect()
}

/// The same facts as a JSON object (`version`, `git_hash`, `git_branch`,
/// `utc_build_time`).
pub fn json_info() -> String {
    let object: serde_json::Map<String, serde_json::Value> = facts()
        .iter()
        .map(|(_, key, value)| (key.to_string(), serde_json::Value::from(*value)))
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// DM's `GET /status`: [`raw_info`] as `text/plain`, as DM answers it, or
/// [`json_info`] to a client that asks for `application/json` (`Accept`).
/// dm-worker serves it on `worker-addr`, dm-master beside its gRPC
/// services on `master-addr`.
pub fn status_routes() -> axum::Router {
    axum::Router::new().route(
        "/status",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            let wants_json = headers
                .get_all(axum::http::header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("application/json"));
            if wants_json {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    json_info(),
                )
            } else {
                (
                    [(axum::http::header::CONTENT_TYPE, "text/plain")],
                    raw_info(),
                )
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn four_lines_in_dms_words() {
        let info = super::raw_info();
        let keys: Vec<&str> = info.lines().filter_map(|l| l.split(": ").next()).collect();
        assert_eq!(
            keys,
            [
                "Release Version",
                "Git Commit Hash",
                "Git Branch",
                "UTC Build Time"
            ]
        );
        assert!(info.starts_with(&format!("Release Version: {}\n", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn the_same_facts_as_json() {
        let json: serde_json::Value = serde_json::from_str(&super::json_info()).expect("JSON");
        assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
        for key in ["git_hash", "git_branch", "utc_build_time"] {
            assert!(json[key].is_string(), "{json}");
        }
    }
}
