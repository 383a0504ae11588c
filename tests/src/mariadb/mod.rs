//! Throwaway MariaDB servers for integration tests.
//!
//! DM replicates from MariaDB upstreams into a MariaDB downstream, so tests need real
//! servers with the binlog configured like DM expects it. [`MariaDb::start`] creates a temp
//! directory, runs `mariadb-install-db` in it, starts `mariadbd` on a free port of 127.0.0.1
//! and returns once a client can connect. Dropping the [`MariaDb`] stops the server (SIGTERM,
//! then SIGKILL after a deadline), reaps it and removes the directory, also when the test
//! panics; if the test process is killed, the kernel kills the server (`PR_SET_PDEATHSIG`).
//!
//! Readiness is polled, never slept for: the harness connects with `mysql_async` until it
//! succeeds, and fails at once (with the tail of the server's error log) if `mariadbd` exits.
//! Each probe also checks `@@socket`, so a server that another test started on the same port
//! in a race is never mistaken for ours. If the port was taken between picking and binding,
//! the server is restarted on a new port (the data directory is reused).

mod install;
mod layout;
mod options;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, SslOpts};
use tempfile::TempDir;

use self::layout::Layout;
pub use self::options::{AutoIncrement, MariaDbOptions, RowMetadata, ServerTls, LEAN_SERVER_ARGS};
use crate::binaries::find_program;
use crate::error::{HarnessError, Result, ServerReport};
use crate::port::free_port;
use crate::process::{log_tail, read_from, ChildGuard};
use crate::sys;
use crate::wait::{wait_until, Check};

/// How to get MariaDB when it is missing.
const INSTALL_HINT: &str =
    "install MariaDB with `apt-get update && DEBIAN_FRONTEND=noninteractive \
                            apt-get install -y mariadb-server mariadb-client`";

/// Ports tried before giving up when others keep taking them.
const PORT_ATTEMPTS: u32 = 5;

/// Interval between readiness probes.
const READY_POLL: Duration = Duration::from_millis(25);

/// Cap on one readiness probe (connect + one query).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Lines of the error log quoted in startup errors.
const TAIL_LINES: usize = 25;

/// User the harness connects as (created by `mariadb-install-db`, empty password).
pub const USER: &str = "root";

/// Address every server listens on.
pub const HOST: &str = "127.0.0.1";

/// How long the phases of [`MariaDb::start`] took.
#[derive(Debug, Clone, Copy)]
pub struct StartupTimings {
    /// Running `mariadb-install-db`.
    pub install: Duration,
    /// From spawning `mariadbd` (the last, successful attempt) to the first good connection.
    pub ready: Duration,
    /// Whole `start`, including temp dir creation and port retries.
    pub total: Duration,
    /// Ports tried (1 unless a port was taken before the server could bind it).
    pub port_attempts: u32,
}

/// A running throwaway MariaDB server; stopped and deleted when dropped.
///
/// `Drop` blocks the current thread while the server shuts down (typically under 0.1 s, at
/// most the stop timeout before SIGKILL); async code that wants to avoid that, or wants to
/// see shutdown errors, calls [`stop`](Self::stop).
#[derive(Debug)]
pub struct MariaDb {
    // Field order matters: fields drop in declaration order, so the process is stopped before
    // its directory is removed.
    process: ChildGuard,
    dir: TempDir,
    layout: Layout,
    port: u16,
    server_id: u32,
    opts: Opts,
    timings: StartupTimings,
    /// What it was started with, for [`restart`](Self::restart).
    options: MariaDbOptions,
}

/// How [`MariaDb::restart`] stops the server before starting it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// SIGTERM and a clean shutdown: the binlog file ends with a stop event.
    Clean,
    /// SIGKILL: the binlog file ends wherever the server was.
    Crash,
}

impl MariaDb {
    /// Starts one server and waits until it accepts connections.
    pub async fn start(options: MariaDbOptions) -> Result<Self> {
        match options.port {
            Some(port) => {
                let mut given = Some(port);
                Self::start_with_ports(options, move || {
                    given.take().ok_or(HarnessError::PortTaken(port))
                })
                .await
            }
            None => Self::start_with_ports(options, free_port).await,
        }
    }

