//! The tracker against DDL of every kind it follows, table-driven.

use super::*;
use crate::upstream::value::ColumnType;

fn tracker() -> SchemaTracker {
    SchemaTracker::new(Charset::new("latin1", None), Flavor::MySql)
}

fn run(tracker: &mut SchemaTracker, statements: &[&str]) {
    for sql in statements {
        if let Err(e) = tracker.apply("db", sql) {
            panic!("{sql}: {e}");
        }
    }
}

fn table<'a>(tracker: &'a SchemaTracker, name: &str) -> &'a TableDef {
    let (schema, name) = name.split_once('.').unwrap_or(("db", name));
    tracker
        .table(schema, name)
        .unwrap_or_else(|| panic!("{schema}.{name} is not tracked"))
}

/// `name type [unsigned]` per column, comma-separated.
fn columns(t: &TableDef) -> String {
    t.columns
        .iter()
        .map(|c| {
            let unsigned = if c.unsigned { " unsigned" } else { "" };
            format!("{} {}{unsigned}", c.name, c.type_name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `PRIMARY(a,b) UNIQUE u(c) KEY k(d)`.
fn keys(t: &TableDef) -> String {
    let mut out = Vec::new();
    if !t.primary_key.is_empty() {
        out.push(format!("PRIMARY({})", t.primary_key.join(",")));
    }
    for k in &t.unique_keys {
        out.push(format!("UNIQUE {}({})", k.name, k.columns.join(",")));
    }
    for k in &t.indexes {
        out.push(format!("KEY {}({})", k.name, k.columns.join(",")));
    }
    out.join(" ")
}

const BASE: &str = "CREATE TABLE t (id INT NOT NULL, a VARCHAR(10), b INT, PRIMARY KEY (id))";

#[test]
fn create_table_reads_every_fact_a_row_needs() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE TABLE t (id INT(11) UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, \
             name VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
             e ENUM('a','b''c') NOT NULL DEFAULT 'a', s SET('x','y'), bin VARBINARY(8), \
             d NUMERIC(5), z TINYINT ZEROFILL, f BOOL, \
             g BIGINT GENERATED ALWAYS AS (id + 1) VIRTUAL, \
             h BIGINT AS (id * 2) STORED, \
             UNIQUE KEY uk (name, e), KEY (d), INDEX (d, z)) \
             ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin",
        ],
    );
    let def = table(&t, "t");
    assert_eq!(
        columns(def),
        "id int unsigned, name varchar(20), e enum('a','b''c'), s set('x','y'), \
         bin varbinary(8), d decimal(5,0), z tinyint unsigned, f tinyint, g bigint, h bigint"
    );
    assert_eq!(
        keys(def),
        "PRIMARY(id) UNIQUE uk(name,e) KEY d(d) KEY d_2(d,z)"
    );
    let col = |n: &str| &def.columns[def.position(n).unwrap()];
    assert_eq!(col("id").sql_type, "INT(11) UNSIGNED");
    assert!(!col("id").nullable);
    assert!(col("s").nullable);
    assert_eq!(
        col("name").charset,
        Some(Charset::new("utf8mb4", Some("utf8mb4_bin")))
    );
    assert_eq!(
        col("e").charset,
        Some(Charset::new("latin1", Some("latin1_bin")))
    );
    assert_eq!(col("bin").charset, Some(Charset::new("binary", None)));
    assert_eq!(col("id").charset, None);
    assert_eq!(col("e").members, ["a", "b'c"]);
    assert_eq!(col("s").members, ["x", "y"]);
    assert_eq!(
        col("g").generated,
        Some((Generated::Virtual, "id + 1".to_string()))
    );
    assert_eq!(
        col("h").generated,
        Some((Generated::Stored, "id * 2".to_string()))
    );
    assert_eq!(col("f").kind(), ColumnType::Integer);
    assert_eq!(col("e").kind(), ColumnType::Enum);
    assert_eq!(col("d").kind(), ColumnType::Decimal);
    let row = def.row_columns();
    assert_eq!(row[0].name, "id");
    assert!(row[0].primary_key && row[0].unsigned);
    assert_eq!(row[1].charset.as_deref(), Some("utf8mb4"));
    assert!(row[4].is_binary());
}

/// Each case: statements after [`BASE`], then the columns and keys of
/// `db.t`.
#[test]
fn alter_table_follows_each_change_in_order() {
    let cases: &[(&str, &[&str], &str, &str)] = &[
        (
            "add at the end, first, after",
            &[
                "ALTER TABLE t ADD COLUMN c INT",
                "ALTER TABLE t ADD d INT FIRST",
                "ALTER TABLE t ADD COLUMN e BIGINT UNSIGNED AFTER id",
            ],
            "d int, id int, e bigint unsigned, a varchar(10), b int, c int",
            "PRIMARY(id)",
        ),
        (
            "several specs apply in order",
            &["ALTER TABLE t ADD c INT AFTER a, DROP COLUMN a, ADD d CHAR FIRST, ADD UNIQUE (c)"],
            "d char(1), id int, c int, b int",
            "PRIMARY(id) UNIQUE c(c)",
        ),
        (
            "add if not exists, drop if exists",
            &[
                "ALTER TABLE t ADD COLUMN IF NOT EXISTS a INT",
                "ALTER TABLE t DROP COLUMN IF EXISTS zz",
            ],
            "id int, a varchar(10), b int",
            "PRIMARY(id)",
        ),
        (
            "modify retypes in place or moves",
            &[
                "ALTER TABLE t MODIFY a TEXT",
                "ALTER TABLE t MODIFY COLUMN b SMALLINT UNSIGNED FIRST",
            ],
            "b smallint unsigned, id int, a text",
            "PRIMARY(id)",
        ),
        (
            "change renames and retypes, also in keys",
            &[
                "ALTER TABLE t ADD UNIQUE KEY ua (a, b)",
                "ALTER TABLE t CHANGE a a2 VARCHAR(30) NOT NULL",
                "ALTER TABLE t CHANGE COLUMN id pk BIGINT NOT NULL AFTER b",
            ],
            "a2 varchar(30), b int, pk bigint",
            "PRIMARY(pk) UNIQUE ua(a2,b)",
        ),
        (
            "rename column",
            &[
                "ALTER TABLE t ADD INDEX ib (b)",
                "ALTER TABLE t RENAME COLUMN b TO bb",
            ],
            "id int, a varchar(10), bb int",
            "PRIMARY(id) KEY ib(bb)",
        ),
        (
            "a key dropped and re-added",
            &[
                "ALTER TABLE t DROP PRIMARY KEY",
                "ALTER TABLE t ADD PRIMARY KEY (b, id)",
                "ALTER TABLE t ADD UNIQUE INDEX u1 (a)",
                "ALTER TABLE t DROP INDEX u1",
                "ALTER TABLE t ADD CONSTRAINT u1 UNIQUE (b)",
                "ALTER TABLE t ADD KEY k1 (a), ADD KEY (a)",
                "ALTER TABLE t DROP KEY k1",
            ],
            "id int, a varchar(10), b int",
            "PRIMARY(b,id) UNIQUE u1(b) KEY a(a)",
        ),
        (
            "create and drop index statements",
            &[
                "CREATE UNIQUE INDEX ux ON t (a)",
                "CREATE INDEX ix ON t (b, a)",
                "DROP INDEX ux ON t",
            ],
            "id int, a varchar(10), b int",
            "PRIMARY(id) KEY ix(b,a)",
        ),
        (
            "dropping a key's columns shrinks or drops it",
            &[
                "ALTER TABLE t ADD KEY ab (a, b), ADD UNIQUE KEY ub (b)",
                "ALTER TABLE t DROP COLUMN b",
            ],
            "id int, a varchar(10)",
            "PRIMARY(id) KEY ab(a)",
        ),
        (
            "table options change nothing; a new default character set only new columns",
            &[
                "ALTER TABLE t ENGINE=InnoDB, COMMENT='x', ROW_FORMAT=DYNAMIC",
                "ALTER TABLE t FORCE",
                "ALTER TABLE t ALTER INDEX a INVISIBLE, DISABLE KEYS, ORDER BY b",
                "ALTER TABLE t DEFAULT CHARSET=utf8mb4, ADD c CHAR(2)",
                "ALTER ONLINE TABLE t ADD d INT",
                "ALTER IGNORE TABLE t ADD e INT AFTER id",
                "ALTER TABLE t ADD COLUMN (f DECIMAL(5,2) NOT NULL, g ENUM('x,y', 'z')), ADD (h INT)",
            ],
            "id int, e int, a varchar(10), b int, c char(2), d int, f decimal(5,2), g enum('x,y','z'), h int",
            "PRIMARY(id)",
        ),
        (
            "keys renamed, added if not there, dropped if there",
            &[
                "ALTER TABLE t ADD INDEX i1 (a)",
                "ALTER TABLE t RENAME INDEX i1 TO i2",
                "ALTER TABLE t ADD UNIQUE KEY IF NOT EXISTS i2 (b)",
                "ALTER TABLE t ADD UNIQUE KEY IF NOT EXISTS u3 (b), DROP INDEX IF EXISTS nope",
                "ALTER TABLE t RENAME KEY u3 TO u4, ENGINE=InnoDB",
            ],
            "id int, a varchar(10), b int",
            "PRIMARY(id) UNIQUE u4(b) KEY i2(a)",
        ),
        (
            "foreign keys index their columns unless a key starts with them",
            &[
                "ALTER TABLE t ADD CONSTRAINT fa FOREIGN KEY (a) REFERENCES p (x)",
                "ALTER TABLE t ADD FOREIGN KEY (id) REFERENCES p (x)",
                "ALTER TABLE t ADD FOREIGN KEY kb (b) REFERENCES p (x)",
                "ALTER TABLE t ADD FOREIGN KEY (b) REFERENCES p (x)",
                "ALTER TABLE t DROP FOREIGN KEY fa",
            ],
            "id int, a varchar(10), b int",
            "PRIMARY(id) KEY fa(a) KEY kb(b)",
        ),
        (
            "defaults, algorithm and lock change nothing a row needs",
            &[
                "ALTER TABLE t ALTER COLUMN a SET DEFAULT 'x', ALGORITHM=INPLACE, LOCK=NONE",
                "ALTER TABLE t ALTER COLUMN a DROP DEFAULT",
                "TRUNCATE TABLE t",
            ],
            "id int, a varchar(10), b int",
            "PRIMARY(id)",
        ),
    ];
    for (what, statements, want_columns, want_keys) in cases {
        let mut t = tracker();
        run(&mut t, &[BASE]);
        run(&mut t, statements);
        let def = table(&t, "t");
        assert_eq!(columns(def), *want_columns, "{what}");
        assert_eq!(keys(def), *want_keys, "{what}");
    }
}

#[test]
fn a_new_default_character_set_reaches_new_columns_only() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            BASE,
            "ALTER TABLE t CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ADD c TEXT",
        ],
    );
    let def = table(&t, "t");
    assert_eq!(def.charset, Charset::new("utf8mb4", Some("utf8mb4_bin")));
    assert_eq!(def.columns[1].charset, Some(Charset::new("latin1", None)));
    assert_eq!(
        def.columns[3].charset,
        Some(Charset::new("utf8mb4", Some("utf8mb4_bin")))
    );
}

