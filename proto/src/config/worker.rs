//! dm-worker's configuration: a TOML file with DM's key names, overridden by
//! command-line flags of the same names.
//!
//! A DM 1.x worker file also described the one upstream it served
//! (`source-id`, `flavor`, `[from]`, relay and dump directories), as the
//! tutorial's `dm-worker1.toml` does. Those keys are accepted: such a worker
//! offers its source to the cluster when it registers ([`WorkerConfig::embedded_source`]).

use serde::{Deserialize, Serialize};

use super::addr;
use super::daemon_args::{DaemonArgs, TlsKeys};
use super::db::DbConfig;
use super::error::ConfigError;
use super::log::LogFileConfig;
use super::source::{CheckerConfig, Flavor, PurgeConfig, SourceConfig};
use super::toml_file;

/// Default worker address.
pub const DEFAULT_WORKER_ADDR: &str = ":8262";
/// Default masters to join.
pub const DEFAULT_JOIN: &str = "127.0.0.1:8261";
/// Default keepalive TTL in seconds: the time after which a silent worker's
/// sources move to another worker. DM 2.x uses 60 s.
pub const DEFAULT_KEEPALIVE_TTL_SECS: u64 = 2;

/// dm-worker's command line. Flags override the `--config` file.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "dm-worker",
    about = "dm-worker: runs the migration of the source it is bound to",
    version
)]
pub struct WorkerArgs {
    /// Name of this worker, unique in the cluster (default: its advertise address).
    #[arg(long)]
    pub name: Option<String>,
    /// Address to listen on, host:port.
    #[arg(long)]
    pub worker_addr: Option<String>,
    /// Address masters and dmctl reach this worker at (default: --worker-addr).
    #[arg(long)]
    pub advertise_addr: Option<String>,
    /// Client addresses of the masters, comma-separated.
    #[arg(long)]
    pub join: Option<String>,
    /// Seconds without a heartbeat after which the worker's source moves elsewhere.
    #[arg(long)]
    pub keepalive_ttl: Option<u64>,
    #[command(flatten)]
    pub common: DaemonArgs,
}

/// The effective dm-worker configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct WorkerConfig {
    pub name: String,
    pub worker_addr: String,
    pub advertise_addr: String,
    pub join: String,
    /// Seconds.
    pub keepalive_ttl: u64,
    /// Seconds; DM's TTL for workers with relay logs. Accepted, unused.
    pub relay_keepalive_ttl: u64,
    pub log_level: String,
    pub log_file: String,
    pub log_format: String,
    /// DM 1.x's time rotation (`hour` / `day`): accepted, no effect, as in
    /// DM 2.x ([`super::log_rotate_note`]).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_rotate: String,
    /// Rotation of `log-file`: size, age and count of backups.
    pub log: LogFileConfig,
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub cert_allowed_cn: Vec<String>,

    // DM 1.x: the upstream this worker serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_id: String,
    pub flavor: Flavor,
    pub enable_gtid: bool,
    pub auto_fix_gtid: bool,
    pub enable_relay: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub relay_dir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub relay_binlog_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub relay_binlog_gtid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub meta_dir: String,
    /// Dump directory; our copy streams and keeps no dump files.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub charset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DbConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge: Option<PurgeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checker: Option<CheckerConfig>,
    /// Deprecated; accepted and ignored.
    #[serde(skip_serializing)]
    pub tracer: Option<toml::Table>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            worker_addr: DEFAULT_WORKER_ADDR.into(),
            advertise_addr: String::new(),
            join: DEFAULT_JOIN.into(),
            keepalive_ttl: DEFAULT_KEEPALIVE_TTL_SECS,
            relay_keepalive_ttl: 1800,
            log_level: "info".into(),
            log_file: String::new(),
            log_format: "text".into(),
            log_rotate: String::new(),
            log: LogFileConfig::default(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            cert_allowed_cn: Vec::new(),
            server_id: None,
            source_id: String::new(),
            flavor: Flavor::Detect,
            enable_gtid: false,
            auto_fix_gtid: false,
            enable_relay: false,
            relay_dir: String::new(),
            relay_binlog_name: String::new(),
            relay_binlog_gtid: String::new(),
            meta_dir: String::new(),
            dir: String::new(),
            charset: String::new(),
            from: None,
            purge: None,
            checker: None,
            tracer: None,
        }
    }
}

impl WorkerConfig {
    /// Parses a dm-worker TOML file's text (no defaults derived yet).
    pub fn parse_toml(file: &str, text: &str) -> Result<Self, ConfigError> {
        toml_file::from_str(file, text)
    }