    /// Starts `n` servers concurrently; `options(i)` gives the options of server `i`
    /// (0-based). Returns them in index order. If one fails, the others are stopped and
    /// removed and the first error is returned.
    ///
    /// Must be called inside a Tokio runtime; the servers are spawned from its threads.
    pub async fn start_many(
        n: usize,
        mut options: impl FnMut(usize) -> MariaDbOptions,
    ) -> Result<Vec<Self>> {
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..n {
            let options = options(index);
            tasks.spawn(async move { (index, Self::start(options).await) });
        }
        let mut servers: Vec<Option<Self>> = (0..n).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (index, started) = match joined {
                Ok(done) => done,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => {
                    return Err(HarnessError::Task(format!(
                        "starting a MariaDB server: {e}"
                    )))
                }
            };
            if let Some(slot) = servers.get_mut(index) {
                *slot = Some(started?);
            }
        }
        servers
            .into_iter()
            .enumerate()
            .map(|(index, server)| {
                server.ok_or_else(|| {
                    HarnessError::Task(format!("MariaDB server {index} was never started"))
                })
            })
            .collect()
    }

    /// [`start`](Self::start) with a custom port source (tests use it to simulate a port
    /// taken by someone else).
    async fn start_with_ports(
        options: MariaDbOptions,
        mut next_port: impl FnMut() -> Result<u16>,
    ) -> Result<Self> {
        let started = Instant::now();
        let mariadbd = find_program("mariadbd", INSTALL_HINT)?;
        let install_db = find_program("mariadb-install-db", INSTALL_HINT)?;
        let as_root = sys::running_as_root();
        let name = format!("mariadbd server-id {}", options.server_id);

        let dir = tempfile::Builder::new()
            .prefix(&format!("dm-mariadb-{}-", options.server_id))
            .tempdir()
            .map_err(|e| HarnessError::io(format!("creating a temp dir for {name}"), e))?;
        let layout = Layout::new(dir.path());
        layout.check_socket_path()?;

        layout.create_dirs()?;
        install::install_db(&install_db, &layout, as_root).await?;
        let install = started.elapsed();

        let mut last_port = 0;
        for attempt in 1..=PORT_ATTEMPTS {
            let port = next_port()?;
            last_port = port;
            let spawned = Instant::now();
            match launch(&mariadbd, &layout, &options, &name, port, as_root).await {
                Ok(process) => {
                    let timings = StartupTimings {
                        install,
                        ready: spawned.elapsed(),
                        total: started.elapsed(),
                        port_attempts: attempt,
                    };
                    tracing::info!(
                        server_id = options.server_id,
                        port,
                        pid = process.pid(),
                        dir = %layout.root.display(),
                        ?timings,
                        "MariaDB server ready"
                    );
                    return Ok(Self {
                        process,
                        dir,
                        layout,
                        port,
                        server_id: options.server_id,
                        opts: client_opts(port, options.tls.as_ref()),
                        timings,
                        options,
                    });
                }
                Err(Launch::PortTaken) => {
                    tracing::warn!(%name, port, attempt, "port was taken before the server could bind it; retrying");
                }
                Err(Launch::Failed(error)) => return Err(error),
            }
        }
        Err(HarnessError::PortRetriesExhausted {
            attempts: PORT_ATTEMPTS,
            server: report(&name, &layout, last_port, 0),
        })
    }

    /// Stops the server (SIGTERM, SIGKILL after the stop timeout) without blocking the
    /// runtime, and removes its directory, reporting failures that `Drop` can only log.
    pub async fn stop(self) -> Result<()> {
        let Self { process, dir, .. } = self;
        let path = dir.path().to_path_buf();
        process.shutdown().await?;
        dir.close()
            .map_err(|e| HarnessError::io(format!("removing {}", path.display()), e))
    }

    /// Stops the server (cleanly or by SIGKILL) and starts it again on the
    /// same data directory and port, as an operator's restart or a crash
    /// would; returns once it accepts connections again. The server opens a
    /// new binlog file on start.
    pub async fn restart(&mut self, how: Restart) -> Result<()> {
        self.halt(how)?;
        self.start_again().await
    }

    /// Stops the server (cleanly or by SIGKILL) and leaves it stopped until
    /// [`start_again`](Self::start_again): an outage.
    pub fn halt(&mut self, how: Restart) -> Result<()> {
        match how {
            Restart::Clean => self.process.stop()?,
            Restart::Crash => self.process.kill()?,
        };
        Ok(())
    }

    /// Starts a halted server again on its data directory and port.
    pub async fn start_again(&mut self) -> Result<()> {
        let mariadbd = find_program("mariadbd", INSTALL_HINT)?;
        let name = format!("mariadbd server-id {}", self.server_id);
        let as_root = sys::running_as_root();
        match launch(
            &mariadbd,
            &self.layout,
            &self.options,
            &name,
            self.port,
            as_root,
        )
        .await
        {
            Ok(process) => {
                self.process = process;
                Ok(())
            }
            Err(Launch::PortTaken) => Err(HarnessError::PortTaken(self.port)),
            Err(Launch::Failed(error)) => Err(error),
        }
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Host to connect to (always `127.0.0.1`).
    pub fn host(&self) -> &'static str {
        HOST
    }

    /// User to connect as (`root`, empty password).
    pub fn user(&self) -> &'static str {
        USER
    }

    /// `--server-id` of this server.
    pub fn server_id(&self) -> u32 {
        self.server_id
    }

    /// Connection URL for `mysql_async` (TCP only; no switch to the Unix socket). Plain
    /// text: a TLS server ([`MariaDbOptions::tls`]) is reached with [`opts`](Self::opts).
    pub fn url(&self) -> String {
        format!("mysql://{USER}@{HOST}:{}/?prefer_socket=false", self.port)
    }

    /// Connection options for `mysql_async` (TCP only; no switch to the Unix socket; TLS
    /// when the server has it).
    pub fn opts(&self) -> Opts {
        self.opts.clone()
    }

    /// A new connection pool to this server. The caller owns it; call
    /// `pool.disconnect().await` when done to close its connections cleanly.
    pub fn pool(&self) -> Pool {
        Pool::new(self.opts.clone())
    }

    /// A new connection to this server.
    pub async fn conn(&self) -> Result<Conn> {
        Conn::new(self.opts.clone())
            .await
            .map_err(|source| HarnessError::Mysql {
                what: "connecting".to_owned(),
                port: self.port,
                dir: self.layout.root.clone(),
                source: Box::new(source),
            })
    }

    /// Where the binlog ends now: `SHOW MASTER STATUS`'s file and position.
    pub async fn binlog_end(&self) -> Result<(String, u64)> {
        let fail = |source: mysql_async::Error| HarnessError::Mysql {
            what: "SHOW MASTER STATUS".to_owned(),
            port: self.port,
            dir: self.layout.root.clone(),
            source: Box::new(source),
        };
        let mut conn = self.conn().await?;
        // Four columns: File, Position, Binlog_Do_DB, Binlog_Ignore_DB.
        let row: Option<mysql_async::Row> =
            conn.query_first("SHOW MASTER STATUS").await.map_err(fail)?;
        row.and_then(|r| Some((r.get::<String, _>(0)?, r.get::<u64, _>(1)?)))
            .ok_or_else(|| HarnessError::Task(format!("port {}: the binary log is off", self.port)))
    }

    /// The server's temp directory (removed when the server is dropped).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `--datadir`.
    pub fn data_dir(&self) -> &Path {
        &self.layout.data_dir
    }

    /// Directory holding the binlog files (`mysql-bin.000001`, ...).
    pub fn binlog_dir(&self) -> &Path {
        &self.layout.binlog_dir
    }

    /// The server's Unix socket.
    pub fn socket_path(&self) -> &Path {
        &self.layout.socket
    }

    /// The server's error log (its stdout and stderr).
    pub fn error_log_path(&self) -> &Path {
        &self.layout.error_log
    }

    /// The last `max_lines` lines of the error log.
    pub fn error_log_tail(&self, max_lines: usize) -> String {
        log_tail(&self.layout.error_log, 0, max_lines)
    }

    /// Process id of `mariadbd`.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// How long startup took.
    pub fn timings(&self) -> StartupTimings {
        self.timings
    }
}

