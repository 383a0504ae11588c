//! A tracker made from the upstream's definitions at one position
//! ([`SchemaSeed`]): the server's and each schema's default character
//! set, then every table's `SHOW CREATE TABLE` text.

use super::table::Charset;
use super::tracker::{Flavor, SchemaTracker};
use crate::upstream::SchemaSeed;

impl SchemaTracker {
    /// The tracker of `seed`, and why each table it leaves out (a
    /// definition it cannot read) is left out.
    pub fn from_seed(seed: &SchemaSeed) -> (Self, Vec<String>) {
        let collation = |c: &str| (!c.is_empty()).then(|| c.to_string());
        let server = Charset::new(
            &seed.server_charset,
            collation(&seed.server_collation).as_deref(),
        );
        let flavor = if seed.mariadb {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        };
        let mut tracker = SchemaTracker::new(server, flavor);
        for schema in &seed.schemas {
            let charset = (!schema.charset.is_empty())
                .then(|| Charset::new(&schema.charset, collation(&schema.collation).as_deref()));
            tracker.seed_schema(&schema.name, charset);
        }
        let mut left_out = Vec::new();
        for table in &seed.tables {
            if let Err(e) = tracker.seed(&table.schema, &table.create) {
                left_out.push(format!("`{}`.`{}`: {e}", table.schema, table.table));
            }
        }
        (tracker, left_out)
    }
}
