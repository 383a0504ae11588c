//! The daemons started with the command lines TiUP generates for DM
//! (`embed/templates/scripts/run_dm-master.sh.tpl` and
//! `run_dm-worker.sh.tpl` as TiUP v1.4-v1.8 write them): masters given
//! scheme-less `--peer-urls` / `--advertise-peer-urls`, `--v1-sources-path`,
//! `--initial-cluster` and `--config` form a group; a worker given
//! `--worker-addr`, `--advertise-addr` and a scheme-less `--join` registers,
//! answers `GET /status` on its `worker-addr`, and `get-config master|worker`
//! show the running configurations with passwords masked.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use dm_tests::cluster::dmctl;
use dm_tests::{
    free_port, http_get, wait_until, workspace_binary, ChildGuard, MariaDb, MariaDbOptions,
};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(30);
const SECRET: &str = "Tiup-Secret-42";

struct MasterPorts {
    client: u16,
    peer: u16,
}

/// `bin/dm-master/dm-master` as `run_dm-master.sh` starts it.
fn tiup_master(dir: &Path, name: &str, ports: &MasterPorts, initial: &str) -> Command {
    let deploy = dir.join(name);
    std::fs::create_dir_all(deploy.join("conf")).expect("conf dir");
    std::fs::write(
        deploy.join("conf/dm-master.toml"),
        "# dm-master configuration written by TiUP\nlog-level = \"info\"\nrpc-timeout = \"30s\"\n",
    )
    .expect("config");
    let mut cmd = Command::new(workspace_binary("dm-master").expect("binary"));
    cmd.current_dir(&deploy)
        .arg(format!(
            "--v1-sources-path={}",
            deploy.join("v1-sources").display()
        ))
        .arg(format!("--name={name}"))
        .arg(format!("--master-addr=0.0.0.0:{}", ports.client))
        .arg(format!("--advertise-addr=127.0.0.1:{}", ports.client))
        .arg(format!("--peer-urls=127.0.0.1:{}", ports.peer))
        .arg(format!("--advertise-peer-urls=127.0.0.1:{}", ports.peer))
        .arg(format!(
            "--log-file={}",
            deploy.join("dm-master.log").display()
        ))
        .arg(format!("--data-dir={}", deploy.join("data").display()))
        .arg(format!("--initial-cluster={initial}"))
        .arg("--config=conf/dm-master.toml")
        .env("RUST_LOG", "info,openraft=warn");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_started_by_tiups_command_lines_works() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let mut conn = upstream.conn().await.expect("upstream connection");
    conn.query_drop(format!(
        "CREATE USER 'dm_tiup'@'%' IDENTIFIED BY '{SECRET}'; \
         GRANT ALL PRIVILEGES ON *.* TO 'dm_tiup'@'%'"
    ))
    .await
    .expect("user");
    drop(conn);

    let dir = tempfile::tempdir().expect("tempdir");
    let ports: Vec<MasterPorts> = (0..3)
        .map(|_| MasterPorts {
            client: free_port().expect("port"),
            peer: free_port().expect("port"),
        })
        .collect();
    let initial = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("dm-master-{}=http://127.0.0.1:{}", i + 1, p.peer))
        .collect::<Vec<_>>()
        .join(",");
    // TiUP's import leaves the directory empty or does not create it.
    std::fs::create_dir_all(dir.path().join("dm-master-1/v1-sources")).expect("empty v1 dir");
    let _masters: Vec<ChildGuard> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let name = format!("dm-master-{}", i + 1);
            let cmd = tiup_master(dir.path(), &name, p, &initial);
            let log = dir.path().join(format!("{name}_stderr.log"));
            ChildGuard::spawn(name, cmd, log).expect("master starts")
        })
        .collect();
    let addrs = ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.client))
        .collect::<Vec<_>>()
        .join(",");

    let members = wait_until(
        "three masters in one group",
        DEADLINE,
        Duration::from_millis(100),
        || {
            let addrs = addrs.clone();
            async move {
                let answer = dmctl(&addrs, &["list-member", "--master"]).await.ok();
                let count = answer.as_ref().and_then(|a| {
                    a["members"][0]["master"]["masters"]
                        .as_array()
                        .map(Vec::len)
                });
                match count {
                    Some(3) => dm_tests::Check::Ready(answer),
                    _ => dm_tests::Check::Pending(format!("{answer:?}")),
                }
            }
        },
    )
    .await
    .expect("the masters form a group");
    let members = members.expect("answer");
    let peer_urls: Vec<String> = members["members"][0]["master"]["masters"]
        .as_array()
        .expect("masters")
        .iter()
        .filter_map(|m| m["peerURLs"][0].as_str().map(str::to_string))
        .collect();
    for p in &ports {
        let url = format!("http://127.0.0.1:{}", p.peer);
        assert!(peer_urls.contains(&url), "{url} in {members}");
    }

    // The worker, as run_dm-worker.sh starts it, with a DM 1.x file naming its source.
    let worker_port = free_port().expect("port");
    let deploy = dir.path().join("dm-worker-1");
    std::fs::create_dir_all(deploy.join("conf")).expect("conf dir");
    std::fs::write(
        deploy.join("conf/dm-worker.toml"),
        format!(
            "log-level = \"info\"\nkeepalive-ttl = 2\nsource-id = \"mysql-replica-01\"\nflavor = \"mariadb\"\nserver-id = 4242\n\n[from]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"dm_tiup\"\npassword = \"{SECRET}\"\n",
            upstream.port()
        ),
    )
    .expect("worker config");
    let join = ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.client))
        .collect::<Vec<_>>()
        .join(",");
    let mut cmd = Command::new(workspace_binary("dm-worker").expect("binary"));
    cmd.current_dir(&deploy)
        .arg("--name=dm-worker-1")
        .arg(format!("--worker-addr=0.0.0.0:{worker_port}"))
        .arg(format!("--advertise-addr=127.0.0.1:{worker_port}"))
        .arg(format!(
            "--log-file={}",
            deploy.join("dm-worker.log").display()
        ))
        .arg(format!("--join={join}"))
        .arg("--config=conf/dm-worker.toml")
        .env("RUST_LOG", "info");
    let _worker = ChildGuard::spawn("dm-worker-1", cmd, dir.path().join("worker_stderr.log"))
        .expect("worker starts");

    wait_until(
        "the worker registers and is bound",
        DEADLINE,
        Duration::from_millis(100),
        || {
            let addrs = addrs.clone();
            async move {
                let answer = dmctl(&addrs, &["list-member", "--worker"]).await.ok();
                let stage = answer.as_ref().and_then(|a| {
                    a["members"][0]["worker"]["workers"][0]["stage"]
                        .as_str()
                        .map(str::to_string)
                });
                match stage.as_deref() {
                    Some("bound") => dm_tests::Check::Ready(()),
                    _ => dm_tests::Check::Pending(format!("{answer:?}")),
                }
            }
        },
    )
    .await
    .expect("the worker is bound");

    let status = http_get(&format!("127.0.0.1:{worker_port}"), "/status")
        .await
        .expect("the worker answers on worker-addr");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(
        status
            .to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{status}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        status.contains(&format!("Release Version: {version}\n")),
        "{status}"
    );
    for line in ["Git Commit Hash: ", "Git Branch: ", "UTC Build Time: "] {
        assert!(status.contains(line), "{line} in {status}");
    }

    for (i, p) in ports.iter().enumerate() {
        let name = format!("dm-master-{}", i + 1);
        let answer = dmctl(&addrs, &["get-config", "master", &name])
            .await
            .expect("get-config master answers");
        assert_eq!(answer["result"], true, "{answer}");
        let cfg = answer["cfg"].as_str().expect("cfg");
        assert!(cfg.contains(&format!("name = \"{name}\"")), "{cfg}");
        assert!(
            cfg.contains(&format!("peer-urls = \"http://127.0.0.1:{}\"", p.peer)),
            "{cfg}"
        );
        assert!(
            cfg.contains(&format!("initial-cluster = \"{initial}\"")),
            "{cfg}"
        );
        assert!(cfg.contains("v1-sources-path = "), "{cfg}");
    }
    let answer = dmctl(&addrs, &["get-config", "worker", "dm-worker-1"])
        .await
        .expect("get-config worker answers");
    assert_eq!(answer["result"], true, "{answer}");
    let cfg = answer["cfg"].as_str().expect("cfg");
    assert!(cfg.contains("name = \"dm-worker-1\""), "{cfg}");
    assert!(
        cfg.contains(&format!("worker-addr = \"0.0.0.0:{worker_port}\"")),
        "{cfg}"
    );
    assert!(cfg.contains("password = \"******\""), "{cfg}");
    assert!(!cfg.contains(SECRET), "the password is masked: {cfg}");

    let missing = dmctl(&addrs, &["get-config", "worker", "nobody"])
        .await
        .expect("answers");
    assert_eq!(missing["result"], false, "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_refuses_a_v1_sources_directory_it_cannot_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = MasterPorts {
        client: free_port().expect("port"),
        peer: free_port().expect("port"),
    };
    let sources = dir.path().join("dm-master-1/v1-sources");
    std::fs::create_dir_all(&sources).expect("v1 dir");
    std::fs::write(
        sources.join("mysql-replica-01.yaml"),
        "source-id: mysql-replica-01\n",
    )
    .expect("source file");
    let initial = format!("dm-master-1=http://127.0.0.1:{}", ports.peer);
    let cmd = tiup_master(dir.path(), "dm-master-1", &ports, &initial);
    let log = dir.path().join("stderr.log");
    let mut master = ChildGuard::spawn("dm-master-1", cmd, &log).expect("spawn");
    let status = wait_until(
        "dm-master exits",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let exited = master.try_exit_status().ok().flatten();
            async move {
                match exited {
                    Some(status) => dm_tests::Check::Ready(status),
                    None => dm_tests::Check::Pending("running".to_string()),
                }
            }
        },
    )
    .await
    .expect("the master refuses to start");
    assert!(!status.success());
    let stderr = std::fs::read_to_string(&log).expect("stderr");
    assert!(stderr.contains("--v1-sources-path"), "{stderr}");
    assert!(stderr.contains("mysql-replica-01.yaml"), "{stderr}");
    assert!(stderr.contains("operate-source create"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_worker_addr_is_taken_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port();
    let mut cmd = Command::new(workspace_binary("dm-worker").expect("binary"));
    cmd.arg("--name=dm-worker-1")
        .arg(format!("--worker-addr=127.0.0.1:{port}"))
        .arg(format!("--advertise-addr=127.0.0.1:{port}"))
        .arg(format!("--join=127.0.0.1:{}", free_port().expect("port")));
    let log = dir.path().join("stderr.log");
    let mut worker = ChildGuard::spawn("dm-worker-1", cmd, &log).expect("spawn");
    let status = wait_until(
        "dm-worker exits",
        DEADLINE,
        Duration::from_millis(50),
        || {
            let exited = worker.try_exit_status().ok().flatten();
            async move {
                match exited {
                    Some(status) => dm_tests::Check::Ready(status),
                    None => dm_tests::Check::Pending("running".to_string()),
                }
            }
        },
    )
    .await
    .expect("the worker refuses to start");
    assert!(!status.success());
    let stderr = std::fs::read_to_string(&log).expect("stderr");
    assert!(
        stderr.contains(&format!("worker-addr 127.0.0.1:{port}: cannot listen: ")),
        "{stderr}"
    );
    drop(taken);
}
