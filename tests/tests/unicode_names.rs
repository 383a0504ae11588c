//! Tables with non-ASCII names, into a downstream whose server character
//! set is latin1 (MariaDB's default): the task's `dm_meta` tables hold the
//! names in utf8mb4, so the copy and the sync carry such tables row for
//! row; `dm_meta` tables an older version created in latin1 are converted.

use std::time::Duration;

use dm_tests::cluster::wait_syncing;
use dm_tests::scenario::OneSource;
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: unicode\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

const LATIN1: &[&str] = &[
    "--character-set-server=latin1",
    "--collation-server=latin1_swedish_ci",
];

/// Two `dm_meta` tables as a version before utf8mb4 meta tables created
/// them on a latin1 server.
const OLD_META: &[&str] = &[
    "CREATE DATABASE dm_meta",
    "CREATE TABLE dm_meta.unicode_checkpoint (
        source_id VARCHAR(32) NOT NULL,
        lane INT UNSIGNED NOT NULL,
        epoch BIGINT UNSIGNED NOT NULL,
        binlog_name VARCHAR(128) NOT NULL DEFAULT '',
        binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
        binlog_gtid TEXT,
        update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        PRIMARY KEY (source_id, lane)
    )",
    "CREATE TABLE dm_meta.unicode_copy_chunk (
        source_id VARCHAR(32) NOT NULL,
        cp_schema VARCHAR(128) NOT NULL,
        cp_table VARCHAR(128) NOT NULL,
        chunk_index INT UNSIGNED NOT NULL,
        target_schema VARCHAR(128) NOT NULL,
        target_table VARCHAR(128) NOT NULL,
        key_column VARCHAR(128) NULL,
        lower_bound VARCHAR(48) NULL,
        upper_bound VARCHAR(48) NULL,
        estimate_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
        done TINYINT NOT NULL DEFAULT 0,
        copied_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
        copied_bytes BIGINT UNSIGNED NOT NULL DEFAULT 0,
        binlog_name VARCHAR(128) NOT NULL DEFAULT '',
        binlog_pos INT UNSIGNED NOT NULL DEFAULT 0,
        binlog_gtid TEXT,
        epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
        update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        PRIMARY KEY (source_id, cp_schema, cp_table, chunk_index)
    )",
];

async fn wait_equal(c: &OneSource, table: &str) {
    c.wait_same(
        "unicode",
        &format!("SELECT * FROM `app`.`{table}` ORDER BY 1"),
        DEADLINE,
    )
    .await
    .expect("equal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unicode_table_names_reach_a_latin1_downstream() {
    let c = OneSource::start_with(
        1,
        &[],
        LATIN1,
        &[
            "SET NAMES utf8mb4",
            "CREATE DATABASE app",
            "CREATE TABLE app.`表_données` (id INT PRIMARY KEY, nom VARCHAR(40)) DEFAULT CHARSET=utf8mb4",
            "INSERT INTO app.`表_données` VALUES (1, 'héllo 🐬'), (2, 'ça')",
            "CREATE TABLE app.plain (id INT PRIMARY KEY) DEFAULT CHARSET=utf8mb4",
            "INSERT INTO app.plain VALUES (1)",
        ],
    )
    .await
    .expect("cluster");
    dm_tests::tutorial::run_sql(&c.downstream, OLD_META)
        .await
        .expect("old meta tables");

    c.start_task("unicode", TASK).await.expect("started");
    wait_syncing(&c.addrs, "unicode", DEADLINE)
        .await
        .expect("sync unit");
    wait_equal(&c, "表_données").await;
    wait_equal(&c, "plain").await;

    dm_tests::tutorial::run_sql(
        &c.upstream,
        &[
            "SET NAMES utf8mb4",
            "INSERT INTO app.`表_données` VALUES (3, 'ünï')",
            "UPDATE app.`表_données` SET nom = 'olá' WHERE id = 1",
            "DELETE FROM app.`表_données` WHERE id = 2",
            "CREATE TABLE app.`新しい表` (id INT PRIMARY KEY, v VARCHAR(10)) DEFAULT CHARSET=utf8mb4",
            "INSERT INTO app.`新しい表` VALUES (1, 'ß')",
        ],
    )
    .await
    .expect("changes");
    wait_equal(&c, "表_données").await;
    wait_equal(&c, "新しい表").await;

    // Every meta table, the converted ones too, stores names in utf8mb4.
    let mut conn = c.downstream.conn().await.expect("conn");
    let collations: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_NAME, TABLE_COLLATION FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 'dm_meta' ORDER BY TABLE_NAME",
        )
        .await
        .expect("meta tables");
    assert_eq!(
        collations,
        [
            "unicode_binlog_op",
            "unicode_checkpoint",
            "unicode_copy_chunk",
            "unicode_fence",
            "unicode_schema",
            "unicode_shard_ddl",
            "unicode_shard_group",
        ]
        .map(|t| (t.to_string(), "utf8mb4_bin".to_string()))
    );
    let latin1_columns: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = 'dm_meta' AND CHARACTER_SET_NAME IS NOT NULL \
             AND COLLATION_NAME <> 'utf8mb4_bin'",
        )
        .await
        .expect("meta columns");
    assert_eq!(latin1_columns, []);
}
