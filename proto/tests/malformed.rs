//! Malformed task and source files: each is rejected with a message that
//! names the file, line, column and key and says what would be valid. The
//! messages are pinned exactly: they are part of the user interface.

use dm_proto::config::{SourceConfig, TaskConfig};

const BASE: &str = "name: t
task-mode: all
target-database:
  host: \"127.0.0.1\"
  port: 4000
  user: root
mysql-instances:
  - source-id: \"mysql1\"
";

fn task_cases() -> Vec<(&'static str, String, &'static str)> {
    let with = |extra: &str| format!("{BASE}{extra}");
    let swap = |from: &str, to: &str| BASE.replace(from, to);
    vec![
        ("unknown top-level key", swap("task-mode: all\n", "task-mode: all\ntsak-mode: full\n"),
            "task.yaml:3:1: unknown key `tsak-mode`, expected one of `name`, `task-mode`, `shard-mode`, `is-sharding`, `ignore-checking-items`, `meta-schema`, `enable-heartbeat`, `heartbeat-update-interval`, `heartbeat-report-interval`, `timezone`, `case-sensitive`, `target-database`, `mysql-instances`, `online-ddl`, `online-ddl-scheme`, `shadow-table-rules`, `trash-table-rules`, `routes`, `filters`, `column-mappings`, `expression-filter`, `black-white-list`, `block-allow-list`, `mydumpers`, `loaders`, `syncers`, `clean-dump-file`, `ansi-quotes`, `remove-meta`",
        ),
        ("unknown key in an instance", with("    route-rule: [r1]\n"),
            "task.yaml:9:5: `mysql-instances[0]`: unknown key `route-rule`, expected one of `source-id`, `meta`, `server-id`, `route-rules`, `filter-rules`, `column-mapping-rules`, `expression-filters`, `black-white-list`, `block-allow-list`, `mydumper-config-name`, `mydumper`, `mydumper-thread`, `loader-config-name`, `loader`, `loader-thread`, `syncer-config-name`, `syncer`, `syncer-thread`",
        ),
        ("unknown key in a rule", with("    route-rules: [r1]\nroutes:\n  r1:\n    schema-pattern: a\n    target-schema: b\n    target-tabel: c\n"),
            "task.yaml:14:5: `routes.r1`: unknown key `target-tabel`, expected one of `schema-pattern`, `table-pattern`, `target-schema`, `target-table`",
        ),
        ("SYSTEM time zone", swap("task-mode: all\n", "task-mode: all\ntimezone: SYSTEM\n"),
            "task.yaml:3:1: `timezone`: \"SYSTEM\" is not supported: give an offset such as \"+08:00\" or a zone name such as \"Asia/Shanghai\"",
        ),
        ("bad task-mode", swap("task-mode: all", "task-mode: fulll"),
            "task.yaml:2:12: `task-mode`: invalid value `fulll`, expected one of `full`, `incremental`, `all`",
        ),
        ("bad shard-mode", swap("task-mode: all\n", "task-mode: all\nshard-mode: pesimistic\n"),
            "task.yaml:3:13: `shard-mode`: invalid value `pesimistic`, expected one of `\"\"`, `pessimistic`, `optimistic`",
        ),
        ("missing name", swap("name: t\n", ""),
            "task.yaml:1:1: missing required key `name`",
        ),
        ("missing target-database", BASE.split("target-database").next().unwrap_or_default().to_string() + "mysql-instances:\n  - source-id: a\n",
            "task.yaml:1:1: missing required key `target-database`",
        ),
        ("port is not a number", swap("port: 4000", "port: abc"),
            "task.yaml:5:9: `target-database.port`: invalid type: string \"abc\", expected an integer from 0 to 65535",
        ),
        ("port out of range", swap("port: 4000", "port: 70000"),
            "task.yaml:5:9: `target-database.port`: invalid value: integer `70000`, expected an integer from 0 to 65535",
        ),
        ("bad checking item", swap("task-mode: all\n", "task-mode: all\nignore-checking-items: [\"auto_increment_id\"]\n"),
            "task.yaml:3:25: `ignore-checking-items[0]`: invalid value `auto_increment_id`, expected one of `all`, `dump_privilege`, `replication_privilege`, `version`, `server_id`, `binlog_enable`, `binlog_format`, `binlog_row_image`, `table_schema`, `schema_of_shard_tables`, `auto_increment_ID`, `meta_position`",
        ),
        ("undefined route rule", with("    route-rules: [r1, r2]\nroutes:\n  r1:\n    schema-pattern: a\n    target-schema: b\n"),
            "task.yaml:9:23: `mysql-instances[0].route-rules[1]`: route rule \"r2\" is not defined; `routes` defines: r1",
        ),
        ("route rule with no routes section", with("    route-rules: [r1]\n"),
            "task.yaml:9:19: `mysql-instances[0].route-rules[0]`: route rule \"r1\" is not defined; the task has no `routes` section",
        ),
        ("rule listed twice", with("    filter-rules: [f1, f1]\nfilters:\n  f1:\n    schema-pattern: a\n    action: Ignore\n"),
            "task.yaml:9:24: `mysql-instances[0].filter-rules[1]`: filter rule \"f1\" is listed twice",
        ),
        ("undefined block-allow-list", with("    block-allow-list: dmtest9\nblock-allow-list:\n  dmtest1:\n    do-dbs: [dmtest1]\n"),
            "task.yaml:9:5: `mysql-instances[0].block-allow-list`: block-allow-list rule \"dmtest9\" is not defined; `block-allow-list` defines: dmtest1",
        ),
        ("duplicate source-id", with("  - source-id: \"mysql2\"\n  - source-id: \"mysql1\"\n"),
            "task.yaml:10:5: `mysql-instances[2].source-id`: duplicate source-id \"mysql1\" (already used by mysql-instances[0] at line 8); each source may appear once in a task",
        ),
        ("empty source-id", swap("source-id: \"mysql1\"", "source-id: \"\""),
            "task.yaml:8:5: `mysql-instances[0].source-id`: must not be empty; give the source-id of a source created with `operate-source create`",
        ),
        ("source-id too long", swap("mysql1", "a-source-id-that-is-far-too-long-for-dm"),
            "task.yaml:8:5: `mysql-instances[0].source-id`: \"a-source-id-that-is-far-too-long-for-dm\" is 39 characters long; at most 32 are allowed",
        ),
        ("no instances", swap("mysql-instances:\n  - source-id: \"mysql1\"\n", "mysql-instances: []\n"),
            "task.yaml:7:1: `mysql-instances`: must list at least one source (`- source-id: ...`)",
        ),
        ("partition id with 2 arguments", with("    column-mapping-rules: [m1]\ncolumn-mappings:\n  m1:\n    schema-pattern: dmtest2\n    table-pattern: t1\n    expression: \"partition id\"\n    arguments: [\"1\", \"\"]\n    source-column: id\n    target-column: id\n"),
            "task.yaml:15:5: `column-mappings.m1.arguments`: `partition id` takes 3 or 4 arguments [instance id, schema prefix, table prefix, (separator)], got 2",
        ),
        ("partition id with a non-numeric instance id", with("    column-mapping-rules: [m1]\ncolumn-mappings:\n  m1:\n    schema-pattern: dmtest2\n    table-pattern: t1\n    expression: \"partition id\"\n    arguments: [\"one\", \"\", \"\"]\n    source-column: id\n    target-column: id\n"),
            "task.yaml:15:17: `column-mappings.m1.arguments[0]`: instance id \"one\" is not a number; give an integer from 0 to 15, or \"\" to reserve no instance bits",
        ),
        ("partition id instance id out of range", with("    column-mapping-rules: [m1]\ncolumn-mappings:\n  m1:\n    schema-pattern: dmtest2\n    table-pattern: t1\n    expression: \"partition id\"\n    arguments: [\"16\", \"\", \"\"]\n    source-column: id\n    target-column: id\n"),
            "task.yaml:15:17: `column-mappings.m1.arguments[0]`: instance id 16 does not fit in 4 bits; give an integer from 0 to 15",
        ),
        ("unknown column mapping expression", with("    column-mapping-rules: [m1]\ncolumn-mappings:\n  m1:\n    schema-pattern: dmtest2\n    expression: \"partition_id\"\n    arguments: [\"1\", \"\", \"\"]\n    target-column: id\n"),
            "task.yaml:13:17: `column-mappings.m1.expression`: invalid value `partition_id`, expected one of `partition id`, `add prefix`, `add suffix`",
        ),
        ("add prefix with 2 arguments", with("    column-mapping-rules: [m1]\ncolumn-mappings:\n  m1:\n    schema-pattern: dmtest2\n    expression: \"add prefix\"\n    arguments: [\"a\", \"b\"]\n    target-column: c\n"),
            "task.yaml:14:5: `column-mappings.m1.arguments`: `add prefix` takes 1 argument [prefix], got 2",
        ),
        ("unused global section", with("    loader-config-name: loader1\nloaders:\n  loader1:\n    dir: data/dump1\n  loader2:\n    dir: data/dump2\n"),
            "task.yaml:13:3: `loaders.loader2`: \"loader2\" is defined but no mysql-instance uses it; reference it in `loader-config-name` or remove it",
        ),
        ("undefined loader config", with("    loader-config-name: loader3\nloaders:\n  loader1:\n    dir: data/dump1\n"),
            "task.yaml:9:5: `mysql-instances[0].loader-config-name`: loader config \"loader3\" is not defined; `loaders` defines: loader1",
        ),
        ("config name and inline block", with("    syncer-config-name: s1\n    syncer:\n      worker-count: 4\nsyncers:\n  s1:\n    worker-count: 8\n"),
            "task.yaml:10:5: `mysql-instances[0].syncer`: set either `syncer-config-name` or an inline `syncer` block, not both",
        ),
        ("zero worker-count", with("    syncer-config-name: s1\nsyncers:\n  s1:\n    worker-count: 0\n"),
            "task.yaml:12:5: `syncers.s1.worker-count`: must be at least 1",
        ),
        ("both block-allow-list spellings", with("    block-allow-list: a\nblock-allow-list:\n  a:\n    do-dbs: [x]\nblack-white-list:\n  a:\n    do-dbs: [x]\n"),
            "task.yaml:13:1: `black-white-list`: is the old name of `block-allow-list`, which is also set; keep only `block-allow-list`",
        ),
        ("key written twice", with("    route-rules: [r1]\nroutes:\n  r1:\n    schema-pattern: a\n    target-schema: b\n    target-schema: c\n"),
            "task.yaml:14:5: `routes.r1.target-schema`: is written twice (first at line 13); keep one",
        ),
        ("meta without a position", with("    meta:\n      binlog-pos: 4\n"),
            "task.yaml:9:5: `mysql-instances[0].meta`: needs `binlog-name` (with `binlog-pos`) or `binlog-gtid`",
        ),
        ("bad filter action", with("    filter-rules: [f1]\nfilters:\n  f1:\n    schema-pattern: a\n    action: Skip\n"),
            "task.yaml:13:13: `filters.f1.action`: invalid value `Skip`, expected `Do` or `Ignore`",
        ),
        ("bad filter event", with("    filter-rules: [f1]\nfilters:\n  f1:\n    schema-pattern: a\n    events: [\"drop tables\"]\n    action: Ignore\n"),
            "task.yaml:13:14: `filters.f1.events[0]`: invalid value `drop tables`, expected one of `all`, `all ddl`, `all dml`, `none`, `none ddl`, `none dml`, `insert`, `update`, `delete`, `create database`, `drop database`, `create table`, `drop table`, `truncate table`, `rename table`, `create index`, `drop index`, `create view`, `drop view`, `alter table`",
        ),
        ("bad sql-pattern regex", with("    filter-rules: [f1]\nfilters:\n  f1:\n    schema-pattern: a\n    sql-pattern: [\"^DROP (\"]\n    action: Ignore\n"),
            "task.yaml:13:19: `filters.f1.sql-pattern[0]`: \"^DROP (\" is not a valid regular expression: unclosed group",
        ),
        ("bad block-allow-list regex", with("    block-allow-list: l1\nblock-allow-list:\n  l1:\n    do-dbs: [\"~^test(\"]\n"),
            "task.yaml:12:14: `block-allow-list.l1.do-dbs[0]`: \"^test(\" is not a valid regular expression: unclosed group",
        ),
        ("route target-table without table-pattern", with("    route-rules: [r1]\nroutes:\n  r1:\n    schema-pattern: a\n    target-schema: b\n    target-table: c\n"),
            "task.yaml:14:5: `routes.r1.target-table`: needs a `table-pattern`: a schema-level route (no table-pattern) moves whole schemas and cannot name a target table",
        ),
        ("empty target host", swap("host: \"127.0.0.1\"", "host: \"\""),
            "task.yaml:4:3: `target-database.host`: must not be empty; give the server's host name or IP address",
        ),
        ("expression filter with two kinds", with("    expression-filters: [e1]\nexpression-filter:\n  e1:\n    schema: a\n    table: b\n    insert-value-expr: \"c > 1\"\n    delete-value-expr: \"c > 2\"\n"),
            "task.yaml:11:3: `expression-filter.e1`: needs exactly one kind of expression (insert-value-expr, update-old-value-expr / update-new-value-expr, or delete-value-expr), found 2",
        ),
        ("not YAML", swap("  user: root\n", "  user: root\n   port: 1\n"),
            "task.yaml:7:8: mapping values are not allowed in this context",
        ),
    ]
}