#[test]
fn mariadb_forms_of_create_table_are_read() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE TABLE p (a INT, b INT AS (a + 1) PERSISTENT, c TINYINT(3) UNSIGNED ZEROFILL) \
             ENGINE=InnoDB PARTITION BY HASH (a) PARTITIONS 2",
        ],
    );
    let def = table(&t, "p");
    assert_eq!(columns(def), "a int, b int, c tinyint unsigned");
    assert_eq!(
        def.columns[1].generated,
        Some((Generated::Stored, "a + 1".into()))
    );
}

#[test]
fn json_is_longtext_on_mariadb_and_its_own_type_on_mysql() {
    for (flavor, want, charset) in [
        (Flavor::MySql, "json", None),
        (
            Flavor::MariaDb,
            "longtext",
            Some(Charset::new("utf8mb4", Some("utf8mb4_bin"))),
        ),
    ] {
        let mut t = SchemaTracker::new(Charset::new("latin1", None), flavor);
        run(
            &mut t,
            &["CREATE TABLE j (a JSON)", "ALTER TABLE j ADD b JSON"],
        );
        for c in &table(&t, "j").columns {
            assert_eq!(
                (c.type_name.as_str(), &c.charset),
                (want, &charset),
                "{flavor:?}"
            );
        }
    }
}

