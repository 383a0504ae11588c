//! dm-master and dm-worker config files with DM's keys, flags over them.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Parser;
use dm_proto::config::{
    Flavor, LogFileConfig, MasterArgs, MasterConfig, WorkerArgs, WorkerConfig,
    DEFAULT_LOG_MAX_DAYS, DEFAULT_LOG_MAX_SIZE_MB,
};

fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(text.as_bytes()).expect("write");
    path
}

fn master(args: &[&str]) -> Result<MasterConfig, String> {
    let args = MasterArgs::try_parse_from(std::iter::once("dm-master").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    MasterConfig::load(&args).map_err(|e| e.to_string())
}

fn worker(args: &[&str]) -> Result<WorkerConfig, String> {
    let args = WorkerArgs::try_parse_from(std::iter::once("dm-worker").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    WorkerConfig::load(&args).map_err(|e| e.to_string())
}

#[test]
fn master_defaults_are_dms() {
    let cfg = master(&["--name", "m1"]).expect("defaults load");
    assert_eq!(cfg.master_addr, ":8261");
    assert_eq!(cfg.advertise_addr, "127.0.0.1:8261");
    assert_eq!(cfg.peer_urls, "http://127.0.0.1:8291");
    assert_eq!(cfg.advertise_peer_urls, "http://127.0.0.1:8291");
    assert_eq!(cfg.initial_cluster, "m1=http://127.0.0.1:8291");
    assert_eq!(cfg.data_dir, "default.m1");
    assert!(cfg.raft_election_timeout_ms > cfg.raft_heartbeat_interval_ms);
}

#[test]
fn master_flags_override_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_temp(
        &dir,
        "dm-master.toml",
        "name = \"master1\"\nmaster-addr = \":8261\"\nlog-level = \"debug\"\npeer-urls = \"http://127.0.0.1:8291\"\ninitial-cluster = \"master1=http://127.0.0.1:8291,master2=http://127.0.0.1:8292\"\nauto-compaction-retention = \"1h\"\n\n[[deploy]]\nsource-id = \"mysql1\"\ndm-worker = \"127.0.0.1:8262\"\n",
    );
    let path = file.to_str().expect("utf-8 path");
    let cfg = master(&[
        "--config",
        path,
        "--master-addr",
        "127.0.0.1:9261",
        "-L",
        "warn",
    ])
    .expect("loads");
    assert_eq!(cfg.name, "master1", "from the file");
    assert_eq!(cfg.master_addr, "127.0.0.1:9261", "flag wins");
    assert_eq!(cfg.advertise_addr, "127.0.0.1:9261");
    assert_eq!(cfg.log_level, "warn", "flag wins");
    assert_eq!(cfg.deploy.len(), 1, "DM 1.x [[deploy]] accepted");
}

#[test]
fn master_errors_name_the_file_line_or_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unknown = write_temp(&dir, "a.toml", "name = \"m1\"\nmaster-adr = \":8261\"\n");
    let err = master(&["--config", unknown.to_str().expect("utf-8")]).expect_err("rejected");
    assert!(
        err.starts_with(&format!(
            "{}:2:1: unknown key `master-adr`, expected one of `name`, `master-addr`",
            unknown.display()
        )),
        "{err}"
    );

    let bad_addr = write_temp(&dir, "b.toml", "name = \"m1\"\n\nmaster-addr = \"8261\"\n");
    let err = master(&["--config", bad_addr.to_str().expect("utf-8")]).expect_err("rejected");
    assert_eq!(
        err,
        format!(
            "{}:3:1: `master-addr`: \"8261\" is not an address; write host:port, e.g. 127.0.0.1:8261 or :8261",
            bad_addr.display()
        )
    );

    let err = master(&[
        "--name",
        "m3",
        "--initial-cluster",
        "m1=http://127.0.0.1:8291",
    ])
    .expect_err("rejected");
    assert_eq!(
        err,
        "command line (--initial-cluster): `initial-cluster`: does not list this master's name \"m3\"; write name=url for every bootstrapping master, this one included"
    );

    let err = master(&["--name", "m1", "--peer-urls", "127.0.0.1"]).expect_err("rejected");
    assert_eq!(
        err,
        "command line (--peer-urls): `peer-urls`: \"http://127.0.0.1\" is not a peer URL; write http://host:port, e.g. http://127.0.0.1:8291"
    );

    let err = master(&["--config", "/nonexistent/dm-master.toml"]).expect_err("rejected");
    assert!(
        err.starts_with("/nonexistent/dm-master.toml: cannot read the file:"),
        "{err}"
    );
}

