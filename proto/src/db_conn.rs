//! The one way to reach a configured database (a source's `from`, a task's
//! `target-database`): its connection options, TLS included, and the errors
//! of a first connection in words that say what to change.
//!
//! Every connection of both daemons starts from [`opts`]: the master's
//! pre-checks, `operate-source` check, `--remove-meta`, `binlog-schema`
//! reads and `check-diff`; the worker's binlog reader, snapshots, copy
//! readers and downstream pool. So a `security` block is honoured by all of
//! them or by none.
//!
//! TLS: with `ssl-ca`, `ssl-cert` or `ssl-key` set, the client insists on
//! TLS (a server without it is an error, never a fallback to plain text).
//! The server's certificate must chain to `ssl-ca` (the public web roots
//! when `ssl-ca` is not given) and be valid for the configured `host` (a
//! DNS name or IP address in its subject alternative names).
//! `ssl-cert` + `ssl-key` is the client certificate, for users created
//! `REQUIRE X509` / `REQUIRE SUBJECT`. The files are handed to the TLS
//! library as paths, read at each connection; [`connect`] checks them first
//! ([`crate::config::tls_files`]) so a bad one is reported by key and file.
//!
//! A server that accepts a user only over TLS (`require_secure_transport`,
//! `REQUIRE SSL`) answers a plain login with "Access denied" on MariaDB
//! (1045, the same as a wrong password) and with 3159 on MySQL. For a
//! database without `security`, [`connect`] tells the two apart by trying
//! the same login once over TLS without checking the certificate: when that
//! one gets in, the error says to set `security`. The probe sends nothing
//! the plain login did not.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mysql_async::{ClientIdentity, Conn, IoError, Opts, OptsBuilder, SslOpts};

use crate::config::tls_files::{check_files, TlsFileError};
use crate::config::DbConfig;

/// The connection block of a source file.
pub const FROM: &str = "from";
/// The connection block of a task file.
pub const TARGET_DATABASE: &str = "target-database";

/// MariaDB's and MySQL's "Access denied for user".
const ER_ACCESS_DENIED: u16 = 1045;
/// MySQL's ER_SECURE_TRANSPORT_REQUIRED.
const ER_SECURE_TRANSPORT_REQUIRED: u16 = 3159;
/// How long the TLS probe of a refused plain login may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// TCP (never the local socket) to `cfg`'s host and port as its user,
/// over TLS when its `security` block asks for it ([`ssl_opts`]).
pub fn opts(cfg: &DbConfig) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(Some(cfg.login_password()))
        .prefer_socket(false)
        .ssl_opts(ssl_opts(cfg))
}

/// The TLS options of `cfg`'s `security` block: `None` (plain TCP) when
/// it has none or an empty one.
pub fn ssl_opts(cfg: &DbConfig) -> Option<SslOpts> {
    let security = cfg.tls()?;
    let mut ssl = SslOpts::default();
    if !security.ssl_ca.is_empty() {
        ssl = ssl
            .with_root_certs(vec![PathBuf::from(&security.ssl_ca).into()])
            .with_disable_built_in_roots(true);
    }
    // Config validation refuses one without the other.
    if !security.ssl_cert.is_empty() && !security.ssl_key.is_empty() {
        ssl = ssl.with_client_identity(Some(ClientIdentity::new(
            PathBuf::from(&security.ssl_cert).into(),
            PathBuf::from(&security.ssl_key).into(),
        )));
    }
    Some(ssl)
}

/// Why a first connection to a configured database failed.
#[derive(Debug)]
pub enum ConnectError {
    /// A file of the `security` block cannot be used.
    Files(TlsFileError),
    /// The server accepts the user only over TLS and the block has no
    /// `security`.
    TlsRequired {
        addr: String,
        block: String,
        error: mysql_async::Error,
    },
    /// The TLS handshake failed (certificate not trusted, wrong host name,
    /// no TLS on the server).
    Handshake {
        addr: String,
        block: String,
        error: mysql_async::Error,
    },
    /// Anything else, as the client library says it.
    Db(mysql_async::Error),
}

impl ConnectError {
    /// Whether the failure is about TLS (settings to change, not a server
    /// to wait for).
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Db(_))
    }

    /// As a client library error, for callers that carry those.
    pub fn into_mysql(self) -> mysql_async::Error {
        match self {
            Self::Db(error) => error,
            other => mysql_async::Error::Other(Box::new(other)),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Files(e) => e.fmt(f),
            Self::TlsRequired { addr, block, error } => write!(
                f,
                "{addr} accepts this user only over TLS (the server runs with require_secure_transport=ON, or the user is created REQUIRE SSL): set `{block}.security` with `ssl-ca` (the CA certificate that signed the server's certificate, and `ssl-cert` and `ssl-key` when the user needs a client certificate); the server said: {error}"
            ),
            Self::Handshake { addr, block, error } => write!(
                f,
                "TLS to {addr} failed (`{block}.security`): {error}"
            ),
            Self::Db(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Files(e) => Some(e),
            Self::TlsRequired { error, .. } | Self::Handshake { error, .. } | Self::Db(error) => {
                Some(error)
            }
        }
    }
}

