//! The schema tracker against the server as the oracle: a sequence of DDL
//! of every kind the tracker follows runs on a real MariaDB, and after
//! each statement every tracked table's definition equals the one read
//! from the server's own `SHOW CREATE TABLE` (columns in order, canonical
//! types, signedness, character sets and collations, nullability, ENUM
//! and SET members, generated columns, primary, unique and other keys),
//! and the tracker follows exactly the tables the server has; so does a
//! second tracker seeded halfway from the server's definitions. At the end
//! each definition, rendered as `CREATE TABLE`, makes the same table on
//! the server.

use std::collections::BTreeSet;

use dm_tests::{MariaDb, MariaDbOptions};
use dm_worker::schema::{Charset, Flavor, SchemaTracker, TableDef};
use mysql_async::prelude::Queryable;

/// Run in order, all with `app` as the default database.
const STATEMENTS: &[&str] = &[
    "CREATE DATABASE wide CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE t (id INT NOT NULL, a VARCHAR(10), b INTEGER UNSIGNED, c DEC(8,3), PRIMARY KEY (id))",
    "CREATE TABLE app.u (k BIGINT PRIMARY KEY, e ENUM('x','y''z') NOT NULL, s SET('p','q'), \
     bin VARBINARY(16), f BOOL, r REAL, d NUMERIC, y YEAR, z SMALLINT ZEROFILL, \
     tx MEDIUMTEXT, bl BLOB, bt BIT(3), UNIQUE KEY uk (e, k)) DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE wide.w (id INT PRIMARY KEY, name VARCHAR(20), note TEXT CHARACTER SET latin1, \
     code CHAR(3) COLLATE utf8mb4_bin, u3 VARCHAR(4) CHARACTER SET utf8, UNIQUE (name), \
     n1 NCHAR(3), n2 NVARCHAR(4), b1 VARCHAR(2) CHARACTER SET binary, b2 TEXT CHARACTER SET binary)",
    "ALTER TABLE t ADD COLUMN d DATETIME(3)",
    "ALTER TABLE t ADD e TINYINT FIRST",
    "ALTER TABLE t ADD f CHAR(2) CHARACTER SET utf8mb4 AFTER id",
    "ALTER TABLE t DROP COLUMN c",
    "ALTER TABLE t MODIFY b BIGINT NOT NULL",
    "ALTER TABLE t MODIFY COLUMN a VARCHAR(40) AFTER e",
    "ALTER TABLE t CHANGE a a2 TEXT",
    "ALTER TABLE app.t CHANGE COLUMN id pk BIGINT UNSIGNED NOT NULL FIRST",
    "ALTER TABLE t RENAME COLUMN b TO b2",
    "ALTER TABLE t ADD UNIQUE KEY ub (b2)",
    "ALTER TABLE t ADD INDEX (d, e)",
    "ALTER TABLE t ADD KEY (d)",
    "ALTER TABLE t DROP INDEX ub",
    "ALTER TABLE t DROP PRIMARY KEY",
    "ALTER TABLE t ADD PRIMARY KEY (pk, b2)",
    "ALTER TABLE t ADD COLUMN g BIGINT AS (b2 + 1) VIRTUAL, ADD h BIGINT AS (b2 * 2) STORED AFTER pk",
    "ALTER TABLE t ADD x INT, DROP COLUMN d, ADD y INT FIRST",
    "CREATE INDEX ix ON t (x, y)",
    "CREATE UNIQUE INDEX ux ON t (y)",
    "DROP INDEX ix ON t",
    "ALTER TABLE t DROP KEY ux",
    "RENAME TABLE t TO t2",
    "ALTER TABLE t2 ADD z VARCHAR(5), RENAME TO app.t3",
    "CREATE TABLE copy LIKE u",
    "ALTER TABLE copy ADD COLUMN IF NOT EXISTS k INT, ADD COLUMN IF NOT EXISTS n INT",
    "ALTER TABLE copy DROP COLUMN IF EXISTS nope, DROP COLUMN s",
    "ALTER TABLE wide.w ADD v VARCHAR(5) FIRST, ALGORITHM=INPLACE, LOCK=NONE",
    "TRUNCATE TABLE u",
    "CREATE TABLE IF NOT EXISTS u (other INT)",
    "RENAME TABLE u TO wide.u, t3 TO t4",
    "DROP TABLE copy",
    "CREATE TABLE IF NOT EXISTS wide.again LIKE wide.u",
    "ALTER TABLE t4 ENGINE=InnoDB, COMMENT='x', ROW_FORMAT=DYNAMIC",
    "ALTER TABLE t4 DEFAULT CHARSET=utf8mb4, ADD w VARCHAR(3), ADD w2 ENUM('a') AFTER pk",
    "ALTER TABLE t4 ADD INDEX i1 (w)",
    "ALTER TABLE t4 RENAME INDEX i1 TO i2, COMMENT 'y'",
    "ALTER TABLE t4 ADD UNIQUE KEY IF NOT EXISTS i2 (x), ADD UNIQUE KEY IF NOT EXISTS u3 (x)",
    "ALTER TABLE t4 DROP INDEX IF EXISTS nope, DROP INDEX IF EXISTS i2, RENAME KEY u3 TO u4",
    "ALTER ONLINE TABLE t4 ADD COLUMN IF NOT EXISTS w VARCHAR(3), ADD v TINYINT(3) UNSIGNED ZEROFILL",
    "CREATE TABLE p (a INT, b INT AS (a + 1) PERSISTENT, KEY (b)) PARTITION BY HASH (a) PARTITIONS 2",
    "CREATE TABLE parent (id INT PRIMARY KEY, t TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, \
     t3 TIMESTAMP(3) NULL DEFAULT NULL, dt DATETIME(6) DEFAULT NOW(6), tm TIME(2), js JSON)",
    "ALTER TABLE t4 ADD CONSTRAINT fk1 FOREIGN KEY (x) REFERENCES parent (id)",
    "ALTER TABLE t4 ADD FOREIGN KEY (y) REFERENCES parent (id)",
    "ALTER TABLE t4 ADD fz INT, ADD FOREIGN KEY fk_index (fz) REFERENCES parent (id)",
    "ALTER TABLE t4 ADD fw INT, ADD KEY fwx (fw, x), ADD CONSTRAINT fk4 FOREIGN KEY (fw) REFERENCES parent (id)",
    "ALTER TABLE t4 DROP FOREIGN KEY fk1",
    "ALTER TABLE t4 ADD COLUMN (m1 DECIMAL(5,2) NOT NULL, m2 ENUM('x,y', 'z')), ADD (m3 INT), ENGINE=InnoDB",
    "CREATE TABLE child (a INT, b INT, KEY ab (a, b), FOREIGN KEY (a) REFERENCES parent (id), \
     CONSTRAINT cb FOREIGN KEY (b) REFERENCES parent (id))",
    "ALTER DATABASE wide CHARACTER SET latin2",
    "CREATE TABLE wide.later (a VARCHAR(3), j JSON)",
    "ALTER TABLE wide.w RENAME TO w2",
    "ALTER TABLE w2 RENAME TO wide.w",
    "DROP DATABASE wide",
];