#[test]
fn master_joining_needs_no_initial_cluster() {
    let cfg = master(&["--name", "m4", "--join", "127.0.0.1:8261,127.0.0.1:8361"]).expect("loads");
    assert_eq!(cfg.initial_cluster, "");
    assert_eq!(cfg.join, "http://127.0.0.1:8261,http://127.0.0.1:8361");
}

#[test]
fn master_urls_without_a_scheme_take_http_as_tiup_writes_them() {
    let cfg = master(&[
        "--name=m1",
        "--master-addr=0.0.0.0:8261",
        "--advertise-addr=10.0.0.1:8261",
        "--peer-urls=10.0.0.1:8291",
        "--advertise-peer-urls=10.0.0.1:8291",
        "--initial-cluster=m1=10.0.0.1:8291,m2=http://10.0.0.2:8291",
        "--v1-sources-path=/deploy/v1-sources",
    ])
    .expect("loads");
    assert_eq!(cfg.peer_urls, "http://10.0.0.1:8291");
    assert_eq!(cfg.advertise_peer_urls, "http://10.0.0.1:8291");
    assert_eq!(
        cfg.initial_cluster,
        "m1=http://10.0.0.1:8291,m2=http://10.0.0.2:8291"
    );
    assert_eq!(cfg.v1_sources_path, "/deploy/v1-sources");
    let cfg = master(&["--name=m1", "--master-addr=http://127.0.0.1:8261"]).expect("loads");
    assert_eq!(cfg.master_addr, "127.0.0.1:8261");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dm-master.toml");
    std::fs::write(
        &file,
        "name = \"m1\"\npeer-urls = \"127.0.0.1:8291\"\ninitial-cluster = \"m1=127.0.0.1:8291\"\n",
    )
    .expect("write");
    let cfg = master(&["--config", file.to_str().expect("utf-8")]).expect("loads");
    assert_eq!(cfg.advertise_peer_urls, "http://127.0.0.1:8291");
    assert_eq!(cfg.initial_cluster, "m1=http://127.0.0.1:8291");

    let cfg = worker(&[
        "--worker-addr=0.0.0.0:8262",
        "--advertise-addr=http://10.0.0.1:8262",
        "--join=10.0.0.1:8261,10.0.0.2:8261",
    ])
    .expect("loads");
    assert_eq!(cfg.advertise_addr, "10.0.0.1:8262");
    assert_eq!(cfg.join, "http://10.0.0.1:8261,http://10.0.0.2:8261");
}

#[test]
fn tutorial_worker_file_loads_with_its_embedded_source() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dm-cnf/dm-worker1.toml");
    let cfg = worker(&["--config", path.to_str().expect("utf-8")]).expect("tutorial file loads");
    assert_eq!(cfg.worker_addr, ":8262");
    assert_eq!(cfg.advertise_addr, "127.0.0.1:8262");
    assert_eq!(
        cfg.name, "127.0.0.1:8262",
        "DM names a worker by its address"
    );
    assert_eq!(cfg.join, "http://127.0.0.1:8261");
    assert_eq!(cfg.log_file, "logs/worker1.log");
    let source = cfg.embedded_source().expect("embedded source");
    assert_eq!(source.source_id, "mysql1");
    assert_eq!(source.flavor, Flavor::Mysql);
    assert_eq!(source.server_id, Some(1));
    assert_eq!(source.from.port, 3307);
    assert_eq!(source.relay_dir, "data/relay1");
}

