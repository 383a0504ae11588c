//! dm-master's configuration: a TOML file with DM's key names, overridden by
//! command-line flags of the same names.
//!
//! DM 2.x passed several etcd tuning keys through the same file
//! (`auto-compaction-*`, `quota-backend-bytes`, ...). Our Raft store has no
//! use for them; they are accepted so existing files keep working. DM 1.x's
//! `[[deploy]]` table (source -> worker address) is accepted for the same
//! reason.

use serde::{Deserialize, Serialize};

use super::addr;
use super::daemon_args::{DaemonArgs, TlsKeys};
use super::error::ConfigError;
use super::log::LogFileConfig;
use super::toml_file::{self, Origin};

/// Default client address (dmctl, workers).
pub const DEFAULT_MASTER_ADDR: &str = ":8261";
/// Default Raft peer URL.
pub const DEFAULT_PEER_URLS: &str = "http://127.0.0.1:8291";

/// dm-master's command line. Flags override the `--config` file.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "dm-master",
    about = "dm-master: one member of the Raft group that holds the cluster's state",
    version
)]
pub struct MasterArgs {
    /// Human-readable name of this master, unique in the cluster.
    #[arg(long)]
    pub name: Option<String>,
    /// Address to serve clients (dmctl, workers) on, host:port.
    #[arg(long)]
    pub master_addr: Option<String>,
    /// Address clients reach this master at (default: --master-addr).
    #[arg(long)]
    pub advertise_addr: Option<String>,
    /// URL to serve Raft traffic on (may share the client port).
    #[arg(long)]
    pub peer_urls: Option<String>,
    /// URL other masters reach this master's Raft traffic at (default: --peer-urls).
    #[arg(long)]
    pub advertise_peer_urls: Option<String>,
    /// Masters that bootstrap a new cluster: name=url,name=url.
    #[arg(long)]
    pub initial_cluster: Option<String>,
    /// Client addresses of existing masters to join, comma-separated.
    #[arg(long)]
    pub join: Option<String>,
    /// Directory for the Raft log and state.
    #[arg(long)]
    pub data_dir: Option<String>,
    /// Directory of DM 1.x source files to import at start (TiUP's
    /// `dm import`); an empty or missing directory imports nothing.
    #[arg(long)]
    pub v1_sources_path: Option<String>,
    /// File holding the cluster's AES-256 key for passwords (64 hex
    /// digits); default: DM's built-in key. Every master needs the same.
    #[arg(long)]
    pub secret_key_path: Option<String>,
    #[command(flatten)]
    pub common: DaemonArgs,
}

/// The effective dm-master configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct MasterConfig {
    pub name: String,
    pub master_addr: String,
    pub advertise_addr: String,
    pub log_level: String,
    pub log_file: String,
    pub log_format: String,
    /// DM 1.x's time rotation (`hour` / `day`): accepted, no effect, as in
    /// DM 2.x ([`super::log_rotate_note`]).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_rotate: String,
    /// Rotation of `log-file`: size, age and count of backups.
    pub log: LogFileConfig,
    pub data_dir: String,
    pub peer_urls: String,
    pub advertise_peer_urls: String,
    pub initial_cluster: String,
    pub initial_cluster_state: String,
    pub join: String,
    /// Raft heartbeat interval.
    pub raft_heartbeat_interval_ms: u64,
    /// Raft election timeout (lower bound; the upper bound is twice this).
    pub raft_election_timeout_ms: u64,
    /// Timeout of requests a master sends (Go-style duration).
    pub rpc_timeout: String,
    pub rpc_rate_limit: f64,
    pub rpc_rate_burst: u32,
    /// etcd tuning keys of DM 2.x: accepted, unused.
    pub max_txn_ops: u64,
    pub max_request_bytes: u64,
    pub auto_compaction_mode: String,
    pub auto_compaction_retention: String,
    pub quota_backend_bytes: u64,
    pub v1_sources_path: String,
    /// DM's `secret-key-path`: the key passwords are encrypted with.
    pub secret_key_path: String,
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub cert_allowed_cn: Vec<String>,
    /// DM 1.x: which worker serves which source. Accepted, unused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deploy: Vec<DeployEntry>,
}

