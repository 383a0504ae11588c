//! The files a database's `security` block names (`ssl-ca`, `ssl-cert`,
//! `ssl-key`), checked before a connection uses them.
//!
//! The TLS library reads them at each connection and, when one is missing
//! or holds something else, fails with an I/O or PEM error that names
//! neither the key nor the file. So the programs check them first, where
//! an operator sees the answer: `check-task`, `start-task` and
//! `operate-source create` on the master, a subtask's start on the worker
//! (a paused subtask whose error says which key and file). The check reads
//! each file and looks for what it must hold; whether the certificates
//! chain and match is the handshake's to say.

use std::fmt;
use std::path::Path;

use super::Security;

/// A `security` file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFileError {
    /// The key's path (`from.security.ssl-ca`).
    pub key: String,
    /// The file it names.
    pub file: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` names {}, which {}",
            self.key, self.file, self.problem
        )
    }
}

impl std::error::Error for TlsFileError {}

/// What a file must hold.
#[derive(Debug, Clone, Copy)]
enum Holds {
    Certificate,
    PrivateKey,
}

/// `ssl-cert` and `ssl-key` come together (a client certificate is useless
/// without its key); `block` is the security block's key path.
pub(crate) fn validate_pairing(security: &Security, block: &str) -> Result<(), (String, String)> {
    match (security.ssl_cert.is_empty(), security.ssl_key.is_empty()) {
        (false, true) => Err((
            format!("{block}.ssl-key"),
            "must be set when `ssl-cert` is: give the client certificate's private key (PEM)"
                .to_string(),
        )),
        (true, false) => Err((
            format!("{block}.ssl-cert"),
            "must be set when `ssl-key` is: give the client certificate (PEM) the key belongs to"
                .to_string(),
        )),
        _ => Ok(()),
    }
}

/// Reads every file `security` names and checks it holds what its key
/// needs; `block` is the connection block's key path (`from`,
/// `target-database`).
pub fn check_files(security: &Security, block: &str) -> Result<(), TlsFileError> {
    let files = [
        ("ssl-ca", &security.ssl_ca, Holds::Certificate),
        ("ssl-cert", &security.ssl_cert, Holds::Certificate),
        ("ssl-key", &security.ssl_key, Holds::PrivateKey),
    ];
    for (key, file, holds) in files {
        if file.is_empty() {
            continue;
        }
        check_file(Path::new(file), holds).map_err(|problem| TlsFileError {
            key: format!("{block}.security.{key}"),
            file: file.clone(),
            problem,
        })?;
    }
    Ok(())
}

/// A PEM file must have a block of the kind; a file that is not text is
/// taken as DER, which the TLS library reads too.
fn check_file(path: &Path, holds: Holds) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.is_empty() {
        return Err("is empty".to_string());
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(());
    };
    let found = match holds {
        Holds::Certificate => text.contains("-----BEGIN CERTIFICATE-----"),
        Holds::PrivateKey => text
            .lines()
            .any(|l| l.starts_with("-----BEGIN ") && l.ends_with("PRIVATE KEY-----")),
    };
    if found {
        return Ok(());
    }
    Err(match holds {
        Holds::Certificate => {
            "holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block)".to_string()
        }
        Holds::PrivateKey => {
            "holds no PEM private key (a `-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)"
                .to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

    fn security(ca: &str, cert: &str, key: &str) -> Security {
        Security {
            ssl_ca: ca.to_string(),
            ssl_cert: cert.to_string(),
            ssl_key: key.to_string(),
            cert_allowed_cn: Vec::new(),
        }
    }

    #[test]
    fn cert_and_key_come_together() {
        assert_eq!(
            validate_pairing(&security("", "c.pem", ""), "from.security")
                .unwrap_err()
                .0,
            "from.security.ssl-key"
        );
        assert_eq!(
            validate_pairing(&security("", "", "k.pem"), "target-database.security")
                .unwrap_err()
                .0,
            "target-database.security.ssl-cert"
        );
        assert!(validate_pairing(&security("ca.pem", "", ""), "from.security").is_ok());
        assert!(validate_pairing(&security("", "c.pem", "k.pem"), "from.security").is_ok());
    }

    #[test]
    fn files_are_read_and_must_hold_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.to_string_lossy().into_owned()
        };
        let ca = write("ca.pem", CERT);
        let cert = write("c.pem", CERT);
        let key = write("k.key", KEY);
        let ec_key = write(
            "ec.key",
            "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n",
        );
        assert_eq!(check_files(&security(&ca, &cert, &key), "from"), Ok(()));
        assert_eq!(check_files(&security(&ca, &cert, &ec_key), "from"), Ok(()));

        let missing = dir.path().join("nope.pem").to_string_lossy().into_owned();
        let e = check_files(&security(&missing, "", ""), "target-database").unwrap_err();
        assert_eq!(e.key, "target-database.security.ssl-ca");
        assert_eq!(e.file, missing);
        assert!(
            e.to_string().starts_with(&format!(
                "`target-database.security.ssl-ca` names {missing}, which cannot be read: "
            )),
            "{e}"
        );

        let e = check_files(&security(&ca, &key, &key), "from").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("`from.security.ssl-cert` names {key}, which holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block)")
        );
        let e = check_files(&security(&ca, &cert, &cert), "from").unwrap_err();
        assert_eq!(e.key, "from.security.ssl-key");
        assert!(e.problem.starts_with("holds no PEM private key"), "{e}");
        let empty = write("empty.pem", "");
        let e = check_files(&security(&empty, "", ""), "from").unwrap_err();
        assert_eq!(e.problem, "is empty");
    }
}
