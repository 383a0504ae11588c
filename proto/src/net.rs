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

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// A channel that cannot even be created (connecting happens later, on
/// the first request, and fails there).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// `addr` does not make a URI.
    #[error("{addr}: {reason}")]
    BadAddress { addr: String, reason: String },
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
    /// An endpoint for `addr` with these timeouts.
    pub fn endpoint(&self, addr: &str) -> Result<Endpoint, NetError> {
        Ok(Endpoint::from_shared(format!("http://{addr}"))
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

/// Real TCP.
#[derive(Debug, Clone, Default)]
pub struct TcpConnector {
    pub timeouts: ChannelTimeouts,
}

impl TcpConnector {
    pub fn shared(timeouts: ChannelTimeouts) -> SharedConnector {
        Arc::new(Self { timeouts })
    }
}

impl Connector for TcpConnector {
    fn channel(&self, addr: &str) -> Result<Channel, NetError> {
        Ok(self.timeouts.endpoint(addr)?.connect_lazy())
    }
}
