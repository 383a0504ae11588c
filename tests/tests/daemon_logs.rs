//! dm-master and dm-worker started from DM 1.x / 2.x style files that carry
//! `log-rotate` and a `[log]` section (`max-size`, `max-days`,
//! `max-backups`): both start, serve, and write their log to `log-file`.

use std::process::Command;
use std::time::Duration;

use dm_tests::cluster::{dmctl, workers_view};
use dm_tests::error::HarnessError;
use dm_tests::{free_port, wait_until, workspace_binary, ChildGuard};

const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

/// The log file's text once it has a line containing `needle`.
async fn log_with(path: &std::path::Path, needle: &str) -> String {
    let path = path.to_path_buf();
    let needle = needle.to_string();
    wait_until(
        &format!("{} logs {needle:?}", path.display()),
        DEADLINE,
        POLL,
        || {
            let path = path.clone();
            let needle = needle.clone();
            async move {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| HarnessError::io(format!("reading {}", path.display()), e))?;
                if text.contains(&needle) {
                    Ok(text)
                } else {
                    Err(HarnessError::Task(format!("no {needle:?} yet")))
                }
            }
        },
    )
    .await
    .expect("the line is logged")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_start_from_files_with_log_rotate_and_a_log_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let client_port = free_port().expect("port");
    let peer_port = free_port().expect("port");
    let addrs = format!("127.0.0.1:{client_port}");
    let master_log = dir.path().join("log").join("dm-master.log");
    let master_file = dir.path().join("dm-master.toml");
    std::fs::write(
        &master_file,
        format!(
            "# Master Configuration (DM 2.x).\nname = \"master1\"\nmaster-addr = \"{addrs}\"\npeer-urls = \"http://127.0.0.1:{peer_port}\"\ninitial-cluster = \"master1=http://127.0.0.1:{peer_port}\"\ndata-dir = \"{}\"\nlog-level = \"info\"\nlog-file = \"{}\"\nlog-rotate = \"day\"\n\n[log]\nmax-size = 300\nmax-days = 28\nmax-backups = 7\n",
            dir.path().join("master1.data").display(),
            master_log.display(),
        ),
    )
    .expect("write");
    let mut cmd = Command::new(workspace_binary("dm-master").expect("binary"));
    cmd.arg("--config").arg(&master_file);
    let mut master =
        ChildGuard::spawn("dm-master", cmd, dir.path().join("master.out")).expect("master spawns");

    let leader = wait_until("master1 leads", DEADLINE, POLL, || {
        let addrs = addrs.clone();
        async move {
            let answer = dmctl(&addrs, &["list-member", "--leader"]).await?;
            answer["members"][0]["leader"]["name"]
                .as_str()
                .filter(|name| !name.is_empty())
                .map(str::to_string)
                .ok_or_else(|| HarnessError::Task(format!("no leader in {answer}")))
        }
    })
    .await
    .expect("the master serves");
    assert_eq!(leader, "master1");
    let text = log_with(&master_log, "dm-master starting").await;
    assert!(
        text.contains("log-rotate = \"day\" has no effect"),
        "the no-op key is reported: {text}"
    );

    let worker_log = dir.path().join("log").join("dm-worker.log");
    let worker_file = dir.path().join("dm-worker.toml");
    std::fs::write(
        &worker_file,
        format!(
            "# Worker Configuration (DM 1.x).\nname = \"worker1\"\nworker-addr = \"127.0.0.1:{}\"\njoin = \"{addrs}\"\nlog-level = \"info\"\nlog-file = \"{}\"\nlog-rotate = \"day\"\n\n[log]\nmax-size = 300\n",
            free_port().expect("port"),
            worker_log.display(),
        ),
    )
    .expect("write");
    let mut cmd = Command::new(workspace_binary("dm-worker").expect("binary"));
    cmd.arg("--config").arg(&worker_file);
    let mut worker =
        ChildGuard::spawn("dm-worker", cmd, dir.path().join("worker.out")).expect("worker spawns");

    let workers = wait_until("worker1 registers", DEADLINE, POLL, || {
        let addrs = addrs.clone();
        async move {
            let workers = workers_view(&addrs).await?;
            if workers.iter().any(|w| w.name == "worker1") {
                Ok(workers)
            } else {
                Err(HarnessError::Task(format!("not yet: {workers:?}")))
            }
        }
    })
    .await
    .expect("the worker registers");
    assert_eq!(workers.len(), 1, "{workers:?}");
    log_with(&worker_log, "dm-worker starting").await;

    // Stopped cleanly, each flushes its last lines to its file.
    worker.stop().expect("worker stops");
    master.stop().expect("master stops");
    log_with(&worker_log, "dm-worker stopping").await;
    log_with(&master_log, "dm-master stopping").await;
}