#[test]
fn national_and_binary_character_types_are_what_the_server_makes_of_them() {
    let mut t = tracker();
    run(
        &mut t,
        &["CREATE TABLE n (a NCHAR(3), b NVARCHAR(4), c NCHAR, f VARCHAR(2) CHARACTER SET binary, \
           g TEXT CHARACTER SET binary, h CHAR(2) COLLATE binary)"],
    );
    let def = table(&t, "n");
    assert_eq!(
        columns(def),
        "a char(3), b varchar(4), c char(1), f varbinary(2), g blob, h binary(2)"
    );
    let utf8 = Some(Charset::new("utf8mb3", None));
    let binary = Some(Charset::new("binary", None));
    let charsets: Vec<_> = def.columns.iter().map(|c| c.charset.clone()).collect();
    assert_eq!(
        charsets,
        [
            utf8.clone(),
            utf8.clone(),
            utf8,
            binary.clone(),
            binary.clone(),
            binary
        ]
    );
}

#[test]
fn primary_key_columns_are_not_null_and_change_keeps_them_so() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE TABLE t (a INT, b INT)",
            "ALTER TABLE t ADD PRIMARY KEY (a)",
        ],
    );
    assert!(!table(&t, "t").columns[0].nullable);
    assert!(table(&t, "t").columns[1].nullable);
    run(&mut t, &["ALTER TABLE t MODIFY a BIGINT"]);
    assert!(!table(&t, "t").columns[0].nullable);
}

