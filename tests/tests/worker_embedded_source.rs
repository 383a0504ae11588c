//! A DM 1.x worker file names its upstream (`source-id` and `[from]`, as
//! the tutorial's dm-worker1.toml does): registering creates that source,
//! and the worker gets bound to it.

use std::process::Command;
use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_bound};
use dm_tests::{free_port, workspace_binary, ChildGuard, MariaDb, MariaDbOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_file_with_a_source_creates_it_on_registration() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let (_masters, addrs) = dm_tests::scenario::masters().await.expect("masters");

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("dm-worker1.toml");
    std::fs::write(
        &config,
        format!(
            "# Worker Configuration.\n\nserver-id = 1\nsource-id = \"mysql1\"\nflavor = \"mariadb\"\nworker-addr = \"127.0.0.1:{}\"\nlog-file = \"{}\"\nrelay-dir = \"data/relay1\"\nmeta-dir = \"data/meta1\"\ndir = \"data/dump1\"\njoin = \"{addrs}\"\n\n[from]\nhost = \"127.0.0.1\"\nuser = \"root\"\npassword = \"\"\nport = {}\n",
            free_port().expect("port"),
            dir.path().join("worker1.log").display(),
            upstream.port()
        ),
    )
    .expect("write");
    let mut cmd = Command::new(workspace_binary("dm-worker").expect("binary"));
    cmd.arg("--config").arg(&config);
    let _worker = ChildGuard::spawn("dm-worker (v1 file)", cmd, dir.path().join("stdout.log"))
        .expect("worker starts");

    let worker = wait_bound(&addrs, "mysql1", None, Duration::from_secs(20))
        .await
        .expect("mysql1 created and bound");
    assert!(
        worker.starts_with("127.0.0.1:"),
        "DM names a worker by its address: {worker}"
    );
    let shown = dmctl(&addrs, &["operate-source", "show"])
        .await
        .expect("answers");
    assert_eq!(shown["sources"][0]["source"], "mysql1", "{shown}");
    assert_eq!(shown["sources"][0]["worker"], worker.as_str());
}
