//! What a master with TLS makes of one accepted connection.
//!
//! The decision is made once per connection, when it is accepted: the
//! client's certificate is presented once, in the handshake, and every
//! request on the connection comes from the same client. A connection that
//! is refused is still served, by answering every call with the status of
//! its [`Refusal`]: a client that forgot its certificate (or TLS altogether)
//! gets a gRPC error saying what to give, not a reset connection or a TLS
//! alert. The services themselves only ever see [`Access::Granted`]
//! connections: a client certificate signed by `ssl-ca` (checked here,
//! see [`super::verifier`]), whose name `cert-allowed-cn` allows.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::ServerConfig;

/// The first byte of a TLS connection: a handshake record.
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A master's TLS server: its rustls configuration, the check of a client
/// certificate's chain against `ssl-ca`, and `cert-allowed-cn`.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    chain: Arc<dyn ClientCertVerifier>,
    allowed_cn: Vec<String>,
}

impl ServerTls {
    pub(crate) fn new(
        config: Arc<ServerConfig>,
        chain: Arc<dyn ClientCertVerifier>,
        allowed_cn: Vec<String>,
    ) -> Self {
        Self {
            config,
            chain,
            allowed_cn,
        }
    }

    /// The rustls configuration the handshake runs with.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// What a connection whose handshake succeeded gets, from the client's
    /// certificate chain (none when the client sent no certificate). The
    /// handshake proved the client holds the certificate's key; here the
    /// chain is checked against `ssl-ca`, then the name against
    /// `cert-allowed-cn`.
    pub fn access(&self, peer_certificates: Option<&[CertificateDer<'_>]>) -> Access {
        let Some((leaf, intermediates)) = peer_certificates.and_then(<[_]>::split_first) else {
            return Access::Refused(Refusal::NoCertificate);
        };
        if let Err(e) = self
            .chain
            .verify_client_cert(leaf, intermediates, UnixTime::now())
        {
            return Access::Refused(Refusal::UntrustedCertificate(e.to_string()));
        }
        if self.allowed_cn.is_empty() {
            return Access::Granted;
        }
        let common_name = super::files::common_name(leaf);
        match &common_name {
            Some(cn) if self.allowed_cn.iter().any(|allowed| allowed == cn) => Access::Granted,
            _ => Access::Refused(Refusal::NameNotAllowed {
                common_name,
                allowed: self.allowed_cn.clone(),
            }),
        }
    }
}

/// What a master does with the requests of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A client with a certificate signed by the CA (and a name in
    /// `cert-allowed-cn`, when it is set): served.
    Granted,
    /// Every call is answered with [`Refusal::status`].
    Refused(Refusal),
}

/// Why a connection's requests are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client did not start TLS.
    Plaintext,
    /// The client completed the handshake without a certificate.
    NoCertificate,
    /// The client's certificate is not signed by `ssl-ca` (or not valid
    /// now, or not for clients); rustls's reason.
    UntrustedCertificate(String),
    /// The certificate's common name is not in `cert-allowed-cn`.
    NameNotAllowed {
        common_name: Option<String>,
        allowed: Vec<String>,
    },
}

impl Refusal {
    /// The answer to every call on the connection.
    pub fn status(&self) -> tonic::Status {
        match self {
            Refusal::Plaintext => tonic::Status::unauthenticated(
                "this dm-master requires TLS: connect with --ssl-ca, --ssl-cert and --ssl-key (ssl-ca, ssl-cert and ssl-key in a dm-worker's or dm-master's configuration)",
            ),
            Refusal::NoCertificate => tonic::Status::unauthenticated(
                "this dm-master requires a client certificate: connect with --ssl-cert and --ssl-key (ssl-cert and ssl-key in a dm-worker's or dm-master's configuration), a certificate signed by the cluster's CA",
            ),
            Refusal::UntrustedCertificate(reason) => tonic::Status::unauthenticated(format!(
                "this dm-master does not accept the client certificate ({reason}): it must be signed by the cluster's CA (the masters' ssl-ca); connect with the --ssl-cert and --ssl-key the cluster's CA issued"
            )),
            Refusal::NameNotAllowed {
                common_name,
                allowed,
            } => {
                let allowed = allowed.join(", ");
                tonic::Status::permission_denied(match common_name {
                    Some(cn) => format!(
                        "the client certificate's common name \"{cn}\" is not in this dm-master's cert-allowed-cn [{allowed}]"
                    ),
                    None => format!(
                        "the client certificate has no common name; this dm-master's cert-allowed-cn allows only [{allowed}]"
                    ),
                })
            }
        }
    }
}
