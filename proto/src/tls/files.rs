//! `ssl-ca`, `ssl-cert` and `ssl-key`: which combinations make sense, and
//! the files read and checked once, at start.
//!
//! Everything a file can get wrong is found here rather than at the first
//! connection, where it would show as a handshake failure far from its
//! cause: a missing or unreadable file, a file without the PEM block it
//! should hold, a certificate that is not X.509 or not valid today, a key
//! that is not the certificate's.

use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use super::access::ServerTls;
use super::provider;
use super::verifier::Deferred;

/// How the three settings are called where they were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    pub ca: &'static str,
    pub cert: &'static str,
    pub key: &'static str,
}

impl Names {
    /// dm-master's and dm-worker's keys (their flags carry the same names).
    pub const KEYS: Names = Names {
        ca: "ssl-ca",
        cert: "ssl-cert",
        key: "ssl-key",
    };
    /// dmctl's flags.
    pub const FLAGS: Names = Names {
        ca: "--ssl-ca",
        cert: "--ssl-cert",
        key: "--ssl-key",
    };
}

/// The three paths as given (empty: not set).
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsPaths<'a> {
    pub ca: &'a str,
    pub cert: &'a str,
    pub key: &'a str,
}

impl TlsPaths<'_> {
    /// None of the three is set: TLS is off.
    pub fn is_off(&self) -> bool {
        self.ca.is_empty() && self.cert.is_empty() && self.key.is_empty()
    }
}

/// Why TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The settings do not go together (one given without another).
    #[error("{key}: {message}")]
    Settings { key: &'static str, message: String },
    /// A file is missing, unreadable or does not hold what it should.
    #[error("{key} {path}: {reason}")]
    File {
        key: &'static str,
        path: String,
        reason: String,
    },
    /// The certificate and the key are each fine but not a pair.
    #[error("{cert_key} {cert} and {key_key} {key}: {reason}")]
    Pair {
        cert_key: &'static str,
        cert: String,
        key_key: &'static str,
        key: String,
        reason: String,
    },
    /// rustls refused the configuration made from the files.
    #[error("TLS from {ca_key} {ca}, {cert_key} {cert}: {reason}")]
    Config {
        ca_key: &'static str,
        ca: String,
        cert_key: &'static str,
        cert: String,
        reason: String,
    },
}

/// Checks which settings are given, without reading any file. A daemon
/// (`identity_required`) needs all three or none; dmctl needs `ssl-ca`,
/// and a certificate with its key or neither (a master then refuses it,
/// saying a certificate is required).
pub fn check_settings(
    paths: &TlsPaths<'_>,
    names: Names,
    identity_required: bool,
) -> Result<(), TlsError> {
    if paths.is_off() {
        return Ok(());
    }
    let set = |path: &str, name: &'static str| (!path.is_empty()).then_some(name);
    let given: Vec<&str> = [
        set(paths.ca, names.ca),
        set(paths.cert, names.cert),
        set(paths.key, names.key),
    ]
    .into_iter()
    .flatten()
    .collect();
    let verb = if given.len() > 1 { "are" } else { "is" };
    let given = given.join(" and ");
    let missing = |key: &'static str, why: &str| TlsError::Settings {
        key,
        message: format!("is not set, but {given} {verb}: {why}"),
    };
    if paths.ca.is_empty() {
        return Err(missing(
            names.ca,
            "TLS needs the cluster's CA certificate to check the other side's certificate",
        ));
    }
    if paths.cert.is_empty() && !paths.key.is_empty() {
        return Err(missing(names.cert, "give the certificate with its key"));
    }
    if paths.key.is_empty() && !paths.cert.is_empty() {
        return Err(missing(names.key, "give the certificate's key with it"));
    }
    if identity_required && paths.cert.is_empty() {
        return Err(TlsError::Settings {
            key: names.cert,
            message: format!(
                "is not set, but {} is: with TLS every dm-master and dm-worker needs its own certificate and key ({}, {}), signed by the CA",
                names.ca, names.cert, names.key
            ),
        });
    }
    Ok(())
}