#[test]
fn tables_renamed_then_altered_under_the_new_name() {
    let mut t = tracker();
    run(&mut t, &[BASE, "CREATE TABLE u (x INT)"]);
    let applied = t.apply("db", "RENAME TABLE t TO t2, u TO other.u").unwrap();
    assert_eq!(
        applied,
        Applied::Changed(vec![
            Change::TableRenamed {
                from: ("db".into(), "t".into()),
                to: ("db".into(), "t2".into())
            },
            Change::TableRenamed {
                from: ("db".into(), "u".into()),
                to: ("other".into(), "u".into())
            },
        ])
    );
    assert!(t.table("db", "t").is_none());
    run(&mut t, &["ALTER TABLE t2 ADD c INT"]);
    assert_eq!(
        columns(table(&t, "t2")),
        "id int, a varchar(10), b int, c int"
    );
    assert_eq!(table(&t, "other.u").schema, "other");
    // The old name is no longer tracked: its statements change nothing.
    assert_eq!(
        t.apply("db", "ALTER TABLE t ADD z INT").unwrap(),
        Applied::Unchanged
    );
    // ALTER TABLE ... RENAME TO, after the other specs.
    run(&mut t, &["ALTER TABLE t2 ADD d INT, RENAME TO t3"]);
    assert!(t.table("db", "t2").is_none());
    assert_eq!(
        columns(table(&t, "t3")),
        "id int, a varchar(10), b int, c int, d int"
    );
    run(&mut t, &["ALTER TABLE db.t3 RENAME TO other.t4"]);
    assert_eq!(table(&t, "other.t4").name, "t4");
}

