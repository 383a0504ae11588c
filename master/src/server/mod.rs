//! The gRPC server of one master, over any stream of connections, with
//! DM's `GET /status` (version and build) and `GET /metrics` (Prometheus,
//! see [`crate::metrics`]) answered on the same address.
//!
//! [`serve`] takes accepted connections and a shutdown future rather than
//! binding a socket, so the same server runs on real TCP (the binary) and on
//! a simulated network (the simulation).
//!
//! With TLS ([`dm_proto::tls::ServerTls`]) every accepted connection goes
//! through [`tls::accept`] first, which decides what the connection gets
//! ([`dm_proto::tls::Access`]); an interceptor in front of every route
//! answers the calls of a refused connection with the refusal's status.
//! The simulation runs without TLS.

mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dm_proto::pb::master_server::MasterServer;
use dm_proto::pb::raft::raft_transport_server::RaftTransportServer;
use dm_proto::pb::worker_control_server::WorkerControlServer;
use dm_proto::tls::ServerTls;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_stream::Stream;
use tonic::service::{InterceptorLayer, Routes};
use tonic::transport::server::Connected;
use tonic::transport::Server;

use crate::node::Node;
use crate::service::{MasterApi, RaftApi, WorkerApi};

/// Largest Raft message accepted (snapshot chunks, entry batches).
pub const MAX_RAFT_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Serves the client API and the Raft transport on `incoming` until
/// `shutdown` completes; with mutual TLS when `tls` is given.
pub async fn serve<I, IO, IE, F>(
    node: Arc<Node>,
    incoming: I,
    shutdown: F,
    tls: Option<ServerTls>,
) -> Result<(), tonic::transport::Error>
where
    I: Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    F: Future<Output = ()>,
{
    let mut server = Server::builder()
        .http2_keepalive_interval(Some(Duration::from_millis(300)))
        .http2_keepalive_timeout(Some(Duration::from_millis(600)))
        .tcp_nodelay(true)
        // DM's `GET /status` and `GET /metrics` (HTTP/1.1) beside the
        // gRPC services.
        .accept_http1(true);
    match tls {
        None => {
            server
                .add_routes(routes(node))
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
        }
        Some(tls) => {
            server
                .layer(InterceptorLayer::new(tls::check_access))
                .add_routes(routes(node))
                .serve_with_incoming_shutdown(tls::accept(incoming, tls), shutdown)
                .await
        }
    }
}

/// `GET /status`, `GET /metrics` and the three gRPC services.
fn routes(node: Arc<Node>) -> Routes {
    Routes::from(dm_proto::version::status_routes().merge(dm_proto::metrics::metrics_routes()))
        .add_service(MasterServer::new(MasterApi { node: node.clone() }))
        .add_service(WorkerControlServer::new(WorkerApi { node: node.clone() }))
        .add_service(
            RaftTransportServer::new(RaftApi { node })
                .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES),
        )
}
