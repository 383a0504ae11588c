//! `chaos`: runs the deterministic simulation over a range of seeds and
//! prints a summary, or replays one seed with its fault schedule and trace.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use dm_chaos::sim::{run_seed, Options, Summary};

#[derive(Debug, Parser)]
#[command(
    name = "chaos",
    about = "Deterministic simulation of a dm cluster under faults"
)]
struct Args {
    /// Seeds to run, `A..B` (B excluded).
    #[arg(long, default_value = "0..20")]
    seeds: String,
    /// Replay one seed and print its schedule and trace.
    #[arg(long)]
    seed: Option<u64>,
    /// Faults happen during the first this many simulated seconds.
    #[arg(long, default_value_t = 12)]
    fault_window_secs: u64,
    /// Log the cluster's own tracing output (with --seed).
    #[arg(long)]
    verbose: bool,
    /// With --seed: run it this many times in this process and check that
    /// every run took the same course.
    #[arg(long, default_value_t = 1, hide = true)]
    repeat: u32,
    /// Test only: run with the downstream's epoch fence disabled, to see
    /// the invariants catch what it prevents.
    #[arg(long, hide = true)]
    no_fence: bool,
}

/// A `--seeds` value that is not a range of seeds.
#[derive(Debug, thiserror::Error)]
enum RangeError {
    #[error("--seeds {0}: write A..B, e.g. 0..200")]
    Shape(String),
    #[error("--seeds {text}: {error}")]
    Number {
        text: String,
        error: std::num::ParseIntError,
    },
    #[error("--seeds {0}: the range is empty")]
    Empty(String),
}

fn parse_range(text: &str) -> Result<std::ops::Range<u64>, RangeError> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| RangeError::Shape(text.to_string()))?;
    let number = |n: &str| {
        n.trim().parse::<u64>().map_err(|error| RangeError::Number {
            text: text.to_string(),
            error,
        })
    };
    let (a, b) = (number(a)?, number(b)?);
    if b <= a {
        return Err(RangeError::Empty(text.to_string()));
    }
    Ok(a..b)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let opts = Options {
        fault_window: Duration::from_secs(args.fault_window_secs),
        fence: !args.no_fence,
        ..Options::default()
    };
    if let Some(seed) = args.seed {
        if args.verbose {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info,openraft=warn")
                .try_init();
        }
        let report = run_seed(seed, &opts);
        for n in 1..args.repeat {
            let again = run_seed(seed, &opts);
            if again.trace != report.trace {
                println!(
                    "run {} of seed {seed} took another course than the first",
                    n + 1
                );
                return ExitCode::FAILURE;
            }
        }
        println!(
            "seed {seed}: {} faults, {} stalled commits, binlog row metadata {}",
            report.schedule.injections(),
            report.stalled_commits,
            report.row_metadata
        );
        for line in &report.trace {
            println!("  {line}");
        }
        for (source, lanes) in &report.checkpoints {
            let shown: Vec<String> = lanes.iter().map(ToString::to_string).collect();
            println!("  checkpoints of {source}: {}", shown.join(", "));
        }
        for v in &report.violations {
            println!("VIOLATION {v}");
        }
        return if report.violations.is_empty() {
            println!(
                "seed {seed}: all invariants hold ({:?} simulated)",
                report.sim_time
            );
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let range = match parse_range(&args.seeds) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut summary = Summary::default();
    for seed in range.clone() {
        let report = run_seed(seed, &opts);
        if !report.violations.is_empty() {
            println!(
                "seed {seed} ({} row metadata): {} violation(s); replay: chaos --seed {seed}",
                report.row_metadata,
                report.violations.len()
            );
        }
        summary.add(report);
    }
    let total: usize = summary.faults.values().sum();
    println!(
        "simulation: {} seeds ({}..{}) in {:.1} s",
        summary.seeds,
        range.start,
        range.end,
        started.elapsed().as_secs_f64()
    );
    println!("faults injected: {total}");
    for (kind, n) in &summary.faults {
        println!("  {kind:<26} {n}");
    }
    println!(
        "full copy: {} seeds, {} copies taken over by another worker midway",
        summary.full_copies, summary.copies_taken_over
    );
    for (mode, (seeds, failed)) in &summary.by_metadata {
        println!("binlog row metadata {mode}: {seeds} seeds, {failed} with violations");
    }
    let mut converged = summary.converged_ms.clone();
    converged.sort_unstable();
    if let (Some(median), Some(max)) = (converged.get(converged.len() / 2), converged.last()) {
        println!("converged after the last fault: median {median} ms, max {max} ms");
    }
    println!(
        "invariant violations: {}",
        summary
            .failed
            .iter()
            .map(|r| r.violations.len())
            .sum::<usize>()
    );
    for report in &summary.failed {
        for v in &report.violations {
            println!("  seed {}: {v}", report.seed);
        }
    }
    if summary.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
