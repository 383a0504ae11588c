//! Which tables a source's copy reads and how: the tables the snapshot
//! lists, routed, with their chunk key and key range read inside the
//! snapshot. Works on any [`CopySnapshot`].

use super::plan::{chunk_key, PlannedTable};
use super::CopyError;
use crate::upstream::{BaseTable, CopySnapshot};
use dm_rules::TaskRules;

/// Plans a table: route, chunk key, key range (read in the snapshot). With
/// a `row_filter` the estimate is the count of the rows that meet it.
pub async fn plan(
    snapshot: &mut dyn CopySnapshot,
    rules: &TaskRules,
    candidate: &BaseTable,
    row_filter: Option<&str>,
) -> Result<PlannedTable, CopyError> {
    let (target_schema, target_table) = rules
        .route(&candidate.schema, &candidate.table)
        .map_err(|e| CopyError::Rules(e.to_string()))?;
    let columns = snapshot
        .index_columns(&candidate.schema, &candidate.table)
        .await?;
    let key = chunk_key(&columns);
    let key_range = match &key {
        Some(k) => {
            snapshot
                .key_range(&candidate.schema, &candidate.table, k)
                .await?
        }
        None => None,
    };
    let estimate_rows = match row_filter {
        Some(filter) => {
            snapshot
                .count_rows(&candidate.schema, &candidate.table, filter)
                .await?
        }
        None => candidate.estimate_rows,
    };
    Ok(PlannedTable {
        schema: candidate.schema.clone(),
        table: candidate.table.clone(),
        target_schema,
        target_table,
        key,
        key_range,
        estimate_rows,
    })
}
