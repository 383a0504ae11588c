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

/// TLS settings (`security` in DM's files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Security {
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub cert_allowed_cn: Vec<String>,
}

impl DbConfig {
    /// Checks what serde cannot; `path` is the key path of this block.
    pub(crate) fn validate(&self, path: &str) -> Result<(), (String, String)> {
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
