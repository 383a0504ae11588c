//! A cluster's own password key (DM's `secret-key-path`), over real
//! processes: a master given it encrypts what it keeps with it and hands it
//! to the workers, so a source file whose password `dmctl encrypt
//! --secret-key-path` wrote logs in, a task's plaintext password is kept
//! encrypted under it (an export decrypts with that key, not with DM's),
//! and rows arrive; a key file that is missing or not a key stops the
//! master at start, naming the file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dm_tests::cluster::{create_source_from, dmctl};
use dm_tests::scenario::upstream_and_downstream;
use dm_tests::secrets::{
    app_task, assert_in_no_file, assert_not_in_dm_meta, dmctl_text, files_under, Login,
};
use dm_tests::tutorial::run_sql;
use dm_tests::{free_port, wait_until, workspace_binary, ChildGuard};

const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);
const KEY_HEX: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff";
const UPSTREAM_PLAIN: &str = "up-key-secret-3";
const DOWNSTREAM_PLAIN: &str = "down-key-secret-4";

/// One dm-master forming its own group on `ports` (client, peer), with
/// `--secret-key-path key` when given; its data dir is under `dir`.
fn master(dir: &Path, ports: (u16, u16), key: Option<&Path>) -> ChildGuard {
    let (client, peer) = ports;
    let mut cmd = Command::new(workspace_binary("dm-master").expect("dm-master built"));
    cmd.arg("--name=master1")
        .arg(format!("--master-addr=127.0.0.1:{client}"))
        .arg(format!("--peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!("--initial-cluster=master1=http://127.0.0.1:{peer}"))
        .arg(format!("--data-dir={}", dir.join("master1.data").display()))
        .env("RUST_LOG", "info,openraft=warn");
    if let Some(key) = key {
        cmd.arg("--secret-key-path").arg(key);
    }
    let log = dir.join(format!(
        "master1.{}.log",
        key.map_or("dm-key", |_| "own-key")
    ));
    ChildGuard::spawn("dm-master", cmd, log).expect("spawn")
}

async fn wait_leader(addr: &str) {
    wait_until("the master leads", DEADLINE, POLL, || async {
        let answer = dmctl(addr, &["list-member", "--leader"]).await.ok()?;
        answer["members"][0]["leader"]["name"]
            .as_str()
            .filter(|name| !name.is_empty())
            .map(str::to_string)
    })
    .await
    .expect("leader");
}

async fn ok_text(args: &[&str]) -> String {
    let (text, ok) = dmctl_text(args).await;
    assert!(ok, "dmctl {args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clusters_own_key_encrypts_what_it_keeps_and_its_workers_log_in_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("secret.key");
    std::fs::write(&key, format!("{KEY_HEX}\n")).expect("key file");
    let key_arg = key.display().to_string();

    // dmctl encrypts under the file's key; DM's key does not decrypt it.
    let encrypted = ok_text(&["encrypt", "--secret-key-path", &key_arg, UPSTREAM_PLAIN]).await;
    assert_eq!(
        ok_text(&["decrypt", "--secret-key-path", &key_arg, &encrypted]).await,
        UPSTREAM_PLAIN
    );
    let (with_dms_key, _) = dmctl_text(&["decrypt", &encrypted]).await;
    assert_ne!(with_dms_key, UPSTREAM_PLAIN);

    let (upstream, downstream) = upstream_and_downstream(&[]).await.expect("servers");
    run_sql(
        &upstream,
        &[
            &format!("CREATE USER 'dm'@'%' IDENTIFIED BY '{UPSTREAM_PLAIN}'"),
            "GRANT ALL PRIVILEGES ON *.* TO 'dm'@'%'",
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO app.t VALUES (1, 'copied')",
        ],
    )
    .await
    .expect("upstream");
    run_sql(
        &downstream,
        &[
            &format!("CREATE USER 'dd'@'%' IDENTIFIED BY '{DOWNSTREAM_PLAIN}'"),
            "GRANT ALL PRIVILEGES ON *.* TO 'dd'@'%'",
        ],
    )
    .await
    .expect("downstream");

    let ports = (free_port().expect("port"), free_port().expect("port"));
    let addr = format!("127.0.0.1:{}", ports.0);
    let mut master1 = master(dir.path(), ports, Some(&key));
    wait_leader(&addr).await;

    // The master logs in with the password the file's key decrypts, the
    // worker with the key it was handed.
    let workers = app_task(
        &addr,
        dir.path(),
        "keyed",
        (
            &upstream,
            Login {
                user: "dm",
                password: &encrypted,
            },
        ),
        (
            &downstream,
            Login {
                user: "dd",
                password: DOWNSTREAM_PLAIN,
            },
        ),
    )
    .await
    .expect("the passwords decrypt under the cluster's key; rows arrive");
    let file = dir.path().join("keyed.yaml");

    // What the master keeps is encrypted under the cluster's key.
    let export = dir.path().join("export");
    let export_arg = export.display().to_string();
    ok_text(&[
        "--master-addr",
        &addr,
        "config",
        "export",
        "-d",
        &export_arg,
    ])
    .await;
    let exported = std::fs::read_to_string(export.join("tasks/keyed.yaml")).expect("task");
    let password = exported
        .lines()
        .find_map(|line| line.trim().strip_prefix("password:"))
        .map(|p| p.trim().trim_matches('"').to_string())
        .expect("an exported password");
    assert_eq!(
        ok_text(&["decrypt", "--secret-key-path", &key_arg, &password]).await,
        DOWNSTREAM_PLAIN
    );
    let (with_dms_key, _) = dmctl_text(&["decrypt", &password]).await;
    assert_ne!(with_dms_key, DOWNSTREAM_PLAIN);

    let mut files = files_under(dir.path());
    let worker_log = workers.log_path(0);
    files.extend(files_under(worker_log.parent().expect("the workers' dir")));
    files.retain(|f| f != &file && !f.ends_with("mysql1.yaml"));
    assert_in_no_file(&files, &[UPSTREAM_PLAIN, DOWNSTREAM_PLAIN]);
    assert_not_in_dm_meta(&downstream, &[UPSTREAM_PLAIN, DOWNSTREAM_PLAIN]).await;

    // Restarted without the key file (DM's built-in key), the master
    // refuses what would read or write passwords, and says why.
    master1.kill().expect("kill");
    let _master1 = master(dir.path(), ports, None);
    wait_leader(&addr).await;
    let mismatch = "is not the one the cluster's passwords are encrypted under";
    let answer = dmctl(&addr, &["check-task", &file.display().to_string()])
        .await
        .expect("dmctl answers");
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer["msg"].as_str().is_some_and(|m| m.contains(mismatch)),
        "{answer}"
    );
    let second = format!(
        "source-id: mysql2\nfrom:\n  host: 127.0.0.1\n  port: {}\n  user: dm\n  password: \"{encrypted}\"\n",
        upstream.port()
    );
    let refused = create_source_from(&addr, dir.path(), "mysql2", &second)
        .await
        .expect_err("refused");
    assert!(refused.to_string().contains(mismatch), "{refused}");
    let (out, ok) = dmctl_text(&[
        "--master-addr",
        &addr,
        "config",
        "export",
        "-d",
        &format!("{export_arg}2"),
    ])
    .await;
    assert!(!ok && out.contains(mismatch), "{out}");
}

/// Spawns `cmd` and waits for it to exit unsuccessfully; returns its output.
async fn refused_start(name: &str, cmd: Command, dir: &Path) -> String {
    let log = dir.join(format!("{name}.log"));
    dm_tests::process::refused_start(name, cmd, &log, DEADLINE)
        .await
        .expect("the master refuses to start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_given_a_bad_key_file_does_not_start_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = dir.path().join("short.key");
    std::fs::write(&short, "abcdef").expect("write");
    let missing = dir.path().join("missing.key");
    for (i, (key, why)) in [
        (&short, "a secret key is 64 hexadecimal digits"),
        (&missing, "cannot read it"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut cmd = Command::new(workspace_binary("dm-master").expect("dm-master built"));
        let peer = free_port().expect("port");
        cmd.arg(format!(
            "--master-addr=127.0.0.1:{}",
            free_port().expect("port")
        ))
        .arg(format!("--peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!(
            "--data-dir={}",
            dir.path().join(format!("d{i}")).display()
        ))
        .arg("--secret-key-path")
        .arg(key);
        let output = refused_start(&format!("master{i}"), cmd, dir.path()).await;
        assert!(
            output.contains(&format!("secret-key-path {}: {why}", key.display())),
            "{output}"
        );
        assert!(
            !dir.path().join(format!("d{i}")).exists(),
            "no data dir made"
        );
    }
}
