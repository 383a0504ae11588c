//! Why the tracker cannot follow a statement or read a definition. Each
//! names the statement, so the caller can pause the subtask with it.

use super::tracker::TableName;

/// What an error is about: a table, a schema, or the definition being
/// read (`SHOW CREATE TABLE` text given by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Table(TableName),
    Schema(String),
    Definition,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Table((schema, table)) => write!(f, "`{schema}`.`{table}`"),
            Subject::Schema(schema) => write!(f, "schema `{schema}`"),
            Subject::Definition => f.write_str("the table"),
        }
    }
}

impl SchemaError {
    /// What the error is about, when it names a table or a schema.
    pub fn subject(&self) -> Option<&Subject> {
        match self {
            SchemaError::Unreadable { table, .. }
            | SchemaError::Unsupported { table, .. }
            | SchemaError::UnknownColumn { table, .. }
            | SchemaError::DuplicateColumn { table, .. }
            | SchemaError::UnknownKey { table, .. }
            | SchemaError::UnknownTable { table, .. } => Some(table),
            SchemaError::BadName { .. }
            | SchemaError::NotCreateTable { .. }
            | SchemaError::Persisted(_) => None,
        }
    }
}

/// The tracker's errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A schema change that sqlparser cannot read, on a table the tracker
    /// follows (or a `CREATE TABLE` it would have to follow).
    #[error("cannot read `{sql}` to follow the definition of {table}: {reason}")]
    Unreadable {
        sql: String,
        table: Subject,
        reason: String,
    },
    /// A change of a tracked table the tracker does not know how to apply.
    #[error("`{sql}` changes {table} in a way the schema tracker does not follow ({what})")]
    Unsupported {
        sql: String,
        table: Subject,
        what: String,
    },
    /// The statement names a column the tracked definition does not have.
    #[error("`{sql}`: {table} has no column `{column}` in its tracked definition")]
    UnknownColumn {
        sql: String,
        table: Subject,
        column: String,
    },
    /// The statement adds a column the tracked definition already has.
    #[error("`{sql}`: {table} already has a column `{column}` in its tracked definition")]
    DuplicateColumn {
        sql: String,
        table: Subject,
        column: String,
    },
    /// The statement drops a key the tracked definition does not have.
    #[error("`{sql}`: {table} has no key `{key}` in its tracked definition")]
    UnknownKey {
        sql: String,
        table: Subject,
        key: String,
    },
    /// `CREATE TABLE ... LIKE` a table the tracker does not follow.
    #[error("`{sql}` copies {table}, which the schema tracker does not follow")]
    UnknownTable { sql: String, table: Subject },
    /// A name that is not `table` or `schema.table`.
    #[error("`{sql}`: `{name}` is not a table name (`table` or `schema.table`)")]
    BadName { sql: String, name: String },
    /// A table definition that is not one `CREATE TABLE` statement.
    #[error("not a CREATE TABLE statement: `{sql}`")]
    NotCreateTable { sql: String },
    /// Persisted state that cannot be read.
    #[error("the tracked schemas cannot be read back: {0}")]
    Persisted(String),
}
