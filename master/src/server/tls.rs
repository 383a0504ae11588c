//! The master's side of mutual TLS: each accepted connection is sorted
//! before the gRPC server sees it.
//!
//! The first byte a client sends tells the two protocols apart: a TLS
//! client opens with a handshake record (0x16), an HTTP/2 or HTTP/1.1
//! client with a letter (`PRI * HTTP/2.0`, `GET /status`). So one port
//! serves both kinds of client, and a plaintext client gets an answer it
//! understands (a gRPC `Unauthenticated` saying TLS is required) instead
//! of a dropped connection:
//!
//! - not a handshake record: served as plaintext, every call refused
//!   ([`Refusal::Plaintext`]);
//! - a handshake: rustls runs it, asking for a client certificate and
//!   checking the client holds its key; then [`ServerTls::access`] checks
//!   the certificate against `ssl-ca` and its name against
//!   `cert-allowed-cn`. A client without a certificate, with one the CA
//!   did not sign, or with a name not allowed is served with every call
//!   refused, by a status that says which. A handshake that fails (a
//!   client that does not trust this master's certificate) closes the
//!   connection with TLS's own alert, which the client reports
//!   ([`dm_proto::tls::diagnose`]).
//!
//! Handshakes run in their own tasks, so a slow or silent client delays
//! nobody else; each is bounded by [`HANDSHAKE_TIMEOUT`].

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use dm_proto::tls::access::TLS_HANDSHAKE_RECORD;
use dm_proto::tls::{Access, Refusal, ServerTls};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::Connected;

/// How long a client has from connecting to finishing the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections sorted and handshaken, waiting for the gRPC server.
const READY_QUEUE: usize = 64;

/// The connections of `incoming`, each with its [`Access`], for the gRPC
/// server. Stops accepting (dropping `incoming`, which closes a listener)
/// when the server drops the returned stream.
pub(super) fn accept<I, IO, IE>(
    incoming: I,
    tls: ServerTls,
) -> ReceiverStream<Result<Accepted<IO>, Infallible>>
where
    I: Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let (ready, stream) = mpsc::channel(READY_QUEUE);
    let acceptor = TlsAcceptor::from(tls.config());
    tokio::spawn(async move {
        let mut incoming = Box::pin(incoming);
        loop {
            let next = tokio::select! {
                next = incoming.next() => next,
                () = ready.closed() => break,
            };
            let io = match next {
                Some(Ok(io)) => io,
                Some(Err(e)) => {
                    let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                    tracing::debug!(error = %e, "accepting a connection failed");
                    continue;
                }
                None => break,
            };
            let ready = ready.clone();
            let acceptor = acceptor.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, sort(io, &acceptor, &tls)).await {
                    Ok(Ok(accepted)) => {
                        if let Access::Refused(refusal) = &accepted.access {
                            tracing::debug!(?refusal, "a client is refused");
                        }
                        let _ = ready.send(Ok(accepted)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(
                        timeout = ?HANDSHAKE_TIMEOUT,
                        "a client did not finish the TLS handshake in time"
                    ),
                }
            });
        }
    });
    ReceiverStream::new(stream)
}

/// Reads the first byte, then runs the handshake if it starts one.
async fn sort<IO>(mut io: IO, acceptor: &TlsAcceptor, tls: &ServerTls) -> io::Result<Accepted<IO>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut first = [0u8; 1];
    if io.read(&mut first).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the client closed the connection before sending anything",
        ));
    }
    let io = Prefixed {
        first: Some(first[0]),
        inner: io,
    };
    if first[0] != TLS_HANDSHAKE_RECORD {
        return Ok(Accepted {
            stream: Transport::Plain(io),
            access: Access::Refused(Refusal::Plaintext),
        });
    }
    let stream = acceptor.accept(io).await?;
    let access = tls.access(stream.get_ref().1.peer_certificates());
    Ok(Accepted {
        stream: Transport::Tls(Box::new(stream)),
        access,
    })
}

/// The gRPC interceptor in front of every route: a refused connection's
/// calls get its refusal's status. A request without an [`Access`] (which
/// [`accept`] always gives) is refused too.
pub(super) fn check_access(
    request: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    match request.extensions().get::<Access>() {
        Some(Access::Granted) => Ok(request),
        Some(Access::Refused(refusal)) => Err(refusal.status()),
        None => Err(Refusal::Plaintext.status()),
    }
}

/// One sorted connection; its [`Access`] reaches every request on it as
/// tonic's connect info (a request extension).
#[derive(Debug)]
pub(super) struct Accepted<IO> {
    stream: Transport<IO>,
    access: Access,
}

#[derive(Debug)]
enum Transport<IO> {
    Plain(Prefixed<IO>),
    Tls(Box<TlsStream<Prefixed<IO>>>),
}

impl<IO> Connected for Accepted<IO> {
    type ConnectInfo = Access;

    fn connect_info(&self) -> Access {
        self.access.clone()
    }
}

/// A connection whose first byte was read already: it is given back first.
#[derive(Debug)]
struct Prefixed<IO> {
    first: Option<u8>,
    inner: IO,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() > 0 {
            if let Some(byte) = self.first.take() {
                buf.put_slice(&[byte]);
                return Poll::Ready(Ok(()));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for Accepted<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Transport::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Transport::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Accepted<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Transport::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Transport::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Transport::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Transport::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Transport::Plain(io) => io.is_write_vectored(),
            Transport::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Transport::Plain(io) => Pin::new(io).poll_flush(cx),
            Transport::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Transport::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Transport::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}
