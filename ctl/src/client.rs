//! A client of the masters' API that tries every `--master-addr` in turn.
//!
//! Any master serves every request (followers forward to the leader), so
//! dmctl just needs one that answers: it connects to the addresses in order
//! and moves on when one cannot be reached or answers `Unavailable` (a master
//! that knows no leader yet, or whose leader just changed, says so with that
//! code, and the request was not carried out, so it is safe to send again).
//! When some master answered `Unavailable`, a new round starts after
//! [`RETRY_BACKOFF`], until [`RETRY_DEADLINE`]: an election takes well under
//! a second. When no master could even be reached, dmctl fails at once.

use std::future::Future;
use std::time::Duration;

use dm_proto::config::{advertise_for, split_list};
use dm_proto::pb::master_client::MasterClient;
use tonic::transport::{Channel, Endpoint};

use crate::error::CtlError;

/// Time allowed to open a connection to one master.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause between rounds over the addresses.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// How long to keep retrying while masters answer but have no leader.
pub const RETRY_DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct Masters {
    addrs: Vec<String>,
    rpc_timeout: Duration,
}

impl Masters {
    /// `master_addr` is DM's comma list; `:8261` means this machine.
    pub fn new(master_addr: &str, rpc_timeout: Duration) -> Result<Self, CtlError> {
        let addrs = split_list(master_addr)
            .iter()
            .map(|a| advertise_for(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| CtlError::Flag {
                flag: "--master-addr",
                message,
            })?;
        if addrs.is_empty() {
            return Err(CtlError::Flag {
                flag: "--master-addr",
                message: "give at least one master address, e.g. 127.0.0.1:8261".into(),
            });
        }
        Ok(Self { addrs, rpc_timeout })
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
        for addr in &self.addrs {
            let endpoint = match Endpoint::from_shared(format!("http://{addr}")) {
                Ok(e) => e
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(self.rpc_timeout)
                    .http2_keep_alive_interval(Duration::from_secs(10))
                    .keep_alive_timeout(Duration::from_secs(3)),
                Err(e) => {
                    failures.push(format!("{addr}: {e}"));
                    continue;
                }
            };
            let channel = match endpoint.connect().await {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{addr}: {}", connect_reason(&e)));
                    continue;
                }
            };
            match call(MasterClient::new(channel)).await {
                Ok(resp) => return Ok(Round::Done(resp.into_inner())),
                Err(status) if status.code() == tonic::Code::Unavailable => {
                    answered = true;
                    failures.push(format!("{addr}: {}", status.message()));
                }
                Err(status) => {
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
        } else {
            Round::NoneReachable(failures)
        })
    }
}

/// How one pass over the addresses ended.
enum Round<T> {
    Done(T),
    /// Some master answered, but none could serve (no leader yet): retry.
    NoLeader(String),
    /// No master could be reached at all.
    NoneReachable(String),
}

/// The innermost cause of a connection error ("Connection refused").
fn connect_reason(err: &tonic::transport::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
