//! Certificates for TLS tests, made by `scripts/make-certs.sh` (the openssl
//! recipe README.md shows users), so the recipe users follow is the one the
//! tests prove.
//!
//! A [`CertDir`] is one CA: every certificate it issues is signed by it. A
//! test that needs a stranger makes a second `CertDir`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{HarnessError, Result};

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A directory holding one CA (`ca.pem`, `ca.key`) and what it issued.
#[derive(Debug, Clone)]
pub struct CertDir {
    dir: PathBuf,
}

impl CertDir {
    /// A CA in `dir` (created on the first [`CertDir::issue`]).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The CA certificate: what `ssl-ca` names.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues `name.pem` / `name.key` with common name `common_name`,
    /// valid as client and as server for localhost and 127.0.0.1.
    pub fn issue(&self, name: &str, common_name: &str) -> Result<CertFiles> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("scripts")
            .join("make-certs.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg(&self.dir)
            .arg(name)
            .arg(common_name)
            .output()
            .map_err(|source| HarnessError::Io {
                what: format!("running {}", script.display()),
                source,
            })?;
        if !output.status.success() {
            return Err(HarnessError::Task(format!(
                "{} {} {name} {common_name} failed ({}): {}",
                script.display(),
                self.dir.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(CertFiles {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        })
    }
}

/// The TLS flags of one process: the CA it trusts and, usually, its own
/// certificate and key. dm-master, dm-worker and dmctl take the same three
/// flags (`--ssl-ca`, `--ssl-cert`, `--ssl-key`).
#[derive(Debug, Clone)]
pub struct TlsFlags {
    pub ca: PathBuf,
    pub cert: Option<CertFiles>,
}

impl TlsFlags {
    /// Trusting `ca`, presenting `cert`.
    pub fn new(ca: impl Into<PathBuf>, cert: CertFiles) -> Self {
        Self {
            ca: ca.into(),
            cert: Some(cert),
        }
    }

    /// Trusting `ca`, presenting no certificate (dmctl only).
    pub fn ca_only(ca: impl Into<PathBuf>) -> Self {
        Self {
            ca: ca.into(),
            cert: None,
        }
    }

    /// The command-line flags.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![format!("--ssl-ca={}", self.ca.display())];
        if let Some(cert) = &self.cert {
            args.push(format!("--ssl-cert={}", cert.cert.display()));
            args.push(format!("--ssl-key={}", cert.key.display()));
        }
        args
    }
}

impl CertDir {
    /// Flags trusting this CA and presenting `cert`.
    pub fn flags(&self, cert: &CertFiles) -> TlsFlags {
        TlsFlags::new(self.ca(), cert.clone())
    }
}
