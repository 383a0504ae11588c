//! The worker's HTTP listener on `worker-addr`, as DM's worker has one:
//! `GET /status` answers the build's version text (DM's `text/plain`
//! lines: release version, git hash and branch, build time), and
//! `GET /metrics` the worker's metrics in Prometheus's text format (see
//! [`crate::metrics`]).
//!
//! The address is bound before the worker registers ([`bind`]), so a port
//! already taken stops the start with an error naming `worker-addr`;
//! serving ([`serve`]) runs beside the worker until its stop signal.

use axum::Router;
use dm_proto::config::parse_host_port;
use tokio::sync::watch;

/// Why `worker-addr` could not be listened on.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("worker-addr {addr}: cannot listen: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `worker_addr` (`host:port`; an empty host is every interface).
pub fn bind(worker_addr: &str) -> Result<std::net::TcpListener, BindError> {
    let listen = match parse_host_port(worker_addr) {
        Ok((host, port)) if host.is_empty() => format!("0.0.0.0:{port}"),
        _ => worker_addr.to_string(),
    };
    let error = |source| BindError::Listen {
        addr: worker_addr.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(&listen).map_err(error)?;
    listener.set_nonblocking(true).map_err(error)?;
    Ok(listener)
}

/// The routes: `/status` and `/metrics`.
fn routes() -> Router {
    dm_proto::version::status_routes().merge(dm_proto::metrics::metrics_routes())
}

/// Serves `listener` until `stop` turns true (or its sender is dropped).
pub async fn serve(listener: std::net::TcpListener, mut stop: watch::Receiver<bool>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "worker-addr: the HTTP listener cannot start");
            return;
        }
    };
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, routes())
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "worker-addr: the HTTP listener stopped");
    }
}
