//! Rule sections of a task file: block-allow lists, routes, binlog event
//! filters, column mappings and expression filters, with DM 2.x's keys.
//!
//! These are the declarations only; matching and applying rules lives with the
//! worker's rules module.

use serde::{Deserialize, Serialize};

/// `block-allow-list.<name>` (DM 1.x: `black-white-list`). Entries starting
/// with `~` are regular expressions, others may use `*` and `?` wildcards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BlockAllowList {
    #[serde(default)]
    pub do_dbs: Vec<String>,
    #[serde(default)]
    pub ignore_dbs: Vec<String>,
    #[serde(default)]
    pub do_tables: Vec<TableRef>,
    #[serde(default)]
    pub ignore_tables: Vec<TableRef>,
}

/// A `{db-name, tbl-name}` pair in `do-tables` / `ignore-tables`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TableRef {
    pub db_name: String,
    pub tbl_name: String,
}

/// `routes.<name>`: upstream tables matching the patterns go to the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RouteRule {
    pub schema_pattern: String,
    #[serde(default)]
    pub table_pattern: String,
    pub target_schema: String,
    #[serde(default)]
    pub target_table: String,
}

/// `filters.<name>`: a binlog event filter rule (also used in source files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BinlogEventRule {
    pub schema_pattern: String,
    #[serde(default)]
    pub table_pattern: String,
    #[serde(default)]
    pub events: Vec<EventType>,
    #[serde(default)]
    pub sql_pattern: Vec<String>,
    pub action: FilterAction,
}

/// Binlog event kinds a filter rule can name (tidb-tools `binlog-filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "all ddl")]
    AllDdl,
    #[serde(rename = "all dml")]
    AllDml,
    #[serde(rename = "none")]
    None,
    #[serde(rename = "none ddl")]
    NoneDdl,
    #[serde(rename = "none dml")]
    NoneDml,
    #[serde(rename = "insert")]
    Insert,
    #[serde(rename = "update")]
    Update,
    #[serde(rename = "delete")]
    Delete,
    #[serde(rename = "create database")]
    CreateDatabase,
    #[serde(rename = "drop database")]
    DropDatabase,
    #[serde(rename = "create table")]
    CreateTable,
    #[serde(rename = "drop table")]
    DropTable,
    #[serde(rename = "truncate table")]
    TruncateTable,
    #[serde(rename = "rename table")]
    RenameTable,
    #[serde(rename = "create index")]
    CreateIndex,
    #[serde(rename = "drop index")]
    DropIndex,
    #[serde(rename = "create view")]
    CreateView,
    #[serde(rename = "drop view")]
    DropView,
    #[serde(rename = "alter table")]
    AlterTable,
}

/// What a filter rule does with matching events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterAction {
    #[serde(rename = "Do")]
    Do,
    #[serde(rename = "Ignore")]
    Ignore,
}

/// `column-mappings.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ColumnMappingRule {
    pub schema_pattern: String,
    #[serde(default)]
    pub table_pattern: String,
    #[serde(default)]
    pub source_column: String,
    pub target_column: String,
    pub expression: MappingExpression,
    #[serde(default)]
    pub arguments: Vec<String>,
    #[serde(default)]
    pub create_table_query: String,
}

/// The column mapping expressions DM knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MappingExpression {
    /// `[instance id, schema prefix, table prefix, (separator)]`.
    #[serde(rename = "partition id")]
    PartitionId,
    /// `[prefix]`
    #[serde(rename = "add prefix")]
    AddPrefix,
    /// `[suffix]`
    #[serde(rename = "add suffix")]
    AddSuffix,
}

/// `expression-filter.<name>`: drop rows for which a SQL expression is true.
/// Exactly one kind of expression per rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExpressionFilter {
    pub schema: String,
    pub table: String,
    #[serde(default)]
    pub insert_value_expr: String,
    #[serde(default)]
    pub update_old_value_expr: String,
    #[serde(default)]
    pub update_new_value_expr: String,
    #[serde(default)]
    pub delete_value_expr: String,
}
