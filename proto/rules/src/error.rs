//! The one error type of the rules layer.
//!
//! Where DM (tidb-tools `pkg/column-mapping`, `pkg/table-router`,
//! `pkg/filter`, `pkg/binlog-filter` at 915b22e4, the version DM 2.0.7 pins)
//! has a user-visible message, the variant prints the same text, including
//! the `" not valid"` / `" not supported"` / `" already exists"` suffixes that
//! `pingcap/errors` appends and DM's typos (`patition id`), so that messages
//! people search for still match. DM's wrappers (`DM-sync-unit-36033 ...`)
//! belong to the callers.

use thiserror::Error;

/// Why a rule could not be built or applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleError {
    /// A pattern or block-allow list entry that must not be empty is.
    #[error("{0}")]
    EmptyPattern(String),

    /// A wildcard pattern DM's selector refuses (`*` not at the end).
    #[error("pattern {0} not valid")]
    InvalidPattern(String),

    /// A `~regex` block-allow entry or a `sql-pattern` that does not compile.
    #[error("invalid regular expression {pattern}: {reason}")]
    InvalidRegex { pattern: String, reason: String },

    /// Two rules of one kind with the same schema and table patterns.
    #[error("{kind}: pattern {pattern} already exists")]
    DuplicatePattern { kind: &'static str, pattern: String },

    /// A rule that fails DM's own validity check (text as in DM).
    #[error("{0}")]
    InvalidRule(String),

    /// A table matched more than one route rule of the same level.
    #[error("`{schema}`.`{table}` matches {count} {level} route rules which is more than one.\nThe first two rules are {first}, {second}.\nIt's not supported")]
    AmbiguousRoute {
        schema: String,
        table: String,
        level: &'static str,
        count: usize,
        first: String,
        second: String,
    },

    /// A table matched no or several column-mapping rules of the level that
    /// decides (DM allows exactly one).
    #[error("`{schema}`.`{table}` matches {count} {level} column mapping rules which should be one. It's not supported")]
    AmbiguousColumnMapping {
        schema: String,
        table: String,
        level: &'static str,
        count: usize,
    },

    /// The column-mapping rule's target column is not among the row's columns.
    #[error("target column {0} not found")]
    TargetColumnNotFound(String),

    /// A row has fewer values than the column the rule targets.
    #[error("row has {values} values, but column {position} is needed")]
    RowTooShort { values: usize, position: usize },

    /// The `partition id` instance argument is not an unsigned 4-bit number
    /// (Go's `strconv.ParseUint` message, as DM returns it unwrapped).
    #[error("strconv.ParseUint: parsing {}: {}", go_quote(.argument), if *.out_of_range { "value out of range" } else { "invalid syntax" })]
    InstanceId {
        argument: String,
        out_of_range: bool,
    },

    /// The schema/table name does not start with `prefix + separator`.
    #[error("{prefix} is not the prefix of {name} not valid")]
    NotPrefix { prefix: String, name: String },

    /// The schema/table suffix is not a number fitting its bits.
    #[error("the suffix of {0} can't be converted to int64 not valid")]
    SuffixNotInt(String),

    /// The original id does not fit in the origin bits (`[0, 2^44)`).
    #[error(
        "id must less than {max}, greater than or equal to 0, but got {value}, which is not valid"
    )]
    OriginOutOfRange { max: i64, value: i64 },

    /// `partition id` on a string that is not a decimal integer.
    #[error("column {position} value is not int, but {value}, which is not valid")]
    NotInt { position: usize, value: String },

    /// `add prefix` / `add suffix` on a value that is not a string.
    #[error("column {position} value is not string, but {value}, which is not valid")]
    NotString { position: usize, value: String },

    /// `partition id` on a value of a type DM does not map.
    #[error("type {type_name}({value}) not valid")]
    UnsupportedType { type_name: String, value: String },

    /// The task has no `mysql-instances` entry for the source.
    #[error("source {0} is not an instance of this task")]
    UnknownSource(String),

    /// An instance names a rule its task does not define.
    #[error("{list} names {name:?}, but `{section}` has no such rule")]
    UnknownRule {
        list: &'static str,
        section: &'static str,
        name: String,
    },

    /// An expression of an `expression-filter` rule, by its key, that
    /// cannot be compiled or evaluated.
    #[error("{key}: {error}")]
    Expression {
        key: &'static str,
        error: crate::expr::ExprError,
    },

    /// An error of one named rule of a task.
    #[error("{section}.{name}: {source}")]
    InRule {
        section: &'static str,
        name: String,
        source: Box<RuleError>,
    },
}

impl RuleError {
    /// Tags the error with the task section and rule name it came from.
    pub(crate) fn in_rule(self, section: &'static str, name: &str) -> Self {
        RuleError::InRule {
            section,
            name: name.to_string(),
            source: Box::new(self),
        }
    }
}

/// Go's `strconv.Quote` for the printable ASCII DM's messages carry.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a `[]string`: `[a b c]`.
pub(crate) fn go_string_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}
