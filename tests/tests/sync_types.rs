//! The sync unit applies every common column type exactly (integers at
//! their limits, signed and UNSIGNED, decimals, floats, text in utf8mb4
//! and latin1, binary data, dates and times with fractions and the zero
//! TIMESTAMP, ENUM, SET, JSON, BIT, NULL), DDL on the way, and one table
//! altered step by step (columns added AFTER and FIRST, dropped, made
//! UNSIGNED, renamed, changed, moved; the primary key dropped and added
//! back, an index added, the unique key dropped) with rows
//! written between: see `dm_tests::types_table` and `dm_tests::ddl_steps`.
//!
//! The upstream logs FULL row metadata (column names in every row event);
//! `no_column_names.rs` runs the same steps with NO_LOG and MINIMAL.

use dm_tests::scenario::OneSource;
use dm_tests::{ddl_steps, types_table};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_common_type_and_ddl_arrive_exactly() {
    let seed: Vec<&str> = [types_table::SEED, ddl_steps::SEED].concat();
    let c = OneSource::start(1, &seed).await.expect("cluster");
    ddl_steps::replicate_after_types(&c)
        .await
        .expect("every type, then the altered table after every step, arrive exactly");
}

/// Signed MEDIUMINTs below zero: the binlog holds them as 3 bytes in two's
/// complement, which the row decoder must sign-extend (-1 is 0xFFFFFF, not
/// 16777215); without it the sync paused with `Out of range value for
/// column 'mi'`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn negative_mediumints_arrive_exactly() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.types (id INT PRIMARY KEY, mi MEDIUMINT)",
            "INSERT INTO app.types VALUES (1, 1)",
        ],
    )
    .await
    .expect("cluster");
    c.start_task(types_table::TASK_NAME, types_table::TASK)
        .await
        .expect("started");
    types_table::wait_equal(&c, "types").await.expect("copied");
    dm_tests::tutorial::run_sql(
        &c.upstream,
        &[
            "INSERT INTO app.types VALUES (2, -8388608), (3, -1), (4, 8388607)",
            "UPDATE app.types SET mi = -2 WHERE id = 1",
        ],
    )
    .await
    .expect("changes");
    types_table::wait_equal(&c, "types")
        .await
        .expect("negative MEDIUMINTs arrive exactly");
}