#[test]
fn like_copies_columns_and_keys() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE TABLE t (id INT PRIMARY KEY, a CHAR(3) CHARACTER SET utf8mb4, UNIQUE KEY ua (a)) DEFAULT CHARSET=utf8",
            "CREATE TABLE other.copy LIKE db.t",
            "CREATE TABLE IF NOT EXISTS copy2 LIKE t",
        ],
    );
    for name in ["other.copy", "copy2"] {
        let copy = table(&t, name);
        let original = table(&t, "t");
        assert_eq!(copy.columns, original.columns);
        assert_eq!(keys(copy), "PRIMARY(id) UNIQUE ua(a)");
        assert_eq!(copy.charset, Charset::new("utf8", None));
    }
    assert_eq!(table(&t, "other.copy").schema, "other");
    let error = t.apply("db", "CREATE TABLE c3 LIKE nowhere").unwrap_err();
    assert_eq!(
        error.to_string(),
        "`CREATE TABLE c3 LIKE nowhere` copies `db`.`nowhere`, which the schema tracker does not follow"
    );
}

#[test]
fn character_sets_come_from_the_column_else_the_table_else_the_schema_else_the_server() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE DATABASE d8 CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            "CREATE TABLE d8.from_schema (a VARCHAR(3))",
            "CREATE TABLE d8.from_table (a VARCHAR(3), b TEXT COLLATE utf8_bin, c CHAR(1) CHARACTER SET ascii) CHARSET=latin2",
            "CREATE TABLE from_server (a VARCHAR(3))",
            "ALTER TABLE d8.from_table ADD d ENUM('x')",
        ],
    );
    let charset = |name: &str, column: usize| table(&t, name).columns[column].charset.clone();
    assert_eq!(
        charset("d8.from_schema", 0),
        Some(Charset::new("utf8mb4", Some("utf8mb4_unicode_ci")))
    );
    assert_eq!(
        charset("d8.from_table", 0),
        Some(Charset::new("latin2", None))
    );
    assert_eq!(
        charset("d8.from_table", 1),
        Some(Charset::new("utf8", Some("utf8_bin")))
    );
    assert_eq!(
        charset("d8.from_table", 2),
        Some(Charset::new("ascii", None))
    );
    assert_eq!(
        charset("d8.from_table", 3),
        Some(Charset::new("latin2", None))
    );
    assert_eq!(
        charset("from_server", 0),
        Some(Charset::new("latin1", None))
    );
}

#[test]
fn a_schema_s_new_default_character_set_reaches_tables_created_later() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE DATABASE s",
            "CREATE TABLE s.before (a CHAR(1))",
            "ALTER DATABASE s DEFAULT CHARACTER SET = utf8mb4 COLLATE utf8mb4_bin",
            "CREATE TABLE s.after (a CHAR(1))",
        ],
    );
    assert_eq!(table(&t, "s.before").charset, Charset::new("latin1", None));
    assert_eq!(
        table(&t, "s.after").columns[0].charset,
        Some(Charset::new("utf8mb4", Some("utf8mb4_bin")))
    );
    assert_eq!(
        t.apply("s", "ALTER SCHEMA CHARSET latin2").unwrap(),
        Applied::Changed(vec![Change::SchemaAltered("s".into())])
    );
    assert_eq!(t.schema_charset("s"), Charset::new("latin2", None));
    assert_eq!(
        t.apply("s", "ALTER DATABASE untracked CHARSET latin2")
            .unwrap(),
        Applied::Unchanged
    );
    assert_eq!(
        t.apply("s", "ALTER DATABASE s COMMENT 'x'").unwrap(),
        Applied::Unchanged
    );
}

