//! The one error type of expression filters.

use thiserror::Error;

/// Why an expression could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExprError {
    /// The text is not one SQL expression.
    #[error("`{text}` is not a valid SQL expression: {reason}")]
    Syntax { text: String, reason: String },

    /// A function the evaluator does not have.
    #[error("function {name} is not supported by expression filters (supported: {supported})")]
    UnsupportedFunction { name: String, supported: String },

    /// A construct (operator, subquery, literal kind) the evaluator does
    /// not have.
    #[error("{what} is not supported by expression filters")]
    Unsupported { what: String },

    /// A function called with a number of arguments it does not take.
    #[error("function {name} takes {expected} arguments, got {got}")]
    Arity {
        name: String,
        expected: String,
        got: usize,
    },

    /// The row has no column of this name.
    #[error("unknown column `{0}` in the expression")]
    UnknownColumn(String),

    /// The server would refuse the computation too (out of range).
    #[error("{0}")]
    OutOfRange(String),

    /// A TIMESTAMP value in a zone the evaluator does not know.
    #[error("TIMESTAMP values are compared in the task's timezone, which must be UTC, a fixed offset such as +08:00 or an IANA zone name such as Asia/Shanghai; `{0}` is none of them")]
    UnknownTimeZone(String),
}
