//! The pure core over hand-made facts: which items run, what a failure or
//! a warning says, and the tutorial's two tasks.

use super::*;

/// The tutorial's dmtask2 as users run it (three sources, `partition id`
/// on `dmtest2.t1.id`).
const DMTASK2: &str = include_str!("../../../dm-cnf/dmtask2.yaml");

/// dmtask2 without its column mappings.
fn unmapped(extra: &str) -> TaskConfig {
    let mut text = String::from("name: merge\ntask-mode: all\nis-sharding: true\n");
    text.push_str(extra);
    text.push_str(
        "target-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\nmysql-instances:\n",
    );
    for s in ["mysql1", "mysql2", "mysql3"] {
        text.push_str(&format!(
            "  - source-id: {s}\n    block-allow-list: dmtest2\n"
        ));
    }
    text.push_str("block-allow-list:\n  dmtest2:\n    do-dbs: [dmtest2]\n");
    task(&text)
}

fn task(text: &str) -> TaskConfig {
    TaskConfig::parse("task.yaml", text).unwrap()
}

fn t1(id_type: &str) -> TableFacts {
    TableFacts {
        schema: "dmtest2".into(),
        name: "t1".into(),
        columns: vec![
            ColumnFacts {
                name: "id".into(),
                data_type: id_type.into(),
                nullable: false,
                auto_increment: true,
            },
            ColumnFacts {
                name: "c".into(),
                data_type: "char".into(),
                nullable: true,
                auto_increment: false,
            },
        ],
        indexes: vec![IndexFacts {
            name: "PRIMARY".into(),
            unique: true,
            columns: vec!["id".into()],
        }],
    }
}

