//! The sync unit applies every common column type exactly (integers at
//! their limits, decimals, floats, text in utf8mb4, binary data, dates and
//! times with fractions and the zero TIMESTAMP, ENUM, SET, JSON, BIT,
//! NULL), and DDL on the way.

use std::time::Duration;

use dm_tests::cluster::wait_syncing;
use dm_tests::scenario::OneSource;
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: types\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n";

const CREATE: &str = "CREATE TABLE app.types (
    id INT PRIMARY KEY,
    ti TINYINT, tu TINYINT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
    de DECIMAL(30,6), fl FLOAT, dbl DOUBLE,
    ch CHAR(10), vc VARCHAR(100), tx TEXT, bl BLOB, vb VARBINARY(20),
    da DATE, dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2), yr YEAR,
    en ENUM('a','b','c'), st SET('x','y','z'), js JSON, bt BIT(10)
) DEFAULT CHARSET=utf8mb4";

const ROWS: &[&str] = &[
    "INSERT INTO app.types VALUES (1, -128, 255, -9223372036854775808, 18446744073709551615, \
     -12345678901234.123456, 1.5, -2.25e-300, 'ch', 'héllo 🐬', REPEAT('long text ', 100), \
     0x00FF10, 0x0000, '2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999', \
     '-838:59:59.00', 2155, 'c', 'x,z', '{\"k\": [1, \"v\", null]}', b'1000000001')",
    "INSERT INTO app.types (id) VALUES (2)",
    "INSERT INTO app.types VALUES (3, 127, 0, 9223372036854775807, 0, 0.000001, -0, 0, '', '', '', '', '', \
     '1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '00:00:00', 1901, 'a', '', '[]', b'0')",
];

async fn wait_equal(c: &OneSource, table: &str) {
    c.wait_same(
        "types",
        &format!("SELECT * FROM app.{table} ORDER BY id"),
        DEADLINE,
    )
    .await
    .expect("equal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_common_type_and_ddl_arrive_exactly() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            CREATE,
            ROWS[1],
            // The zero TIMESTAMP, copied.
            "INSERT INTO app.types (id, ts) VALUES (42, '0000-00-00 00:00:00')",
        ],
    )
    .await
    .expect("cluster");
    let (upstream, downstream, addrs) = (&c.upstream, &c.downstream, c.addrs.clone());
    c.start_task("types", TASK).await.expect("started");
    wait_syncing(&addrs, "types", DEADLINE)
        .await
        .expect("sync unit");
    wait_equal(&c, "types").await;

    // Inserts, updates (incl. of the key), deletes.
    dm_tests::tutorial::run_sql(
        upstream,
        &[
            ROWS[0],
            ROWS[2],
            "UPDATE app.types SET vc = 'ändern', bu = bu - 1, js = JSON_SET(js, '$.n', 5) WHERE id = 1",
            "UPDATE app.types SET id = 20, ti = NULL WHERE id = 3",
            "DELETE FROM app.types WHERE id = 2",
            // The zero TIMESTAMP, synced.
            "INSERT INTO app.types (id, ts) VALUES (41, '0000-00-00 00:00:00')",
        ],
    )
    .await
    .expect("changes");
    wait_equal(&c, "types").await;

    // DDL on the way: a new column, a new table.
    dm_tests::tutorial::run_sql(
        upstream,
        &[
            "ALTER TABLE app.types ADD COLUMN extra INT NOT NULL DEFAULT 7",
            "INSERT INTO app.types (id, extra) VALUES (30, 8)",
            "CREATE TABLE app.t2 (id BIGINT UNSIGNED PRIMARY KEY, name VARCHAR(20))",
            "INSERT INTO app.t2 VALUES (1, 'one'), (2, 'two')",
            "CREATE DATABASE other",
            "CREATE TABLE other.ignored (id INT)",
            "INSERT INTO other.ignored VALUES (1)",
        ],
    )
    .await
    .expect("ddl");
    wait_equal(&c, "types").await;
    wait_equal(&c, "t2").await;
    let mut conn = downstream.conn().await.expect("conn");
    let other: Option<String> = conn
        .query_first(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'other'",
        )
        .await
        .expect("schemata");
    assert_eq!(other, None, "the block-allow list keeps `other` out");
}
