//! A load's connection to its upstream shard, which outlives the server's
//! restarts.
//!
//! When the shard restarts (cleanly or killed), the statement in flight
//! fails with a lost connection or a shutdown error; the session drops the
//! connection and connects again until the server is back. A transaction
//! whose `COMMIT` was in flight then has an unknown outcome: it may have
//! committed before the server died, or not. The load goes on either way:
//! the verdict compares the upstream's tables with the downstream's, not
//! with what the load believes it wrote, so only the server's word counts.
//! Any other error is the run's error.

use std::time::{Duration, Instant};

use mysql_async::{Conn, Opts};

use super::RunError;

/// How long the server may stay away before the load gives up.
const RECONNECT_DEADLINE: Duration = Duration::from_secs(120);
/// Between two connection attempts.
const RECONNECT_POLL: Duration = Duration::from_millis(100);
/// One connection attempt at most.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `e` says the server went away (the statement's effect, for a
/// `COMMIT` its outcome, is then unknown), rather than that the statement
/// was wrong.
pub fn connection_lost(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        // 1053 server shutdown in progress, 1927 connection killed,
        // 2006 / 2013 server gone / lost during query, 4031 disconnected
        // by the server.
        mysql_async::Error::Server(s) => matches!(s.code, 1053 | 1927 | 2006 | 2013 | 4031),
        _ => false,
    }
}

/// A connection to one server, made again after the server restarts.
#[derive(Debug)]
pub struct Session {
    opts: Opts,
    conn: Option<Conn>,
    /// Connections made again after a lost one.
    pub reconnects: u64,
}

impl Session {
    pub fn new(opts: Opts) -> Self {
        Self {
            opts,
            conn: None,
            reconnects: 0,
        }
    }

    /// The connection, made (again) when there is none; waits for the
    /// server up to a deadline.
    pub async fn conn(&mut self) -> Result<&mut Conn, RunError> {
        if self.conn.is_none() {
            let started = Instant::now();
            let conn = loop {
                match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(self.opts.clone())).await {
                    Ok(Ok(conn)) => break conn,
                    Ok(Err(e)) if started.elapsed() >= RECONNECT_DEADLINE => {
                        return Err(RunError::Sql {
                            what: "connecting to an upstream shard again",
                            source: e,
                        })
                    }
                    Err(_) if started.elapsed() >= RECONNECT_DEADLINE => {
                        return Err(RunError::Check(format!(
                            "an upstream shard did not take connections for {} s",
                            RECONNECT_DEADLINE.as_secs()
                        )))
                    }
                    _ => tokio::time::sleep(RECONNECT_POLL).await,
                }
            };
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| RunError::Check("no upstream connection".into()))
    }

    /// Judges a failed statement: a lost connection is dropped (the next
    /// [`Session::conn`] connects again) and `Ok`; anything else is the
    /// run's error, naming `what` failed.
    pub fn failed(&mut self, what: &'static str, e: mysql_async::Error) -> Result<(), RunError> {
        if connection_lost(&e) {
            tracing::debug!(what, error = %e, "upstream connection lost; connecting again");
            self.conn = None;
            self.reconnects += 1;
            Ok(())
        } else {
            Err(RunError::Sql { what, source: e })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: String::new(),
            state: "HY000".into(),
        })
    }

    #[test]
    fn a_gone_server_is_a_lost_connection_and_a_bad_statement_is_not() {
        for code in [1053, 1927, 2006, 2013, 4031] {
            assert!(connection_lost(&server(code)), "{code}");
        }
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(connection_lost(&mysql_async::Error::Io(io.into())));
        for code in [1062, 1064, 1146, 1205] {
            assert!(!connection_lost(&server(code)), "{code}");
        }
    }
}
