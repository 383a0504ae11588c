//! The seed tutorial as written, end to end, by the `seed-tutorial`
//! program (on free ports): both tasks, every step, the downstream checked
//! row for row after each, and dmtask2's exact ids (see
//! `dm_tests::tutorial::run_program`). The upstreams log FULL row metadata;
//! `no_column_names.rs` runs the same program with NO_LOG and MINIMAL.

use dm_tests::RowMetadata;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_tutorial_runs_end_to_end() {
    let stdout = dm_tests::tutorial::run_program(RowMetadata::Full)
        .await
        .expect("the tutorial replicates exactly");
    assert!(stdout.contains("binlog_row_metadata=FULL"), "{stdout}");
}
