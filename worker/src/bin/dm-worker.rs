//! `dm-worker`: runs the migration of the source it is bound to.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use dm_proto::cli::go_style_args;
use dm_proto::config::{WorkerArgs, WorkerConfig};

fn main() -> ExitCode {
    dm_proto::private_files::owner_only();
    let args = WorkerArgs::parse_from(go_style_args(&WorkerArgs::command(), std::env::args_os()));
    if args.common.print_sample_config {
        print!("{}", WorkerConfig::sample());
        return ExitCode::SUCCESS;
    }
    match dm_worker::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dm-worker: {err:#}");
            ExitCode::FAILURE
        }
    }
}
