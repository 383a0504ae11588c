//! What a throwaway MariaDB server is started with.
//!
//! Every server gets the settings the DM upstream needs (binlog on, ROW format with FULL
//! row images, a distinct `server-id`), row metadata as [`RowMetadata`] says (FULL unless a
//! test asks for MariaDB's default `NO_LOG` or for `MINIMAL`), plus a few settings that only
//! make a throwaway server cheaper (see [`LEAN_SERVER_ARGS`]). Callers add auto-increment settings
//! (the seed tutorial's three upstreams use increment 5, offsets 1, 2, 3) and arbitrary extra
//! flags; extra flags come last, so they override anything set here.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::layout::Layout;
use crate::process::DEFAULT_STOP_TIMEOUT;

/// Shrinks the InnoDB redo log from the default 96 MiB, which cuts each data directory from
/// about 114 MB to about 34 MB. Passed to `mariadb-install-db` and to `mariadbd`.
pub(super) const LEAN_INSTALL_ARGS: &[&str] = &["--innodb-log-file-size=16M"];

/// Settings that make throwaway servers cheaper: a small redo log and no buffer pool
/// dump/load (nothing to warm up in a fresh server; skipping the dump speeds up shutdown).
pub const LEAN_SERVER_ARGS: &[&str] = &[
    "--innodb-log-file-size=16M",
    "--innodb-buffer-pool-dump-at-shutdown=0",
    "--innodb-buffer-pool-load-at-startup=0",
];

/// `auto_increment_increment` / `auto_increment_offset` of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoIncrement {
    /// Step between generated ids (`--auto-increment-increment`).
    pub increment: u16,
    /// First generated id (`--auto-increment-offset`); should not exceed `increment`.
    pub offset: u16,
}

/// `binlog_row_metadata`: what a row event's table map says about the table's columns.
///
/// With `FULL` it carries every column's name, signedness, character set, ENUM/SET members
/// and the primary key; with `MINIMAL` signedness, character sets and nothing else; with
/// `NO_LOG` (MariaDB's default) only the column types. Upstreams in the wild run with the
/// defaults, so tests start servers each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RowMetadata {
    /// `FULL`: names and everything else (the harness' default).
    #[default]
    Full,
    /// `MINIMAL`: signedness and character sets, no names.
    Minimal,
    /// `NO_LOG`: types only.
    NoLog,
}

impl RowMetadata {
    /// Every mode, in the order FULL, MINIMAL, NO_LOG.
    pub const ALL: [RowMetadata; 3] = [Self::Full, Self::Minimal, Self::NoLog];

    /// The server's spelling (`FULL`, `MINIMAL`, `NO_LOG`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Minimal => "MINIMAL",
            Self::NoLog => "NO_LOG",
        }
    }
}

impl fmt::Display for RowMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RowMetadata {
    type Err = String;

    /// The server's spelling, in any case; `-` for `_` is accepted too (`no-log`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| {
                format!("unknown binlog_row_metadata `{text}`; valid: FULL, MINIMAL, NO_LOG")
            })
    }
}

/// A server's TLS: its certificate and key (`--ssl-cert`, `--ssl-key`), the
/// CA it trusts for client certificates (`--ssl-ca`, also what clients
/// verify the server with), and `--require-secure-transport=ON`, so a TCP
/// login without TLS is refused.
///
/// `mariadbd` reads the key as the user the harness runs it as (the test's
/// own user, or root with `--user=root`), the key's owner: `CertDir` keys
/// need no copy.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// `--ssl-ca`.
    pub ca: PathBuf,
    /// `--ssl-cert`.
    pub cert: PathBuf,
    /// `--ssl-key`.
    pub key: PathBuf,
}

/// How to start one [`super::MariaDb`].
#[derive(Debug, Clone)]
pub struct MariaDbOptions {
    /// `--server-id`; must be distinct among servers that replicate to each other, and
    /// non-zero for a server that acts as a replication source.
    pub server_id: u32,
    /// Optional `--auto-increment-increment` / `--auto-increment-offset`.
    pub auto_increment: Option<AutoIncrement>,
    /// More `mariadbd` flags, appended last (so they override the harness' own flags).
    pub extra_args: Vec<String>,
    /// How long to wait for the server to accept connections.
    pub startup_timeout: Duration,
    /// How long the server gets to exit after SIGTERM before it is SIGKILLed.
    pub stop_timeout: Duration,
    /// A fixed port (e.g. the ports a tutorial's config files name); `None`
    /// picks a free one.
    pub port: Option<u16>,
    /// `--binlog-row-metadata`.
    pub row_metadata: RowMetadata,
    /// TLS only, when set ([`ServerTls`]).
    pub tls: Option<ServerTls>,
}

impl Default for MariaDbOptions {
    fn default() -> Self {
        Self::new(1)
    }
}

impl MariaDbOptions {
    /// Options for a server with `server_id` and otherwise default settings.
    pub fn new(server_id: u32) -> Self {
        Self {
            server_id,
            auto_increment: None,
            extra_args: Vec::new(),
            startup_timeout: Duration::from_secs(30),
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            port: None,
            row_metadata: RowMetadata::Full,
            tls: None,
        }
    }

    /// Serves TLS with `tls`'s certificate and refuses logins without it
    /// (`--require-secure-transport=ON`); the harness' own connections
    /// verify the server against `tls.ca`.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Starts the server with `--binlog-row-metadata=<row_metadata>`.
    pub fn row_metadata(mut self, row_metadata: RowMetadata) -> Self {
        self.row_metadata = row_metadata;
        self
    }

    /// Listens on `port` instead of a free one; starting fails if it is taken.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets `--auto-increment-increment=increment --auto-increment-offset=offset`.
    pub fn auto_increment(mut self, increment: u16, offset: u16) -> Self {
        self.auto_increment = Some(AutoIncrement { increment, offset });
        self
    }

