//! Connection settings of a MySQL-compatible server (a task's
//! `target-database`, a source's `from`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `Debug` never shows the password: configs end up in logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DbConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    #[serde(default)]
    pub password: String,
    /// Deprecated in DM 2.x; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allowed_packet: Option<u64>,
    /// Session variables set on every connection.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub session: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
}

/// What a masked password looks like.
pub const MASKED_PASSWORD: &str = "******";

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &MASKED_PASSWORD)
            .field("session", &self.session)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl DbConfig {
    /// The password to log in with: `password` decrypted when DM's
    /// `encrypt` wrote it, else as written (DM's rule, see
    /// [`crate::secret`]).
    pub fn login_password(&self) -> String {
        crate::secret::decrypt_or_plaintext(&self.password)
    }

    /// A copy whose password is encrypted as DM's `encrypt` writes it (for
    /// `config export`; one already encrypted is kept).
    pub fn encrypted(&self) -> Self {
        let mut copy = self.clone();
        if !copy.password.is_empty() && !self.password_is_encrypted() {
            copy.password = crate::secret::process_key().encrypt(&self.login_password());
        }
        copy
    }

    /// Whether the password is one DM's `encrypt` wrote.
    pub fn password_is_encrypted(&self) -> bool {
        crate::secret::process_key().decrypt(&self.password).is_ok()
    }

    /// A copy whose password is masked (for `get-config`, `show`).
    pub fn masked(&self) -> Self {
        let mut copy = self.clone();
        if !copy.password.is_empty() {
            copy.password = MASKED_PASSWORD.to_string();
        }
        copy
    }
}

fn default_port() -> u16 {
    3306
}

/// TLS settings (`security` in DM's files): with any of `ssl-ca`,
/// `ssl-cert`, `ssl-key` set, every connection to the database is TLS (see
/// [`crate::db_conn`]). The files are paths on the host of the program that
/// connects (the dm-master for checks and `check-diff`, the dm-worker for
/// the copy and the sync), read at each connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Security {
    /// PEM CA certificate(s) the server's certificate must chain to.
    pub ssl_ca: String,
    /// PEM client certificate (with `ssl-key`).
    pub ssl_cert: String,
    /// PEM private key of `ssl-cert`.
    pub ssl_key: String,
    /// No effect for databases: the host name identifies the server (see
    /// the inventory, `task::SECURITY`).
    pub cert_allowed_cn: Vec<String>,
}

impl Security {
    /// Whether the block asks for TLS (an empty block does not).
    pub fn wants_tls(&self) -> bool {
        !self.ssl_ca.is_empty() || !self.ssl_cert.is_empty() || !self.ssl_key.is_empty()
    }
}

impl DbConfig {
    /// The TLS settings when this database is reached over TLS.
    pub fn tls(&self) -> Option<&Security> {
        self.security.as_ref().filter(|s| s.wants_tls())
    }

    /// Checks what serde cannot; `path` is the key path of this block.
    pub(crate) fn validate(&self, path: &str) -> Result<(), (String, String)> {
        if let Some(security) = &self.security {
            crate::config::tls_files::validate_pairing(security, &format!("{path}.security"))?;
        }
        if self.host.trim().is_empty() {
            return Err((
                format!("{path}.host"),
                "must not be empty; give the server's host name or IP address".to_string(),
            ));
        }
        if self.port == 0 {
            return Err((
                format!("{path}.port"),
                "must be a TCP port between 1 and 65535".to_string(),
            ));
        }
        if self.user.is_empty() {
            return Err((
                format!("{path}.user"),
                "must not be empty; give the user to connect as".to_string(),
            ));
        }
        Ok(())
    }
}
