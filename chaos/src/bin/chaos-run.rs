//! `chaos-run`: the real binaries and MariaDB on loopback under random
//! faults from a seed, then a verdict on the data (see `dm_chaos::real`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dm_chaos::real::{run, Options};

#[derive(Debug, Parser)]
#[command(
    name = "chaos-run",
    about = "Faults against a real dm cluster on loopback, then a check of every row"
)]
struct Args {
    /// How long to inject faults, e.g. 60s or 10m.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Seed of the fault schedule and the load (printed; a random one if absent).
    #[arg(long)]
    seed: Option<u64>,
    /// Workers (the sources are 3; more workers leave spares to take over).
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Fail unless at least this many faults were injected.
    #[arg(long, default_value_t = 0)]
    min_faults: u32,
    /// Each shard starts with 2^this rows.
    #[arg(long, default_value_t = 17)]
    initial_rows_log2: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args
        .seed
        .unwrap_or_else(|| dm_proto::clock::unix_ms() % 1_000_000);
    let options = Options {
        seed,
        duration: args.duration,
        workers: args.workers.max(1),
        initial_rows_log2: args.initial_rows_log2,
        ..Options::default()
    };
    println!(
        "chaos-run --seed {seed} --duration {}",
        humantime::format_duration(args.duration)
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("chaos-run: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&options)) {
        Ok(report) => {
            print!("{report}");
            let passed = report.passed(args.min_faults);
            if report.faults < args.min_faults {
                println!("  fewer faults than --min-faults {}", args.min_faults);
            }
            println!("  verdict: {}", if passed { "PASS" } else { "FAIL" });
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("chaos-run seed {seed}: the run did not finish: {e}");
            ExitCode::FAILURE
        }
    }
}