/// Why one launch attempt failed.
enum Launch {
    /// The port was taken before `mariadbd` could bind it: try another one.
    PortTaken,
    /// Anything else: give up.
    Failed(HarnessError),
}

/// Spawns `mariadbd` on `port` and waits until it accepts connections.
async fn launch(
    mariadbd: &Path,
    layout: &Layout,
    options: &MariaDbOptions,
    name: &str,
    port: u16,
    as_root: bool,
) -> std::result::Result<ChildGuard, Launch> {
    // Earlier attempts wrote to the same log; judge this attempt by what it adds.
    let log_offset = std::fs::metadata(&layout.error_log)
        .map(|m| m.len())
        .unwrap_or(0);
    let mut command = Command::new(mariadbd);
    command
        .args(options.server_args(layout, port, as_root))
        .current_dir(&layout.root);
    let mut process =
        ChildGuard::spawn(name, command, &layout.error_log).map_err(Launch::Failed)?;
    process.set_stop_timeout(options.stop_timeout);

    let opts = client_opts(port, options.tls.as_ref());
    let what = format!(
        "{name} [dir {}] to accept connections on {HOST}:{port}",
        layout.root.display()
    );
    let ready = wait_until(&what, options.startup_timeout, READY_POLL, || {
        let exited = match process.try_exit_status() {
            Ok(None) => None,
            Ok(Some(status)) => Some(HarnessError::ExitedDuringStartup {
                status: status.to_string(),
                server: report(name, layout, port, log_offset),
            }),
            Err(e) => Some(e),
        };
        let opts = opts.clone();
        let socket = layout.socket.clone();
        async move {
            match exited {
                Some(error) => Check::Abort(error),
                None => match probe(opts, &socket).await {
                    Ok(()) => Check::Ready(()),
                    Err(why) => Check::Pending(why),
                },
            }
        }
    })
    .await;

    match ready {
        Ok(()) => Ok(process),
        Err(HarnessError::ExitedDuringStartup { .. }) if bind_failed(layout, log_offset) => {
            Err(Launch::PortTaken)
        }
        Err(HarnessError::Timeout { after, last, .. }) => {
            Err(Launch::Failed(HarnessError::StartupTimedOut {
                after,
                last: last.unwrap_or_default(),
                server: report(name, layout, port, log_offset),
            }))
        }
        Err(error) => Err(Launch::Failed(error)),
    }
}

