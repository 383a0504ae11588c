//! The seed tutorial as written, end to end, by the `seed-tutorial`
//! program (on free ports): both tasks, every step, the downstream checked
//! row for row after each, and dmtask2's exact ids.

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_tutorial_runs_end_to_end() {
    let program = dm_tests::workspace_binary("seed-tutorial").expect("seed-tutorial built");
    let run = tokio::process::Command::new(program)
        .arg("--free-ports")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("finishes in time")
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // The tutorial's printed rows: the merged dmtest1 tail, then dmtask2's ids.
    assert!(
        stdout.contains("1858\td7fd118e6f226a71b5f1ffe10efd0a78\t"),
        "{stdout}"
    );
    // The ids the tutorial's `insert ... select` gets are the upstream's
    // auto-increment allocation (MariaDB's gaps differ from MySQL 5.7's), so
    // the program checks those rows against the upstreams instead.
    assert!(
        stdout.contains("last id 1729382256910270836 & ((1<<44)-1) = 372 from instance 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("== Done: the tutorial ran end to end."),
        "{stdout}"
    );
}
