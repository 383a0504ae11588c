//! A client of the masters' API that tries every `--master-addr` in turn.
//!
//! Any master serves every request (followers forward to the leader), so
//! dmctl just needs one that answers: it connects to the addresses in order
//! and moves on when one cannot be used. An address costs at most about
//! [`PER_ADDRESS_TIMEOUT`] twice when it does not answer: the TCP connect is
//! bounded by it, and once connected, HTTP/2 pings every
//! [`PER_ADDRESS_TIMEOUT`] that go unanswered for as long again close the
//! connection (a frozen master, a port whose owner never reads). A live
//! master answers pings while it works on a long request, so only the
//! request's own `--rpc-timeout` bounds that.
//!
//! What moves dmctl on to the next address:
//!
//! - the address cannot be reached, or fails as a connection (no answer,
//!   not an HTTP/2 gRPC server): the error arose on dmctl's side (a status
//!   with a source), so no master handled the request;
//! - a master answers `Unavailable` (it knows no leader yet, or its leader
//!   just changed): the request was not carried out, so it is safe to send
//!   again. When some master answered so, a new round starts after
//!   [`RETRY_BACKOFF`], until [`RETRY_DEADLINE`]: an election takes well
//!   under a second.
//!
//! Any other answer ends the command, and so does `--rpc-timeout` expiring
//! (a master may still be carrying the request out). When no master could
//! be used at all, dmctl fails at once, naming what each address did.
//!
//! Addresses are DM's `host:port` list; `http://` and `https://` prefixes
//! (as DM's configuration files write them) are accepted and dropped: TLS
//! is on when `--ssl-ca` is given, whatever the scheme. A TLS connection
//! that fails (the master rejects dmctl's certificate, dmctl does not trust
//! the master's, the master does not speak TLS) is reported as such
//! ([`dm_proto::tls::diagnose`]) rather than as an unreachable master; a
//! master that refuses dmctl itself (TLS or a certificate required, a name
//! outside its `cert-allowed-cn`) answers with a status saying so, which
//! ends the command like any other answer.

use std::future::Future;
use std::time::Duration;

use dm_proto::config::{advertise_for, split_list};
use dm_proto::pb::master_client::MasterClient;
use dm_proto::tls::{diagnose, Names};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::error::CtlError;

/// How long one address may stay silent: the TCP connect's bound, and the
/// HTTP/2 ping interval and ping timeout once connected.
pub const PER_ADDRESS_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between rounds over the addresses.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// How long to keep retrying while masters answer but have no leader.
pub const RETRY_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct Masters {
    addrs: Vec<String>,
    rpc_timeout: Duration,
    /// TLS to every master when given.
    tls: Option<ClientTlsConfig>,
}

impl Masters {
    /// `master_addr` is DM's comma list; `:8261` means this machine.
    /// With `tls`, every master is dialled with TLS.
    pub fn new(
        master_addr: &str,
        rpc_timeout: Duration,
        tls: Option<ClientTlsConfig>,
    ) -> Result<Self, CtlError> {
        let addrs = split_list(master_addr)
            .iter()
            .map(|a| master_address(a))
            .collect::<Result<Vec<_>, _>>()?;
        if addrs.is_empty() {
            return Err(CtlError::Flag {
                flag: "--master-addr",
                message: "give at least one master address, e.g. 127.0.0.1:8261".into(),
            });
        }
        Ok(Self {
            addrs,
            rpc_timeout,
            tls,
        })
    }

    /// Runs `call` against the first master that answers, retrying while
    /// the masters are reachable but have no leader.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, CtlError>
    where
        F: Fn(MasterClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let deadline = tokio::time::Instant::now() + RETRY_DEADLINE;
        loop {
            let round = self.round(&call).await?;
            match round {
                Round::Done(value) => return Ok(value),
                Round::NoneReachable(failures) => return Err(CtlError::NoMaster(failures)),
                Round::TlsFailed(failures) => return Err(CtlError::Tls(failures)),
                Round::NoLeader(failures) => {
                    if tokio::time::Instant::now() + RETRY_BACKOFF > deadline {
                        return Err(CtlError::NoMaster(failures));
                    }
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
        }
    }

    /// One pass over the addresses.
    async fn round<T, F, Fut>(&self, call: &F) -> Result<Round<T>, CtlError>
    where
        F: Fn(MasterClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut failures = Vec::new();
        let mut answered = false;
        let mut tls_failed = false;
        for addr in &self.addrs {
            let endpoint = match self.endpoint(addr) {
                Ok(e) => e,
                Err(e) => {
                    failures.push(format!("{addr}: {e}"));
                    continue;
                }
            };
            let channel = match endpoint.connect().await {
                Ok(c) => c,
                Err(e) => {
                    match diagnose(&e) {
                        Some(failure) => {
                            tls_failed = true;
                            failures.push(format!("{addr}: {}", failure.describe(Names::FLAGS)));
                        }
                        None => failures.push(format!("{addr}: {}", connect_reason(&e))),
                    }
                    continue;
                }
            };
            let status = match call(MasterClient::new(channel)).await {
                Ok(resp) => return Ok(Round::Done(resp.into_inner())),
                Err(status) => status,
            };
            if let Some(failure) = diagnose(&status) {
                tls_failed = true;
                failures.push(format!("{addr}: {}", failure.describe(Names::FLAGS)));
                continue;
            }
            match classify(&status) {
                Failure::NotServed => failures.push(format!("{addr}: {}", status.message())),
                Failure::NoLeader => {
                    answered = true;
                    failures.push(format!("{addr}: {}", status.message()));
                }
                Failure::Final => {
                    return Err(CtlError::Rpc {
                        addr: addr.clone(),
                        status,
                    })
                }
            }
        }
        let failures = failures.join("; ");
        Ok(if answered {
            Round::NoLeader(failures)
        } else if tls_failed {
            Round::TlsFailed(failures)
        } else {
            Round::NoneReachable(failures)
        })
    }

    /// The endpoint of one master: `https://` with the TLS settings when
    /// dmctl has them.
    fn endpoint(&self, addr: &str) -> Result<Endpoint, tonic::transport::Error> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))?
            .connect_timeout(PER_ADDRESS_TIMEOUT)
            .timeout(self.rpc_timeout)
            .http2_keep_alive_interval(PER_ADDRESS_TIMEOUT)
            .keep_alive_timeout(PER_ADDRESS_TIMEOUT)
            .keep_alive_while_idle(true);
        match &self.tls {
            Some(tls) => endpoint.tls_config(tls.clone()),
            None => Ok(endpoint),
        }
    }
}