/// A DM 1.x `[[deploy]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeployEntry {
    #[serde(default)]
    pub source_id: String,
    #[serde(default)]
    pub mysql_instance: String,
    pub dm_worker: String,
}

impl Default for MasterConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            master_addr: DEFAULT_MASTER_ADDR.into(),
            advertise_addr: String::new(),
            log_level: "info".into(),
            log_file: String::new(),
            log_format: "text".into(),
            log_rotate: String::new(),
            log: LogFileConfig::default(),
            data_dir: String::new(),
            peer_urls: DEFAULT_PEER_URLS.into(),
            advertise_peer_urls: String::new(),
            initial_cluster: String::new(),
            initial_cluster_state: "new".into(),
            join: String::new(),
            raft_heartbeat_interval_ms: 50,
            raft_election_timeout_ms: 100,
            rpc_timeout: "30s".into(),
            rpc_rate_limit: 10.0,
            rpc_rate_burst: 40,
            max_txn_ops: 2048,
            max_request_bytes: 1_572_864,
            auto_compaction_mode: "periodic".into(),
            auto_compaction_retention: "1h".into(),
            quota_backend_bytes: 2 * 1024 * 1024 * 1024,
            v1_sources_path: String::new(),
            secret_key_path: String::new(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            cert_allowed_cn: Vec::new(),
            deploy: Vec::new(),
        }
    }
}

impl MasterConfig {
    /// Parses a dm-master TOML file's text (no defaults derived yet).
    pub fn parse_toml(file: &str, text: &str) -> Result<Self, ConfigError> {
        toml_file::from_str(file, text)
    }

    /// The file (if `--config`), then the flags over it, then derived
    /// defaults, then validation.
    pub fn load(args: &MasterArgs) -> Result<Self, ConfigError> {
        let (mut cfg, mut origin) = toml_file::load_file::<Self>(args.common.config.as_deref())?;
        origin.flag(&mut cfg.name, &args.name, "name");
        origin.flag(&mut cfg.master_addr, &args.master_addr, "master-addr");
        origin.flag(
            &mut cfg.advertise_addr,
            &args.advertise_addr,
            "advertise-addr",
        );
        origin.flag(&mut cfg.peer_urls, &args.peer_urls, "peer-urls");
        origin.flag(
            &mut cfg.advertise_peer_urls,
            &args.advertise_peer_urls,
            "advertise-peer-urls",
        );
        origin.flag(
            &mut cfg.initial_cluster,
            &args.initial_cluster,
            "initial-cluster",
        );
        origin.flag(&mut cfg.join, &args.join, "join");
        origin.flag(&mut cfg.data_dir, &args.data_dir, "data-dir");
        origin.flag(
            &mut cfg.v1_sources_path,
            &args.v1_sources_path,
            "v1-sources-path",
        );
        origin.flag(
            &mut cfg.secret_key_path,
            &args.secret_key_path,
            "secret-key-path",
        );
        origin.flag(&mut cfg.log_file, &args.common.log_file, "log-file");
        origin.flag(&mut cfg.log_level, &args.common.log_level, "log-level");
        origin.flag(&mut cfg.log_format, &args.common.log_format, "log-format");
        args.common.tls_over(
            TlsKeys {
                ssl_ca: &mut cfg.ssl_ca,
                ssl_cert: &mut cfg.ssl_cert,
                ssl_key: &mut cfg.ssl_key,
                cert_allowed_cn: &mut cfg.cert_allowed_cn,
            },
            &mut origin,
        );
        origin.first_refusal(super::inventory::daemons::master_refusals(&cfg))?;
        cfg.complete(&origin)?;
        Ok(cfg)
    }