#[test]
fn every_tutorial_daemon_file_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dm-cnf");
    let cfg = master(&[
        "--config",
        dir.join("dm-master.toml").to_str().expect("utf-8"),
    ])
    .expect("dm-master.toml loads");
    assert_eq!(cfg.deploy.len(), 3);
    for i in 1..=3 {
        let file = dir.join(format!("dm-worker{i}.toml"));
        let cfg = worker(&["--config", file.to_str().expect("utf-8")]).expect("worker file loads");
        assert_eq!(cfg.advertise_addr, format!("127.0.0.1:{}", 8261 + i));
        let source = cfg.embedded_source().expect("embedded source");
        assert_eq!(source.source_id, format!("mysql{i}"));
        assert_eq!(source.from.port, 3306 + i as u16);
    }
}

#[test]
fn worker_flags_override_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_temp(
        &dir,
        "w.toml",
        "name = \"w1\"\nworker-addr = \":8262\"\nkeepalive-ttl = 10\njoin = \"127.0.0.1:8261\"\n",
    );
    let cfg = worker(&[
        "--config",
        file.to_str().expect("utf-8"),
        "--keepalive-ttl",
        "2",
        "--join",
        "127.0.0.1:8261,127.0.0.1:8361",
    ])
    .expect("loads");
    assert_eq!(cfg.name, "w1");
    assert_eq!(cfg.keepalive_ttl, 2);
    assert_eq!(cfg.join, "http://127.0.0.1:8261,http://127.0.0.1:8361");
    assert!(cfg.embedded_source().is_none());
}

#[test]
fn worker_errors_name_the_file_line_or_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_temp(&dir, "w.toml", "name = \"w1\"\nsource-id = \"mysql1\"\n");
    let err = worker(&["--config", file.to_str().expect("utf-8")]).expect_err("rejected");
    assert_eq!(
        err,
        format!("{}:2:1: `source-id`: a worker file that names its source needs a [from] table with host, port, user and password", file.display())
    );

    let err = worker(&["--keepalive-ttl", "0"]).expect_err("rejected");
    assert_eq!(
        err,
        "command line (--keepalive-ttl): `keepalive-ttl`: must be at least 1 second"
    );

    let typo = write_temp(&dir, "t.toml", "keepalive-ttl = \"3s\"\n");
    let err = worker(&["--config", typo.to_str().expect("utf-8")]).expect_err("rejected");
    assert!(
        err.starts_with(&format!(
            "{}:1:17: invalid type: string \"3s\"",
            typo.display()
        )),
        "{err}"
    );
}

#[test]
fn samples_are_valid_configs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = write_temp(&dir, "m.toml", MasterConfig::sample());
    master(&["--config", m.to_str().expect("utf-8")]).expect("master sample loads");
    let w = write_temp(&dir, "w.toml", WorkerConfig::sample());
    worker(&["--config", w.to_str().expect("utf-8")]).expect("worker sample loads");
}

#[test]
fn log_rotate_and_the_log_section_load_with_dms_units_and_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    // DM 1.x files carried log-rotate; DM 2.x files still may.
    let m = write_temp(
        &dir,
        "dm-master.toml",
        "name = \"master1\"\nlog-file = \"dm-master.log\"\nlog-rotate = \"day\"\n\n[log]\nmax-size = 300\nmax-backups = 5\n",
    );
    let cfg = master(&["--config", m.to_str().expect("utf-8")]).expect("loads");
    assert_eq!(cfg.log_rotate, "day");
    assert_eq!(
        cfg.log,
        LogFileConfig {
            max_size: 300,
            max_days: DEFAULT_LOG_MAX_DAYS,
            max_backups: 5
        }
    );
    assert_eq!(
        cfg.log.max_size_bytes(),
        300 * 1024 * 1024,
        "MB as DM counts"
    );

    let w = write_temp(
        &dir,
        "dm-worker.toml",
        "log-rotate = \"hour\"\n\n[log]\nmax-size = 0\nmax-days = 0\n",
    );
    let cfg = worker(&["--config", w.to_str().expect("utf-8")]).expect("loads");
    assert_eq!(cfg.log_rotate, "hour");
    assert_eq!(
        cfg.log,
        LogFileConfig {
            max_size: DEFAULT_LOG_MAX_SIZE_MB,
            max_days: DEFAULT_LOG_MAX_DAYS,
            max_backups: 0
        },
        "0 takes DM's defaults, 512 MB and 7 days"
    );
    assert_eq!(
        master(&["--name", "m1"]).expect("defaults").log,
        LogFileConfig::default()
    );

    let typo = write_temp(
        &dir,
        "typo.toml",
        "[log]\nmax-size = 1\nmax-file-size = 1\n",
    );
    let err = worker(&["--config", typo.to_str().expect("utf-8")]).expect_err("refused");
    assert!(
        err.starts_with(&format!(
            "{}:3:1: unknown key `max-file-size`, expected one of `max-size`, `max-days`, `max-backups`",
            typo.display()
        )),
        "{err}"
    );
}

