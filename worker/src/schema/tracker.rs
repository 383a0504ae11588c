//! The tracked schemas of one subtask: every schema the binlog has shown
//! (with its default character set) and every table's definition, and
//! their persisted text form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::apply::Applied;
use super::error::Subject;
use super::table::{Charset, TableDef};
use super::SchemaError;

/// A table's name: (schema, table).
pub type TableName = (String, String);

/// The definitions of the tables a subtask reads, at one binlog position.
/// Pure: changed only by [`SchemaTracker::apply`] (a DDL, in binlog
/// order) and by the seeding and replacing methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaTracker {
    /// The server's default character set, for schemas created without
    /// one.
    pub(super) server_charset: Charset,
    pub(super) flavor: Flavor,
    /// Each known schema and its default character set (`None`: the
    /// server's).
    pub(super) schemas: BTreeMap<String, Option<Charset>>,
    pub(super) tables: BTreeMap<String, BTreeMap<String, TableDef>>,
    /// Changes made so far; a changed table gets the new count as its
    /// version, so a table's versions only grow, also across a drop and a
    /// re-creation.
    pub(super) changes: u64,
}

/// Which server the upstream is, where their DDL means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flavor {
    /// `JSON` is `LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`.
    MariaDb,
    /// `JSON` is a type of its own (binary in row images).
    MySql,
}

/// The persisted form: the format's version beside the state, so a later
/// format can still read this one; and every table rendered as `CREATE
/// TABLE` text by schema and name, for readers without the tracker
/// (`binlog-schema list` in dm-master). Only the state is read back.
#[derive(Serialize, Deserialize)]
struct Persisted {
    format: u32,
    tracker: SchemaTracker,
    #[serde(default)]
    definitions: BTreeMap<String, BTreeMap<String, String>>,
}

/// The format [`SchemaTracker::to_text`] writes.
pub const FORMAT: u32 = 1;

impl SchemaTracker {
    /// No schemas yet; `server_charset`: the upstream's
    /// `character_set_server` / `collation_server`.
    pub fn new(server_charset: Charset, flavor: Flavor) -> Self {
        Self {
            server_charset,
            flavor,
            schemas: BTreeMap::new(),
            tables: BTreeMap::new(),
            changes: 0,
        }
    }

    /// The definition of `schema`.`table`, if tracked.
    pub fn table(&self, schema: &str, table: &str) -> Option<&TableDef> {
        self.tables.get(schema).and_then(|t| t.get(table))
    }

    /// Every tracked table, by schema then name.
    pub fn tables(&self) -> impl Iterator<Item = &TableDef> {
        self.tables.values().flat_map(BTreeMap::values)
    }

