//! Mutual TLS on the cluster's gRPC connections: dmctl and workers to the
//! masters, and masters to each other (Raft, forwarded requests).
//!
//! TLS is on when `ssl-ca`, `ssl-cert` and `ssl-key` are set (dmctl:
//! `--ssl-ca`, `--ssl-cert`, `--ssl-key`); the scheme written in
//! `--peer-urls` or `--join` (`http://` or `https://`) does not switch it.
//! Every process of a cluster holds a certificate signed by the cluster's CA
//! (`ssl-ca`) and checks its peers against that CA: a master asks every
//! client for its certificate, and clients check the master's.
//!
//! - [`TlsFiles`]: the three PEM files, read and checked once when a
//!   program starts, so a missing, unreadable or malformed file stops it
//!   with the key and the path named ([`TlsError`]). From them come the
//!   client side ([`TlsFiles::client`], tonic's `ClientTlsConfig`) and the
//!   server side ([`TlsFiles::server`], a rustls `ServerConfig`).
//! - [`access`]: what a master decides about one accepted connection
//!   (served, or refused as plaintext, without a client certificate, or
//!   with a common name outside `cert-allowed-cn`), and the gRPC status a
//!   refused connection gets for every call.
//! - [`diagnose`]: a client's TLS failure (the master rejected our
//!   certificate, we do not trust the master's, the master does not speak
//!   TLS) in words that say which setting to fix.

pub mod access;
pub mod diagnose;
mod files;
mod verifier;

pub use access::{Access, Refusal, ServerTls};
pub use diagnose::{diagnose, TlsFailure};
pub use files::{check_settings, Names, TlsError, TlsFiles, TlsPaths};

/// The crypto provider every TLS configuration here is built with.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
