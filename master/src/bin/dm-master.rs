//! `dm-master`: one member of the Raft group that holds the cluster's state.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use dm_proto::cli::go_style_args;
use dm_proto::config::{MasterArgs, MasterConfig};

fn main() -> ExitCode {
    dm_proto::private_files::owner_only();
    let args = MasterArgs::parse_from(go_style_args(&MasterArgs::command(), std::env::args_os()));
    if args.common.print_sample_config {
        print!("{}", MasterConfig::sample());
        return ExitCode::SUCCESS;
    }
    match dm_master::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dm-master: {err:#}");
            ExitCode::FAILURE
        }
    }
}
