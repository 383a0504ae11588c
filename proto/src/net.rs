//! The network as an input.
//!
//! Clients never dial on their own: they ask a [`Connector`] for a channel to
//! an address. Production uses [`TcpConnector`]; the deterministic
//! simulation supplies a connector over its simulated network. Servers, for
//! the same reason, take a stream of accepted connections and a shutdown
//! future instead of binding sockets themselves.
//!
//! Every channel has a connect timeout, a request timeout and HTTP/2
//! keepalive: a connection that silently died (a partition, a killed peer)
//! is noticed within about a second instead of hanging.
//!
//! A [`TcpConnector`] given a client TLS configuration ([`crate::tls`])
//! dials `https://`: every channel it makes runs TLS with the process's
//! certificate, whatever scheme the address was written with.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// A channel that cannot even be created (connecting happens later, on
/// the first request, and fails there).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// `addr` does not make a URI.
    #[error("{addr}: {reason}")]
    BadAddress { addr: String, reason: String },
    /// The TLS configuration cannot be used for `addr`.
    #[error("{addr}: TLS: {reason}")]
    Tls { addr: String, reason: String },
}

/// Opens a channel to `host:port`.
pub trait Connector: Send + Sync + std::fmt::Debug + 'static {
    /// A lazily connected channel: creating it does no IO, the first request
    /// connects (and fails with `Unavailable` if it cannot).
    fn channel(&self, addr: &str) -> Result<Channel, NetError>;
}

/// A shared connector.
pub type SharedConnector = Arc<dyn Connector>;

/// Timeouts of a channel.
#[derive(Debug, Clone, Copy)]
pub struct ChannelTimeouts {
    pub connect: Duration,
    pub request: Duration,
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
}

impl Default for ChannelTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(1000),
            request: Duration::from_secs(10),
            keepalive_interval: Duration::from_millis(300),
            keepalive_timeout: Duration::from_millis(600),
        }
    }
}

impl ChannelTimeouts {
    /// A plaintext endpoint for `addr` with these timeouts.
    pub fn endpoint(&self, addr: &str) -> Result<Endpoint, NetError> {
        self.endpoint_with_scheme("http", addr)
    }

    /// An endpoint for `addr` with these timeouts, TLS when `tls` is given.
    pub fn endpoint_with_tls(
        &self,
        addr: &str,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<Endpoint, NetError> {
        let Some(tls) = tls else {
            return self.endpoint(addr);
        };
        self.endpoint_with_scheme("https", addr)?
            .tls_config(tls.clone())
            .map_err(|e| NetError::Tls {
                addr: addr.to_string(),
                reason: e.to_string(),
            })
    }

    fn endpoint_with_scheme(&self, scheme: &str, addr: &str) -> Result<Endpoint, NetError> {
        Ok(Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| NetError::BadAddress {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?
            .connect_timeout(self.connect)
            .timeout(self.request)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(self.keepalive_interval)
            .keep_alive_timeout(self.keepalive_timeout)
            .keep_alive_while_idle(true))
    }
}

/// Real TCP, with TLS when configured.
#[derive(Debug, Clone, Default)]
pub struct TcpConnector {
    pub timeouts: ChannelTimeouts,
    /// The client side of mutual TLS; plaintext when none.
    pub tls: Option<ClientTlsConfig>,
}

impl TcpConnector {
    /// Plaintext.
    pub fn shared(timeouts: ChannelTimeouts) -> SharedConnector {
        Self::shared_with_tls(timeouts, None)
    }

    /// TLS with `tls` when given, plaintext otherwise.
    pub fn shared_with_tls(
        timeouts: ChannelTimeouts,
        tls: Option<ClientTlsConfig>,
    ) -> SharedConnector {
        Arc::new(Self { timeouts, tls })
    }
}

impl Connector for TcpConnector {
    fn channel(&self, addr: &str) -> Result<Channel, NetError> {
        Ok(self
            .timeouts
            .endpoint_with_tls(addr, self.tls.as_ref())?
            .connect_lazy())
    }
}
