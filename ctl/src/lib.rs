//! dmctl: DM's command line for the cluster.
//!
//! `dmctl [--master-addr a,b,c] COMMAND ...` runs one command;
//! `dmctl [--master-addr ...]` alone reads commands from standard input, one
//! per line, as DM's interactive mode does (`dmctl -master-addr :8261
//! <<<"start-task task.yaml"`). Files named on the command line are validated
//! here first, so a broken file is reported with its line and key before any
//! master is contacted.

pub mod batch;
pub mod binlog;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config_io;
pub mod diff;
pub mod error;
pub mod schema;
pub mod shard_lock;
pub mod status;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, Line};
use client::Masters;

/// Runs dmctl with parsed arguments; prints to stdout.
pub async fn run(cli: Cli) -> ExitCode {
    let timeout = match dm_proto::config::duration::parse(&cli.rpc_timeout) {
        Ok(t) => t,
        Err(e) => return fail(&format!("--rpc-timeout: {e}")),
    };
    let tls = dm_proto::tls::TlsPaths {
        ca: &cli.ssl_ca,
        cert: &cli.ssl_cert,
        key: &cli.ssl_key,
    };
    let tls = match dm_proto::tls::TlsFiles::load(&tls, dm_proto::tls::Names::FLAGS, false) {
        Ok(files) => files.map(|f| f.client(client::PER_ADDRESS_TIMEOUT)),
        Err(e) => return fail(&e.to_string()),
    };
    let masters = match Masters::new(&cli.master_addr, timeout, tls) {
        Ok(m) => m,
        Err(e) => return fail(&e.to_string()),
    };
    match cli.command {
        Some(command) => {
            let outcome = commands::run(command, cli.sources, &masters).await;
            println!("{}", outcome.output);
            if outcome.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        None => interactive(&masters).await,
    }
}

fn fail(msg: &str) -> ExitCode {
    println!("{}", commands::failure(msg).output);
    ExitCode::FAILURE
}

/// Reads commands from stdin until EOF or `exit`.
async fn interactive(masters: &Masters) -> ExitCode {
    println!("Welcome to dmctl");
    println!("Release Version: v{}", env!("CARGO_PKG_VERSION"));
    println!();
    let stdin = std::io::stdin();
    let prompt = stdin.is_terminal();
    let mut all_ok = true;
    let mut lines = stdin.lock().lines();
    loop {
        if prompt {
            print!("» ");
            // A prompt that fails to show is not worth stopping for.
            let _ = std::io::stdout().flush();
        }
        let Some(Ok(line)) = lines.next() else { break };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(words) = shlex::split(line) else {
            println!("error: unbalanced quotes in: {line}");
            all_ok = false;
            continue;
        };
        match Line::try_parse_from(words) {
            Ok(Line {
                command: Command::Exit,
                ..
            }) => break,
            Ok(parsed) => {
                let outcome = commands::run(parsed.command, parsed.sources, masters).await;
                println!("{}", outcome.output);
                all_ok &= outcome.ok;
            }
            Err(e) => {
                println!("{e}");
                all_ok &= e.kind() == clap::error::ErrorKind::DisplayHelp;
            }
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Parses the process arguments, accepting Go-style `-flag` long flags.
pub fn parse_args() -> Cli {
    use clap::CommandFactory;
    Cli::parse_from(dm_proto::cli::go_style_args(
        &Cli::command(),
        std::env::args_os(),
    ))
}