/// What the row decoding relies on, in one comparable text; collations
/// are compared apart (the tracker knows none where a column took its
/// set's default, which the server prints).
fn facts(def: &TableDef) -> String {
    let mut out = Vec::new();
    for c in &def.columns {
        out.push(format!(
            "{} {}{} charset={:?} members={:?} nullable={} generated={:?}",
            c.name,
            c.type_name,
            if c.unsigned { " unsigned" } else { "" },
            c.charset.as_ref().map(|s| &s.charset),
            c.members,
            c.nullable,
            c.generated.as_ref().map(|g| g.0),
        ));
    }
    out.push(format!("PRIMARY KEY {:?}", def.primary_key));
    for k in &def.unique_keys {
        out.push(format!("UNIQUE KEY {} {:?}", k.name, k.columns));
    }
    for k in &def.indexes {
        out.push(format!("KEY {} {:?}", k.name, k.columns));
    }
    out.join("\n")
}

fn collations(def: &TableDef) -> Vec<Option<String>> {
    def.columns
        .iter()
        .map(|c| c.charset.as_ref().and_then(|s| s.collation.clone()))
        .collect()
}

async fn server_tables(
    conn: &mut mysql_async::Conn,
    tracker: &SchemaTracker,
) -> Vec<(String, TableDef)> {
    let schemas: Vec<String> = conn
        .query("SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ('app', 'wide') ORDER BY 1")
        .await
        .expect("schemas");
    let mut out = Vec::new();
    for schema in schemas {
        let tables: Vec<String> = conn
            .query(format!("SHOW TABLES FROM `{schema}`"))
            .await
            .expect("tables");
        for table in tables {
            let row: (String, String) = conn
                .query_first(format!("SHOW CREATE TABLE `{schema}`.`{table}`"))
                .await
                .expect("show create")
                .expect("row");
            let def = TableDef::from_create(&schema, &row.1, &tracker.schema_charset(&schema))
                .unwrap_or_else(|e| panic!("the server's definition: {e}"));
            out.push((row.1, def));
        }
    }
    out
}

