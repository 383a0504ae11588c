//! What the schema tracker starts from: the upstream's definitions of the
//! tables a task reads, read at one binlog position (inside a full copy's
//! snapshot, or at the start of an incremental sync), with the server's
//! and each schema's default character set (a `CREATE TABLE` without one
//! takes its schema's) and whether the server is MariaDB (whose `JSON` is
//! text).

/// The upstream's definitions at one position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaSeed {
    /// `character_set_server` and `collation_server`.
    pub server_charset: String,
    pub server_collation: String,
    pub mariadb: bool,
    /// The schemas the rules select.
    pub schemas: Vec<SeedSchema>,
    /// The base tables the rules select, in (schema, table) order.
    pub tables: Vec<SeedTable>,
}

/// A schema and its default character set and collation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSchema {
    pub name: String,
    pub charset: String,
    pub collation: String,
}

/// A table's definition as `SHOW CREATE TABLE` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedTable {
    pub schema: String,
    pub table: String,
    pub create: String,
}
