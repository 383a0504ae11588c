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
    /// TLS: CA file (not supported yet: refused).
    #[arg(long)]
    pub ssl_ca: Option<String>,
    /// TLS: certificate file (not supported yet: refused).
    #[arg(long)]
    pub ssl_cert: Option<String>,
    /// TLS: key file (not supported yet: refused).
    #[arg(long)]
    pub ssl_key: Option<String>,
    /// TLS: allowed common names, comma-separated (not supported yet: refused).
    #[arg(long)]
    pub cert_allowed_cn: Option<String>,
}

impl DaemonArgs {
    /// `--ssl-*` and `--cert-allowed-cn` over a daemon's TLS keys.
    pub(crate) fn tls_over(&self, tls: TlsKeys<'_>, origin: &mut super::toml_file::Origin) {
        origin.flag(tls.ssl_ca, &self.ssl_ca, "ssl-ca");
        origin.flag(tls.ssl_cert, &self.ssl_cert, "ssl-cert");
        origin.flag(tls.ssl_key, &self.ssl_key, "ssl-key");
        let names = self.cert_allowed_cn.as_deref().map(super::split_list);
        origin.flag(tls.cert_allowed_cn, &names, "cert-allowed-cn");
    }
}

/// A daemon configuration's TLS keys, for [`DaemonArgs::tls_over`].
pub(crate) struct TlsKeys<'a> {
    pub ssl_ca: &'a mut String,
    pub ssl_cert: &'a mut String,
    pub ssl_key: &'a mut String,
    pub cert_allowed_cn: &'a mut Vec<String>,
}