/// The PEM files of `ssl-ca`, `ssl-cert` and `ssl-key`, read and checked.
#[derive(Clone)]
pub struct TlsFiles {
    ca_path: String,
    ca_pem: Vec<u8>,
    roots: Arc<RootCertStore>,
    identity: Option<IdentityFiles>,
    names: Names,
}

#[derive(Clone)]
struct IdentityFiles {
    cert_path: String,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    certs: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("ca", &self.ca_path)
            .field(
                "cert",
                &self.identity.as_ref().map(|i| i.cert_path.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl TlsFiles {
    /// Reads and checks the files; `None` when TLS is off (nothing set).
    /// See [`check_settings`] for `identity_required`.
    pub fn load(
        paths: &TlsPaths<'_>,
        names: Names,
        identity_required: bool,
    ) -> Result<Option<Self>, TlsError> {
        check_settings(paths, names, identity_required)?;
        if paths.is_off() {
            return Ok(None);
        }
        let ca_pem = read(names.ca, paths.ca)?;
        let ca_certs = certificates(names.ca, paths.ca, &ca_pem)?;
        let mut roots = RootCertStore::empty();
        for (i, der) in ca_certs.into_iter().enumerate() {
            roots.add(der).map_err(|e| TlsError::File {
                key: names.ca,
                path: paths.ca.to_string(),
                reason: format!("certificate {} cannot check others: {e}", i + 1),
            })?;
        }
        let identity = if paths.cert.is_empty() {
            None
        } else {
            let cert_pem = read(names.cert, paths.cert)?;
            let certs = certificates(names.cert, paths.cert, &cert_pem)?;
            let key_pem = read(names.key, paths.key)?;
            let key = private_key(names.key, paths.key, &key_pem)?;
            CertifiedKey::from_der(certs.clone(), key.clone_key(), &provider()).map_err(|e| {
                TlsError::Pair {
                    cert_key: names.cert,
                    cert: paths.cert.to_string(),
                    key_key: names.key,
                    key: paths.key.to_string(),
                    reason: format!("the key is not this certificate's ({e})"),
                }
            })?;
            Some(IdentityFiles {
                cert_path: paths.cert.to_string(),
                cert_pem,
                key_pem,
                certs,
                key: Arc::new(key),
            })
        };
        Ok(Some(Self {
            ca_path: paths.ca.to_string(),
            ca_pem,
            roots: Arc::new(roots),
            identity,
            names,
        }))
    }

    /// Whether a certificate and key were given (dmctl may go without).
    pub fn has_identity(&self) -> bool {
        self.identity.is_some()
    }

    /// The client side: trust the CA, present the certificate (if any).
    /// `handshake_timeout` bounds the TLS handshake after the TCP connect.
    pub fn client(&self, handshake_timeout: std::time::Duration) -> ClientTlsConfig {
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .timeout(handshake_timeout);
        match &self.identity {
            Some(identity) => {
                config.identity(Identity::from_pem(&identity.cert_pem, &identity.key_pem))
            }
            None => config,
        }
    }

    /// The server side (masters): present the certificate, ask every
    /// client for one and check it against the CA. A client without a
    /// certificate, or with one the CA did not sign, completes the
    /// handshake, so that the master can answer it with a gRPC error that
    /// says what is wrong ([`super::Refusal`], [`super::verifier`]);
    /// `allowed_cn` is `cert-allowed-cn`.
    pub fn server(&self, allowed_cn: &[String]) -> Result<ServerTls, TlsError> {
        let config_error = |reason: String| TlsError::Config {
            ca_key: self.names.ca,
            ca: self.ca_path.clone(),
            cert_key: self.names.cert,
            cert: self
                .identity
                .as_ref()
                .map(|i| i.cert_path.clone())
                .unwrap_or_default(),
            reason,
        };
        let identity = self.identity.as_ref().ok_or_else(|| {
            config_error(format!(
                "a server needs its own certificate and key ({}, {})",
                self.names.cert, self.names.key
            ))
        })?;
        let full = WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider())
            .build()
            .map_err(|e| config_error(e.to_string()))?;
        let verifier = Arc::new(Deferred { full: full.clone() });
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(identity.certs.clone(), identity.key.clone_key())
            .map_err(|e| config_error(e.to_string()))?;
        // gRPC is HTTP/2; HTTP/1.1 for `GET /status`.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls::new(Arc::new(config), full, allowed_cn.to_vec()))
    }
}

fn file_error(key: &'static str, path: &str, reason: impl Into<String>) -> TlsError {
    TlsError::File {
        key,
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn read(key: &'static str, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".into(),
            _ => format!("cannot be read: {e}"),
        };
        file_error(key, path, reason)
    })
}

/// The certificates of a PEM file: at least one, each X.509 and valid now.
fn certificates(
    key: &'static str,
    path: &str,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, format!("is not a valid PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(
            key,
            path,
            "holds no certificate (a PEM block -----BEGIN CERTIFICATE-----)",
        ));
    }
    for (i, der) in certs.iter().enumerate() {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
            file_error(
                key,
                path,
                format!(
                    "certificate {} is not a valid X.509 certificate: {e}",
                    i + 1
                ),
            )
        })?;
        let validity = cert.validity();
        if !validity.is_valid() {
            return Err(file_error(
                key,
                path,
                format!(
                    "certificate {} ({}) is valid only from {} to {}",
                    i + 1,
                    cert.subject(),
                    validity.not_before,
                    validity.not_after
                ),
            ));
        }
    }
    Ok(certs)
}

