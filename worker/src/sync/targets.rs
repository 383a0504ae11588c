//! What the sync needs to know of a downstream table before it writes a
//! row event's changes to it, asked once per table until the next DDL:
//! - whether its changes must stay on one lane (a unique key besides the
//!   primary key: the order of changes across rows matters, see `route`);
//! - which of its columns are generated (virtual or stored): the server
//!   computes them and refuses a value for one (ERROR 1906), so every
//!   statement leaves them out, as the full copy does.
//!
//! [`prepare`] then shapes a row event's routed changes for the lanes: the
//! generated columns taken out of the columns and both images, and every
//! image checked to hold what its statements need (see `sql::dml`).

use std::collections::HashMap;
use std::sync::Arc;

use super::lane::Routed;
use super::SyncError;
use crate::downstream::Downstream;
use crate::sql::dml::check_images;
use crate::sql::qualified;
use crate::upstream::event::{without, Logged};
use crate::upstream::Column;

/// What the sync knows of one downstream table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFacts {
    /// Its changes go to one lane.
    pub serial: bool,
    /// Its generated columns.
    pub generated: Vec<String>,
}

/// The facts of the tables written since the last DDL.
#[derive(Debug, Default)]
pub struct Targets {
    known: HashMap<String, Arc<TargetFacts>>,
}

impl Targets {
    /// The facts of `schema`.`table`, asked of the downstream the first time.
    pub async fn facts(
        &mut self,
        downstream: &dyn Downstream,
        schema: &str,
        table: &str,
    ) -> Result<Arc<TargetFacts>, SyncError> {
        let key = qualified(schema, table);
        if let Some(known) = self.known.get(&key) {
            return Ok(known.clone());
        }
        let facts = Arc::new(TargetFacts {
            serial: downstream.has_other_unique_keys(schema, table).await?,
            generated: downstream.generated_columns(schema, table).await?,
        });
        self.known.insert(key, facts.clone());
        Ok(facts)
    }

    /// Forgets every table (after a DDL).
    pub fn clear(&mut self) {
        self.known.clear();
    }
}

/// Leaves `facts`' generated columns out of one row event's `routed`
/// changes (they share their columns) and checks every image.
pub fn prepare(routed: &mut [Routed], facts: &TargetFacts) -> Result<(), SyncError> {
    let Some(first) = routed.first() else {
        return Ok(());
    };
    let dropped: Vec<usize> = first
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| facts.generated.contains(&c.name))
        .map(|(i, _)| i)
        .collect();
    if !dropped.is_empty() {
        let columns: Arc<[Column]> = without(&first.columns, &dropped).into();
        for r in routed.iter_mut() {
            r.columns = columns.clone();
            let change = &mut r.change;
            for image in [change.before.as_mut(), change.after.as_mut()]
                .into_iter()
                .flatten()
            {
                *image = without(image, &dropped);
            }
            change.logged = change.logged.as_ref().and_then(|l| {
                let kept = l.without(&dropped);
                Logged::from_bitmaps(Some(kept.before), Some(kept.after), columns.len())
            });
        }
    }
    for r in routed.iter() {
        check_images(&r.columns, &r.change, r.safe).map_err(|why| SyncError::Row {
            table: qualified(&r.target_schema, &r.target_table),
            at: r.end.to_string(),
            error: why.to_string(),
        })?;
    }
    Ok(())
}