#[test]
fn running_configurations_print_as_files_they_load_from() {
    let cfg = master(&["--name=m1", "--peer-urls=127.0.0.1:8291"]).expect("loads");
    let text = cfg.to_toml().expect("prints");
    assert!(
        text.contains("peer-urls = \"http://127.0.0.1:8291\"\n"),
        "{text}"
    );
    assert_eq!(
        MasterConfig::parse_toml("shown", &text).expect("parses"),
        cfg
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dm-worker.toml");
    std::fs::write(
        &file,
        "name = \"w1\"\nsource-id = \"s1\"\n[from]\nhost = \"h\"\nport = 3306\nuser = \"u\"\npassword = \"hunter2\"\n",
    )
    .expect("write");
    let cfg = worker(&["--config", file.to_str().expect("utf-8")]).expect("loads");
    let text = cfg.to_masked_toml().expect("prints");
    assert!(!text.contains("hunter2"), "{text}");
    let shown = WorkerConfig::parse_toml("shown", &text).expect("parses");
    assert_eq!(shown.from.map(|f| f.password), Some("******".to_string()));
}

#[test]
fn tls_keys_go_together_and_cert_allowed_cn_needs_tls() {
    let cfg = master(&[
        "--name=m1",
        "--ssl-ca=/c/ca.pem",
        "--ssl-cert=/c/m.pem",
        "--ssl-key=/c/m.key",
        "--cert-allowed-cn=dm-master,dmctl",
        "--peer-urls=127.0.0.1:8291",
    ])
    .expect("all three load (the files are read at start)");
    assert_eq!(cfg.cert_allowed_cn, ["dm-master", "dmctl"]);
    // DM's scheme for a TLS cluster; TLS itself comes from the keys.
    assert_eq!(cfg.peer_urls, "https://127.0.0.1:8291");
    assert_eq!(
        master(&["--name=m1", "--cert-allowed-cn=dmctl"]).unwrap_err(),
        "command line (--cert-allowed-cn): `cert-allowed-cn`: names the client certificates this master accepts, but TLS is off: set ssl-ca, ssl-cert and ssl-key too, or remove cert-allowed-cn"
    );
    assert_eq!(
        master(&["--name=m1", "--ssl-ca=/c/ca.pem"]).unwrap_err(),
        "command line (--ssl-ca): `ssl-ca`: ssl-cert is not set, but ssl-ca is: with TLS every dm-master and dm-worker needs its own certificate and key (ssl-cert, ssl-key), signed by the CA"
    );
    let err = worker(&[
        "--name=w1",
        "--join=127.0.0.1:8261",
        "--ssl-cert=/c/w.pem",
        "--ssl-key=/c/w.key",
    ])
    .unwrap_err();
    assert!(
        err.ends_with("command line (--ssl-cert): `ssl-cert`: ssl-ca is not set, but ssl-cert and ssl-key are: TLS needs the cluster's CA certificate to check the other side's certificate"),
        "{err}"
    );
}