    /// The known schemas.
    pub fn schemas(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    /// The default character set of tables created in `schema`.
    pub fn schema_charset(&self, schema: &str) -> Charset {
        self.schemas
            .get(schema)
            .cloned()
            .flatten()
            .unwrap_or_else(|| self.server_charset.clone())
    }

    /// Records `schema` as it is at the start (`charset`: its default, if
    /// known).
    pub fn seed_schema(&mut self, schema: &str, charset: Option<Charset>) {
        self.schemas.insert(schema.to_string(), charset);
    }

    /// Sets `schema`.`table` from `SHOW CREATE TABLE` text (at the start,
    /// or replaced by hand); returns its new version.
    pub fn seed(&mut self, schema: &str, create_sql: &str) -> Result<u64, SchemaError> {
        self.define(schema, None, create_sql)
    }

    /// Sets `schema`.`table` from `CREATE TABLE` text given by hand
    /// (`binlog-schema update`), whatever name the text gives it; returns
    /// its new version.
    pub fn replace(
        &mut self,
        schema: &str,
        table: &str,
        create_sql: &str,
    ) -> Result<u64, SchemaError> {
        self.define(schema, Some(table), create_sql)
    }

    /// Sets a table of `schema` from `CREATE TABLE` text, named `table`
    /// when given (else as the text names it); returns its new version.
    fn define(
        &mut self,
        schema: &str,
        table: Option<&str>,
        create_sql: &str,
    ) -> Result<u64, SchemaError> {
        let charset = self.schema_charset(schema);
        let mut def = TableDef::from_create(schema, create_sql, &charset)?;
        if let Some(name) = table {
            def.name = name.to_string();
        }
        self.schemas.entry(schema.to_string()).or_insert(None);
        def.version = self.next_version();
        let version = def.version;
        self.put(def);
        Ok(version)
    }

    /// Applies `ddl_sql` as [`Self::apply`] for a task that reads only the
    /// tables `selects` admits (`selects(schema, "")`: the schema itself):
    /// tables it does not read are not kept, and what the tracker cannot
    /// follow about them is no error.
    pub fn apply_selected(
        &mut self,
        current_schema: &str,
        ddl_sql: &str,
        selects: &dyn Fn(&str, &str) -> bool,
    ) -> Result<Applied, SchemaError> {
        match self.apply(current_schema, ddl_sql) {
            Ok(applied) => {
                self.retain(selects);
                Ok(applied)
            }
            Err(e) => match e.subject() {
                Some(Subject::Table((schema, table))) if !selects(schema, table) => {
                    Ok(Applied::Unchanged)
                }
                Some(Subject::Schema(schema)) if !selects(schema, "") => Ok(Applied::Unchanged),
                _ => Err(e),
            },
        }
    }

    /// Forgets every table `selects` does not admit.
    pub fn retain(&mut self, selects: &dyn Fn(&str, &str) -> bool) {
        for (schema, tables) in &mut self.tables {
            tables.retain(|name, _| selects(schema, name));
        }
        self.tables.retain(|_, tables| !tables.is_empty());
    }

    /// Forgets `schema`.`table`; whether it was tracked.
    pub fn forget(&mut self, schema: &str, table: &str) -> bool {
        self.take(&(schema.to_string(), table.to_string()))
            .is_some()
    }

    /// The state as text (JSON of a versioned struct; maps are ordered,
    /// so equal states give equal text).
    pub fn to_text(&self) -> String {
        let definitions = self
            .tables
            .iter()
            .map(|(schema, tables)| {
                let rendered = tables
                    .iter()
                    .map(|(name, table)| (name.clone(), table.to_create()))
                    .collect();
                (schema.clone(), rendered)
            })
            .collect();
        let persisted = Persisted {
            format: FORMAT,
            tracker: self.clone(),
            definitions,
        };
        // Serializing plain structs and string-keyed maps cannot fail.
        serde_json::to_string(&persisted).unwrap_or_default()
    }

    /// The state [`Self::to_text`] wrote.
    pub fn from_text(text: &str) -> Result<Self, SchemaError> {
        let persisted: Persisted =
            serde_json::from_str(text).map_err(|e| SchemaError::Persisted(e.to_string()))?;
        if persisted.format != FORMAT {
            return Err(SchemaError::Persisted(format!(
                "format {} is not known (this version reads format {FORMAT})",
                persisted.format
            )));
        }
        Ok(persisted.tracker)
    }

    pub(super) fn next_version(&mut self) -> u64 {
        self.changes += 1;
        self.changes
    }

    pub(super) fn put(&mut self, mut table: TableDef) {
        if self.flavor == Flavor::MariaDb {
            for c in &mut table.columns {
                if c.type_name == "json" {
                    c.type_name = "longtext".into();
                    c.charset = Some(Charset::new("utf8mb4", Some("utf8mb4_bin")));
                }
            }
        }
        self.tables
            .entry(table.schema.clone())
            .or_default()
            .insert(table.name.clone(), table);
    }

    pub(super) fn take(&mut self, name: &TableName) -> Option<TableDef> {
        let tables = self.tables.get_mut(&name.0)?;
        let table = tables.remove(&name.1);
        if tables.is_empty() {
            self.tables.remove(&name.0);
        }
        table
    }
}
