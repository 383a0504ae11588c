//! Flags dm-master and dm-worker share: the config file, logging, and the
//! sample config.

use std::path::PathBuf;

/// Flattened into [`super::MasterArgs`] and [`super::WorkerArgs`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DaemonArgs {
    /// Path of a TOML config file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Log file (default: stderr).
    #[arg(long)]
    pub log_file: Option<String>,
    /// Log level: debug, info, warn, error.
    #[arg(short = 'L', long)]
    pub log_level: Option<String>,
    /// Log format: text or json.
    #[arg(long)]
    pub log_format: Option<String>,
    /// Print a sample config file and exit.
    #[arg(long)]
    pub print_sample_config: bool,
}
