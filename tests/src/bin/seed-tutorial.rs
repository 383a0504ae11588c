//! `seed-tutorial`: runs the DM tutorial (`seed-tutorial.md`) on this machine.
//!
//! It starts the tutorial's three upstream servers and its downstream on the
//! tutorial's ports, loads the tutorial's data, checks the tutorial's
//! configuration files (`dm-cnf/`) with the programs' own parsers, starts a
//! local 3-master cluster and the tutorial's three workers from their own
//! files, then does what the tutorial does: `start-task dmtask1.yaml`
//! (copy, then replication), inserts and updates upstream and shows them
//! arriving, and `start-task dmtask2.yaml` with the `partition id` ids.
//!
//! `--binlog-row-metadata NO_LOG` (or `MINIMAL`) starts the upstreams the
//! way most servers in the wild run: row events without column names.
//!
//! `--tls` runs the cluster with mutual TLS: a CA and certificates for the
//! masters, the workers and dmctl (`scripts/make-certs.sh`), the masters
//! accepting only those three common names (`cert-allowed-cn`).
//!
//! `--passwords` has the workers and the tasks log in as users with
//! passwords (given in plaintext in the files), and at the end searches
//! every file under the masters' and the workers' dirs (data, logs) and
//! every `dm_meta` table for them: none may hold one in plaintext.

use std::process::ExitCode;

use clap::Parser;
use dm_tests::tutorial::{self, Ports};
use dm_tests::RowMetadata;

#[derive(Debug, Parser)]
#[command(about = "Run the DM tutorial on a local cluster")]
struct Args {
    /// Use free ports instead of the tutorial's 3307-3309 and 4000.
    #[arg(long)]
    free_ports: bool,
    /// The upstreams' `binlog_row_metadata`: FULL, MINIMAL or NO_LOG.
    #[arg(long, default_value_t = RowMetadata::Full)]
    binlog_row_metadata: RowMetadata,
    /// Mutual TLS between dmctl, the workers and the masters.
    #[arg(long)]
    tls: bool,
    /// Log in with passwords, then search the cluster's files and dm_meta
    /// for them in plaintext.
    #[arg(long)]
    passwords: bool,
}

/// The passwords of `--passwords`.
fn passwords() -> tutorial::Passwords {
    tutorial::Passwords {
        upstream: "tutorial-up-Kq7".into(),
        downstream: "tutorial-down-Zx3".into(),
    }
}

/// Common names of the cluster's certificates, the masters' cert-allowed-cn.
const TLS_NAMES: [&str; 3] = ["dm-master", "dm-worker", "dmctl"];

