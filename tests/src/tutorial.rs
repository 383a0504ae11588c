//! The DM tutorial (`seed-tutorial.md`), step by step, as library functions
//! shared by the `seed-tutorial` program and the tests.
//!
//! The tutorial runs three upstream servers with `auto-increment-increment=5`
//! and offsets 1, 2, 3 (non-overlapping ids), one downstream on port 4000,
//! and the configuration files in `dm-cnf/`. Its first exercise merges
//! `dmtest1.t1` from all three; its second merges `dmtest2.t1`, whose ids
//! collide, through the `partition id` column mapping.
//!
//! Run "as written", the servers listen on the tutorial's ports (3307-3309,
//! 4000) so `dm-cnf/` works unchanged; tests use free ports instead.

use std::path::{Path, PathBuf};

use mysql_async::prelude::Queryable;

use crate::error::{HarnessError, Result};
use crate::mariadb::{MariaDb, MariaDbOptions, RowMetadata};

/// Ports the tutorial's files name.
pub const UPSTREAM_PORTS: [u16; 3] = [3307, 3308, 3309];
/// The downstream's port in the tutorial (TiDB's default).
pub const DOWNSTREAM_PORT: u16 = 4000;
/// Client ports of the local 3-master cluster; the first is the tutorial's
/// `master-addr = ":8261"`. Raft peer ports are these plus 30 (8291, ...).
pub const MASTER_PORTS: [u16; 3] = [8261, 8361, 8461];

/// `auto-increment-increment` of the tutorial's upstreams.
pub const AUTO_INCREMENT_INCREMENT: u16 = 5;

/// The tutorial's first data set: non-overlapping ids (the server's
/// auto-increment settings), 256 rows per upstream.
pub const DMTEST1_SQL: &[&str] = &[
    "create database dmtest1",
    "create table dmtest1.t1 (id bigint unsigned not null auto_increment primary key, c char(32), port int)",
    "insert into dmtest1.t1 values (),(),(),(),(),(),(),()",
    "insert into dmtest1.t1 (id) select null from dmtest1.t1",
    "insert into dmtest1.t1 (id) select null from dmtest1.t1",
    "insert into dmtest1.t1 (id) select null from dmtest1.t1",
    "insert into dmtest1.t1 (id) select null from dmtest1.t1",
    "insert into dmtest1.t1 (id) select null from dmtest1.t1",
    "update dmtest1.t1 set c=md5(id), port=@@port",
];

/// The tutorial's second data set: the same ids on every upstream.
pub const DMTEST2_SQL: &[&str] = &[
    "create database dmtest2",
    "create table dmtest2.t1 (id bigint unsigned not null auto_increment primary key, c char(32), port int)",
    "set auto_increment_increment=1, auto_increment_offset=1",
    "insert into dmtest2.t1 values (),(),(),(),(),(),(),()",
    "insert into dmtest2.t1 (id) select null from dmtest2.t1",
    "insert into dmtest2.t1 (id) select null from dmtest2.t1",
    "insert into dmtest2.t1 (id) select null from dmtest2.t1",
    "insert into dmtest2.t1 (id) select null from dmtest2.t1",
    "insert into dmtest2.t1 (id) select null from dmtest2.t1",
    "update dmtest2.t1 set c=md5(id), port=@@port",
];

/// Which ports the tutorial's servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// 3307-3309 and 4000, so `dm-cnf/` works unchanged.
    AsWritten,
    /// Free ports (tests).
    Free,
}

/// The tutorial's database servers.
#[derive(Debug)]
pub struct Databases {
    /// `mysql1`..`mysql3`, server-ids 1..3.
    pub upstreams: Vec<MariaDb>,
    pub downstream: MariaDb,
}

/// One row of `t1`: id, c, port.
pub type Row = (u64, Option<String>, Option<i32>);

/// Starts the three upstreams (auto-increment increment 5, offsets 1..3) and
/// the downstream.
pub async fn start_databases(ports: Ports) -> Result<Databases> {
    start_databases_with(ports, RowMetadata::Full).await
}