/// A tracker seeded from the server: its schemas with their default
/// character sets, its tables from `SHOW CREATE TABLE`.
async fn seed(conn: &mut mysql_async::Conn, charset: &str, collation: &str) -> SchemaTracker {
    let mut tracker = SchemaTracker::new(Charset::new(charset, Some(collation)), Flavor::MariaDb);
    let schemas: Vec<(String, String, String)> = conn
        .query(
            "SELECT schema_name, default_character_set_name, default_collation_name \
             FROM information_schema.schemata WHERE schema_name IN ('app', 'wide')",
        )
        .await
        .expect("schemas");
    for (schema, charset, collation) in &schemas {
        tracker.seed_schema(schema, Some(Charset::new(charset, Some(collation))));
    }
    for (text, def) in server_tables(conn, &tracker).await {
        tracker
            .seed(&def.schema, &text)
            .unwrap_or_else(|e| panic!("seeding {text}: {e}"));
    }
    tracker
}

/// The tracker follows exactly the server's tables, each as the server
/// defines it.
fn agrees(tracker: &SchemaTracker, on_server: &[(String, TableDef)], sql: &str) {
    let tracked: BTreeSet<(String, String)> = tracker
        .tables()
        .map(|t| (t.schema.clone(), t.name.clone()))
        .collect();
    let there: BTreeSet<(String, String)> = on_server
        .iter()
        .map(|(_, t)| (t.schema.clone(), t.name.clone()))
        .collect();
    assert_eq!(tracked, there, "the tables after `{sql}`");
    for (text, there) in on_server {
        let tracked = tracker.table(&there.schema, &there.name).expect("tracked");
        assert_eq!(
            facts(tracked),
            facts(there),
            "`{}`.`{}` after `{sql}`; the server's definition:\n{text}",
            there.schema,
            there.name
        );
        for (i, (ours, theirs)) in collations(tracked)
            .into_iter()
            .zip(collations(there))
            .enumerate()
        {
            if let (Some(ours), Some(theirs)) = (ours, theirs) {
                assert_eq!(
                    ours, theirs,
                    "the collation of column {i} of `{}`.`{}` after `{sql}`",
                    there.schema, there.name
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracker_agrees_with_the_server_after_every_statement() {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("server");
    let mut conn = server.conn().await.expect("conn");
    let (charset, collation): (String, String) = conn
        .query_first("SELECT @@character_set_server, @@collation_server")
        .await
        .expect("defaults")
        .expect("row");
    let mut tracker = SchemaTracker::new(Charset::new(&charset, Some(&collation)), Flavor::MariaDb);
    for sql in ["CREATE DATABASE app", "USE app"] {
        conn.query_drop(sql).await.expect(sql);
        tracker.apply("", sql).expect(sql);
    }
    // A second tracker starts halfway, seeded from the server's own
    // definitions (as an incremental task starts), and follows the rest.
    let mut seeded: Option<SchemaTracker> = None;
    for (index, sql) in STATEMENTS.iter().enumerate() {
        if index == STATEMENTS.len() / 2 {
            seeded = Some(seed(&mut conn, &charset, &collation).await);
        }
        conn.query_drop(*sql).await.expect(sql);
        tracker
            .apply("app", sql)
            .unwrap_or_else(|e| panic!("tracker: {e}"));
        let on_server = server_tables(&mut conn, &tracker).await;
        agrees(&tracker, &on_server, sql);
        if let Some(seeded) = seeded.as_mut() {
            seeded
                .apply("app", sql)
                .unwrap_or_else(|e| panic!("seeded tracker: {e}"));
            agrees(seeded, &on_server, &format!("{sql} [seeded tracker]"));
        }
    }
    // The definitions rendered as CREATE TABLE are real SQL: the server
    // makes the same tables of them.
    conn.query_drop("CREATE DATABASE rendered")
        .await
        .expect("rendered");
    conn.query_drop("USE rendered").await.expect("use");
    for def in tracker.tables() {
        let sql = def.to_create();
        conn.query_drop(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let row: (String, String) = conn
            .query_first(format!("SHOW CREATE TABLE rendered.`{}`", def.name))
            .await
            .expect("show create")
            .expect("row");
        let made = TableDef::from_create("rendered", &row.1, &tracker.schema_charset("app"))
            .expect("the server's definition");
        assert_eq!(facts(&made), facts(def), "{sql}\nmade:\n{}", row.1);
    }
    // Everything followed: the tracker's state still reads back whole.
    let text = tracker.to_text();
    assert_eq!(SchemaTracker::from_text(&text).expect("read back"), tracker);
    assert_eq!(
        tracker.schemas().collect::<Vec<_>>(),
        ["app"],
        "wide was dropped"
    );
}
