//! The copy plan: which key a table is chunked on, its chunks, and the key
//! range the upstream reads for one chunk. Pure.
//!
//! A table is chunked on a single-column integer key: its primary key, or
//! else a unique key over one `NOT NULL` column. Other tables are copied as
//! one chunk (still one transaction with its done-mark).

use super::chunks::plan_int_chunks;
use crate::downstream::StoredChunk;
pub use crate::upstream::IndexColumn;
use crate::upstream::KeyRange;

/// The column to chunk on, if the table has a usable one.
pub fn chunk_key(columns: &[IndexColumn]) -> Option<String> {
    let single = |name: &str| {
        let parts: Vec<&IndexColumn> = columns.iter().filter(|c| c.index == name).collect();
        match parts.as_slice() {
            [only] if only.unique && only.integer && !only.nullable => Some(only.column.clone()),
            _ => None,
        }
    };
    if let Some(key) = single("PRIMARY") {
        return Some(key);
    }
    let mut names: Vec<&str> = columns.iter().map(|c| c.index.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().find_map(single)
}

/// The columns that name a row in messages: the primary key's, else the
/// first unique key's over `NOT NULL` columns; empty without either.
pub fn identifying_key(columns: &[IndexColumn]) -> Vec<String> {
    let of = |name: &str| -> Vec<String> {
        columns
            .iter()
            .filter(|c| c.index == name)
            .map(|c| c.column.clone())
            .collect()
    };
    if columns.iter().any(|c| c.index == "PRIMARY") {
        return of("PRIMARY");
    }
    let mut unique: Vec<&str> = columns
        .iter()
        .filter(|c| c.unique)
        .map(|c| c.index.as_str())
        .collect();
    unique.sort_unstable();
    unique.dedup();
    unique
        .into_iter()
        .find(|name| {
            columns
                .iter()
                .filter(|c| c.index == *name)
                .all(|c| !c.nullable)
        })
        .map(of)
        .unwrap_or_default()
}

/// Where an upstream table goes and what is known about it at plan time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTable {
    pub schema: String,
    pub table: String,
    pub target_schema: String,
    pub target_table: String,
    pub key: Option<String>,
    /// Smallest and largest key in the snapshot; `None` if empty.
    pub key_range: Option<(i128, i128)>,
    pub estimate_rows: u64,
}

/// The chunks of one table.
pub fn plan_table(t: &PlannedTable, rows_per_chunk: u64) -> Vec<StoredChunk> {
    let chunks = match (&t.key, t.key_range) {
        (Some(_), Some((min, max))) => plan_int_chunks(min, max, t.estimate_rows, rows_per_chunk),
        _ => plan_int_chunks(1, 0, 0, rows_per_chunk),
    };
    let per_chunk = t.estimate_rows / chunks.len().max(1) as u64;
    chunks
        .into_iter()
        .map(|c| StoredChunk {
            schema: t.schema.clone(),
            table: t.table.clone(),
            index: c.index,
            target_schema: t.target_schema.clone(),
            target_table: t.target_table.clone(),
            key_column: t.key.clone(),
            lower: c.lower,
            upper: c.upper,
            estimate_rows: per_chunk,
            done: None,
        })
        .collect()
}

/// The key range the upstream reads for `chunk`, of the rows that meet
/// `row_filter` (the instance's `mydumpers.where`).
pub fn key_range(chunk: &StoredChunk, row_filter: Option<&str>) -> KeyRange {
    KeyRange {
        schema: chunk.schema.clone(),
        table: chunk.table.clone(),
        index: chunk.index,
        key_column: chunk.key_column.clone(),
        lower: chunk.lower,
        upper: chunk.upper,
        row_filter: row_filter.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::mysql::predicate;

    fn col(index: &str, column: &str, unique: bool, nullable: bool, integer: bool) -> IndexColumn {
        IndexColumn {
            index: index.into(),
            unique,
            column: column.into(),
            nullable,
            integer,
        }
    }

    #[test]
    fn rows_are_named_by_the_primary_key_else_a_unique_not_null_key() {
        let pk = [
            col("u", "u", true, false, false),
            col("PRIMARY", "a", true, false, true),
            col("PRIMARY", "b", true, false, false),
        ];
        assert_eq!(identifying_key(&pk), ["a", "b"]);
        let unique = [
            col("a_nullable", "n", true, true, true),
            col("b_plain", "p", false, false, true),
            col("c_unique", "x", true, false, false),
            col("c_unique", "y", true, false, false),
        ];
        assert_eq!(identifying_key(&unique), ["x", "y"]);
        assert!(identifying_key(&unique[..2]).is_empty());
    }

    #[test]
    fn the_chunk_key_is_a_single_integer_unique_column() {
        assert_eq!(
            chunk_key(&[col("PRIMARY", "id", true, false, true)]),
            Some("id".into())
        );
        // A composite primary key does not chunk; a unique integer one does.
        assert_eq!(
            chunk_key(&[
                col("PRIMARY", "a", true, false, true),
                col("PRIMARY", "b", true, false, true),
                col("u_nullable", "n", true, true, true),
                col("u_id", "id", true, false, true),
            ]),
            Some("id".into())
        );
        assert_eq!(
            chunk_key(&[col("PRIMARY", "name", true, false, false)]),
            None
        );
        assert_eq!(chunk_key(&[col("k", "id", false, false, true)]), None);
        assert_eq!(chunk_key(&[]), None);
    }

    fn table(key: Option<&str>, range: Option<(i128, i128)>, rows: u64) -> PlannedTable {
        PlannedTable {
            schema: "db".into(),
            table: "t".into(),
            target_schema: "merged".into(),
            target_table: "t".into(),
            key: key.map(Into::into),
            key_range: range,
            estimate_rows: rows,
        }
    }

    #[test]
    fn chunks_and_their_predicates() {
        let chunks = plan_table(&table(Some("id"), Some((1, 300)), 300), 100);
        let predicate = |c: &StoredChunk| predicate(&key_range(c, None));
        let predicates: Vec<String> = chunks.iter().map(predicate).collect();
        assert_eq!(
            predicates,
            [
                " WHERE `id` < 101",
                " WHERE `id` >= 101 AND `id` < 201",
                " WHERE `id` >= 201"
            ]
        );
        assert!(chunks
            .iter()
            .all(|c| c.estimate_rows == 100 && c.target_schema == "merged"));
        let whole = plan_table(&table(None, None, 5000), 100);
        assert_eq!(whole.len(), 1);
        assert_eq!(predicate(&whole[0]), "");
        // A row filter (mydumpers.where) is added to every chunk.
        let filtered = |c: &StoredChunk| {
            crate::upstream::mysql::predicate(&key_range(c, Some("v = 1 OR v = 2")))
        };
        assert_eq!(
            filtered(&chunks[1]),
            " WHERE `id` >= 101 AND `id` < 201 AND (v = 1 OR v = 2)"
        );
        assert_eq!(filtered(&whole[0]), " WHERE (v = 1 OR v = 2)");
        let empty = plan_table(&table(Some("id"), None, 0), 100);
        assert_eq!(empty.len(), 1);
        assert_eq!(predicate(&empty[0]), "");
    }
}
