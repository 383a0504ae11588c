//! Upstreams that log row events without column names, as most servers in
//! the wild do (MariaDB's default `binlog_row_metadata=NO_LOG`, MySQL
//! 8.0's `MINIMAL`): the table map carries the column types only (with
//! MINIMAL, signedness and character sets too), so the sync must know each
//! table's columns from its own schema tracking. Every test here runs the
//! same body as a FULL-metadata test (the control):
//!
//! - the seed tutorial, both tasks, every step, by the `seed-tutorial`
//!   program (control: `tutorial_end_to_end.rs`);
//! - the type-coverage table (UNSIGNED extremes, latin1 and utf8mb4 text,
//!   ENUM/SET, BIT, JSON, DECIMAL, dates and times) and one table altered
//!   step by step with rows written between the DDLs (control:
//!   `sync_types.rs`).
//!
//! The downstream must equal the upstreams row for row.

use dm_tests::scenario::OneSource;
use dm_tests::{ddl_steps, tutorial, types_table, RowMetadata};

async fn seed_tutorial(row_metadata: RowMetadata) {
    let stdout = tutorial::run_program(row_metadata)
        .await
        .expect("the tutorial replicates exactly");
    assert!(
        stdout.contains(&format!("binlog_row_metadata={row_metadata}")),
        "{stdout}"
    );
}

async fn types_and_ddl(row_metadata: RowMetadata) {
    let seed: Vec<&str> = [types_table::SEED, ddl_steps::SEED].concat();
    let c = OneSource::start_logging(1, row_metadata, &seed)
        .await
        .expect("cluster");
    let logged: Option<String> = {
        use mysql_async::prelude::Queryable;
        let mut conn = c.upstream.conn().await.expect("upstream");
        conn.query_first("SELECT @@global.binlog_row_metadata")
            .await
            .expect("variable")
    };
    assert_eq!(logged.as_deref(), Some(row_metadata.as_str()));
    ddl_steps::replicate_after_types(&c)
        .await
        .expect("every type, then the altered table after every step, arrive exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_tutorial_replicates_from_no_log_upstreams() {
    seed_tutorial(RowMetadata::NoLog).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_tutorial_replicates_from_minimal_upstreams() {
    seed_tutorial(RowMetadata::Minimal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_type_and_ddl_step_arrive_exactly_from_a_no_log_upstream() {
    types_and_ddl(RowMetadata::NoLog).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_type_and_ddl_step_arrive_exactly_from_a_minimal_upstream() {
    types_and_ddl(RowMetadata::Minimal).await;
}