fn source_cases() -> Vec<(&'static str, String, &'static str)> {
    let base = "source-id: mysql1\nflavor: mariadb\nfrom:\n  host: 127.0.0.1\n  port: 3307\n  user: root\n";
    let swap = |from: &str, to: &str| base.replace(from, to);
    vec![
        ("source without from", "source-id: mysql1\n".to_string(),
            "source.yaml:1:1: missing required key `from`",
        ),
        ("bad flavor", swap("flavor: mariadb", "flavor: maria"),
            "source.yaml:2:9: `flavor`: invalid value `maria`, expected one of `\"\"`, `mysql`, `mariadb`",
        ),
        ("unknown source key", format!("{base}enable-gtdi: true\n"),
            "source.yaml:7:1: unknown key `enable-gtdi`, expected one of `source-id`, `enable-gtid`, `auto-fix-gtid`, `enable-relay`, `relay-binlog-name`, `relay-binlog-gtid`, `relay-dir`, `meta-dir`, `flavor`, `charset`, `server-id`, `from`, `purge`, `checker`, `case-sensitive`, `filters`, `tracer`",
        ),
        ("bad checker duration", format!("{base}checker:\n  backoff-max: 5 parsecs\n"),
            "source.yaml:8:3: `checker.backoff-max`: \"5 parsecs\" is not a duration; write a number with a unit, e.g. 500ms, 5s, 5m, 1h30m",
        ),
        ("server-id zero", format!("{base}server-id: 0\n"),
            "source.yaml:7:1: `server-id`: must not be 0 (MySQL refuses a replica with server-id 0); omit it to pick one at random",
        ),
        ("empty source host", swap("host: 127.0.0.1", "host: \"\""),
            "source.yaml:4:3: `from.host`: must not be empty; give the server's host name or IP address",
        ),
    ]
}

#[test]
fn malformed_task_files_are_rejected_with_exact_messages() {
    let cases = task_cases();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (label, text, expected) in cases {
        match TaskConfig::parse("task.yaml", &text) {
            Ok(_) => failures.push(format!("{label}: accepted\n{text}")),
            Err(err) if err.to_string() != expected => failures.push(format!(
                "{label}:\n  expected: {expected}\n  actual:   {err}"
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn malformed_source_files_are_rejected_with_exact_messages() {
    let mut failures = Vec::new();
    for (label, text, expected) in source_cases() {
        match SourceConfig::parse("source.yaml", &text) {
            Ok(_) => failures.push(format!("{label}: accepted\n{text}")),
            Err(err) if err.to_string() != expected => failures.push(format!(
                "{label}:\n  expected: {expected}\n  actual:   {err}"
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