/// [`start_databases`] with the upstreams logging `row_metadata` (the
/// downstream's binlog is read by nobody).
pub async fn start_databases_with(ports: Ports, row_metadata: RowMetadata) -> Result<Databases> {
    let fixed = |port: u16, options: MariaDbOptions| match ports {
        Ports::AsWritten => options.port(port),
        Ports::Free => options,
    };
    let mut servers = MariaDb::start_many(4, |i| {
        if i < 3 {
            let n = i as u16 + 1;
            fixed(
                UPSTREAM_PORTS[i],
                MariaDbOptions::new(u32::from(n))
                    .auto_increment(AUTO_INCREMENT_INCREMENT, n)
                    .row_metadata(row_metadata),
            )
        } else {
            fixed(DOWNSTREAM_PORT, MariaDbOptions::new(100))
        }
    })
    .await?;
    let downstream = servers
        .pop()
        .ok_or_else(|| HarnessError::Task("the downstream server did not start".into()))?;
    Ok(Databases {
        upstreams: servers,
        downstream,
    })
}

/// Runs `statements` on `server`, in order, on one connection.
pub async fn run_sql(server: &MariaDb, statements: &[&str]) -> Result<()> {
    let mut conn = server.conn().await?;
    for statement in statements {
        conn.query_drop(*statement)
            .await
            .map_err(|e| mysql_error(server, statement, e))?;
    }
    conn.disconnect()
        .await
        .map_err(|e| mysql_error(server, "disconnect", e))
}

/// Every row of `schema.t1`, ordered by id.
pub async fn rows(server: &MariaDb, schema: &str) -> Result<Vec<Row>> {
    let mut conn = server.conn().await?;
    let sql = format!("select id, c, port from `{schema}`.t1 order by id");
    let rows: Vec<Row> = conn
        .query(&sql)
        .await
        .map_err(|e| mysql_error(server, &sql, e))?;
    conn.disconnect()
        .await
        .map_err(|e| mysql_error(server, "disconnect", e))?;
    Ok(rows)
}

fn mysql_error(server: &MariaDb, what: &str, e: mysql_async::Error) -> HarnessError {
    HarnessError::Mysql {
        what: what.to_string(),
        port: server.port(),
        dir: server.dir().to_path_buf(),
        source: Box::new(e),
    }
}

/// The tutorial's configuration directory (`dm-cnf/` at the repository root).
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dm-cnf")
}

/// Loads every file of `dm-cnf/` with the programs' own parsers; returns one
/// line per file saying what it holds.
pub fn check_config_files(dir: &Path) -> std::result::Result<Vec<String>, String> {
    use clap::Parser;
    use dm_proto::config::{MasterArgs, MasterConfig, TaskConfig, WorkerArgs, WorkerConfig};

    let mut report = Vec::new();
    let path = |name: &str| dir.join(name).display().to_string();
    let master_args =
        MasterArgs::try_parse_from(["dm-master", "--config", &path("dm-master.toml")])
            .map_err(|e| e.to_string())?;
    let master = MasterConfig::load(&master_args).map_err(|e| e.to_string())?;
    report.push(format!(
        "dm-master.toml: master {} serving {}",
        master.name, master.advertise_addr
    ));
    for i in 1..=3 {
        let file = path(&format!("dm-worker{i}.toml"));
        let args = WorkerArgs::try_parse_from(["dm-worker", "--config", &file])
            .map_err(|e| e.to_string())?;
        let worker = WorkerConfig::load(&args).map_err(|e| e.to_string())?;
        let source = worker
            .embedded_source()
            .ok_or_else(|| format!("{file}: declares no source"))?;
        report.push(format!(
            "dm-worker{i}.toml: worker {} for source {} at {}:{}",
            worker.name, source.source_id, source.from.host, source.from.port
        ));
    }
    for name in ["dmtask1.yaml", "dmtask2.yaml"] {
        let task = TaskConfig::from_file(&dir.join(name)).map_err(|e| e.to_string())?;
        let sources: Vec<_> = task
            .mysql_instances
            .iter()
            .map(|i| i.source_id.as_str())
            .collect();
        report.push(format!(
            "{name}: task {} ({:?}, shard mode {:?}) over {}",
            task.name,
            task.task_mode,
            task.shard_mode,
            sources.join(", ")
        ));
    }
    Ok(report)
}

