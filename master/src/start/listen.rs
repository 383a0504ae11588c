//! Where a master's connections come from: a [`Listen`] binds an address
//! and yields the connections accepted there, which the gRPC server
//! ([`crate::server::serve`]) takes. The binary listens on TCP
//! ([`TcpListen`]); the simulation on its simulated network.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::Connected;

/// Accepted connections, until the listener fails.
pub type Incoming<C> = Pin<Box<dyn Stream<Item = io::Result<C>> + Send>>;

/// Binds addresses and accepts connections on them.
pub trait Listen: Send + Sync + 'static {
    /// One accepted connection.
    type Conn: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static;

    /// Listens on `addr` (`host:port`).
    fn bind(&self, addr: &str) -> impl Future<Output = io::Result<Incoming<Self::Conn>>> + Send;
}

/// Real TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpListen;

impl Listen for TcpListen {
    type Conn = tokio::net::TcpStream;

    async fn bind(&self, addr: &str) -> io::Result<Incoming<Self::Conn>> {
        let listener = TcpListener::bind(addr).await?;
        // Accepted sockets skip tonic's own nodelay setting: without it,
        // Nagle and delayed ACKs add ~40 ms to every small request.
        let incoming = TcpListenerStream::new(listener).map(|stream| {
            let stream = stream?;
            stream.set_nodelay(true)?;
            Ok::<_, io::Error>(stream)
        });
        Ok(Box::pin(incoming))
    }
}
