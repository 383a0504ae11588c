//! A client of the masters' API that tries every `--master-addr` in turn.
//!
//! Any master serves every request (followers forward to the leader), so
//! dmctl just needs one that answers: it connects to the addresses in order
//! and moves on when one cannot be reached or answers `Unavailable` (a master
//! that knows no leader yet says so with that code, and the request is safe to
//! retry elsewhere).

use std::future::Future;
use std::time::Duration;

use dm_proto::config::{advertise_for, split_list};
use dm_proto::pb::master_client::MasterClient;
use tonic::transport::{Channel, Endpoint};

use crate::error::CtlError;

/// Time allowed to open a connection to one master.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

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

    /// Runs `call` against the first master that answers.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, CtlError>
    where
        F: Fn(MasterClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut failures = Vec::new();
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
                Ok(resp) => return Ok(resp.into_inner()),
                Err(status) if status.code() == tonic::Code::Unavailable => {
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
        Err(CtlError::NoMaster(failures.join("; ")))
    }
}

/// The innermost cause of a connection error ("Connection refused").
fn connect_reason(err: &tonic::transport::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