/// Starts the local 3-master cluster.
pub fn start_masters(ports: Ports) -> Result<crate::cluster::Masters> {
    start_masters_with(ports, None)
}

/// Starts the local 3-master cluster, with mutual TLS when `tls` is given.
pub fn start_masters_with(
    ports: Ports,
    tls: Option<crate::cluster::MasterTls>,
) -> Result<crate::cluster::Masters> {
    use crate::cluster::{MasterSpec, Masters};
    match ports {
        Ports::Free => match tls {
            Some(tls) => Masters::start_tls(3, tls),
            None => Masters::start(3),
        },
        Ports::AsWritten => Masters::start_with_tls(
            MASTER_PORTS
                .iter()
                .enumerate()
                .map(|(i, port)| MasterSpec {
                    name: format!("master{}", i + 1),
                    client_port: *port,
                    peer_port: port + 30,
                    advertise_port: None,
                })
                .collect(),
            tls,
        ),
    }
}

/// Writes `dm-cnf/<name>` into `dir` with the downstream at `port` and the
/// given `task-mode` (the tutorial's files say `all`); returns its path.
pub fn task_file(dir: &Path, name: &str, port: u16, task_mode: &str) -> Result<String> {
    task_file_with(dir, name, port, task_mode, None)
}

/// [`task_file`], logging in to the downstream as [`Passwords`]' user when
/// given.
pub fn task_file_with(
    dir: &Path,
    name: &str,
    port: u16,
    task_mode: &str,
    passwords: Option<&Passwords>,
) -> Result<String> {
    let source = config_dir().join(name);
    let text = std::fs::read_to_string(&source)
        .map_err(|e| HarnessError::io(format!("reading {}", source.display()), e))?;
    let mut text = text
        .replace(
            &format!("port: {DOWNSTREAM_PORT}"),
            &format!("port: {port}"),
        )
        .replace("task-mode: all", &format!("task-mode: {task_mode}"));
    if let Some(passwords) = passwords {
        text = passwords.in_task_file(&text);
    }
    let path = dir.join(name);
    std::fs::write(&path, text)
        .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
    Ok(path.display().to_string())
}

/// What `partition id` with instance id `instance` and empty schema and
/// table arguments makes of `id` (the tutorial's arithmetic).
pub fn partition_id(instance: u64, id: u64) -> u64 {
    (instance << 59) | id
}

/// Starts the tutorial's three workers from `dm-cnf/dm-worker{1,2,3}.toml`
/// (DM 1.x files that declare their source), joined to `join`. With free
/// ports the files are copied into `dir` with the servers' real ports and a
/// free worker port. Workers run in `dir`, where their relative paths land.
pub fn start_workers(
    ports: Ports,
    dbs: &Databases,
    join: &str,
    dir: &Path,
) -> Result<Vec<crate::ChildGuard>> {
    start_workers_with(ports, dbs, join, dir, None, None)
}

/// Users with passwords in place of the tutorial's passwordless `root`
/// (`seed-tutorial --passwords`): the worker files log in to the upstreams
/// as [`Passwords::UPSTREAM_USER`], the task files to the downstream as
/// [`Passwords::DOWNSTREAM_USER`], each with its password in plaintext, so
/// a search for them afterwards finds any copy kept in plaintext.
#[derive(Debug, Clone)]
pub struct Passwords {
    pub upstream: String,
    pub downstream: String,
}

impl Passwords {
    pub const UPSTREAM_USER: &'static str = "dm_up";
    pub const DOWNSTREAM_USER: &'static str = "dm_down";

    /// Creates the users, with every privilege, on the servers of `dbs`.
    pub async fn create_users(&self, dbs: &Databases) -> Result<()> {
        let create = |user: &str, password: &str| {
            [
                format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"),
                format!("GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'"),
            ]
        };
        let upstream = create(Self::UPSTREAM_USER, &self.upstream);
        for server in &dbs.upstreams {
            run_sql(server, &upstream.each_ref().map(String::as_str)).await?;
        }
        let downstream = create(Self::DOWNSTREAM_USER, &self.downstream);
        run_sql(&dbs.downstream, &downstream.each_ref().map(String::as_str)).await
    }

