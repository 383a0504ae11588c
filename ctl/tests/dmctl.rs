//! The real dmctl binary: DM's flags, local validation of files before any
//! master is contacted, and the interactive mode reading commands from stdin.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};

fn dmctl(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dmctl"))
        .args(args)
        .env_remove("DM_MASTER_ADDR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dmctl starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("dmctl finishes")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An address nothing listens on: bind, read the port, close.
fn dead_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr.to_string()
}

#[test]
fn a_broken_task_file_is_reported_before_any_master_is_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("task.yaml");
    std::fs::write(&path, "name: t\ntask-mode: fulll\n").expect("write");
    let dead = dead_addr();
    let out = dmctl(
        &[
            "-master-addr",
            &dead,
            "start-task",
            path.to_str().expect("utf-8"),
        ],
        "",
    );
    assert!(!out.status.success());
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON answer");
    assert_eq!(json["result"], false);
    assert_eq!(
        json["msg"],
        format!(
            "{}:2:12: `task-mode`: invalid value `fulll`, expected one of `full`, `incremental`, `all`",
            path.display()
        )
    );
}

#[test]
fn unreachable_masters_are_all_tried_and_named() {
    let (a, b) = (dead_addr(), dead_addr());
    let out = dmctl(&["--master-addr", &format!("{a},{b}"), "list-member"], "");
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with("{\n    \"result\": false,\n    \"msg\": \"cannot reach any master ("),
        "{text}"
    );
    assert!(text.contains(&format!("{a}: Connection refused")), "{text}");
    assert!(text.contains(&format!("{b}: Connection refused")), "{text}");
}

#[test]
fn interactive_mode_reads_commands_from_stdin() {
    let dead = dead_addr();
    let out = dmctl(
        &["-master-addr", &dead],
        "operate-source create -p\nnot-a-command\nexit\nlist-member\n",
    );
    let text = stdout(&out);
    assert!(text.starts_with("Welcome to dmctl\n"), "{text}");
    assert!(
        text.contains("source-id: \"mysql-replica-01\""),
        "sample printed: {text}"
    );
    assert!(
        text.contains("unrecognized subcommand 'not-a-command'"),
        "{text}"
    );
    assert!(!text.contains("cannot reach"), "stopped at exit: {text}");
    assert!(!out.status.success(), "a bad command fails the session");
}

#[test]
fn a_schema_file_that_is_not_one_create_table_is_named_before_any_master_is_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.sql");
    std::fs::write(&path, "CREATE TABLE t (id INT").expect("write");
    let dead = dead_addr();
    let file = path.to_str().expect("utf-8");
    for args in [
        vec!["binlog-schema", "update", "task", "mysql1", "db", "t", file],
        vec![
            "operate-schema",
            "set",
            "-s",
            "mysql1",
            "task",
            "-d",
            "db",
            "-t",
            "t",
            file,
        ],
    ] {
        let mut all = vec!["-master-addr", dead.as_str()];
        all.extend(args);
        let out = dmctl(&all, "");
        assert!(!out.status.success());
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON answer");
        assert_eq!(json["result"], false);
        let msg = json["msg"].as_str().expect("msg");
        assert!(
            msg.starts_with(&format!(
                "schema file {}: is not valid SQL (",
                path.display()
            )),
            "{msg}"
        );
    }
}
