//! The gRPC server of one master, over any stream of connections, with
//! DM's `GET /status` (version and build) answered on the same address.
//!
//! [`serve`] takes accepted connections and a shutdown future rather than
//! binding a socket, so the same server runs on real TCP (the binary) and on
//! a simulated network (the simulation).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dm_proto::pb::master_server::MasterServer;
use dm_proto::pb::raft::raft_transport_server::RaftTransportServer;
use dm_proto::pb::worker_control_server::WorkerControlServer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_stream::Stream;
use tonic::service::Routes;
use tonic::transport::server::Connected;
use tonic::transport::Server;

use crate::node::Node;
use crate::service::{MasterApi, RaftApi, WorkerApi};

/// Largest Raft message accepted (snapshot chunks, entry batches).
pub const MAX_RAFT_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Serves the client API and the Raft transport on `incoming` until
/// `shutdown` completes.
pub async fn serve<I, IO, IE, F>(
    node: Arc<Node>,
    incoming: I,
    shutdown: F,
) -> Result<(), tonic::transport::Error>
where
    I: Stream<Item = Result<IO, IE>>,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: Future<Output = ()>,
{
    Server::builder()
        .http2_keepalive_interval(Some(Duration::from_millis(300)))
        .http2_keepalive_timeout(Some(Duration::from_millis(600)))
        .tcp_nodelay(true)
        // DM's `GET /status` (HTTP/1.1) beside the gRPC services.
        .accept_http1(true)
        .add_routes(Routes::from(dm_proto::version::status_routes()))
        .add_service(MasterServer::new(MasterApi { node: node.clone() }))
        .add_service(WorkerControlServer::new(WorkerApi { node: node.clone() }))
        .add_service(
            RaftTransportServer::new(RaftApi { node })
                .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