    fn in_worker_file(&self, text: &str) -> String {
        text.replace(
            "user = \"root\"\npassword = \"\"",
            &format!(
                "user = \"{}\"\npassword = \"{}\"",
                Self::UPSTREAM_USER,
                self.upstream
            ),
        )
    }

    fn in_task_file(&self, text: &str) -> String {
        text.replace(
            "user: \"root\"\n  password: \"\"",
            &format!(
                "user: \"{}\"\n  password: \"{}\"",
                Self::DOWNSTREAM_USER,
                self.downstream
            ),
        )
    }
}

/// [`start_workers`], each worker given the TLS flags `tls`, logging in
/// with `passwords` when given.
pub fn start_workers_with(
    ports: Ports,
    dbs: &Databases,
    join: &str,
    dir: &Path,
    tls: Option<&crate::certs::TlsFlags>,
    passwords: Option<&Passwords>,
) -> Result<Vec<crate::ChildGuard>> {
    let binary = crate::workspace_binary("dm-worker")?;
    let mut workers = Vec::new();
    for (i, upstream) in dbs.upstreams.iter().enumerate() {
        let n = i + 1;
        let name = format!("dm-worker{n}.toml");
        let mut config = config_dir().join(&name);
        if ports == Ports::Free || passwords.is_some() {
            let text = std::fs::read_to_string(&config)
                .map_err(|e| HarnessError::io(format!("reading {}", config.display()), e))?;
            let text = match passwords {
                Some(passwords) => passwords.in_worker_file(&text),
                None => text,
            };
            let text = text
                .replace(
                    &format!("port = {}", UPSTREAM_PORTS[i]),
                    &format!("port = {}", upstream.port()),
                )
                .replace(
                    &format!("worker-addr = \":{}\"", 8261 + n),
                    &format!("worker-addr = \"127.0.0.1:{}\"", crate::free_port()?),
                );
            config = dir.join(&name);
            std::fs::write(&config, text)
                .map_err(|e| HarnessError::io(format!("writing {}", config.display()), e))?;
        }
        let mut command = std::process::Command::new(&binary);
        command
            .arg(format!("--config={}", config.display()))
            .arg("--join")
            .arg(join)
            .args(tls.iter().flat_map(|t| t.args()))
            .current_dir(dir)
            .env("RUST_LOG", "info");
        workers.push(crate::ChildGuard::spawn(
            format!("worker{n}"),
            command,
            dir.join(format!("worker{n}.out")),
        )?);
    }
    Ok(workers)
}

/// The merged upstream rows of `schema`.t1, sorted by id.
pub async fn merged_rows(upstreams: &[MariaDb], schema: &str) -> Result<Vec<Row>> {
    let mut merged = Vec::new();
    for server in upstreams {
        merged.extend(rows(server, schema).await?);
    }
    merged.sort();
    Ok(merged)
}

/// Waits until the downstream's `schema`.t1 equals `expected`.
pub async fn wait_rows(
    downstream: &MariaDb,
    schema: &str,
    expected: &[Row],
    deadline: std::time::Duration,
) -> Result<()> {
    wait_rows_of(downstream, schema, expected, deadline, None).await
}

/// [`wait_rows`] for rows `task` replicates: fails at once, with the
/// subtask's error, when a subtask of `task` is paused (a timeout shows
/// the task's status too).
pub async fn wait_task_rows(
    master: &str,
    task: &str,
    downstream: &MariaDb,
    schema: &str,
    expected: &[Row],
    deadline: std::time::Duration,
) -> Result<()> {
    wait_rows_of(downstream, schema, expected, deadline, Some((master, task))).await
}