    /// The file (if `--config`), then the flags over it, then derived
    /// defaults, then validation.
    pub fn load(args: &WorkerArgs) -> Result<Self, ConfigError> {
        let (mut cfg, mut origin) = toml_file::load_file::<Self>(args.common.config.as_deref())?;
        origin.flag(&mut cfg.name, &args.name, "name");
        origin.flag(&mut cfg.worker_addr, &args.worker_addr, "worker-addr");
        origin.flag(
            &mut cfg.advertise_addr,
            &args.advertise_addr,
            "advertise-addr",
        );
        origin.flag(&mut cfg.join, &args.join, "join");
        origin.flag(&mut cfg.log_file, &args.common.log_file, "log-file");
        origin.flag(&mut cfg.log_level, &args.common.log_level, "log-level");
        origin.flag(&mut cfg.log_format, &args.common.log_format, "log-format");
        let ttl = args.keepalive_ttl;
        origin.flag(&mut cfg.keepalive_ttl, &ttl, "keepalive-ttl");
        args.common.tls_over(
            TlsKeys {
                ssl_ca: &mut cfg.ssl_ca,
                ssl_cert: &mut cfg.ssl_cert,
                ssl_key: &mut cfg.ssl_key,
                cert_allowed_cn: &mut cfg.cert_allowed_cn,
            },
            &mut origin,
        );
        origin.first_refusal(super::inventory::daemons::worker_refusals(&cfg))?;
        let invalid = |key: &'static str, message: String| origin.invalid(key, message);

        // As DM: addresses lose a scheme, join addresses take one.
        let https = !cfg.ssl_ca.is_empty();
        cfg.worker_addr = addr::unwrap_scheme(&cfg.worker_addr).to_string();
        cfg.advertise_addr = addr::unwrap_scheme(&cfg.advertise_addr).to_string();
        cfg.join = addr::wrap_schemes(&cfg.join, https);
        addr::parse_host_port(&cfg.worker_addr)
            .map_err(|e| invalid("worker-addr", e.to_string()))?;
        if cfg.advertise_addr.is_empty() {
            cfg.advertise_addr = addr::advertise_for(&cfg.worker_addr)
                .map_err(|e| invalid("worker-addr", e.to_string()))?;
        }
        let (host, _) = addr::parse_host_port(&cfg.advertise_addr)
            .map_err(|e| invalid("advertise-addr", e.to_string()))?;
        if host.is_empty() {
            return Err(invalid(
                "advertise-addr",
                format!(
                    "\"{}\" has no host; masters cannot reach it",
                    cfg.advertise_addr
                ),
            ));
        }
        if cfg.name.is_empty() {
            cfg.name = cfg.advertise_addr.clone();
        }
        let join = addr::split_list(&cfg.join);
        if join.is_empty() {
            return Err(invalid(
                "join",
                "must list at least one master address, e.g. 127.0.0.1:8261".into(),
            ));
        }
        for item in join {
            addr::parse_peer_url(&item).map_err(|e| invalid("join", e.to_string()))?;
        }
        if cfg.keepalive_ttl == 0 {
            return Err(invalid("keepalive-ttl", "must be at least 1 second".into()));
        }
        super::check_log_level(&cfg.log_level).map_err(|e| invalid("log-level", e.to_string()))?;
        super::check_log_format(&cfg.log_format)
            .map_err(|e| invalid("log-format", e.to_string()))?;
        // A worker's cert-allowed-cn has no effect (the inventory says why),
        // so it is not checked against the other keys.
        super::daemon_args::check_tls(&cfg.tls_paths(), &[], &origin)?;
        cfg.log.adjust();
        if let Some(source) = cfg.embedded_source() {
            source.validate().map_err(|(key, message)| {
                let key: &'static str = match key.split('.').next() {
                    Some("source-id") => "source-id",
                    Some("server-id") => "server-id",
                    Some("checker") => "checker",
                    _ => "from",
                };
                invalid(key, message)
            })?;
        } else if !cfg.source_id.is_empty() {
            return Err(invalid(
                "source-id",
                "a worker file that names its source needs a [from] table with host, port, user and password".into(),
            ));
        }
        Ok(cfg)
    }

    /// `ssl-ca`, `ssl-cert` and `ssl-key`.
    pub fn tls_paths(&self) -> crate::tls::TlsPaths<'_> {
        crate::tls::TlsPaths {
            ca: &self.ssl_ca,
            cert: &self.ssl_cert,
            key: &self.ssl_key,
        }
    }

    /// The source a DM 1.x style file declares (`source-id` and `[from]`).
    pub fn embedded_source(&self) -> Option<SourceConfig> {
        if self.source_id.is_empty() {
            return None;
        }
        let from = self.from.clone()?;
        Some(SourceConfig {
            source_id: self.source_id.clone(),
            enable_gtid: self.enable_gtid,
            auto_fix_gtid: self.auto_fix_gtid,
            enable_relay: self.enable_relay,
            relay_binlog_name: self.relay_binlog_name.clone(),
            relay_binlog_gtid: self.relay_binlog_gtid.clone(),
            relay_dir: if self.relay_dir.is_empty() {
                "relay-dir".into()
            } else {
                self.relay_dir.clone()
            },
            meta_dir: self.meta_dir.clone(),
            flavor: self.flavor,
            charset: self.charset.clone(),
            server_id: self.server_id,
            from,
            purge: self.purge.clone().unwrap_or_default(),
            checker: self.checker.clone().unwrap_or_default(),
            case_sensitive: false,
            filters: Vec::new(),
            tracer: None,
        })
    }

    /// The running configuration as a TOML file with the password of an
    /// embedded source masked (`get-config worker`).
    pub fn to_masked_toml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        shown.from = shown.from.as_ref().map(DbConfig::masked);
        toml_file::to_string(&shown)
    }

    /// A commented sample file (`--print-sample-config`).
    pub fn sample() -> &'static str {
        include_str!("samples/dm-worker.toml")
    }
}
