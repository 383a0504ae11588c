//! A database call's failure as both ports report it, whatever the client
//! library: the kind of failure, which callers decide retries by, and the
//! library's own error, whose text is what an operator reads in
//! `query-status` and the logs.

use std::error::Error;
use std::fmt;

/// What kind of failure a database call met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbFault {
    /// The server refused the statement.
    Refused { code: u16, message: String },
    /// The connection failed or was lost (I/O, the client protocol).
    Connection,
    /// Anything else (connection options, ...).
    Other,
}

/// A database call's failure.
#[derive(Debug)]
pub struct DbError {
    fault: DbFault,
    error: Box<dyn Error + Send + Sync>,
}

impl DbError {
    /// `error`, a failure of kind `fault`.
    pub fn new(fault: DbFault, error: impl Error + Send + Sync + 'static) -> Self {
        Self {
            fault,
            error: Box::new(error),
        }
    }

    /// The server refused a statement with `code`, `state` and `message`,
    /// in the words a MySQL client prints it.
    pub fn refused(code: u16, state: &str, message: &str) -> Self {
        let refusal = ServerRefusal(Refusal {
            code,
            state: state.to_string(),
            message: message.to_string(),
        });
        Self::new(
            DbFault::Refused {
                code,
                message: message.to_string(),
            },
            refusal,
        )
    }

    pub fn fault(&self) -> &DbFault {
        &self.fault
    }

    /// The server's error code, when the server refused the statement.
    pub fn code(&self) -> Option<u16> {
        match &self.fault {
            DbFault::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the connection failed or was lost.
    pub fn is_connection(&self) -> bool {
        self.fault == DbFault::Connection
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl Error for DbError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

/// The MySQL client library's errors, by kind.
impl From<mysql_async::Error> for DbError {
    fn from(e: mysql_async::Error) -> Self {
        let fault = match &e {
            mysql_async::Error::Server(s) => DbFault::Refused {
                code: s.code,
                message: s.message.clone(),
            },
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => DbFault::Connection,
            _ => DbFault::Other,
        };
        Self::new(fault, e)
    }
}

/// A server's refusal, as the client library prints it.
#[derive(Debug)]
struct Refusal {
    code: u16,
    state: String,
    message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR {} ({}): {}", self.code, self.state, self.message)
    }
}

impl Error for Refusal {}

#[derive(Debug)]
struct ServerRefusal(Refusal);

impl fmt::Display for ServerRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Server error: `{}'", self.0)
    }
}

impl Error for ServerRefusal {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(e: &dyn Error) -> Vec<String> {
        let mut out = vec![e.to_string()];
        let mut next = e.source();
        while let Some(s) = next {
            out.push(s.to_string());
            next = s.source();
        }
        out
    }

    #[test]
    fn a_refusal_reads_as_the_client_library_prints_it() {
        let library = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1050,
            message: "Table 't' already exists".into(),
            state: "42S01".into(),
        });
        let ours = DbError::refused(1050, "42S01", "Table 't' already exists");
        assert_eq!(chain(&ours), chain(&library));
        let converted = DbError::from(library);
        assert_eq!(chain(&converted), chain(&ours));
        assert_eq!(converted.code(), Some(1050));
        assert_eq!(converted.fault(), ours.fault());
        let io = DbError::from(mysql_async::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset).into(),
        ));
        assert!(io.is_connection());
        assert_eq!(io.code(), None);
    }
}
