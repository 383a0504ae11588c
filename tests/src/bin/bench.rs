//! `bench`: benchmarks over real processes; prints measured figures.
//!
//! `cargo build --release --workspace --bins && cargo run --release -p dm-tests --bin bench -- master-failover --rounds 10`

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dm_tests::bench::{master_failover, summary};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks over real dm-master processes")]
struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// SIGKILL the master leader N times; time from the kill to the first
    /// write acknowledged by the new leader.
    MasterFailover {
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Exit non-zero unless median < this (ms).
        #[arg(long, default_value_t = 1000.0)]
        target_median_ms: f64,
        /// Exit non-zero unless max < this (ms).
        #[arg(long, default_value_t = 2000.0)]
        target_max_ms: f64,
    },
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match Args::parse().bench {
        Bench::MasterFailover {
            rounds,
            target_median_ms,
            target_max_ms,
        } => {
            let report = match master_failover(rounds).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("bench master-failover: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let (s_min, s_med, s_max) = summary(&report.steady_ms);
            let (f_min, f_med, f_max) = summary(&report.failover_ms);
            println!("master-failover: 3 masters, {rounds} leader SIGKILLs");
            println!("  baseline write (no failure), {} writes: min {s_min:.1} / median {s_med:.1} / max {s_max:.1} ms", report.steady_ms.len());
            println!("  SIGKILL -> first acknowledged write:      min {f_min:.0} / median {f_med:.0} / max {f_max:.0} ms");
            println!("  failover median = {:.0} x baseline median write; DM 2.x: up to 60000 ms (leader lease)", f_med / s_med.max(0.001));
            let ok = f_med < target_median_ms && f_max < target_max_ms;
            println!(
                "  target median < {target_median_ms:.0} ms, max < {target_max_ms:.0} ms: {}",
                if ok { "met" } else { "MISSED" }
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
