//! The JSON dmctl prints has DM's shape: field names as DM writes them,
//! defaults included, enums by name, int64 as strings, oneofs as one key.

use dm_proto::pb;
use serde_json::json;

#[test]
fn start_task_response_has_dms_shape() {
    let resp = pb::StartTaskResponse {
        result: true,
        msg: String::new(),
        sources: vec![pb::CommonWorkerResponse {
            result: true,
            msg: String::new(),
            source: "mysql1".into(),
            worker: "127.0.0.1:8262".into(),
        }],
        check_result: String::new(),
    };
    assert_eq!(
        serde_json::to_value(&resp).expect("serializes"),
        json!({
            "result": true,
            "msg": "",
            "sources": [{"result": true, "msg": "", "source": "mysql1", "worker": "127.0.0.1:8262"}],
            "checkResult": ""
        })
    );
}

#[test]
fn query_status_uses_enum_names_and_string_int64() {
    let status = pb::SubTaskStatus {
        name: "dmtask1".into(),
        stage: pb::Stage::Running as i32,
        unit: pb::UnitType::Sync as i32,
        result: None,
        unresolved_ddl_lock_id: String::new(),
        status: Some(pb::sub_task_status::Status::Sync(pb::SyncStatus {
            total_events: 12,
            seconds_behind_master: 0,
            syncer_binlog: "(mysql-bin.000001, 2345)".into(),
            ..Default::default()
        })),
    };
    let value = serde_json::to_value(&status).expect("serializes");
    assert_eq!(value["stage"], "Running");
    assert_eq!(value["unit"], "Sync");
    assert_eq!(value["unresolvedDDLLockID"], "");
    assert_eq!(value["sync"]["totalEvents"], "12");
    assert_eq!(value["sync"]["syncerBinlog"], "(mysql-bin.000001, 2345)");
    assert_eq!(value["sync"]["blockingDDLs"], json!([]));
}

#[test]
fn list_member_oneof_is_one_key() {
    let resp = pb::ListMemberResponse {
        result: true,
        msg: String::new(),
        members: vec![pb::Members {
            member: Some(pb::members::Member::Leader(pb::ListLeaderMember {
                msg: String::new(),
                name: "master1".into(),
                addr: "127.0.0.1:8261".into(),
            })),
        }],
    };
    assert_eq!(
        serde_json::to_value(&resp).expect("serializes"),
        json!({"result": true, "msg": "", "members": [{"leader": {"msg": "", "name": "master1", "addr": "127.0.0.1:8261"}}]})
    );
}