    /// Fills derived defaults as DM does and validates.
    fn complete(&mut self, origin: &Origin) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            self.name = format!("dm-master-{}", super::hostname());
        }
        self.normalise_urls();
        addr::parse_host_port(&self.master_addr).map_err(|e| origin.invalid("master-addr", e))?;
        if self.advertise_addr.is_empty() {
            self.advertise_addr = addr::advertise_for(&self.master_addr)
                .map_err(|e| origin.invalid("master-addr", e))?;
        }
        let (host, _) = addr::parse_host_port(&self.advertise_addr)
            .map_err(|e| origin.invalid("advertise-addr", e))?;
        if host.is_empty() {
            return Err(origin.invalid(
                "advertise-addr",
                format!(
                    "\"{}\" has no host; others cannot reach it",
                    self.advertise_addr
                ),
            ));
        }
        for url in addr::split_list(&self.peer_urls) {
            addr::parse_peer_url(&url).map_err(|e| origin.invalid("peer-urls", e))?;
        }
        if self.advertise_peer_urls.is_empty() {
            self.advertise_peer_urls = self.peer_urls.clone();
        }
        for url in addr::split_list(&self.advertise_peer_urls) {
            addr::parse_peer_url(&url).map_err(|e| origin.invalid("advertise-peer-urls", e))?;
        }
        if self.data_dir.is_empty() {
            self.data_dir = format!("default.{}", self.name);
        }
        for item in addr::split_list(&self.join) {
            addr::parse_peer_url(&item).map_err(|e| origin.invalid("join", e))?;
        }
        if self.initial_cluster.is_empty() && self.join.is_empty() {
            self.initial_cluster = format!("{}={}", self.name, self.advertise_peer_urls);
        }
        let members = addr::parse_initial_cluster(&self.initial_cluster)
            .map_err(|e| origin.invalid("initial-cluster", e))?;
        if !self.initial_cluster.is_empty() && !members.iter().any(|(n, _)| *n == self.name) {
            return Err(origin.invalid(
                "initial-cluster",
                format!(
                    "does not list this master's name \"{}\"; write name=url for every bootstrapping master, this one included",
                    self.name
                ),
            ));
        }
        if !matches!(self.initial_cluster_state.as_str(), "new" | "existing") {
            return Err(origin.invalid(
                "initial-cluster-state",
                format!(
                    "\"{}\" is not valid; use new or existing",
                    self.initial_cluster_state
                ),
            ));
        }
        super::check_log_level(&self.log_level).map_err(|e| origin.invalid("log-level", e))?;
        super::check_log_format(&self.log_format).map_err(|e| origin.invalid("log-format", e))?;
        super::daemon_args::check_tls(&self.tls_paths(), &self.cert_allowed_cn, origin)?;
        self.log.adjust();
        super::duration::parse(&self.rpc_timeout).map_err(|e| origin.invalid("rpc-timeout", e))?;
        if self.raft_heartbeat_interval_ms == 0
            || self.raft_election_timeout_ms <= self.raft_heartbeat_interval_ms
        {
            return Err(origin.invalid(
                "raft-election-timeout-ms",
                format!(
                    "{} ms must be larger than raft-heartbeat-interval-ms ({} ms), which must be at least 1",
                    self.raft_election_timeout_ms, self.raft_heartbeat_interval_ms
                ),
            ));
        }
        Ok(())
    }

    /// URLs and addresses in DM's written form, as DM's `adjust` leaves
    /// them: listen and advertise addresses without a scheme; peer URLs,
    /// initial-cluster members and join addresses with one (`http://` when
    /// it was left out; `https://` when `ssl-ca` is set).
    fn normalise_urls(&mut self) {
        let https = !self.ssl_ca.is_empty();
        self.master_addr = addr::unwrap_scheme(&self.master_addr).to_string();
        self.advertise_addr = addr::unwrap_scheme(&self.advertise_addr).to_string();
        self.peer_urls = addr::wrap_schemes(&self.peer_urls, https);
        self.advertise_peer_urls = addr::wrap_schemes(&self.advertise_peer_urls, https);
        self.initial_cluster = addr::wrap_schemes_for_initial_cluster(&self.initial_cluster, https);
        self.join = addr::wrap_schemes(&self.join, https);
    }

    /// `ssl-ca`, `ssl-cert` and `ssl-key`.
    pub fn tls_paths(&self) -> crate::tls::TlsPaths<'_> {
        crate::tls::TlsPaths {
            ca: &self.ssl_ca,
            cert: &self.ssl_cert,
            key: &self.ssl_key,
        }
    }

    /// The running configuration as a TOML file (`get-config master`).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml_file::to_string(self)
    }

    /// A commented sample file (`--print-sample-config`).
    pub fn sample() -> &'static str {
        include_str!("samples/dm-master.toml")
    }
}