/// What a failed call means for the next address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No master handled the request (the connection failed, or the peer
    /// is not a gRPC server): try the next address.
    NotServed,
    /// A master answered that it cannot serve now: try the next, then again.
    NoLeader,
    /// The answer stands (or the request may be under way): stop.
    Final,
}

/// Statuses a master sends carry no source; those dmctl's side made from a
/// connection or protocol error do (a peer that closes the connection, or
/// answers in another protocol, shows as "operation was canceled" or an h2
/// error). `--rpc-timeout` expiring is final: the request may be under way.
fn classify(status: &tonic::Status) -> Failure {
    use std::error::Error;
    let mut cause = status.source();
    let mut timed_out = false;
    while let Some(error) = cause {
        timed_out |= error.is::<tonic::TimeoutExpired>();
        cause = error.source();
    }
    if timed_out {
        Failure::Final
    } else if status.source().is_some() {
        Failure::NotServed
    } else if status.code() == tonic::Code::Unavailable {
        Failure::NoLeader
    } else {
        Failure::Final
    }
}

/// One `--master-addr` item as `host:port`: an `http://` or `https://`
/// prefix and a trailing `/` are dropped; `:8261` means this machine.
pub fn master_address(item: &str) -> Result<String, CtlError> {
    let invalid = |message| CtlError::Flag {
        flag: "--master-addr",
        message,
    };
    let lower = item.to_ascii_lowercase();
    let rest = ["http://", "https://"]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map_or(item, |p| &item[p.len()..]);
    let rest = rest.trim_end_matches('/');
    if rest.contains("://") || rest.contains('/') {
        return Err(invalid(format!(
            "\"{item}\" is not a master address; write host:port (an http:// or https:// prefix may be given), e.g. 127.0.0.1:8261"
        )));
    }
    advertise_for(rest).map_err(|e| invalid(format!("\"{item}\": {e}")))
}

/// How one pass over the addresses ended.
enum Round<T> {
    Done(T),
    /// Some master answered, but none could serve (no leader yet): retry.
    NoLeader(String),
    /// No master could be reached at all.
    NoneReachable(String),
    /// No master could be used, and some failed in TLS.
    TlsFailed(String),
}

/// The innermost cause of a connection error ("Connection refused").
fn connect_reason(err: &tonic::transport::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_addresses_drop_http_prefixes() {
        for (item, want) in [
            ("127.0.0.1:8261", "127.0.0.1:8261"),
            ("http://127.0.0.1:8261", "127.0.0.1:8261"),
            ("https://master.example:8261/", "master.example:8261"),
            ("HTTP://10.0.0.1:8261", "10.0.0.1:8261"),
            (":8261", "127.0.0.1:8261"),
        ] {
            assert_eq!(master_address(item).expect(item), want, "{item}");
        }
        for item in ["ftp://127.0.0.1:1", "http://a:1/path", "http://"] {
            let err = master_address(item).unwrap_err().to_string();
            assert!(err.contains(item), "{item}: {err}");
        }
    }

    #[test]
    fn failures_from_a_master_and_from_the_connection() {
        assert_eq!(
            classify(&tonic::Status::unavailable("no leader")),
            Failure::NoLeader
        );
        assert_eq!(classify(&tonic::Status::internal("bug")), Failure::Final);
        let transport =
            tonic::Status::from_error(Box::new(std::io::Error::other("h2 protocol error")));
        assert_eq!(classify(&transport), Failure::NotServed);
        let timeout = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(timeout.code(), tonic::Code::Cancelled);
        assert_eq!(classify(&timeout), Failure::Final);
        // A server's own Cancelled is final too; a connection's is not.
        assert_eq!(
            classify(&tonic::Status::cancelled("by the server")),
            Failure::Final
        );
    }
}
