//! `bench`: benchmarks over real processes; prints measured figures.
//!
//! `cargo build --release --workspace --bins && cargo run --release -p dm-tests --bin bench -- master-failover --rounds 10`

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dm_tests::bench::{master_failover, summary};
use dm_tests::bench_copy::full_copy;
use dm_tests::bench_sync::{sync, Compare, ROWS_PER_TRANSACTION};
use dm_tests::bench_txn::big_transaction;
use dm_tests::bench_worker::worker_failover;
use dm_tests::RowMetadata;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks over real dm-master processes")]
struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Apply the same sysbench binlog with a native replica (single and
    /// parallel) and with the cluster; then measure lag at a fixed rate.
    Sync {
        /// sysbench oltp_write_only transactions (4 row changes each).
        #[arg(long, default_value_t = 50_000)]
        transactions: u64,
        /// Offered transactions per second during the lag measurement.
        #[arg(long, default_value_t = 250)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        lag_secs: u64,
        #[arg(long, default_value_t = 4)]
        parallel_threads: u32,
        /// Exit non-zero unless ours / native single-threaded rate >= this.
        #[arg(long, default_value_t = 0.5)]
        target_ratio: f64,
        /// Exit non-zero unless the lag p99 < this (ms).
        #[arg(long, default_value_t = 1000.0)]
        target_lag_p99_ms: f64,
        /// Also time our sync of the same workload from an upstream with
        /// this `binlog_row_metadata` (NO_LOG or MINIMAL: row events
        /// without column names); prints both figures and their ratio.
        #[arg(long, conflicts_with = "compare_scrape_ms")]
        compare_row_metadata: Option<RowMetadata>,
        /// Also time our sync of the same workload while every master's
        /// and worker's `/metrics` is fetched every this many ms (what a
        /// Prometheus scraping the cluster costs); prints both figures and
        /// their ratio (target: --target-compared-ratio).
        #[arg(long)]
        compare_scrape_ms: Option<u64>,
        /// With --compare-row-metadata: exit non-zero unless the compared
        /// rate / the FULL rate >= this.
        #[arg(long, default_value_t = 0.9)]
        target_compared_ratio: f64,
    },
    /// Copy one table of ROWS rows with `mariadb-dump | mariadb` and with
    /// the cluster (task-mode full) between the same servers; print both.
    FullCopy {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Parallel copiers (the task's `mydumper.threads`).
        #[arg(long, default_value_t = 4)]
        threads: u32,
        /// Exit non-zero unless baseline time / our time >= this.
        #[arg(long, default_value_t = 1.5)]
        target_ratio: f64,
    },
    /// One upstream transaction updating ROWS rows: the worker's peak RSS
    /// after it, next to its peak after a 1000-row transaction.
    BigTxn {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Exit non-zero unless the peak after the big transaction < this (MiB).
        #[arg(long, default_value_t = 200.0)]
        target_rss_mib: f64,
    },
    /// SIGKILL the worker bound to a source (copying) N times; time from
    /// the kill to the source bound to the other worker, and to the new
    /// worker's first downstream commit.
    WorkerFailover {
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        /// Exit non-zero unless median < this (ms).
        #[arg(long, default_value_t = 3000.0)]
        target_median_ms: f64,
    },
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
        Bench::Sync {
            transactions,
            rate,
            lag_secs,
            parallel_threads,
            target_ratio,
            target_lag_p99_ms,
            compare_row_metadata,
            compare_scrape_ms,
            target_compared_ratio,
        } => {
            let compare = match (compare_row_metadata, compare_scrape_ms) {
                (Some(metadata), _) => Some(Compare::RowMetadata(metadata)),
                (None, Some(every_ms)) => Some(Compare::Scraped { every_ms }),
                (None, None) => None,
            };
            let run = sync(transactions, rate, lag_secs, parallel_threads, compare);
            let report = match run.await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("bench sync: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let rows = (report.transactions * ROWS_PER_TRANSACTION) as f64;
            let per_sec = |ms: f64| rows / (ms / 1000.0);
            println!("sync: sysbench oltp_write_only, {} transactions ({rows:.0} row changes), one binlog applied by each", report.transactions);
            println!(
                "  native replica, single-threaded:        {:.0} ms ({:.0} rows/s)",
                report.native_single_ms,
                per_sec(report.native_single_ms)
            );
            println!(
                "  native replica, {} parallel threads:    {:.0} ms ({:.0} rows/s)",
                report.parallel_threads,
                report.native_parallel_ms,
                per_sec(report.native_parallel_ms)
            );
            println!(
                "  dm cluster (task-mode incremental):     {:.0} ms ({:.0} rows/s)",
                report.ours_ms,
                per_sec(report.ours_ms)
            );
            let ratio = report.native_single_ms / report.ours_ms.max(0.001);
            println!(
                "  ours / native single = {ratio:.2}x; ours / native parallel = {:.2}x",
                report.native_parallel_ms / report.ours_ms.max(0.001)
            );
            // The same workload from an upstream logging other row
            // metadata, then from one logging FULL again.
            let compared_ok = match &report.compared {
                None => true,
                Some(compared) => {
                    let metadata = compared.what;
                    for (label, run) in [
                        (format!("{metadata}:"), &compared.ours_ms),
                        ("FULL again, after it:".to_string(), &compared.full_again_ms),
                    ] {
                        match run {
                            Ok(ms) => println!(
                                "  dm cluster, {label:<29}{ms:.0} ms ({:.0} rows/s)",
                                per_sec(*ms)
                            ),
                            Err(e) => println!("  dm cluster, {label} FAILED: {e}"),
                        }
                    }
                    match compared.ratio(report.ours_ms) {
                        Some(r) => {
                            println!(
                                "  {metadata} / FULL (mean of the FULL runs before and after) = {r:.2}x"
                            );
                            r >= target_compared_ratio
                        }
                        None => {
                            println!("  {metadata} / FULL: none (a run above failed)");
                            false
                        }
                    }
                }
            };
            let mut lag = report.lag_ms.clone();
            lag.sort_by(f64::total_cmp);
            let pct = |p: f64| {
                lag.get(((lag.len() as f64 - 1.0) * p).round() as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            let (p50, p99) = (pct(0.5), pct(0.99));
            println!("  lag at {} txn/s ({} writes/s) offered: p50 {p50:.0} ms, p99 {p99:.0} ms, max {:.0} ms ({} probes)", report.offered_txn_per_sec, u64::from(report.offered_txn_per_sec) * ROWS_PER_TRANSACTION, lag.last().copied().unwrap_or(f64::NAN), lag.len());
            let ok = ratio >= target_ratio && p99 < target_lag_p99_ms && compared_ok;
            let compared_target = match &report.compared {
                Some(c) => format!(", {} / FULL >= {target_compared_ratio:.2}", c.what),
                None => String::new(),
            };
            println!(
                "  targets ratio >= {target_ratio:.2}, lag p99 < {target_lag_p99_ms:.0} ms{compared_target}: {}",
                if ok { "met" } else { "MISSED" }
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Bench::FullCopy {
            rows,
            threads,
            target_ratio,
        } => {
            let report = match full_copy(rows, threads).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("bench full-copy: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let mib = report.table_bytes as f64 / (1024.0 * 1024.0);
            let rate = |ms: f64| report.rows as f64 / (ms / 1000.0);
            println!("full-copy: {} rows ({mib:.0} MiB of row data), one table, same upstream and downstream servers", report.rows);
            println!(
                "  mariadb-dump --single-transaction | mariadb: {:.0} ms ({:.0} rows/s)",
                report.baseline_ms,
                rate(report.baseline_ms)
            );
            println!(
                "  dm cluster, task-mode full, {threads} copiers:     {:.0} ms ({:.0} rows/s)",
                report.ours_ms,
                rate(report.ours_ms)
            );
            let ratio = report.baseline_ms / report.ours_ms.max(0.001);
            println!("  ratio baseline / ours = {ratio:.2}x");
            match report.worker_peak_rss_kib {
                Some(kib) => println!("  dm-worker peak RSS: {:.1} MiB", kib as f64 / 1024.0),
                None => println!("  dm-worker peak RSS: not available"),
            }
            let ok = ratio >= target_ratio;
            println!(
                "  target ratio >= {target_ratio:.2}: {}",
                if ok { "met" } else { "MISSED" }
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Bench::BigTxn {
            rows,
            target_rss_mib,
        } => {
            let report = match big_transaction(rows).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("bench big-txn: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let mib = |kib: u64| kib as f64 / 1024.0;
            println!(
                "big-txn: one upstream UPDATE of {} rows in one transaction, applied by one worker",
                report.rows
            );
            println!(
                "  dm-worker peak RSS after a 1000-row transaction (baseline): {:.1} MiB",
                mib(report.baseline_peak_kib)
            );
            println!(
                "  dm-worker peak RSS after the {}-row transaction:          {:.1} MiB ({:.2}x the baseline)",
                report.rows,
                mib(report.big_peak_kib),
                report.big_peak_kib as f64 / report.baseline_peak_kib.max(1) as f64
            );
            println!(
                "  applied downstream {:.0} ms after its upstream commit ({:.0} rows/s)",
                report.apply_ms,
                report.rows as f64 / (report.apply_ms / 1000.0).max(0.001)
            );
            let ok = mib(report.big_peak_kib) < target_rss_mib;
            println!(
                "  target peak RSS < {target_rss_mib:.0} MiB: {}",
                if ok { "met" } else { "MISSED" }
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Bench::WorkerFailover {
            rounds,
            target_median_ms,
        } => {
            let report = match worker_failover(rounds).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("bench worker-failover: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let (min, med, max) = summary(&report.rebind_ms);
            println!("worker-failover: 3 masters, 2 workers, keepalive-ttl {} s, {rounds} SIGKILLs of the worker copying the source", report.keepalive_ttl_secs);
            let (c_min, c_med, c_max) = summary(&report.first_commit_ms);
            println!("  SIGKILL -> source bound to the other worker:        min {min:.0} / median {med:.0} / max {max:.0} ms");
            println!("  SIGKILL -> first downstream commit of the new worker: min {c_min:.0} / median {c_med:.0} / max {c_max:.0} ms");
            println!(
                "  median = {:.2} x keepalive TTL; DM 2.x: 60000 ms TTL (1800000 ms with relay)",
                med / (report.keepalive_ttl_secs as f64 * 1000.0)
            );
            let ok = med < target_median_ms && c_med < target_median_ms;
            println!(
                "  target medians < {target_median_ms:.0} ms: {}",
                if ok { "met" } else { "MISSED" }
            );
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
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
