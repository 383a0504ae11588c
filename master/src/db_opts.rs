//! Connection options for a configured database (a source's `from`, a
//! task's `target-database`), shared by the master's short-lived checks.

use dm_proto::config::DbConfig;
use mysql_async::OptsBuilder;

/// TCP (never the local socket) to `cfg`'s host and port, as its user.
pub fn db_opts(cfg: &DbConfig) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(Some(cfg.login_password()))
        .prefer_socket(false)
}