    /// Appends one extra `mariadbd` flag, e.g. `"--gtid-strict-mode=ON"`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Sets the startup deadline.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Sets the SIGTERM-to-SIGKILL deadline.
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// The `mariadbd` command line for this server listening on `port`.
    pub(super) fn server_args(&self, layout: &Layout, port: u16, as_root: bool) -> Vec<OsString> {
        fn flag(name: &str, value: impl AsRef<std::ffi::OsStr>) -> OsString {
            let mut arg = OsString::from(format!("--{name}="));
            arg.push(value);
            arg
        }
        // --no-defaults must come first: no option file of the host may leak in.
        let mut args = vec![OsString::from("--no-defaults")];
        if as_root {
            args.push("--user=root".into());
        }
        args.extend([
            flag("datadir", &layout.data_dir),
            flag("port", port.to_string()),
            "--bind-address=127.0.0.1".into(),
            flag("socket", &layout.socket),
            flag("pid-file", &layout.pid_file),
            // Private tmpdir: see `Layout::tmp_dir`.
            flag("tmpdir", &layout.tmp_dir),
            // No --log-error: the server then logs to stderr, which ChildGuard appends to
            // error.log, so one file holds everything including messages of failed starts.
            flag("log-bin", &layout.binlog_base),
            "--binlog-format=ROW".into(),
            flag("binlog-row-metadata", self.row_metadata.as_str()),
            "--binlog-row-image=FULL".into(),
            flag("server-id", self.server_id.to_string()),
        ]);
        if let Some(AutoIncrement { increment, offset }) = self.auto_increment {
            args.push(flag("auto-increment-increment", increment.to_string()));
            args.push(flag("auto-increment-offset", offset.to_string()));
        }
        if let Some(tls) = &self.tls {
            args.push(flag("ssl-ca", &tls.ca));
            args.push(flag("ssl-cert", &tls.cert));
            args.push(flag("ssl-key", &tls.key));
            args.push("--require-secure-transport=ON".into());
        }
        args.extend(LEAN_SERVER_ARGS.iter().map(OsString::from));
        args.extend(self.extra_args.iter().map(OsString::from));
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn server_args_carry_binlog_settings_and_extras_last() {
        let layout = Layout::new(Path::new("/t/x"));
        let args = MariaDbOptions::new(7)
            .auto_increment(5, 2)
            .arg("--gtid-strict-mode=ON")
            .server_args(&layout, 4321, true);
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "--no-defaults");
        for expected in [
            "--user=root",
            "--datadir=/t/x/data",
            "--port=4321",
            "--socket=/t/x/mysqld.sock",
            "--tmpdir=/t/x/tmp",
            "--log-bin=/t/x/binlog/mysql-bin",
            "--binlog-format=ROW",
            "--binlog-row-metadata=FULL",
            "--binlog-row-image=FULL",
            "--server-id=7",
            "--auto-increment-increment=5",
            "--auto-increment-offset=2",
        ] {
            assert!(
                args.iter().any(|a| a == expected),
                "missing {expected} in {args:?}"
            );
        }
        assert_eq!(
            args.last().map(String::as_str),
            Some("--gtid-strict-mode=ON")
        );
    }

    #[test]
    fn row_metadata_is_typed_and_defaults_to_full() {
        let layout = Layout::new(Path::new("/t"));
        let flag = |options: MariaDbOptions| {
            options
                .server_args(&layout, 1, false)
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .filter(|a| a.starts_with("--binlog-row-metadata="))
                .collect::<Vec<_>>()
        };
        assert_eq!(flag(MariaDbOptions::new(1)), ["--binlog-row-metadata=FULL"]);
        assert_eq!(
            flag(MariaDbOptions::new(1).row_metadata(RowMetadata::NoLog)),
            ["--binlog-row-metadata=NO_LOG"]
        );
        assert_eq!(
            flag(MariaDbOptions::new(1).row_metadata(RowMetadata::Minimal)),
            ["--binlog-row-metadata=MINIMAL"]
        );
        for mode in RowMetadata::ALL {
            assert_eq!(mode.to_string().parse::<RowMetadata>(), Ok(mode));
        }
        assert_eq!("no-log".parse::<RowMetadata>(), Ok(RowMetadata::NoLog));
        assert_eq!(
            "none".parse::<RowMetadata>(),
            Err("unknown binlog_row_metadata `none`; valid: FULL, MINIMAL, NO_LOG".to_string())
        );
    }

    #[test]
    fn tls_servers_require_secure_transport() {
        let layout = Layout::new(Path::new("/t"));
        let plain = MariaDbOptions::new(1).server_args(&layout, 1, false);
        assert!(!plain
            .iter()
            .any(|a| a.to_string_lossy().starts_with("--ssl")));
        let args: Vec<String> = MariaDbOptions::new(1)
            .tls(ServerTls {
                ca: "/c/ca.pem".into(),
                cert: "/c/s.pem".into(),
                key: "/c/s.key".into(),
            })
            .server_args(&layout, 1, false)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for expected in [
            "--ssl-ca=/c/ca.pem",
            "--ssl-cert=/c/s.pem",
            "--ssl-key=/c/s.key",
            "--require-secure-transport=ON",
        ] {
            assert!(
                args.iter().any(|a| a == expected),
                "missing {expected} in {args:?}"
            );
        }
    }

    #[test]
    fn no_user_flag_when_not_root() {
        let args = MariaDbOptions::new(1).server_args(&Layout::new(Path::new("/t")), 1, false);
        assert!(!args
            .iter()
            .any(|a| a.to_string_lossy().starts_with("--user")));
    }
}