/// Certificates for the whole cluster in `dir`: the masters' TLS and the
/// workers' flags.
fn tls_setup(
    dir: &std::path::Path,
) -> anyhow::Result<(dm_tests::cluster::MasterTls, dm_tests::certs::TlsFlags)> {
    let ca = dm_tests::certs::CertDir::new(dir.join("dm-cluster"));
    let master = ca.issue("dm-master", TLS_NAMES[0])?;
    let worker = ca.issue("dm-worker", TLS_NAMES[1])?;
    let dmctl = ca.issue("dmctl", TLS_NAMES[2])?;
    let masters = dm_tests::cluster::MasterTls {
        flags: ca.flags(&master),
        cert_allowed_cn: TLS_NAMES.iter().map(|n| n.to_string()).collect(),
        dmctl: ca.flags(&dmctl),
    };
    Ok((masters, ca.flags(&worker)))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seed-tutorial: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let ports = if args.free_ports {
        Ports::Free
    } else {
        Ports::AsWritten
    };
    println!(
        "== Setup: 3 upstream MariaDB servers (auto-increment-increment=5, offsets 1-3, \
         binlog_row_metadata={}) and the downstream",
        args.binlog_row_metadata
    );
    let dbs = tutorial::start_databases_with(ports, args.binlog_row_metadata).await?;
    let passwords = args.passwords.then(passwords);
    if let Some(passwords) = &passwords {
        passwords.create_users(&dbs).await?;
        println!(
            "users {} (upstreams) and {} (downstream), with passwords",
            tutorial::Passwords::UPSTREAM_USER,
            tutorial::Passwords::DOWNSTREAM_USER
        );
    }
    for (i, server) in dbs.upstreams.iter().enumerate() {
        println!(
            "mysql{}: 127.0.0.1:{} (server-id {})",
            i + 1,
            server.port(),
            server.server_id()
        );
    }
    println!("downstream: 127.0.0.1:{}", dbs.downstream.port());

    println!("\n== Non-overlapping shards: dmtest1.t1 on every upstream");
    load_and_show(&dbs.upstreams, tutorial::DMTEST1_SQL, "dmtest1").await?;

    println!("\n== Overlapping shards: dmtest2.t1 on every upstream");
    load_and_show(&dbs.upstreams, tutorial::DMTEST2_SQL, "dmtest2").await?;

    println!(
        "\n== The tutorial's configuration files ({})",
        tutorial::config_dir().display()
    );
    for line in tutorial::check_config_files(&tutorial::config_dir()).map_err(anyhow::Error::msg)? {
        println!("ok  {line}");
    }

    let work_dir = tempfile::Builder::new().prefix("dm-tutorial-").tempdir()?;
    let tls = if args.tls {
        let (masters, workers) = tls_setup(work_dir.path())?;
        println!("\n== Mutual TLS: a CA and a certificate for the masters, the workers and dmctl");
        println!(
            "dm-master {} --cert-allowed-cn={}",
            masters.flags.args().join(" "),
            masters.cert_allowed_cn.join(",")
        );
        println!("dm-worker {}", workers.args().join(" "));
        println!("dmctl {}", masters.dmctl.args().join(" "));
        Some((masters, workers))
    } else {
        None
    };

    println!("\n== Starting DM master and workers: a local 3-master cluster");
    let masters = tutorial::start_masters_with(ports, tls.as_ref().map(|t| t.0.clone()))?;
    let leader = masters.leader(std::time::Duration::from_secs(30)).await?;
    let first = masters.spec(0).map(|s| s.client_addr()).unwrap_or_default();
    println!("leader: {leader}; dmctl -master-addr {first} list-member --master:");
    let members = dm_tests::cluster::dmctl(&first, &["list-member", "--master"]).await?;
    println!("{}", serde_json::to_string_pretty(&members)?);

    println!("\n== Starting the tutorial's workers: dm-worker --config=dm-cnf/dm-worker$i.toml");
    let join = masters.client_addrs();
    let _workers = tutorial::start_workers_with(
        ports,
        &dbs,
        &join,
        work_dir.path(),
        tls.as_ref().map(|t| &t.1),
        passwords.as_ref(),
    )?;
    for i in 1..=3 {
        let source = format!("mysql{i}");
        let worker = dm_tests::cluster::wait_bound(&join, &source, None, DEADLINE).await?;
        println!("source {source} (from dm-worker{i}.toml) bound to {worker}");
    }

    println!("\n== dmctl -master-addr {first} start-task dm-cnf/dmtask1.yaml");
    let task1 = task_path(
        ports,
        "dmtask1.yaml",
        dbs.downstream.port(),
        work_dir.path(),
        passwords.as_ref(),
    )?;
    let answer = dm_tests::cluster::dmctl(&first, &["start-task", &task1]).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    anyhow::ensure!(answer["result"] == true, "start-task dmtask1 failed");
    wait_syncing(&first, "dmtask1").await?;
    wait_dmtask1(&first, &dbs).await?;
    println!("All rows have been migrated: select * from dmtest1.t1 | tail");
    print_tail(&tutorial::rows(&dbs.downstream, "dmtest1").await?);
    for server in &dbs.upstreams {
        let dumps = binlog_dumps(server).await?;
        println!(
            "127.0.0.1:{}: {dumps} Binlog Dump connection(s)",
            server.port()
        );
    }

    println!("\n== Inserting upstream: insert into t1 (id) select null from t1, on each upstream");
    for server in &dbs.upstreams {
        tutorial::run_sql(
            server,
            &["insert into dmtest1.t1 (id) select null from dmtest1.t1"],
        )
        .await?;
    }
    wait_dmtask1(&first, &dbs).await?;
    print_tail(&tutorial::rows(&dbs.downstream, "dmtest1").await?);

    println!("\n== Updating upstream: update t1 set c=md5(id), port=@@port, on each upstream");
    for server in &dbs.upstreams {
        tutorial::run_sql(server, &["update dmtest1.t1 set c=md5(id), port=@@port"]).await?;
    }
    wait_dmtask1(&first, &dbs).await?;
    print_tail(&tutorial::rows(&dbs.downstream, "dmtest1").await?);

    println!("\n== dmctl -master-addr {first} <<<\"start-task dm-cnf/dmtask2.yaml\"");
    let task2 = task_path(
        ports,
        "dmtask2.yaml",
        dbs.downstream.port(),
        work_dir.path(),
        passwords.as_ref(),
    )?;
    let answer = dm_tests::cluster::dmctl(&first, &["start-task", &task2]).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    anyhow::ensure!(answer["result"] == true, "start-task dmtask2 failed");
    wait_syncing(&first, "dmtask2").await?;
    let mut expected = Vec::new();
    for (i, server) in dbs.upstreams.iter().enumerate() {
        for (id, c, port) in tutorial::rows(server, "dmtest2").await? {
            expected.push((tutorial::partition_id(i as u64 + 1, id), c, port));
        }
    }
    expected.sort();
    tutorial::wait_task_rows(
        &first,
        "dmtask2",
        &dbs.downstream,
        "dmtest2",
        &expected,
        DEADLINE,
    )
    .await?;
    println!("select * from dmtest2.t1 | tail (ids rewritten by partition id):");
    let merged2 = tutorial::rows(&dbs.downstream, "dmtest2").await?;
    print_tail(&merged2);
    let last = merged2.last().map(|r| r.0).unwrap_or_default();
    println!(
        "last id {last} & ((1<<44)-1) = {} from instance {}",
        last & ((1 << 44) - 1),
        last >> 59
    );

    println!("\n== dmctl -master-addr {first} query-status");
    let status = dm_tests::cluster::dmctl(&first, &["query-status"]).await?;
    println!("{}", serde_json::to_string_pretty(&status)?);
    if let Some(passwords) = &passwords {
        search_for_passwords(passwords, &masters, work_dir.path(), &dbs).await?;
    }
    println!("\n== Done: the tutorial ran end to end.");
    drop(_workers);
    drop(masters);
    for server in dbs.upstreams {
        server.stop().await?;
    }
    dbs.downstream.stop().await?;
    Ok(())
}

