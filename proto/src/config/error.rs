//! The configuration layer's one error type.
//!
//! Every error names where it comes from (`file:line:column`, as far as it is
//! known), the key it is about and what would be valid, so an operator can fix
//! the file without reading our source.

use std::fmt;

/// Where in which file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file's name as the user gave it (or a label such as `<flags>`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
}

impl Location {
    /// A location with no line information (e.g. a whole file).
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
        }
    }

    /// A location at a 1-based line and column.
    pub fn at(file: impl Into<String>, line: usize, column: usize) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            column: Some(column),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}", self.file),
            (Some(line), None) => write!(f, "{}:{line}", self.file),
            _ => write!(f, "{}", self.file),
        }
    }
}

/// Why one value (an address, a duration, a log level...) is not
/// acceptable, and what would be. [`ConfigError::Invalid`] places it in a
/// file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("\"{0}\" is not an address; write host:port, e.g. 127.0.0.1:8261 or :8261")]
    NotAddress(String),
    #[error("\"{0}\" is not a peer URL; write http://host:port, e.g. http://127.0.0.1:8291")]
    NotPeerUrl(String),
    #[error("\"{0}\" is not name=url; write e.g. master1=http://127.0.0.1:8291,master2=http://127.0.0.1:8292")]
    NotMember(String),
    #[error("\"{0}\" has an empty name")]
    EmptyName(String),
    #[error("\"{0}\" is not a duration; write a number with a unit, e.g. 500ms, 5s, 5m, 1h30m")]
    NotDuration(String),
    #[error("\"{0}\" is not a log level; use one of {levels}", levels = super::LOG_LEVELS.join(", "))]
    NotLogLevel(String),
    #[error("\"{0}\" is not a log format; use text or json")]
    NotLogFormat(String),
    #[error("\"{0}\" is not supported: give an offset such as \"+08:00\" or a zone name such as \"Asia/Shanghai\"")]
    LocalTimeZone(String),
    #[error("\"{0}\" is not a time zone: give an offset such as \"+08:00\" or a zone name such as \"Asia/Shanghai\"")]
    NotTimeZone(String),
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read the file: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// The text is not well-formed, has an unknown key, or a value of the wrong type.
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },
    /// The text is well-formed but a value is not acceptable.
    #[error("{at}: `{key}`: {message}")]
    Invalid {
        at: Location,
        /// Path of the offending key, e.g. `mysql-instances[1].source-id`.
        key: String,
        message: String,
    },
    /// A configuration could not be written back as YAML or TOML (`get-config`).
    #[error("{0}")]
    Encode(String),
}

impl ConfigError {
    /// The location the error points at.
    pub fn location(&self) -> Location {
        match self {
            ConfigError::Read { file, .. } => Location::file(file.clone()),
            ConfigError::Encode(_) => Location::file(String::new()),
            ConfigError::Syntax { at, .. } | ConfigError::Invalid { at, .. } => at.clone(),
        }
    }
}

/// Reads a configuration file, naming it in the error.
pub fn read_file(path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.display().to_string(),
        source,
    })
}
