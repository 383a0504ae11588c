//! dmctl's one error type.

use dm_proto::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// A file given on the command line is not valid.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A flag's value is not valid.
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    /// No master answered.
    #[error("cannot reach any master ({0}); check --master-addr and that the masters run")]
    NoMaster(String),
    /// No master could be used, and some refused the TLS connection (or
    /// this dmctl refused theirs): what each address did.
    #[error("no master accepted the TLS connection ({0})")]
    Tls(String),
    /// A master answered with an error.
    #[error("{addr}: {}", .status.message())]
    Rpc { addr: String, status: tonic::Status },
    /// A `binlog-schema update` file is not one CREATE TABLE statement.
    #[error("schema file {path}: {reason}")]
    SchemaFile { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
