//! The handshake's check of a client certificate, split in two so that a
//! refused client hears why.
//!
//! Were the handshake to fail on a certificate from another CA, the client
//! would only see its connection close (with TLS 1.3 the server checks the
//! client's certificate after the client considers the handshake done, and
//! gRPC clients report the closed connection, not the alert). So the
//! handshake asks for a certificate and checks that the client holds its
//! key (the signature over the handshake, [`Deferred`]'s `verify_tls1*`),
//! and the chain is checked right after, against `ssl-ca`, by
//! [`super::ServerTls::access`] with the full verifier; a chain that fails
//! makes the connection refused ([`super::Refusal::UntrustedCertificate`]),
//! with every call answered by a status that says so. No request of such
//! a connection reaches a service.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

/// Asks for a client certificate and checks the handshake's signature with
/// it; leaves the chain to [`super::ServerTls::access`].
#[derive(Debug)]
pub(crate) struct Deferred {
    /// The full verifier (chain to `ssl-ca`, validity, key usage).
    pub(crate) full: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for Deferred {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// A client without a certificate completes the handshake and is
    /// refused afterwards ([`super::Refusal::NoCertificate`]).
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.full.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        // Checked after the handshake, before any request is served.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.full.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.full.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.full.supported_verify_schemes()
    }
}
