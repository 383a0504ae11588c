//! What a build says about itself, in the lines DM's `/status` answers
//! (`Release Version`, `Git Commit Hash`, `Git Branch`, `UTC Build Time`).
//!
//! The version is the crate's; the other three come from the environment
//! of the build (`DM_GIT_HASH`, `DM_GIT_BRANCH`, `DM_BUILD_TS`, set by a
//! release script) and read `None` when unset, as DM's do.

/// The release version.
pub const RELEASE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// DM's version text: one `Key: value` line each.
pub fn raw_info() -> String {
    let or_none = |value: Option<&'static str>| value.filter(|v| !v.is_empty()).unwrap_or("None");
    format!(
        "Release Version: {RELEASE_VERSION}\nGit Commit Hash: {}\nGit Branch: {}\nUTC Build Time: {}\n",
        or_none(option_env!("DM_GIT_HASH")),
        or_none(option_env!("DM_GIT_BRANCH")),
        or_none(option_env!("DM_BUILD_TS")),
    )
}

/// DM's `GET /status`: [`raw_info`] as `text/plain`. dm-worker serves it
/// on `worker-addr`, dm-master beside its gRPC services on `master-addr`.
pub fn status_routes() -> axum::Router {
    axum::Router::new().route(
        "/status",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, "text/plain")],
                raw_info(),
            )
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
}