/// Opens a connection to `cfg` ([`opts`]); `block` is where `cfg` is
/// written ([`FROM`], [`TARGET_DATABASE`]), for the errors.
pub async fn connect(cfg: &DbConfig, block: &str) -> Result<Conn, ConnectError> {
    connect_with(cfg, block, opts(cfg)).await
}

/// [`connect`] with options built on [`opts`] (more settings on top).
pub async fn connect_with(
    cfg: &DbConfig,
    block: &str,
    opts: impl Into<Opts>,
) -> Result<Conn, ConnectError> {
    check(cfg, block)?;
    match Conn::new(opts).await {
        Ok(conn) => Ok(conn),
        Err(error) => Err(explain(cfg, block, error).await),
    }
}

/// Checks the files of `cfg`'s `security` block (see [`check_files`]).
pub fn check(cfg: &DbConfig, block: &str) -> Result<(), ConnectError> {
    match cfg.tls() {
        Some(security) => check_files(security, block).map_err(ConnectError::Files),
        None => Ok(()),
    }
}

/// A failed connection to `cfg`, in words that say what to change.
pub async fn explain(cfg: &DbConfig, block: &str, error: mysql_async::Error) -> ConnectError {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let block = block.to_string();
    if cfg.tls().is_some() {
        return if is_handshake(&error) {
            ConnectError::Handshake { addr, block, error }
        } else {
            ConnectError::Db(error)
        };
    }
    let code = match &error {
        mysql_async::Error::Server(server) => server.code,
        _ => return ConnectError::Db(error),
    };
    let tls_required = code == ER_SECURE_TRANSPORT_REQUIRED
        || (code == ER_ACCESS_DENIED && logs_in_over_tls(cfg).await);
    if tls_required {
        ConnectError::TlsRequired { addr, block, error }
    } else {
        ConnectError::Db(error)
    }
}

/// Whether `error` is the TLS layer's: the handshake (rustls reports its
/// errors as invalid data), or a server without TLS.
fn is_handshake(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Io(IoError::Tls(_)) => true,
        mysql_async::Error::Io(IoError::Io(e)) => e.kind() == std::io::ErrorKind::InvalidData,
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => true,
        _ => false,
    }
}

/// Whether `cfg`'s login, refused in plain text, gets in over TLS (the
/// certificate unchecked: this only tells the two refusals apart).
async fn logs_in_over_tls(cfg: &DbConfig) -> bool {
    let ssl = SslOpts::default()
        .with_danger_accept_invalid_certs(true)
        .with_danger_skip_domain_validation(true);
    let attempt = Conn::new(opts(cfg).ssl_opts(Some(ssl)));
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(Ok(conn)) => {
            // The answer is in; closing is a courtesy.
            let _ = conn.disconnect().await;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Security;

    fn db(security: Option<Security>) -> DbConfig {
        DbConfig {
            host: "127.0.0.1".into(),
            port: 3306,
            user: "root".into(),
            password: String::new(),
            max_allowed_packet: None,
            session: Default::default(),
            security,
        }
    }

    #[test]
    fn no_security_or_an_empty_block_is_plain_tcp() {
        assert!(ssl_opts(&db(None)).is_none());
        assert!(ssl_opts(&db(Some(Security::default()))).is_none());
        let opts: Opts = opts(&db(None)).into();
        assert!(opts.ssl_opts().is_none());
        assert!(!opts.prefer_socket());
    }

    #[test]
    fn ca_only_trusts_the_ca_and_checks_the_host_name() {
        let ssl = ssl_opts(&db(Some(Security {
            ssl_ca: "/etc/ca.pem".into(),
            ..Security::default()
        })))
        .unwrap();
        assert_eq!(ssl.root_certs().len(), 1);
        assert!(format!("{:?}", ssl.root_certs()).contains("\"/etc/ca.pem\""));
        assert!(ssl.disable_built_in_roots());
        assert!(!ssl.skip_domain_validation());
        assert!(!ssl.accept_invalid_certs());
        assert!(ssl.client_identity().is_none());
    }

    #[test]
    fn cert_and_key_are_the_client_identity() {
        let ssl = ssl_opts(&db(Some(Security {
            ssl_ca: "/etc/ca.pem".into(),
            ssl_cert: "/etc/c.pem".into(),
            ssl_key: "/etc/c.key".into(),
            ..Security::default()
        })))
        .unwrap();
        assert!(ssl.client_identity().is_some());
        // Without a CA, the public roots.
        let ssl = ssl_opts(&db(Some(Security {
            ssl_cert: "/etc/c.pem".into(),
            ssl_key: "/etc/c.key".into(),
            ..Security::default()
        })))
        .unwrap();
        assert!(ssl.root_certs().is_empty());
        assert!(!ssl.disable_built_in_roots());
    }

    #[tokio::test]
    async fn a_missing_file_is_named_before_connecting() {
        let cfg = db(Some(Security {
            ssl_ca: "/nonexistent/ca.pem".into(),
            ..Security::default()
        }));
        let error = connect(&cfg, TARGET_DATABASE).await.unwrap_err();
        assert!(error.is_tls());
        assert!(
            error.to_string().starts_with(
                "`target-database.security.ssl-ca` names /nonexistent/ca.pem, which cannot be read: "
            ),
            "{error}"
        );
    }
}
