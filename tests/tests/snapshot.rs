//! A consistent snapshot on real MariaDB: reads inside it do not see later
//! writes, and the binlog from its recorded position holds exactly those
//! later writes (so a copy plus a replay from there loses and repeats
//! nothing).

use dm_tests::{MariaDb, MariaDbOptions};
use dm_worker::upstream::mysql::open_snapshot;
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_sees_the_data_at_its_binlog_position() {
    let server = MariaDb::start(MariaDbOptions::new(7))
        .await
        .expect("upstream");
    dm_tests::tutorial::run_sql(
        &server,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
            "INSERT INTO app.t VALUES (1), (2), (3)",
        ],
    )
    .await
    .expect("data");

    let mut snapshot = open_snapshot(server.opts()).await.expect("snapshot");
    assert!(snapshot.mariadb);
    assert!(
        snapshot.position.binlog_name.starts_with("mysql-bin."),
        "{}",
        snapshot.position
    );
    assert!(
        snapshot.position.binlog_gtid.starts_with("0-7-"),
        "GTID of server-id 7: {}",
        snapshot.position
    );

    // Written after the snapshot started.
    dm_tests::tutorial::run_sql(&server, &["INSERT INTO app.t VALUES (4)"])
        .await
        .expect("later write");

    let inside: Option<u64> = snapshot
        .conn
        .query_first("SELECT COUNT(*) FROM app.t")
        .await
        .expect("read in snapshot");
    assert_eq!(inside, Some(3), "the snapshot does not see the later row");

    let mut other = server.conn().await.expect("conn");
    let events: Vec<mysql_async::Row> = other
        .query(format!(
            "SHOW BINLOG EVENTS IN '{}' FROM {}",
            snapshot.position.binlog_name, snapshot.position.binlog_pos
        ))
        .await
        .expect("binlog events");
    let infos: Vec<String> = events
        .iter()
        .filter_map(|row| row.get::<String, _>("Info"))
        .collect();
    let annotations: Vec<&String> = infos
        .iter()
        .filter(|info| info.to_ascii_uppercase().contains("INSERT INTO APP.T"))
        .collect();
    assert_eq!(
        annotations.len(),
        1,
        "exactly the later insert follows the snapshot position: {infos:?}"
    );
    assert!(annotations[0].contains("(4)"), "{infos:?}");
}
