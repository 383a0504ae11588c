//! Pins the JSON encoding of every command: it is written into the Raft log
//! and read back by every later version. A change here is a format change.

use dm_proto::binlog_op::BinlogAt;
use dm_proto::config::SourceConfig;

use super::{
    Arrival, BinlogOpKind, CheckpointReport, Command, DdlPosition, NewBinlogOp, NewSchemaOp,
    Request, Response, TaskStage,
};

fn encode(command: Command) -> String {
    serde_json::to_string(&Request {
        command,
        proposed_at_ms: 1_700_000_000_000,
    })
    .expect("encodes")
}

fn source() -> SourceConfig {
    SourceConfig::parse(
        "s.yaml",
        "source-id: mysql1\nflavor: mariadb\nfrom:\n  host: 127.0.0.1\n  port: 3307\n  user: root\n  password: secret\n",
    )
    .expect("valid source")
}

#[test]
fn every_command_has_a_pinned_encoding() {
    let cases = [
        (
            Command::CreateSource {
                config: Box::new(source()),
            },
            r#"{"command":{"CreateSource":{"config":{"source-id":"mysql1","enable-gtid":false,"auto-fix-gtid":false,"enable-relay":false,"relay-binlog-name":"","relay-binlog-gtid":"","relay-dir":"relay-dir","meta-dir":"","flavor":"mariadb","charset":"","from":{"host":"127.0.0.1","port":3307,"user":"root","password":"secret"},"purge":{"interval":3600,"expires":0,"remain-space":15},"checker":{"check-enable":true,"backoff-rollback":"5m","backoff-max":"5m","check-interval":"5s","backoff-min":"1s","backoff-jitter":true,"backoff-factor":2.0},"case-sensitive":false,"filters":[]}}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::RemoveSource {
                source_id: "mysql1".into(),
            },
            r#"{"command":{"RemoveSource":{"source_id":"mysql1"}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::RegisterWorker {
                name: "w1".into(),
                addr: "127.0.0.1:8262".into(),
                keepalive_ttl_ms: 2000,
                config: String::new(),
            },
            r#"{"command":{"RegisterWorker":{"name":"w1","addr":"127.0.0.1:8262","keepalive_ttl_ms":2000}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::RegisterWorker {
                name: "w1".into(),
                addr: "127.0.0.1:8262".into(),
                keepalive_ttl_ms: 2000,
                config: "name = \"w1\"\n".into(),
            },
            r#"{"command":{"RegisterWorker":{"name":"w1","addr":"127.0.0.1:8262","keepalive_ttl_ms":2000,"config":"name = \"w1\"\n"}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::RemoveWorker { name: "w1".into() },
            r#"{"command":{"RemoveWorker":{"name":"w1"}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::Bind {
                source: "mysql1".into(),
                worker: "w1".into(),
            },
            r#"{"command":{"Bind":{"source":"mysql1","worker":"w1"}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::Unbind {
                source: "mysql1".into(),
            },
            r#"{"command":{"Unbind":{"source":"mysql1"}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::StartTask {
                name: "t".into(),
                config_yaml: "name: t\n".into(),
                sources: vec!["mysql1".into()],
                stage: TaskStage::Running,
                start_time: String::new(),
            },
            r#"{"command":{"StartTask":{"name":"t","config_yaml":"name: t\n","sources":["mysql1"],"stage":"Running"}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::SetTaskStage {
                name: "t".into(),
                sources: vec![],
                stage: TaskStage::Paused,
            },
            r#"{"command":{"SetTaskStage":{"name":"t","sources":[],"stage":"Paused"}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::StopTask {
                name: "t".into(),
                sources: vec!["mysql1".into()],
            },
            r#"{"command":{"StopTask":{"name":"t","sources":["mysql1"]}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::ReportCheckpoints {
                reports: vec![CheckpointReport {
                    task: "t".into(),
                    source: "mysql1".into(),
                    binlog_name: "mysql-bin.000001".into(),
                    binlog_pos: 4,
                    binlog_gtid: "0-1-5".into(),
                }],
            },
            r#"{"command":{"ReportCheckpoints":{"reports":[{"task":"t","source":"mysql1","binlog_name":"mysql-bin.000001","binlog_pos":4,"binlog_gtid":"0-1-5"}]}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::ShardDdlArrive(Arrival {
                task: "t".into(),
                source: "mysql1".into(),
                schema: "db".into(),
                table: "tb".into(),
                ddls: vec!["ALTER TABLE `db`.`tb` ADD COLUMN c INT".into()],
                at: DdlPosition {
                    binlog_name: "mysql-bin.000001".into(),
                    binlog_pos: 400,
                },
            }),
            r#"{"command":{"ShardDdlArrive":{"task":"t","source":"mysql1","schema":"db","table":"tb","ddls":["ALTER TABLE `db`.`tb` ADD COLUMN c INT"],"at":{"binlog_name":"mysql-bin.000001","binlog_pos":400}}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::ShardDdlDone {
                lock: "t-`db`.`tb`".into(),
                source: "mysql1".into(),
                at: DdlPosition {
                    binlog_name: "mysql-bin.000001".into(),
                    binlog_pos: 400,
                },
            },
            r#"{"command":{"ShardDdlDone":{"lock":"t-`db`.`tb`","source":"mysql1","at":{"binlog_name":"mysql-bin.000001","binlog_pos":400}}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::UnlockDdlLock {
                lock: "t-`db`.`tb`".into(),
                owner: "mysql2".into(),
                force_remove: true,
            },
            r#"{"command":{"UnlockDdlLock":{"lock":"t-`db`.`tb`","owner":"mysql2","force_remove":true}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::AddSchemaOps {
                task: "t".into(),
                ops: vec![
                    NewSchemaOp {
                        source: "mysql1".into(),
                        schema: "db".into(),
                        table: "tb".into(),
                        create: Some("CREATE TABLE tb (id INT)".into()),
                    },
                    NewSchemaOp {
                        source: "mysql2".into(),
                        schema: "db".into(),
                        table: "tb".into(),
                        create: None,
                    },
                ],
            },
            r#"{"command":{"AddSchemaOps":{"task":"t","ops":[{"source":"mysql1","schema":"db","table":"tb","create":"CREATE TABLE tb (id INT)"},{"source":"mysql2","schema":"db","table":"tb","create":null}]}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::SchemaOpsApplied {
                task: "t".into(),
                source: "mysql1".into(),
                applied: 3,
            },
            r#"{"command":{"SchemaOpsApplied":{"task":"t","source":"mysql1","applied":3}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::EvictLeader {
                name: "m1".into(),
                voters: vec!["m1".into(), "m2".into()],
            },
            r#"{"command":{"EvictLeader":{"name":"m1","voters":["m1","m2"]}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::CancelEvictLeader { name: None },
            r#"{"command":{"CancelEvictLeader":{"name":null}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::SetBinlogOps {
                task: "t".into(),
                ops: vec![
                    NewBinlogOp {
                        source: "mysql1".into(),
                        at: BinlogAt::File {
                            name: "mysql-bin.000001".into(),
                            pos: 900,
                        },
                        kind: BinlogOpKind::Replace(vec!["ALTER TABLE db.t ADD c INT".into()]),
                    },
                    NewBinlogOp {
                        source: "mysql2".into(),
                        at: BinlogAt::Gtid("0-1-5".into()),
                        kind: BinlogOpKind::Skip,
                    },
                ],
                resume: vec!["mysql1".into()],
            },
            r#"{"command":{"SetBinlogOps":{"task":"t","ops":[{"source":"mysql1","at":{"File":{"name":"mysql-bin.000001","pos":900}},"kind":{"Replace":["ALTER TABLE db.t ADD c INT"]}},{"source":"mysql2","at":{"Gtid":"0-1-5"},"kind":"Skip"}],"resume":["mysql1"]}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::RevertBinlogOp {
                task: "t".into(),
                source: "mysql1".into(),
                at: BinlogAt::File {
                    name: "mysql-bin.000001".into(),
                    pos: 900,
                },
            },
            r#"{"command":{"RevertBinlogOp":{"task":"t","source":"mysql1","at":{"File":{"name":"mysql-bin.000001","pos":900}}}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::BinlogOpsDone {
                task: "t".into(),
                source: "mysql1".into(),
                ids: vec![2, 3],
            },
            r#"{"command":{"BinlogOpsDone":{"task":"t","source":"mysql1","ids":[2,3]}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::Noop,
            r#"{"command":"Noop","proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::PrepareImport { epoch_floor: 9 },
            r#"{"command":{"PrepareImport":{"epoch_floor":9}},"proposed_at_ms":1700000000000}"#,
        ),
        (
            Command::RecordKeyCheck {
                check: "0011223344556677".into(),
            },
            r#"{"command":{"RecordKeyCheck":{"check":"0011223344556677"}},"proposed_at_ms":1700000000000}"#,
        ),
    ];
    for (command, expected) in cases {
        let encoded = encode(command.clone());
        assert_eq!(encoded, expected, "encoding of {command:?} changed");
        let decoded: Request = serde_json::from_str(expected).expect("decodes");
        assert_eq!(decoded.command, command);
    }
}

