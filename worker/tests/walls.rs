//! The worker's walls: the copy and the sync see the databases only through
//! the upstream and downstream ports, so the MySQL client library is named
//! only in the ports' `mysql/` adapters (and where the worker wires them up:
//! `databases.rs`, `db_error.rs`); the test support (`testkit`, the
//! in-memory adapters and the conformance suites) does not name it either.
//! This test fails when a file elsewhere names it again.

use std::path::{Path, PathBuf};

const LIBRARY: [&str; 2] = ["mysql_async", "mysql_common"];

/// Folders (in the worker's folder) that must not name the library.
const WALLED: [&str; 6] = [
    "src/sync",
    "src/copy",
    "src/sql",
    "src/upstream",
    "src/downstream",
    "testkit/src",
];

/// Adapter folders inside the walled ones, where it belongs.
const ADAPTERS: [&str; 2] = ["src/upstream/mysql", "src/downstream/mysql"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_mysql_adapters_name_the_client_library() {
    let worker = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    for walled in WALLED {
        let mut files = Vec::new();
        rust_files(&worker.join(walled), &mut files);
        assert!(!files.is_empty(), "{walled} has no files");
        for file in files {
            let relative = file.strip_prefix(worker).unwrap_or(&file);
            let relative = relative.to_string_lossy().replace('\\', "/");
            if ADAPTERS
                .iter()
                .any(|a| relative.starts_with(&format!("{a}/")))
            {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if LIBRARY.iter().any(|l| text.contains(l)) {
                offenders.push(relative);
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "these files name the MySQL client library outside the ports' mysql/ adapters: \
         {offenders:?}"
    );
}
