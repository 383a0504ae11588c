//! The binlog reader against a real MariaDB: positions, GTIDs, row images
//! with column names, keys and types.

use std::time::Duration;

use dm_tests::{MariaDb, MariaDbOptions};
use dm_worker::upstream::mysql::BinlogReader;
use dm_worker::upstream::{ColumnType, Event, Position, RowKind, Value};
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_events_carry_names_keys_types_and_positions() {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("server");
    let mut conn = server.conn().await.expect("conn");
    let (file, pos): (String, u32) = {
        let row: mysql_async::Row = conn
            .query_first("SHOW MASTER STATUS")
            .await
            .expect("status")
            .expect("row");
        (row.get(0).expect("file"), row.get(1).expect("pos"))
    };
    for sql in [
        "CREATE DATABASE app",
        "CREATE TABLE app.t (id BIGINT UNSIGNED PRIMARY KEY, en ENUM('a','b','c'), st SET('x','y','z'), v VARCHAR(10))",
        "INSERT INTO app.t VALUES (18446744073709551615, 'c', 'x,z', 'héllo')",
        "UPDATE app.t SET v = 'bye'",
    ] {
        conn.query_drop(sql).await.expect(sql);
    }
    let start = Position {
        binlog_name: file.clone(),
        binlog_pos: pos,
        binlog_gtid: String::new(),
    };
    let mut reader = BinlogReader::open(server.opts(), 4242, &start)
        .await
        .expect("open");
    let mut seen = Vec::new();
    let mut last_end = start.clone();
    while seen.len() < 2 {
        let located = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .expect("an event in time")
            .expect("read")
            .expect("stream open");
        assert_eq!(located.end.binlog_name, file, "the position names the file");
        if let Event::Rows {
            schema,
            table,
            columns,
            rows,
        } = located.event
        {
            assert_eq!((schema.as_str(), table.as_str()), ("app", "t"));
            let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
            assert_eq!(names, ["id", "en", "st", "v"]);
            assert!(columns[0].primary_key);
            assert!(columns[0].unsigned);
            assert_eq!(columns[2].kind, ColumnType::Set);
            seen.push((rows[0].kind, rows[0].after.clone()));
            assert!(located.end.binlog_pos > last_end.binlog_pos);
        }
        last_end = located.end;
    }
    assert_eq!(seen[0].0, RowKind::Insert);
    assert_eq!(seen[1].0, RowKind::Update);
    let after = seen[0].1.clone().expect("after image");
    assert_eq!(after[0], Value::UInt(u64::MAX));
    assert!(!reader.last_gtid().is_empty(), "MariaDB GTIDs are decoded");

    // A rotation moves the positions to the next file.
    conn.query_drop("FLUSH BINARY LOGS").await.expect("flush");
    conn.query_drop("DELETE FROM app.t").await.expect("delete");
    let next_file = loop {
        let located = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .expect("an event in time")
            .expect("read")
            .expect("stream open");
        if let Event::Rows { rows, .. } = located.event {
            assert_eq!(rows[0].kind, RowKind::Delete);
            break located.end;
        }
        assert!(
            located.end.binlog_name == file || located.end.binlog_pos < 1000,
            "no position past the old file's end in the new one: {}",
            located.end
        );
    };
    assert!(next_file.binlog_name > file, "{next_file} after {file}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_gtid_alone_positions_the_stream() {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("server");
    let mut conn = server.conn().await.expect("conn");
    for sql in [
        "CREATE DATABASE app",
        "CREATE TABLE app.t (id INT PRIMARY KEY, v INT)",
        "INSERT INTO app.t VALUES (1, 1)",
    ] {
        conn.query_drop(sql).await.expect(sql);
    }
    let gtid: String = conn
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .expect("gtid")
        .expect("row");
    conn.query_drop("UPDATE app.t SET v = 2")
        .await
        .expect("update");
    let start = Position {
        binlog_name: String::new(),
        binlog_pos: 0,
        binlog_gtid: gtid,
    };
    let mut reader = BinlogReader::open(server.opts(), 4343, &start)
        .await
        .expect("open");
    loop {
        let located = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .expect("an event in time")
            .expect("read")
            .expect("stream open");
        if let Event::Rows { rows, .. } = located.event {
            assert_eq!(
                rows[0].kind,
                RowKind::Update,
                "the insert is before the GTID"
            );
            assert!(
                located.end.binlog_name.starts_with("mysql-bin."),
                "{}",
                located.end
            );
            break;
        }
    }
}