/// [`wait_rows`], watching `(master, task)`'s status when given.
async fn wait_rows_of(
    downstream: &MariaDb,
    schema: &str,
    expected: &[Row],
    deadline: std::time::Duration,
    watched: Option<(&str, &str)>,
) -> Result<()> {
    let what = match watched {
        Some((_, task)) => format!("downstream {schema}.t1 equal to the merged upstreams ({task})"),
        None => format!("downstream {schema}.t1 equal to the merged upstreams"),
    };
    crate::wait_until(
        &what,
        deadline,
        std::time::Duration::from_millis(50),
        || async move {
            let got = rows(downstream, schema).await.unwrap_or_default();
            if got == expected {
                return crate::Check::Ready(());
            }
            let counts = format!("{} rows downstream, {} expected", got.len(), expected.len());
            let Some((master, task)) = watched else {
                return crate::Check::Pending(counts);
            };
            let status = match crate::cluster::dmctl(master, &["query-status", task]).await {
                Ok(status) => status,
                Err(e) => return crate::Check::Pending(format!("{counts}; {e}")),
            };
            match crate::cluster::paused_subtask(&status, task) {
                Some(paused) => {
                    crate::Check::Abort(HarnessError::Task(format!("{counts}; {paused}")))
                }
                None => crate::Check::Pending(format!("{counts}; {status}")),
            }
        },
    )
    .await
}

/// `dmtask2.yaml`'s text without its column mappings: DM's plain sharding
/// task shape over the tutorial's shards.
pub fn without_mappings(dmtask2: &str) -> String {
    let (Some(start), Some(end)) = (
        dmtask2.find("column-mappings:"),
        dmtask2.find("mysql-instances:"),
    ) else {
        return dmtask2.to_string();
    };
    let text = format!("{}{}", &dmtask2[..start], &dmtask2[end..]);
    text.lines()
        .filter(|l| !l.trim_start().starts_with("column-mapping-rules:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// How long the `seed-tutorial` program may take in a test.
pub const PROGRAM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// Lines the `seed-tutorial` program prints when the tutorial replicated
/// exactly: the merged `dmtest1` tail, dmtask2's last id decoded (the ids
/// the tutorial's `insert ... select` gets are the upstream's
/// auto-increment allocation, MariaDB's gaps differ from MySQL 5.7's, so
/// the program checks those rows against the upstreams), and its last line.
pub const PROGRAM_LINES: &[&str] = &[
    "1858\td7fd118e6f226a71b5f1ffe10efd0a78\t",
    "last id 1729382256910270836 & ((1<<44)-1) = 372 from instance 3",
    "== Done: the tutorial ran end to end.",
];

/// Runs the `seed-tutorial` program on free ports with upstreams logging
/// `row_metadata` (both tasks, every step, the downstream checked row for
/// row after each); its output, or an error holding all of it when it
/// failed, overran [`PROGRAM_DEADLINE`] or lacks one of [`PROGRAM_LINES`].
pub async fn run_program(row_metadata: RowMetadata) -> Result<String> {
    run_program_with(row_metadata, &[]).await
}

/// [`run_program`] with more of the program's flags (`--tls`).
pub async fn run_program_with(row_metadata: RowMetadata, flags: &[&str]) -> Result<String> {
    let program = crate::workspace_binary("seed-tutorial")?;
    let run = tokio::process::Command::new(program)
        .arg("--free-ports")
        .arg(format!("--binlog-row-metadata={row_metadata}"))
        .args(flags)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PROGRAM_DEADLINE, run)
        .await
        .map_err(|_| {
            HarnessError::Task(format!(
                "seed-tutorial ({row_metadata}) still running after {PROGRAM_DEADLINE:?}"
            ))
        })?
        .map_err(|e| HarnessError::io("running seed-tutorial", e))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failed = |why: String| {
        HarnessError::Task(format!(
            "seed-tutorial ({row_metadata}) {why}\n{stdout}\n{stderr}"
        ))
    };
    if !output.status.success() {
        return Err(failed(format!("exited with {}", output.status)));
    }
    if let Some(missing) = PROGRAM_LINES.iter().find(|l| !stdout.contains(*l)) {
        return Err(failed(format!("printed no `{missing}`")));
    }
    Ok(stdout)
}
