//! Keys of features not built yet (online DDL, relay logs) are refused
//! where they are given, naming file:line:key and what to do instead, and
//! settings that cannot be used stop a daemon naming what to fix, over real
//! processes:
//!
//! - dm-master and dm-worker given TLS files that are missing or are not
//!   what they should be (in `--config`, or as `--ssl-*` flags) do not
//!   start, naming the key and the file;
//! - an `online-ddl: true` task is refused by `check-task` and `start-task`
//!   and nothing is stored;
//! - a source file with `enable-relay: true` is refused by
//!   `operate-source create` and no source is created, while the same file
//!   without it (a real MariaDB upstream) is accepted;
//! - dm-master answers `GET /status` on its client address with DM's
//!   version text, beside the gRPC services.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dm_tests::certs::CertDir;
use dm_tests::cluster::{dmctl, Masters};
use dm_tests::{
    free_port, http_get, http_get_accepting, workspace_binary, MariaDb, MariaDbOptions,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// Spawns `cmd` and waits for it to exit; returns its stderr (and stdout).
async fn refused_start(name: &str, cmd: Command, dir: &Path) -> String {
    let log = dir.join(format!("{name}.stderr.log"));
    dm_tests::process::refused_start(name, cmd, &log, DEADLINE)
        .await
        .expect("the daemon refuses to start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_given_a_missing_tls_file_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = free_port().expect("port");
    let peer = free_port().expect("port");
    let file = write(
        dir.path(),
        "dm-master.toml",
        &format!(
            "name = \"master1\"\nmaster-addr = \"127.0.0.1:{client}\"\npeer-urls = \"http://127.0.0.1:{peer}\"\ndata-dir = \"{}\"\n# TLS\nssl-ca = \"/nonexistent/ca.pem\"\nssl-cert = \"/nonexistent/master.pem\"\nssl-key = \"/nonexistent/master.key\"\n",
            dir.path().join("data").display()
        ),
    );
    let mut cmd = Command::new(workspace_binary("dm-master").expect("binary"));
    cmd.arg("--config").arg(&file);
    let stderr = refused_start("dm-master", cmd, dir.path()).await;
    assert!(
        stderr.contains("dm-master: ssl-ca /nonexistent/ca.pem: no such file"),
        "{stderr}"
    );
    assert!(!dir.path().join("data").exists(), "no data dir is made");

    // As flags: a real CA, a certificate that is not there.
    let certs = CertDir::new(dir.path().join("certs"));
    let master = certs.issue("master", "dm-master").expect("certificate");
    let missing = dir.path().join("certs/other.pem").display().to_string();
    let mut cmd = Command::new(workspace_binary("dm-master").expect("binary"));
    cmd.arg(format!("--master-addr=127.0.0.1:{client}"))
        .arg(format!("--peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!("--data-dir={}", dir.path().join("data2").display()))
        .arg(format!("--ssl-ca={}", certs.ca().display()))
        .arg(format!("--ssl-cert={missing}"))
        .arg(format!("--ssl-key={}", master.key.display()));
    let stderr = refused_start("dm-master-flags", cmd, dir.path()).await;
    assert!(
        stderr.contains(&format!("dm-master: ssl-cert {missing}: no such file")),
        "{stderr}"
    );

    // A key file that holds no key (the certificate given twice).
    let mut cmd = Command::new(workspace_binary("dm-master").expect("binary"));
    cmd.arg(format!("--master-addr=127.0.0.1:{client}"))
        .arg(format!("--peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!("--data-dir={}", dir.path().join("data3").display()))
        .arg(format!("--ssl-ca={}", certs.ca().display()))
        .arg(format!("--ssl-cert={}", master.cert.display()))
        .arg(format!("--ssl-key={}", master.cert.display()));
    let stderr = refused_start("dm-master-key", cmd, dir.path()).await;
    assert!(
        stderr.contains(&format!(
            "dm-master: ssl-key {}: holds no private key (a PEM block -----BEGIN PRIVATE KEY-----, -----BEGIN EC PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)",
            master.cert.display()
        )),
        "{stderr}"
    );

    // A certificate without its key.
    let mut cmd = Command::new(workspace_binary("dm-master").expect("binary"));
    cmd.arg(format!("--master-addr=127.0.0.1:{client}"))
        .arg(format!("--peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!("--data-dir={}", dir.path().join("data4").display()))
        .arg(format!("--ssl-ca={}", certs.ca().display()))
        .arg(format!("--ssl-cert={}", master.cert.display()));
    let stderr = refused_start("dm-master-no-key", cmd, dir.path()).await;
    assert!(
        stderr.contains("command line (--ssl-ca): `ssl-ca`: ssl-key is not set, but ssl-ca and ssl-cert are: give the certificate's key with it"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_given_a_missing_tls_file_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port().expect("port");
    let join = free_port().expect("port");
    let certs = CertDir::new(dir.path().join("certs"));
    let worker = certs.issue("worker", "dm-worker").expect("certificate");
    let missing = dir
        .path()
        .join("certs/worker-missing.key")
        .display()
        .to_string();
    let file = write(
        dir.path(),
        "dm-worker.toml",
        &format!(
            "name = \"worker1\"\nworker-addr = \"127.0.0.1:{port}\"\njoin = \"127.0.0.1:{join}\"\nssl-ca = \"{}\"\nssl-cert = \"{}\"\nssl-key = \"{missing}\"\n",
            certs.ca().display(),
            worker.cert.display()
        ),
    );
    let mut cmd = Command::new(workspace_binary("dm-worker").expect("binary"));
    cmd.arg("--config").arg(&file);
    let stderr = refused_start("dm-worker", cmd, dir.path()).await;
    assert!(
        stderr.contains(&format!("dm-worker: ssl-key {missing}: no such file")),
        "{stderr}"
    );
}

const ONLINE_DDL_REASON: &str = "is not supported yet: the shadow and trash tables of gh-ost and pt-online-schema-change would be replicated as ordinary tables; remove it (or set it to false) and run the schema change downstream too, or pause the task around it";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_ddl_task_is_refused_by_check_task_and_start_task() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let downstream = MariaDb::start(MariaDbOptions::new(2))
        .await
        .expect("downstream");
    let masters = Masters::start(1).expect("masters");
    masters.leader(DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    let dir = tempfile::tempdir().expect("tempdir");
    let source = write(
        dir.path(),
        "source.yaml",
        &dm_tests::cluster::source_yaml("mysql-01", upstream.port()),
    );
    let created = dmctl(&addrs, &["operate-source", "create", &source])
        .await
        .expect("answers");
    assert_eq!(created["result"], true, "{created}");
    let task = write(
        dir.path(),
        "task.yaml",
        &format!(
            "name: ghost\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {}\n  user: \"root\"\nmysql-instances:\n  - source-id: \"mysql-01\"\n    block-allow-list: \"app\"\nonline-ddl: true\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n",
            downstream.port()
        ),
    );
    let expected = format!("{task}:10:1: `online-ddl`: {ONLINE_DDL_REASON}");
    for command in ["check-task", "start-task"] {
        let answer = dmctl(&addrs, &[command, &task]).await.expect("answers");
        assert_eq!(answer["result"], false, "{command}: {answer}");
        assert_eq!(answer["msg"], expected, "{command}: {answer}");
    }
    let status = dmctl(&addrs, &["query-status", "ghost"])
        .await
        .expect("answers");
    assert_eq!(status["msg"], "task ghost does not exist", "{status}");
}

const RELAY_REASON: &str = "is not supported yet: relay logs are not built, the worker reads the upstream's binlog directly; remove it (or set it to false)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_enabled_source_is_refused_by_operate_source_create() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let masters = Masters::start(1).expect("masters");
    masters.leader(DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dm_tests::cluster::source_yaml("mysql-01", upstream.port());
    let relay = write(
        dir.path(),
        "relay.yaml",
        &format!("{plain}enable-relay: true\nrelay-dir: \"./relay_log\"\n"),
    );
    let answer = dmctl(&addrs, &["operate-source", "create", &relay])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");
    assert_eq!(
        answer["msg"],
        format!("{relay}:6:1: `enable-relay`: {RELAY_REASON}"),
        "{answer}"
    );
    let shown = dmctl(&addrs, &["operate-source", "show"])
        .await
        .expect("answers");
    assert!(!shown.to_string().contains("mysql-01"), "{shown}");

    // Writing the defaults is not setting them: DM's sample lines start.
    let defaults = write(
        dir.path(),
        "defaults.yaml",
        &format!("{plain}enable-relay: false\nrelay-binlog-name: \"\"\nrelay-binlog-gtid: \"\"\n"),
    );
    let answer = dmctl(&addrs, &["operate-source", "create", &defaults])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_answers_status_on_its_client_address() {
    let masters = Masters::start(1).expect("masters");
    masters.leader(DEADLINE).await.expect("leader");
    let addr = masters.client_addrs();
    let answer = http_get(&addr, "/status").await.expect("answers");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{answer}"
    );
    let keys: Vec<&str> = body.lines().filter_map(|l| l.split(": ").next()).collect();
    assert_eq!(
        keys,
        [
            "Release Version",
            "Git Commit Hash",
            "Git Branch",
            "UTC Build Time"
        ],
        "{body}"
    );
    assert!(body.lines().all(|l| l
        .split_once(": ")
        .is_some_and(|(_, v)| !v.trim().is_empty())));
    // The same facts as JSON to a client that asks for it.
    let answer = http_get_accepting(&addr, "/status", "application/json")
        .await
        .expect("answers");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a response");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(
        json["version"],
        dm_proto::version::RELEASE_VERSION,
        "{json}"
    );
    // gRPC still answers on the same address.
    let members = dmctl(&addr, &["list-member"]).await.expect("answers");
    assert_eq!(members["result"], true, "{members}");
}