fn private_key(
    key: &'static str,
    path: &str,
    pem: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        let reason = match e {
            pem::Error::NoItemsFound => "holds no private key (a PEM block -----BEGIN PRIVATE KEY-----, -----BEGIN EC PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)".to_string(),
            other => format!("is not a valid PEM file: {other}"),
        };
        file_error(key, path, reason)
    })
}

/// The first common name of a DER certificate's subject.
pub(crate) fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_do_not_go_together_name_the_missing_one() {
        let names = Names::KEYS;
        let check = |ca, cert, key, daemon| {
            check_settings(&TlsPaths { ca, cert, key }, names, daemon).map_err(|e| e.to_string())
        };
        assert!(check("", "", "", true).is_ok());
        assert!(check("ca", "c", "k", true).is_ok());
        assert!(check("ca", "", "", false).is_ok());
        assert_eq!(
            check("", "c", "k", true).unwrap_err(),
            "ssl-ca: is not set, but ssl-cert and ssl-key are: TLS needs the cluster's CA certificate to check the other side's certificate"
        );
        assert_eq!(
            check("ca", "c", "", false).unwrap_err(),
            "ssl-key: is not set, but ssl-ca and ssl-cert are: give the certificate's key with it"
        );
        assert_eq!(
            check("ca", "", "", true).unwrap_err(),
            "ssl-cert: is not set, but ssl-ca is: with TLS every dm-master and dm-worker needs its own certificate and key (ssl-cert, ssl-key), signed by the CA"
        );
    }

    #[test]
    fn a_missing_or_empty_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("ca.pem").display().to_string();
        let err = TlsFiles::load(
            &TlsPaths {
                ca: &missing,
                cert: "",
                key: "",
            },
            Names::FLAGS,
            false,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), format!("--ssl-ca {missing}: no such file"));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let empty = empty.display().to_string();
        let err = TlsFiles::load(
            &TlsPaths {
                ca: &empty,
                cert: "",
                key: "",
            },
            Names::KEYS,
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "ssl-ca {empty}: holds no certificate (a PEM block -----BEGIN CERTIFICATE-----)"
            )
        );
    }
}