#[test]
fn tables_and_schemas_are_created_and_dropped() {
    let mut t = tracker();
    assert_eq!(
        t.apply("", "CREATE DATABASE IF NOT EXISTS s1").unwrap(),
        Applied::Changed(vec![Change::SchemaCreated("s1".into())])
    );
    assert_eq!(
        t.apply("", "CREATE DATABASE IF NOT EXISTS s1").unwrap(),
        Applied::Unchanged
    );
    run(
        &mut t,
        &[
            "CREATE SCHEMA s2",
            "CREATE TABLE s1.a (x INT)",
            "CREATE TABLE s1.b (x INT)",
            "CREATE TABLE s2.c (x INT)",
        ],
    );
    assert_eq!(t.schemas().collect::<Vec<_>>(), ["s1", "s2"]);
    // IF NOT EXISTS on a tracked table: the server changed nothing.
    assert_eq!(
        t.apply("s1", "CREATE TABLE IF NOT EXISTS a (y INT)")
            .unwrap(),
        Applied::Unchanged
    );
    assert_eq!(columns(table(&t, "s1.a")), "x int");
    assert_eq!(
        t.apply("s1", "DROP TABLE IF EXISTS a, s2.c, nothere")
            .unwrap(),
        Applied::Changed(vec![
            Change::TableDropped(("s1".into(), "a".into())),
            Change::TableDropped(("s2".into(), "c".into())),
        ])
    );
    assert_eq!(
        t.apply("", "DROP DATABASE s1").unwrap(),
        Applied::Changed(vec![Change::SchemaDropped("s1".into())])
    );
    assert!(t.table("s1", "b").is_none());
    assert_eq!(t.schemas().collect::<Vec<_>>(), ["s2"]);
    assert_eq!(
        t.apply("s1", "TRUNCATE TABLE b").unwrap(),
        Applied::Unchanged
    );
}

#[test]
fn statements_that_change_no_tracked_table_change_nothing() {
    let mut t = tracker();
    run(&mut t, &[BASE]);
    let before = t.clone();
    for sql in [
        "INSERT INTO t VALUES (1, 'a', 2)",
        "GRANT SELECT ON db.* TO 'u'@'%'",
        "FLUSH TABLES",
        "ALTER TABLE untracked ADD x INT",
        "ALTER TABLE untracked PARTITION BY HASH(id) PARTITIONS 4",
        "DROP TABLE untracked",
        "RENAME TABLE untracked TO u2",
        "CREATE TEMPORARY TABLE tmp (x INT)",
        "CREATE TEMPORARY TABLE t (x INT)",
        "DROP TEMPORARY TABLE IF EXISTS `t`",
        "ALTER TABLE t DROP CONSTRAINT no_such_check",
        "TRUNCATE t",
        "BEGIN",
    ] {
        assert_eq!(t.apply("db", sql).unwrap(), Applied::Unchanged, "{sql}");
    }
    assert_eq!(t, before);
}

#[test]
fn what_the_tracker_cannot_follow_on_a_tracked_table_is_an_error_naming_it() {
    let cases: &[(&str, &str)] = &[
        (
            "ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4",
            "cannot read `ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4` to follow the definition of `db`.`t`",
        ),
        (
            "ALTER TABLE t DROP COLUMN nope",
            "`ALTER TABLE t DROP COLUMN nope`: `db`.`t` has no column `nope` in its tracked definition",
        ),
        (
            "ALTER TABLE t ADD a INT",
            "`ALTER TABLE t ADD a INT`: `db`.`t` already has a column `a` in its tracked definition",
        ),
        (
            "ALTER TABLE t ADD c INT AFTER nope",
            "`ALTER TABLE t ADD c INT AFTER nope`: `db`.`t` has no column `nope` in its tracked definition",
        ),
        (
            "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4",
            "`ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4` changes `db`.`t` in a way the schema tracker does not follow (CONVERT TO CHARACTER SET utf8mb4)",
        ),
        (
            "ALTER TABLE t RENAME INDEX nope TO other",
            "`ALTER TABLE t RENAME INDEX nope TO other`: `db`.`t` has no key `nope` in its tracked definition",
        ),
        (
            "CREATE TABLE t (x INT) SELECT 1 AS y",
            "`CREATE TABLE t (x INT) SELECT 1 AS y` changes `db`.`t` in a way the schema tracker does not follow (a table created from a query)",
        ),
        (
            "ALTER TABLE t DROP INDEX nope",
            "`ALTER TABLE t DROP INDEX nope`: `db`.`t` has no key `nope` in its tracked definition",
        ),
    ];
    for (sql, want) in cases {
        let mut t = tracker();
        run(&mut t, &[BASE]);
        let before = t.clone();
        let error = t.apply("db", sql).unwrap_err().to_string();
        assert!(error.starts_with(want), "{sql}: {error}");
        assert_eq!(t, before, "{sql}: a failed statement changes nothing");
    }
    // A statement sqlparser cannot read at all, on a tracked table.
    let mut t = tracker();
    run(&mut t, &[BASE]);
    let error = t
        .apply(
            "db",
            "ALTER TABLE db.t ADD COLUMN c INT INVISIBLE WITH SYSTEM VERSIONING",
        )
        .unwrap_err();
    assert!(
        matches!(&error, SchemaError::Unreadable { table: Subject::Table(t), .. } if t == &("db".to_string(), "t".to_string())),
        "{error}"
    );
    assert!(error
        .to_string()
        .starts_with("cannot read `ALTER TABLE db.t ADD COLUMN c INT INVISIBLE WITH SYSTEM VERSIONING` to follow the definition of `db`.`t`"));
}

