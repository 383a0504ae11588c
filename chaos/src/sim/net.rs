//! The simulated network under the real code: a [`Connector`] whose
//! channels dial turmoil's TCP, and a [`Listen`] whose connections a
//! master's server accepts from it. The channels keep production's timeouts and
//! HTTP/2 keepalive: turmoil drops segments during a partition and never
//! retransmits, so only keepalive notices a connection that died.

use std::pin::Pin;
use std::task::{Context, Poll};

use dm_master::start::{Incoming, Listen};
use dm_proto::config::parse_host_port;
use dm_proto::net::{ChannelTimeouts, Connector, NetError, SharedConnector};
use futures::Stream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Uri};
use tower::service_fn;

/// Dials over turmoil.
#[derive(Debug, Clone, Default)]
pub struct SimConnector {
    timeouts: ChannelTimeouts,
}

impl SimConnector {
    pub fn shared() -> SharedConnector {
        std::sync::Arc::new(Self::default())
    }
}

impl Connector for SimConnector {
    fn channel(&self, addr: &str) -> Result<Channel, NetError> {
        let endpoint = self.timeouts.endpoint(addr)?;
        Ok(
            endpoint.connect_with_connector_lazy(service_fn(|uri: Uri| async move {
                let authority = uri
                    .authority()
                    .map(ToString::to_string)
                    .ok_or_else(|| std::io::Error::other(format!("no authority in {uri}")))?;
                let stream = turmoil::net::TcpStream::connect(authority).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            })),
        )
    }
}

/// An accepted simulated connection, as tonic's server wants it.
#[derive(Debug)]
pub struct Accepted(pub turmoil::net::TcpStream);

impl Connected for Accepted {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Accepted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Accepted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Listens on turmoil's TCP, on every address of the host.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimListen;

impl Listen for SimListen {
    type Conn = Accepted;

    async fn bind(&self, addr: &str) -> std::io::Result<Incoming<Accepted>> {
        let (_, port) = parse_host_port(addr).map_err(std::io::Error::other)?;
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", port)).await?;
        Ok(Box::pin(incoming(listener)))
    }
}

/// The connections `listener` accepts, forever.
fn incoming(
    listener: turmoil::net::TcpListener,
) -> impl Stream<Item = Result<Accepted, std::io::Error>> + Send {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| Accepted(stream));
        Some((accepted, listener))
    })
}
