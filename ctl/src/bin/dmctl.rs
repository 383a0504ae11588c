//! `dmctl`: control a DM cluster.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = dm_ctl::parse_args();
    dm_ctl::run(cli).await
}
