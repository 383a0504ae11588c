//! Task files that must parse as they are: the DM tutorial's two tasks and a
//! DM 2.x task that uses every section.

use std::path::{Path, PathBuf};

use dm_proto::config::task::{
    CheckingItem, EventType, FilterAction, MappingExpression, ShardMode, TaskMode,
};
use dm_proto::config::TaskConfig;

/// The tutorial's files, kept where the tutorial's commands expect them.
fn tutorial(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../dm-cnf")
        .join(name)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn tutorial_dmtask1_parses_as_written() {
    let task = TaskConfig::from_file(&tutorial("dmtask1.yaml")).expect("dmtask1 parses");
    assert_eq!(task.name, "dmtask1");
    assert_eq!(task.task_mode, TaskMode::All);
    assert!(task.is_sharding);
    assert_eq!(
        task.shard_mode,
        ShardMode::Pessimistic,
        "is-sharding means pessimistic"
    );
    assert!(task.enable_heartbeat);
    assert!(task.ignores_check(CheckingItem::AutoIncrementId));
    assert!(!task.ignores_check(CheckingItem::BinlogFormat));
    assert_eq!(task.target_database.host, "127.0.0.1");
    assert_eq!(task.target_database.port, 4000);
    assert_eq!(task.meta_schema, "dm_meta");

    let ids: Vec<_> = task
        .mysql_instances
        .iter()
        .map(|i| i.source_id.as_str())
        .collect();
    assert_eq!(ids, ["mysql1", "mysql2", "mysql3"]);
    for (n, inst) in task.mysql_instances.iter().enumerate() {
        assert_eq!(inst.server_id, Some(n as u32 + 1), "v1 server-id kept");
        assert_eq!(inst.block_allow_list.as_deref(), Some("dmtest1"));
        let loader = task.loader_for(inst);
        assert_eq!(loader.dir, format!("data/dump{}", n + 1));
        assert_eq!(loader.pool_size, 16, "default pool-size");
    }
    let list = &task.block_allow_list["dmtest1"];
    assert_eq!(list.do_dbs, ["dmtest1"]);
}

#[test]
fn tutorial_dmtask2_parses_as_written() {
    let task = TaskConfig::from_file(&tutorial("dmtask2.yaml")).expect("dmtask2 parses");
    assert_eq!(task.name, "dmtask2");
    assert!(task.ignore_checking_items.is_empty());
    assert_eq!(task.column_mappings.len(), 3);
    for (n, inst) in task.mysql_instances.iter().enumerate() {
        let source = format!("mysql{}", n + 1);
        assert_eq!(inst.source_id, source);
        assert_eq!(inst.column_mapping_rules, std::slice::from_ref(&source));
        let rule = &task.column_mappings[&source];
        assert_eq!(rule.expression, MappingExpression::PartitionId);
        assert_eq!(
            rule.arguments,
            [format!("{}", n + 1), String::new(), String::new()]
        );
        assert_eq!(rule.schema_pattern, "dmtest2");
        assert_eq!(rule.table_pattern, "t1");
        assert_eq!(rule.source_column, "id");
        assert_eq!(rule.target_column, "id");
    }
}

#[test]
fn full_dm2_task_uses_every_section() {
    let task = TaskConfig::from_file(&fixture("full-task.yaml")).expect("full task parses");
    assert_eq!(task.shard_mode, ShardMode::Pessimistic);
    assert!(task.is_sharding);
    assert_eq!(task.target_database.session["sql_mode"], "ANSI_QUOTES");
    let security = task.target_database.security.as_ref().expect("security");
    assert_eq!(security.ssl_ca, "", "written as its default");

    let first = &task.mysql_instances[0];
    let meta = first.meta.as_ref().expect("meta");
    assert_eq!(meta.binlog_name, "mysql-bin.000003");
    assert_eq!(meta.binlog_pos, 194);
    assert_eq!(task.mydumper_for(first).extra_args, "");
    assert_eq!(task.syncer_for(first).worker_count, 16);

    let second = &task.mysql_instances[1];
    let dump = task.mydumper_for(second);
    assert_eq!(
        (dump.threads, dump.chunk_filesize.as_str()),
        (2, "32"),
        "mydumper-thread overrides"
    );
    assert_eq!(
        task.loader_for(second).pool_size,
        8,
        "loader-thread overrides"
    );
    let sync = task.syncer_for(second);
    assert_eq!(
        (sync.worker_count, sync.batch, sync.safe_mode),
        (32, 200, true)
    );

    assert_eq!(task.routes["sharding-route-rules-table"].target_table, "t");
    assert_eq!(task.routes["sharding-route-rules-schema"].table_pattern, "");
    let filter = &task.filters["filter-rule-1"];
    assert_eq!(
        filter.events,
        [EventType::TruncateTable, EventType::DropTable]
    );
    assert_eq!(filter.action, FilterAction::Ignore);
    assert_eq!(
        task.filters["filter-rule-2"].sql_pattern,
        ["^DROP\\s+PROCEDURE"]
    );
    assert_eq!(
        task.column_mappings["instance-2"].arguments,
        ["2", "test", "t", "_"]
    );
    assert_eq!(
        task.expression_filter["even-only"].insert_value_expr,
        "c % 2 = 0"
    );
    let list = &task.block_allow_list["instance"];
    assert_eq!(list.do_tables.len(), 2);
    assert_eq!(list.ignore_tables[0].tbl_name, "log");
    assert_eq!(task.mydumpers["global"].threads, 4);
    assert_eq!(task.loaders["global"].dir, "./dumped_data");
    assert_eq!(task.syncers["global"].queue_size, 1024);
}

#[test]
fn a_task_survives_a_yaml_round_trip() {
    for name in [
        tutorial("dmtask1.yaml"),
        tutorial("dmtask2.yaml"),
        fixture("full-task.yaml"),
    ] {
        let task = TaskConfig::from_file(&name).expect("parses");
        let yaml = task.to_yaml().expect("serializes");
        let again = TaskConfig::parse("round-trip.yaml", &yaml)
            .unwrap_or_else(|e| panic!("{} round trip: {e}\n{yaml}", name.display()));
        assert_eq!(task, again, "{}", name.display());
    }
}
