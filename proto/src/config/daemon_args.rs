//! Flags dm-master and dm-worker share: the config file, logging, the
//! sample config and TLS.

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
    /// TLS: the cluster's CA certificate (PEM); with --ssl-cert and
    /// --ssl-key, every gRPC connection uses mutual TLS.
    #[arg(long)]
    pub ssl_ca: Option<String>,
    /// TLS: this daemon's certificate (PEM), signed by the CA.
    #[arg(long)]
    pub ssl_cert: Option<String>,
    /// TLS: the key of --ssl-cert (PEM).
    #[arg(long)]
    pub ssl_key: Option<String>,
    /// TLS: common names of the client certificates a master accepts,
    /// comma-separated (default: any certificate the CA signed).
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

/// Checks a daemon's TLS keys go together: all of `ssl-ca`, `ssl-cert`
/// and `ssl-key`, or none; `cert-allowed-cn` (a master's) only with them.
/// The files themselves are read when the daemon starts
/// ([`crate::tls::TlsFiles::load`]).
pub(crate) fn check_tls(
    paths: &crate::tls::TlsPaths<'_>,
    cert_allowed_cn: &[String],
    origin: &super::toml_file::Origin,
) -> Result<(), super::ConfigError> {
    use crate::tls::{check_settings, Names, TlsError};
    // Reported where a key was given: the missing one has no place.
    let given = [
        (paths.ca, "ssl-ca"),
        (paths.cert, "ssl-cert"),
        (paths.key, "ssl-key"),
    ]
    .into_iter()
    .find(|(path, _)| !path.is_empty())
    .map_or("ssl-ca", |(_, key)| key);
    check_settings(paths, Names::KEYS, true).map_err(|e| match e {
        TlsError::Settings { key, message } => origin.invalid(given, format!("{key} {message}")),
        other => origin.invalid(given, other),
    })?;
    if paths.is_off() && !cert_allowed_cn.is_empty() {
        return Err(origin.invalid(
            "cert-allowed-cn",
            "names the client certificates this master accepts, but TLS is off: set ssl-ca, ssl-cert and ssl-key too, or remove cert-allowed-cn",
        ));
    }
    Ok(())
}