#[test]
fn versions_grow_with_every_change_of_a_table() {
    let mut t = tracker();
    run(&mut t, &[BASE]);
    let v1 = table(&t, "t").version;
    run(
        &mut t,
        &["CREATE TABLE other (x INT)", "ALTER TABLE t ADD c INT"],
    );
    let v2 = table(&t, "t").version;
    assert!(v2 > v1);
    run(&mut t, &["TRUNCATE t"]);
    assert_eq!(table(&t, "t").version, v2);
    run(&mut t, &["DROP TABLE t", BASE]);
    assert!(table(&t, "t").version > v2);
}

#[test]
fn the_state_round_trips_through_its_text() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE DATABASE d8 CHARACTER SET utf8mb4",
            "CREATE TABLE d8.t (id BIGINT UNSIGNED PRIMARY KEY, e ENUM('a','b'), g INT AS (id) STORED, s VARCHAR(5) COLLATE utf8mb4_bin, UNIQUE (e), KEY k (s, e))",
            BASE,
        ],
    );
    let text = t.to_text();
    assert!(text.starts_with("{\"format\":1,"), "{text}");
    let back = SchemaTracker::from_text(&text).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.to_text(), text);
    let error =
        SchemaTracker::from_text(&text.replacen("\"format\":1", "\"format\":9", 1)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the tracked schemas cannot be read back: format 9 is not known (this version reads format 1)"
    );
}

#[test]
fn a_definition_renders_as_create_table_and_reads_back_the_same() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE TABLE t (id BIGINT UNSIGNED NOT NULL, `we``ird` ENUM('a','b''c') CHARACTER SET utf8mb4, \
             g INT AS (id + 1) VIRTUAL, s VARCHAR(5) COLLATE latin1_bin NOT NULL, bin BLOB, \
             PRIMARY KEY (id), UNIQUE KEY u (s), KEY k (s, id)) CHARSET=latin1",
        ],
    );
    let def = table(&t, "t");
    let text = def.to_create();
    assert_eq!(
        text,
        "CREATE TABLE `t` (\n  `id` bigint unsigned NOT NULL,\n  \
         `we``ird` enum('a','b''c') CHARACTER SET utf8mb4,\n  \
         `g` int GENERATED ALWAYS AS (id + 1) VIRTUAL,\n  \
         `s` varchar(5) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL,\n  `bin` blob,\n  \
         PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`s`),\n  KEY `k` (`s`,`id`)\n) DEFAULT CHARSET=latin1"
    );
    let mut back = TableDef::from_create("db", &text, &Charset::new("utf8", None)).unwrap();
    back.version = def.version;
    // The type as written differs (rendered canonical); all else is equal.
    for (b, d) in back.columns.iter_mut().zip(&def.columns) {
        b.sql_type = d.sql_type.clone();
    }
    assert_eq!(&back, def);
    // Seeding reads the same text.
    let mut seeded = tracker();
    let version = seeded.seed("db", &text).unwrap();
    assert_eq!(table(&seeded, "t").version, version);
    assert_eq!(columns(table(&seeded, "t")), columns(def));
    assert_eq!(
        TableDef::from_create("db", "DROP TABLE t", &Charset::new("utf8", None))
            .unwrap_err()
            .to_string(),
        "not a CREATE TABLE statement: `DROP TABLE t`"
    );
}