const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// The task file as the tutorial has it, or (free ports, passwords) a copy
/// pointing at the real downstream port, logging in with the password.
fn task_path(
    ports: Ports,
    name: &str,
    port: u16,
    dir: &std::path::Path,
    passwords: Option<&tutorial::Passwords>,
) -> anyhow::Result<String> {
    Ok(match (ports, passwords) {
        (Ports::AsWritten, None) => tutorial::config_dir().join(name).display().to_string(),
        _ => tutorial::task_file_with(dir, name, port, "all", passwords)?,
    })
}

/// Searches every file under the masters' dir and the workers' dir (data
/// dirs, logs; not the configuration files written with the passwords) and
/// every `dm_meta` table for the plaintext passwords.
async fn search_for_passwords(
    passwords: &tutorial::Passwords,
    masters: &dm_tests::cluster::Masters,
    work_dir: &std::path::Path,
    dbs: &tutorial::Databases,
) -> anyhow::Result<()> {
    use dm_tests::secrets::{files_under, found_in_dm_meta, found_in_files};
    let secrets = [passwords.upstream.as_str(), passwords.downstream.as_str()];
    let mut files = files_under(masters.dir());
    files.extend(files_under(work_dir).into_iter().filter(|f| {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        !(name.starts_with("dm-worker") && name.ends_with(".toml")
            || name.starts_with("dmtask") && name.ends_with(".yaml"))
    }));
    let mut found = found_in_files(&files, &secrets);
    let (tables, in_meta) = found_in_dm_meta(&dbs.downstream, &secrets).await;
    found.extend(in_meta);
    anyhow::ensure!(
        found.is_empty(),
        "plaintext passwords: {}",
        found.join("; ")
    );
    anyhow::ensure!(tables > 0, "no dm_meta tables to search");
    // The control: the user names beside the passwords are found, so the
    // search reads what the daemons keep.
    let user = tutorial::Passwords::UPSTREAM_USER;
    anyhow::ensure!(
        !found_in_files(&files, &[user]).is_empty(),
        "the search found not even the user name {user}: it reads nothing"
    );
    println!(
        "\n== No plaintext password in {} files under the masters' and workers' dirs (Raft logs, snapshots, state, logs) nor in {tables} dm_meta tables",
        files.len()
    );
    Ok(())
}

/// Waits until every subtask of `task` runs the sync unit.
/// Waits until `dmtest1.t1` downstream is the merged upstreams' (dmtask1).
async fn wait_dmtask1(master: &str, dbs: &tutorial::Databases) -> anyhow::Result<()> {
    let expected = tutorial::merged_rows(&dbs.upstreams, "dmtest1").await?;
    tutorial::wait_task_rows(
        master,
        "dmtask1",
        &dbs.downstream,
        "dmtest1",
        &expected,
        DEADLINE,
    )
    .await?;
    Ok(())
}

async fn wait_syncing(master: &str, task: &str) -> anyhow::Result<()> {
    dm_tests::cluster::wait_syncing(master, task, DEADLINE).await?;
    Ok(())
}

/// `Binlog Dump` connections on an upstream (DM acting as a replica).
async fn binlog_dumps(server: &dm_tests::MariaDb) -> anyhow::Result<u64> {
    use mysql_async::prelude::Queryable;
    let mut conn = server.conn().await?;
    let n: Option<u64> = conn
        .query_first(
            "select count(*) from information_schema.processlist where command = 'Binlog Dump'",
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// Runs a data set's SQL on every upstream, then prints the merged rows'
/// tail as the tutorial's `select * ... | sort -n` shows it.
async fn load_and_show(
    upstreams: &[dm_tests::MariaDb],
    sql: &[&str],
    schema: &str,
) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for server in upstreams {
        tutorial::run_sql(server, sql).await?;
        rows.extend(tutorial::rows(server, schema).await?);
    }
    rows.sort_by_key(|r| r.0);
    let unique = rows.windows(2).all(|w| w[0].0 != w[1].0);
    println!("{} rows, ids unique across shards: {unique}", rows.len());
    print_tail(&rows);
    Ok(())
}

fn print_tail(rows: &[tutorial::Row]) {
    for (id, c, port) in rows.iter().skip(rows.len().saturating_sub(6)) {
        println!(
            "{id}\t{}\t{}",
            c.as_deref().unwrap_or("NULL"),
            port.map_or("NULL".to_string(), |p| p.to_string())
        );
    }
}
