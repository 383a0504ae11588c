//! A client's TLS failure, in words that say which setting to fix.
//!
//! A TLS failure reaches a gRPC client as a transport error several layers
//! deep (tonic, hyper, an `io::Error`, and at the bottom rustls's error or a
//! TLS alert the master sent). [`diagnose`] finds it and names the cause:
//!
//! - the master does not trust this client's certificate: with TLS 1.3 the
//!   master checks it after the client considers the handshake done, so it
//!   shows as an alert received on the first request;
//! - this client does not trust the master's certificate (not signed by
//!   the CA it was given, or not for the address dialled);
//! - the master does not speak TLS: it answered the handshake with
//!   something else, or closed the connection.

use std::error::Error;

use rustls::{AlertDescription, CertificateError};

use super::Names;

/// What went wrong in a client's TLS connection to a master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The master asked for a client certificate and got none.
    CertificateRequired,
    /// The master did not accept this client's certificate; the TLS alert
    /// it sent.
    CertificateRejected(String),
    /// This client does not trust the master's certificate; rustls's reason.
    MasterNotTrusted(String),
    /// The master does not speak TLS; what happened instead.
    NotTls(String),
}

impl TlsFailure {
    /// The failure as a message, with the settings called `names`.
    pub fn describe(&self, names: Names) -> String {
        match self {
            TlsFailure::CertificateRequired => format!(
                "the master requires a client certificate: give {} and {}",
                names.cert, names.key
            ),
            TlsFailure::CertificateRejected(alert) => format!(
                "the master rejected this client's certificate ({alert}): it is not signed by the cluster's CA (the masters' ssl-ca), or it has expired; use the {} and {} the cluster's CA issued",
                names.cert, names.key
            ),
            TlsFailure::MasterNotTrusted(reason) => format!(
                "the master's certificate is not trusted ({reason}): it must be signed by the CA in {} and name the address dialled",
                names.ca
            ),
            TlsFailure::NotTls(what) => format!(
                "the master does not use TLS ({what}): connect without {}, {} and {}, or turn TLS on at the masters",
                names.ca, names.cert, names.key
            ),
        }
    }
}

/// The TLS failure behind `error`, if that is what it is.
pub fn diagnose(error: &(dyn Error + 'static)) -> Option<TlsFailure> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return from_rustls(tls);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            // An io::Error's source() skips the error it wraps.
            if let Some(found) = io.get_ref().and_then(|inner| diagnose(inner)) {
                return Some(found);
            }
            if io.kind() == std::io::ErrorKind::UnexpectedEof
                && io.to_string().contains("tls handshake eof")
            {
                return Some(TlsFailure::NotTls(
                    "it closed the connection during the TLS handshake".into(),
                ));
            }
        }
        next = current.source();
    }
    None
}

fn from_rustls(error: &rustls::Error) -> Option<TlsFailure> {
    Some(match error {
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            TlsFailure::CertificateRequired
        }
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied
            | AlertDescription::DecryptError),
        ) => TlsFailure::CertificateRejected(format!("TLS alert {alert:?}")),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            TlsFailure::MasterNotTrusted("it is not signed by a CA this client trusts".into())
        }
        rustls::Error::InvalidCertificate(_) => TlsFailure::MasterNotTrusted(error.to_string()),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            TlsFailure::NotTls(format!(
                "it answered the TLS handshake with something else: {error}"
            ))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rustls_error_inside_an_io_error_is_found() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::UnknownCA),
        );
        let outer = tonic::Status::from_error(Box::new(io));
        assert_eq!(
            diagnose(&outer),
            Some(TlsFailure::CertificateRejected(
                "TLS alert UnknownCA".into()
            ))
        );
        assert_eq!(diagnose(&std::io::Error::other("refused")), None);
    }
}
