//! `seed-tutorial`: runs the DM tutorial (`seed-tutorial.md`) on this machine.
//!
//! It starts the tutorial's three upstream servers and its downstream on the
//! tutorial's ports, loads the tutorial's data and checks the tutorial's
//! configuration files (`dm-cnf/`) with the programs' own parsers. The
//! cluster steps (dm-master, dm-worker, `dmctl start-task`) come after; this
//! build stops before them and says so.

use std::process::ExitCode;

use clap::Parser;
use dm_tests::tutorial::{self, Ports};

#[derive(Debug, Parser)]
#[command(about = "Run the DM tutorial on a local cluster")]
struct Args {
    /// Use free ports instead of the tutorial's 3307-3309 and 4000.
    #[arg(long)]
    free_ports: bool,
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
    println!("== Setup: 3 upstream MariaDB servers (auto-increment-increment=5, offsets 1-3) and the downstream");
    let dbs = tutorial::start_databases(ports).await?;
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

    println!("\n== Starting DM master and workers: a local 3-master cluster");
    let masters = tutorial::start_masters(ports)?;
    let leader = masters.leader(std::time::Duration::from_secs(30)).await?;
    let first = masters.spec(0).map(|s| s.client_addr()).unwrap_or_default();
    println!("leader: {leader}; dmctl -master-addr {first} list-member --master:");
    let members = dm_tests::cluster::dmctl(&first, &["list-member", "--master"]).await?;
    println!("{}", serde_json::to_string_pretty(&members)?);

    println!("\n== Stopping here: the workers do not copy or replicate data yet, so");
    println!("   'dmctl start-task dm-cnf/dmtask1.yaml' is not run.");
    drop(masters);
    for server in dbs.upstreams {
        server.stop().await?;
    }
    dbs.downstream.stop().await?;
    Ok(())
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
