//! gRPC services of a master: the API dmctl calls (`dm.Master`) and the
//! transport between masters (`dm.raft.RaftTransport`).
//!
//! Every handler of the client API but `check-diff` is routed: served here
//! on the leader, forwarded once to the leader otherwise (see
//! [`crate::node`]); `check-diff` runs where it is received (see [`diff`]).

mod binlog;
mod configs;
mod diff;
mod key_check;
mod leader;
mod master_api;
mod member_config;
mod members;
mod raft_api;
mod reports;
mod schema;
mod shard_ddl;
mod sources;
mod tasks;
mod worker_api;

pub use master_api::MasterApi;
pub use raft_api::{RaftApi, JOIN_TIMEOUT};
pub use worker_api::{heartbeat_interval_for, lease_for, WorkerApi};

use tonic::metadata::MetadataValue;

use crate::node::FORWARDED;

/// Marks `request` as forwarded by a master.
fn mark_forwarded<T>(request: &mut tonic::Request<T>) {
    request
        .metadata_mut()
        .insert(FORWARDED, MetadataValue::from_static("1"));
}

/// An error from the leader a request was forwarded to: connection problems
/// become `Unavailable` (retry), anything else is the leader's answer.
fn forward_error(leader: &str, status: tonic::Status) -> tonic::Status {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled => {
            tonic::Status::unavailable(format!(
                "cannot reach the leader {leader}: {}; retry",
                status.message()
            ))
        }
        _ => status,
    }
}

/// Serves `$request` with `$local` on the leader, or forwards it with the
/// client method `$method` of `$client` (a generated client type).
macro_rules! routed {
    ($self:ident, $request:ident, $client:ident, $method:ident, |$inner:ident| $local:expr) => {{
        let forwarded = $request.metadata().contains_key($crate::node::FORWARDED);
        match $self.node.route(forwarded).map_err(tonic::Status::from)? {
            $crate::node::Route::Local => {
                let $inner = $request.into_inner();
                let answer: Result<_, $crate::error::MasterError> = $local;
                answer
                    .map(tonic::Response::new)
                    .map_err(tonic::Status::from)
            }
            $crate::node::Route::Forward { leader, channel } => {
                let mut request = tonic::Request::new($request.into_inner());
                $crate::service::mark_forwarded(&mut request);
                $client::new(channel)
                    .$method(request)
                    .await
                    .map_err(|s| $crate::service::forward_error(&leader.name, s))
            }
        }
    }};
}
pub(crate) use routed;