/// A MariaDB 10.11 set up as DM wants it, root with all privileges.
fn good(tables: Vec<TableFacts>) -> SourceFacts {
    SourceFacts {
        variables: [
            ("version", "10.11.19-MariaDB-0+deb12u1-log"),
            ("server_id", "1"),
            ("log_bin", "ON"),
            ("binlog_format", "ROW"),
            ("binlog_row_image", "FULL"),
            ("binlog_row_metadata", "FULL"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        current_user: "root@localhost".into(),
        grants: vec!["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION".into()],
        tables: Some(tables),
        binlog: None,
        time_zone_refused: None,
    }
}

fn with(mut facts: SourceFacts, variable: &str, value: &str) -> SourceFacts {
    facts
        .variables
        .insert(variable.to_string(), value.to_string());
    facts
}

fn without(mut facts: SourceFacts, variable: &str) -> SourceFacts {
    facts.variables.remove(variable);
    facts
}

fn three(facts: impl Fn(&str) -> SourceFacts) -> Vec<(String, Result<SourceFacts, PrecheckError>)> {
    ["mysql1", "mysql2", "mysql3"]
        .into_iter()
        .map(|s| (s.to_string(), Ok(facts(s))))
        .collect()
}

/// A MariaDB downstream that accepts everything.
fn downstream() -> Result<TargetFacts, PrecheckError> {
    Ok(TargetFacts {
        version: "10.11.19-MariaDB-log".into(),
        ..TargetFacts::default()
    })
}

fn check(
    task: &TaskConfig,
    fetched: &[(String, Result<SourceFacts, PrecheckError>)],
) -> CheckReport {
    evaluate(task, fetched, &downstream(), false, false)
}

/// The failures, one line each.
fn lines(report: &CheckReport) -> Vec<String> {
    report
        .problems(Severity::Fail)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The warnings, one line each.
fn warnings(report: &CheckReport) -> Vec<String> {
    report
        .problems(Severity::Warn)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_tutorials_dmtask2_passes() {
    let report = check(&task(DMTASK2), &three(|_| good(vec![t1("bigint")])));
    assert!(report.passed(), "{report}");
    assert_eq!(report.to_string(), PASSED);
    // Every check ran, on each source and on the downstream.
    let summary = report.results(10, 10).summary;
    assert_eq!(
        (summary.total, summary.successful),
        (2 + 3 * 10, 2 + 3 * 10)
    );
}

#[test]
fn merged_auto_increment_keys_without_mappings_warn_per_source() {
    let report = check(&unmapped(""), &three(|_| good(vec![t1("bigint")])));
    assert!(report.passed(), "{report}");
    assert_eq!(
        warnings(&report),
        ["mysql1", "mysql2", "mysql3"].map(|s| format!(
            "source {s}: auto_increment_ID: `dmtest2`.`t1` has auto-increment key `id` and is merged with 2 other upstream tables into `dmtest2`.`t1`, so their ids may collide: add a `partition id` column mapping with target-column `id` for it, or make sure the ids never overlap (auto-increment-increment / auto-increment-offset) and add auto_increment_ID to ignore-checking-items"
        ))
    );
    assert!(report
        .problems(Severity::Warn)
        .iter()
        .all(|p| p.item == Item::AutoIncrementId));
    // DM's shape: the results warn, the summary counts them apart.
    let results = report.results(10, 10);
    assert_eq!(results.results.len(), 3);
    assert!(results.results.iter().all(
        |r| r.state == dm_proto::check_result::State::Warning && r.name == "auto_increment_ID"
    ));
    assert_eq!(
        (
            results.summary.passed,
            results.summary.failed,
            results.summary.warning
        ),
        (true, 0, 3)
    );
    assert!(report.to_string().starts_with(
        "fail to check synchronization configuration with type: no errors but some warnings\n detail: {"
    ));
    // At most one warning shown; all counted.
    let one = report.results(10, 1);
    assert_eq!(one.results.len(), 1);
    assert_eq!(one.summary.warning, 3);
}

#[test]
fn the_tutorials_dmtask1_ignores_auto_increment_ids() {
    let task = unmapped("ignore-checking-items: [\"auto_increment_ID\"]\n");
    let report = check(&task, &three(|_| good(vec![t1("bigint")])));
    assert!(report.passed(), "{report}");
}

#[test]
fn partition_ids_need_bigint() {
    let report = check(&task(DMTASK2), &three(|_| good(vec![t1("int")])));
    assert_eq!(lines(&report).len(), 3, "{report}");
    assert_eq!(
        lines(&report)[0],
        "source mysql1: auto_increment_ID: `dmtest2`.`t1` has a `partition id` column mapping on auto-increment key `id`, but `id` is INT; partition ids need BIGINT: change `id` to BIGINT upstream and downstream"
    );
}

#[test]
fn tables_of_one_source_merged_by_a_route_conflict_too() {
    let text = r#"
name: one
task-mode: all
shard-mode: pessimistic
target-database: {host: 127.0.0.1, port: 4000, user: root}
routes:
  merge:
    schema-pattern: "shard_*"
    table-pattern: "t"
    target-schema: "all"
    target-table: "t"
mysql-instances:
  - source-id: mysql1
    route-rules: [merge]
"#;
    let shard = |schema: &str| TableFacts {
        schema: schema.into(),
        ..t1("bigint")
    };
    let mut t = shard("shard_1");
    t.name = "t".into();
    let mut u = shard("shard_2");
    u.name = "t".into();
    let fetched = vec![("mysql1".to_string(), Ok(good(vec![t, u])))];
    let report = check(&task(text), &fetched);
    assert_eq!(
        warnings(&report),
        [
            "source mysql1: auto_increment_ID: `shard_1`.`t` has auto-increment key `id` and is merged with 1 other upstream table into `all`.`t`, so their ids may collide: add a `partition id` column mapping with target-column `id` for it, or make sure the ids never overlap (auto-increment-increment / auto-increment-offset) and add auto_increment_ID to ignore-checking-items",
            "source mysql1: auto_increment_ID: `shard_2`.`t` has auto-increment key `id` and is merged with 1 other upstream table into `all`.`t`, so their ids may collide: add a `partition id` column mapping with target-column `id` for it, or make sure the ids never overlap (auto-increment-increment / auto-increment-offset) and add auto_increment_ID to ignore-checking-items",
        ]
    );
}

#[test]
fn server_settings_fail_with_the_source_and_the_fix() {
    let fetched = three(|s| match s {
        "mysql1" => with(good(vec![t1("bigint")]), "binlog_format", "STATEMENT"),
        "mysql2" => with(
            with(good(vec![t1("bigint")]), "binlog_row_image", "MINIMAL"),
            "binlog_row_metadata",
            "NO_LOG",
        ),
        _ => with(
            with(good(vec![t1("bigint")]), "log_bin", "OFF"),
            "server_id",
            "0",
        ),
    });
    let report = check(&task(DMTASK2), &fetched);
    assert_eq!(
        lines(&report),
        [
            "source mysql1: binlog_format is STATEMENT; the sync unit needs ROW: SET GLOBAL binlog_format = ROW (and in the server config)",
            "source mysql2: binlog_row_image is MINIMAL; the sync unit needs FULL: SET GLOBAL binlog_row_image = FULL (and in the server config)",
            "source mysql3: server_id is 0; a server whose binlog is replicated needs a non-zero server_id: SET GLOBAL server_id = <an id unique among the servers> (and in the server config)",
            "source mysql3: binlog_enable: log_bin is OFF; the sync unit reads the binlog: start the server with log-bin (it cannot be turned on at runtime)",
        ]
    );
    let message = report.to_string();
    let (header, detail) = dm_proto::check_result::split(&message);
    assert_eq!(
        header,
        "fail to check synchronization configuration with type: check was failed, please see detail"
    );
    let detail = detail.expect("a detail");
    assert_eq!(
        detail
            .results
            .iter()
            .map(|r| (r.name.as_str(), r.extra.as_str(), r.errors.len()))
            .collect::<Vec<_>>(),
        [
            ("binlog_format", "source mysql1", 1),
            ("binlog_row_image", "source mysql2", 1),
            ("server_id", "source mysql3", 1),
            ("binlog_enable", "source mysql3", 1),
        ]
    );
    assert_eq!((detail.summary.failed, detail.summary.passed), (4, false));
}

#[test]
fn any_row_metadata_passes() {
    // MariaDB's default NO_LOG and MySQL's MINIMAL log no column names; the
    // sync's schema tracker names the columns. Servers without the variable
    // (MariaDB < 10.5, MySQL < 8.0.14) are the same case.
    for value in [Some("FULL"), Some("MINIMAL"), Some("NO_LOG"), None] {
        let fetched = three(|_| {
            let facts = good(vec![t1("bigint")]);
            match value {
                Some(value) => with(facts, "binlog_row_metadata", value),
                None => without(facts, "binlog_row_metadata"),
            }
        });
        let report = check(&task(DMTASK2), &fetched);
        assert!(lines(&report).is_empty(), "{value:?}: {report}");
        assert!(report.passed(), "{value:?}: {report}");
        let row_image: Vec<_> = report
            .results
            .iter()
            .filter(|r| r.item == Item::BinlogRowImage)
            .map(|r| (r.subject.to_string(), r.findings.len()))
            .collect();
        assert_eq!(
            row_image,
            [
                ("source mysql1".to_string(), 0),
                ("source mysql2".to_string(), 0),
                ("source mysql3".to_string(), 0)
            ],
            "{value:?}"
        );
    }
}

#[test]
fn ignored_items_and_units_that_do_not_run_are_not_checked() {
    let statement = |_: &str| with(good(vec![t1("bigint")]), "binlog_format", "STATEMENT");
    for (extra, mode, passes) in [
        ("", "all", false),
        ("ignore-checking-items: [\"binlog_format\"]\n", "all", true),
        ("ignore-checking-items: [\"all\"]\n", "all", true),
        (
            "ignore-checking-items: [\"binlog_row_image\"]\n",
            "all",
            false,
        ),
        // A full task never reads the binlog.
        ("", "full", true),
        ("", "incremental", false),
    ] {
        let text = DMTASK2
            .replace("task-mode: all\n", &format!("task-mode: {mode}\n{extra}"))
            .replace(
                "    column-mapping-rules: [\"mysql1\"]\n",
                "    column-mapping-rules: [\"mysql1\"]\n    meta: {binlog-name: mysql-bin.000001}\n",
            )
            .replace(
                "    column-mapping-rules: [\"mysql2\"]\n",
                "    column-mapping-rules: [\"mysql2\"]\n    meta: {binlog-name: mysql-bin.000001}\n",
            )
            .replace(
                "    column-mapping-rules: [\"mysql3\"]\n",
                "    column-mapping-rules: [\"mysql3\"]\n    meta: {binlog-name: mysql-bin.000001}\n",
            );
        let report = check(&task(&text), &three(statement));
        assert_eq!(report.passed(), passes, "{extra} {mode}: {report}");
    }
}

#[test]
fn privileges_follow_the_units() {
    let usage = |_: &str| SourceFacts {
        current_user: "dm@%".into(),
        grants: vec!["GRANT USAGE ON *.* TO `dm`@`%`".into()],
        ..with(good(vec![t1("bigint")]), "version", "8.0.36")
    };
    let report = check(&task(DMTASK2), &three(usage));
    let mine: Vec<String> = lines(&report)
        .into_iter()
        .filter(|l| l.starts_with("source mysql1: "))
        .collect();
    assert_eq!(
        mine,
        [
            "source mysql1: replication_privilege: 'dm'@'%' lacks REPLICATION SLAVE, REPLICATION CLIENT; the sync unit needs them to read the binlog: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'dm'@'%'",
            "source mysql1: dump_privilege: 'dm'@'%' lacks RELOAD, SELECT on `dmtest2`.`t1`; the dump unit needs them to copy the selected tables consistently: GRANT RELOAD ON *.* TO 'dm'@'%'; GRANT SELECT ON `dmtest2`.* TO 'dm'@'%'",
        ]
    );
    let full = task(&DMTASK2.replace("task-mode: all", "task-mode: full"));
    let report = check(&full, &three(usage));
    assert!(report
        .problems(Severity::Fail)
        .iter()
        .all(|p| p.item == Item::DumpPrivilege));
}

#[test]
fn tables_without_keys_warn_table_schema() {
    let nokey = TableFacts {
        schema: "dmtest2".into(),
        name: "log".into(),
        columns: vec![ColumnFacts {
            name: "line".into(),
            data_type: "text".into(),
            nullable: true,
            auto_increment: false,
        }],
        indexes: vec![],
    };
    let fetched = vec![
        ("mysql1".to_string(), Ok(good(vec![t1("bigint"), nokey]))),
        ("mysql2".to_string(), Ok(good(vec![t1("bigint")]))),
        ("mysql3".to_string(), Ok(good(vec![t1("bigint")]))),
    ];
    let report = check(&task(DMTASK2), &fetched);
    assert!(report.passed(), "{report}");
    assert_eq!(
        warnings(&report),
        ["source mysql1: table_schema: `dmtest2`.`log` has neither a primary key nor a unique key on NOT NULL columns; DM needs one to replicate updates and deletes exactly: ALTER TABLE `dmtest2`.`log` ADD PRIMARY KEY (...), or leave the table out with the block-allow list"]
    );
    let ignoring = task(&DMTASK2.replace(
        "task-mode: all\n",
        "task-mode: all\nignore-checking-items: [table_schema]\n",
    ));
    assert!(warnings(&check(&ignoring, &fetched)).is_empty());
}

#[test]
fn unreachable_and_missing_sources_are_failures_and_contribute_no_tables() {
    let fetched = vec![
        ("mysql1".to_string(), Ok(good(vec![t1("bigint")]))),
        (
            "mysql2".to_string(),
            Err(PrecheckError::Connect {
                addr: "root@127.0.0.1:1".into(),
                reason: "Connection refused".into(),
            }),
        ),
        ("mysql3".to_string(), Err(PrecheckError::MissingSource)),
    ];
    let report = check(&unmapped(""), &fetched);
    assert_eq!(
        lines(&report),
        [
            "source mysql2: cannot connect to the upstream root@127.0.0.1:1: Connection refused; the pre-check needs it: check the source's `from` settings and that the server is running",
            "source mysql3: does not exist; create it with `operate-source create`",
        ]
    );
    let all = unmapped("ignore-checking-items: [all]\n");
    assert!(check(&all, &fetched).passed());
}

#[test]
fn rules_that_do_not_compile_are_reported() {
    let mut task = task(DMTASK2);
    task.mysql_instances[0].block_allow_list = Some("nope".into());
    let mut facts = good(vec![t1("bigint")]);
    facts.tables = None;
    let fetched = vec![
        ("mysql1".to_string(), Ok(facts)),
        ("mysql2".to_string(), Ok(good(vec![t1("bigint")]))),
        ("mysql3".to_string(), Ok(good(vec![t1("bigint")]))),
    ];
    let report = check(&task, &fetched);
    let failures = report.problems(Severity::Fail);
    assert_eq!(failures.len(), 1, "{report}");
    assert_eq!(failures[0].item, Item::Rules);
    assert!(failures[0]
        .to_string()
        .starts_with("source mysql1: the task's rules for this source do not compile ("));
}

#[test]
fn items_map_to_dms_names() {
    let task = task(DMTASK2);
    assert!(Item::Connection.enabled(&task));
    assert_eq!(
        Item::BinlogRowImage.checking_item(),
        Some(CheckingItem::BinlogRowImage)
    );
    assert_eq!(Item::BinlogRowImage.name(), "binlog_row_image");
    assert_eq!(
        Item::BinlogRowImage.desc(),
        "check whether binlog_row_image is FULL"
    );
    assert_eq!(Item::Rules.checking_item(), None);
}

#[test]
fn the_downstream_is_checked_whatever_the_task_ignores() {
    let all = unmapped("ignore-checking-items: [all]\n");
    let fetched = three(|_| good(vec![t1("bigint")]));
    let unreachable = Err(PrecheckError::TargetConnect {
        addr: "root@127.0.0.1:4000".into(),
        reason: "Connection refused".into(),
    });
    let report = evaluate(&all, &fetched, &unreachable, false, false);
    assert_eq!(
        lines(&report),
        ["target-database root@127.0.0.1:4000: cannot connect to the downstream root@127.0.0.1:4000: Connection refused; check target-database's host, port, user and password, and that the server runs and is reachable from the masters"]
    );
    assert_eq!(
        report.problems(Severity::Fail)[0].item,
        Item::TargetConnection
    );
    let tidb = task(&DMTASK2.replace(
        "  password: \"\"\n",
        "  password: \"\"\n  session:\n    tidb_txn_mode: optimistic\n",
    ));
    let report = evaluate(&tidb, &fetched, &downstream(), false, false);
    assert_eq!(
        lines(&report),
        ["target-database root@127.0.0.1:4000: target-database.session sets tidb_txn_mode, which only TiDB has, but the downstream is 10.11.19-MariaDB-log: remove tidb_txn_mode from target-database.session"]
    );
}

#[test]
fn meta_positions_are_checked_for_incremental_tasks_without_checkpoints() {
    use super::position::{BinlogFacts, FIX};
    let mut text = DMTASK2.replace("task-mode: all", "task-mode: incremental");
    for s in ["mysql1", "mysql2", "mysql3"] {
        text = text.replace(
            &format!("    column-mapping-rules: [\"{s}\"]\n"),
            &format!("    column-mapping-rules: [\"{s}\"]\n    meta: {{binlog-name: mysql-bin.000001, binlog-pos: 4}}\n"),
        );
    }
    let incremental = task(&text);
    let purged = |_: &str| SourceFacts {
        binlog: Some(BinlogFacts {
            files: vec![("mysql-bin.000002".into(), 500)],
            ..BinlogFacts::default()
        }),
        ..good(vec![t1("bigint")])
    };
    let fetched = three(purged);
    let want = |s: &str| {
        format!(
        "source {s}: meta_position: binlog mysql-bin.000001 was purged from the upstream (the upstream's binlogs are mysql-bin.000002 to mysql-bin.000002): {FIX}"
    )
    };
    let all_three = ["mysql1", "mysql2", "mysql3"].map(want);
    assert_eq!(lines(&check(&incremental, &fetched)), all_three);
    // A source that resumes at its checkpoint does not start at its meta...
    let resuming = resuming_mysql1();
    assert_eq!(
        lines(&evaluate(&incremental, &fetched, &resuming, false, false)),
        [want("mysql2"), want("mysql3")]
    );
    // ... unless --remove-meta removes the checkpoint first.
    assert_eq!(
        lines(&evaluate(&incremental, &fetched, &resuming, true, false)),
        all_three
    );
    // The item can be ignored; a task that copies first never uses meta.
    let ignoring = task(&text.replace(
        "task-mode: incremental\n",
        "task-mode: incremental\nignore-checking-items: [meta_position]\n",
    ));
    assert!(check(&ignoring, &fetched).passed());
    let all = task(&text.replace("task-mode: incremental", "task-mode: all"));
    assert!(check(&all, &fetched).passed());
    // --start-time takes meta's place: meta is not checked, and a source
    // that would resume (so ignore the time) is refused.
    assert_eq!(
        lines(&evaluate(&incremental, &fetched, &resuming, false, true)),
        ["source mysql1: meta_position: the downstream holds checkpoints of task dmtask2 for this source, and a start resumes from them; --start-time applies to a start without checkpoints: add --remove-meta to begin at the time, or leave out --start-time to resume"]
    );
    assert!(evaluate(&incremental, &fetched, &resuming, true, true).passed());
}

#[test]
fn a_time_zone_the_upstream_lacks_fails() {
    let zoned = task(&DMTASK2.replace(
        "task-mode: all\n",
        "task-mode: all\ntimezone: Asia/Shanghai\n",
    ));
    let fetched = three(|s| SourceFacts {
        time_zone_refused: (s == "mysql2")
            .then(|| "Unknown or incorrect time zone: 'Asia/Shanghai'".to_string()),
        ..good(vec![t1("bigint")])
    });
    assert_eq!(
        lines(&check(&zoned, &fetched)),
        ["source mysql2: timezone Asia/Shanghai is unknown to the upstream: Unknown or incorrect time zone: 'Asia/Shanghai': load its time zone tables (mariadb-tzinfo-to-sql) or give an offset such as \"+08:00\""]
    );
}

#[test]
fn an_incremental_source_without_meta_needs_checkpoints_or_a_start_time() {
    use super::position::MISSING_META;
    let incremental = task(&DMTASK2.replace("task-mode: all", "task-mode: incremental"));
    let fetched = three(|_| good(vec![t1("bigint")]));
    let want = |s: &str| format!("source {s}: {MISSING_META}");
    assert_eq!(
        lines(&check(&incremental, &fetched)),
        ["mysql1", "mysql2", "mysql3"].map(want)
    );
    // A source that resumes at its checkpoint needs no start position...
    let resuming = resuming_mysql1();
    assert_eq!(
        lines(&evaluate(&incremental, &fetched, &resuming, false, false)),
        [want("mysql2"), want("mysql3")]
    );
    // ... and --start-time is one; ignoring every item does not skip it.
    assert!(evaluate(&incremental, &fetched, &downstream(), false, true).passed());
    let ignoring = task(&DMTASK2.replace(
        "task-mode: all\n",
        "task-mode: incremental\nignore-checking-items: [all]\n",
    ));
    assert_eq!(
        lines(&check(&ignoring, &fetched)),
        ["mysql1", "mysql2", "mysql3"].map(want)
    );
}

/// A downstream holding checkpoints of the task for `mysql1`.
fn resuming_mysql1() -> Result<TargetFacts, PrecheckError> {
    Ok(TargetFacts {
        checkpointed: ["mysql1".to_string()].into(),
        ..downstream().unwrap()
    })
}