/// Context for a startup error: the server and what its log says since `log_offset`.
fn report(name: &str, layout: &Layout, port: u16, log_offset: u64) -> Box<ServerReport> {
    Box::new(ServerReport {
        name: name.to_owned(),
        dir: layout.root.clone(),
        port,
        log: layout.error_log.clone(),
        tail: log_tail(&layout.error_log, log_offset, TAIL_LINES),
    })
}

/// Whether the server's log since `offset` says it could not bind its port.
fn bind_failed(layout: &Layout, offset: u64) -> bool {
    read_from(&layout.error_log, offset)
        .map(|log| log.contains("Address already in use") || log.contains("Bind on TCP/IP port"))
        .unwrap_or(false)
}

/// Connects once and checks that the server answering is ours (same socket path).
async fn probe(opts: Opts, socket: &Path) -> std::result::Result<(), String> {
    let attempt = async {
        let mut conn = Conn::new(opts).await.map_err(|e| format!("connect: {e}"))?;
        let answered: Option<Option<String>> = conn
            .query_first("SELECT @@socket")
            .await
            .map_err(|e| format!("SELECT @@socket: {e}"))?;
        // Best effort: the probe connection has done its job either way.
        let _ = conn.disconnect().await;
        match answered.flatten() {
            Some(theirs) if Path::new(&theirs) == socket => Ok(()),
            theirs => Err(format!(
                "port answered by another server (its socket is {theirs:?}, ours {})",
                socket.display()
            )),
        }
    };
    match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "connect + query took longer than {PROBE_TIMEOUT:?}"
        )),
    }
}

/// Client options: TCP to 127.0.0.1 as root, and no switch to the Unix socket (mysql_async
/// would otherwise reconnect through `@@socket`, which is not what DM components do). Over
/// TLS, verified against the CA, when the server has TLS.
fn client_opts(port: u16, tls: Option<&ServerTls>) -> Opts {
    let ssl = tls.map(|tls| {
        SslOpts::default()
            .with_root_certs(vec![tls.ca.clone().into()])
            .with_disable_built_in_roots(true)
    });
    OptsBuilder::default()
        .ip_or_hostname(HOST)
        .tcp_port(port)
        .user(Some(USER))
        .prefer_socket(false)
        .ssl_opts(ssl)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};

    #[test]
    fn url_and_opts_agree() {
        let from_url =
            Opts::from_url(&format!("mysql://{USER}@{HOST}:4406/?prefer_socket=false")).unwrap();
        let built = client_opts(4406, None);
        assert_eq!(from_url.tcp_port(), built.tcp_port());
        assert_eq!(from_url.ip_or_hostname(), built.ip_or_hostname());
        assert_eq!(from_url.user(), built.user());
        assert!(!from_url.prefer_socket() && !built.prefer_socket());
    }

    /// The first port handed to the server is held by a listener of ours, so `mariadbd` fails
    /// to bind it; the harness must notice and come up on the next port.
    #[tokio::test]
    async fn retries_on_a_new_port_when_the_port_is_taken() {
        let squatter = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let taken = squatter.local_addr().unwrap().port();
        let mut ports = vec![taken];
        let server =
            MariaDb::start_with_ports(MariaDbOptions::new(42), move || match ports.pop() {
                Some(port) => Ok(port),
                None => free_port(),
            })
            .await
            .unwrap();
        assert_ne!(server.port(), taken);
        assert_eq!(server.timings().port_attempts, 2);
        let log = std::fs::read_to_string(server.error_log_path()).unwrap();
        assert!(log.contains("Address already in use"), "{log}");
        let mut conn = server.conn().await.unwrap();
        let id: Option<u32> = conn.query_first("SELECT @@server_id").await.unwrap();
        assert_eq!(id, Some(42));
        conn.disconnect().await.unwrap();
        server.stop().await.unwrap();
    }
}