#[test]
fn a_task_tracks_only_the_tables_it_reads() {
    let selects = |s: &str, t: &str| s == "db" && (t.is_empty() || t.starts_with('t'));
    let mut t = tracker();
    t.apply_selected("db", BASE, &selects).unwrap();
    t.apply_selected("db", "CREATE TABLE other (id INT)", &selects)
        .unwrap();
    assert!(t.table("db", "other").is_none());
    // What it cannot follow about a table it does not read is no error.
    let odd = "CREATE TABLE other2 (id INT) WITH SYSTEM VERSIONING PARTITION BY SYSTEM_TIME";
    assert_eq!(
        t.apply_selected("db", odd, &selects),
        Ok(Applied::Unchanged)
    );
    // Renamed out of the selection: no longer tracked.
    t.apply_selected("db", "RENAME TABLE t TO gone", &selects)
        .unwrap();
    assert!(t.table("db", "gone").is_none() && t.table("db", "t").is_none());
    // The persisted text renders every table for readers without the
    // tracker, and reads back to the same state.
    t.apply_selected("db", BASE, &selects).unwrap();
    let text = t.to_text();
    assert!(
        text.contains("\"definitions\":{\"db\":{\"t\":\"CREATE TABLE `t`"),
        "{text}"
    );
    assert_eq!(SchemaTracker::from_text(&text).unwrap(), t);
}

#[test]
fn create_table_like_in_parentheses_copies_the_definition() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            "CREATE TABLE t2 (id INT PRIMARY KEY, n INT UNSIGNED ZEROFILL) ENGINE='InnoDB' DEFAULT CHARSET=utf8mb4",
            "CREATE TABLE t4 (LIKE t2)",
        ],
    );
    assert_eq!(columns(table(&t, "t4")), columns(table(&t, "t2")));
}

#[test]
fn column_changes_if_exists_apply_only_to_columns_that_exist() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            BASE,
            "ALTER TABLE db.t MODIFY COLUMN IF EXISTS b BIGINT NOT NULL DEFAULT 4",
            "ALTER TABLE db.t MODIFY IF EXISTS nope INT",
            "ALTER TABLE db.t CHANGE COLUMN IF EXISTS a a2 VARCHAR(20)",
            "ALTER TABLE db.t DROP COLUMN IF EXISTS nope, DROP IF EXISTS a2",
        ],
    );
    assert_eq!(columns(table(&t, "t")), "id int, b bigint");
}

#[test]
fn create_and_drop_index_statements_are_followed() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            BASE,
            "CREATE FULLTEXT INDEX ft ON db.t (a)",
            "CREATE UNIQUE INDEX ub ON t (b)",
            "DROP INDEX IF EXISTS nope ON db.t",
            "DROP INDEX IF EXISTS ft ON db.t",
        ],
    );
    assert_eq!(
        keys(table(&t, "t")),
        keys(&{
            let mut u = tracker();
            run(&mut u, &[BASE, "ALTER TABLE t ADD UNIQUE KEY ub (b)"]);
            table(&u, "t").clone()
        })
    );
}

#[test]
fn mariadb_lock_waits_are_read_past() {
    let mut t = tracker();
    run(
        &mut t,
        &[
            BASE,
            "CREATE TABLE t2 (id INT PRIMARY KEY)",
            "RENAME TABLE t2 WAIT 3 TO t2b",
            "DROP TABLE IF EXISTS t2b WAIT 2",
            "ALTER TABLE t NOWAIT ADD COLUMN c INT",
        ],
    );
    assert!(t.table("db", "t2").is_none() && t.table("db", "t2b").is_none());
    assert_eq!(
        columns(table(&t, "t")),
        "id int, a varchar(10), b int, c int"
    );
}