#[test]
fn responses_have_a_pinned_encoding() {
    assert_eq!(
        serde_json::to_string(&Response::Done).expect("encodes"),
        r#""Done""#
    );
    assert_eq!(
        serde_json::to_string(&Response::Bound { epoch: 7 }).expect("encodes"),
        r#"{"Bound":{"epoch":7}}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::SchemaOps { ids: vec![4, 5] }).expect("encodes"),
        r#"{"SchemaOps":{"ids":[4,5]}}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::BinlogOps { ids: vec![6] }).expect("encodes"),
        r#"{"BinlogOps":{"ids":[6]}}"#
    );
}

#[test]
fn a_registration_from_before_the_ttl_field_still_decodes() {
    let entry = r#"{"command":{"RegisterWorker":{"name":"w1","addr":"a:1"}},"proposed_at_ms":1}"#;
    let decoded: Request = serde_json::from_str(entry).expect("decodes");
    assert_eq!(
        decoded.command,
        Command::RegisterWorker {
            name: "w1".into(),
            addr: "a:1".into(),
            keepalive_ttl_ms: 0,
            config: String::new(),
        }
    );
}

#[test]
fn an_old_entry_without_new_fields_still_decodes() {
    let entry = r#"{"command":{"ReportCheckpoints":{"reports":[{"task":"t","source":"s","binlog_name":"b","binlog_pos":4}]}},"proposed_at_ms":1}"#;
    let decoded: Request = serde_json::from_str(entry).expect("decodes");
    assert_eq!(decoded.proposed_at_ms, 1);
}
