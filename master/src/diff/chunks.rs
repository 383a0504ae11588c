//! The pure parts of the comparison: chunk ranges over the primary key, the
//! SQL that reads one chunk, combining the checksums of upstream shards, and
//! the row-by-row diff of a chunk that differs.
//!
//! Nothing here touches a server: keys are opaque values (`K`) handed back
//! to the server as query parameters, and rows arrive as text.

use std::collections::BTreeMap;

/// Separator of the columns in the checksummed text (ASCII unit separator:
/// rarely part of data, so shifting text from one column into the next
/// seldom keeps the checksum).
const SEPARATOR_SQL: &str = "CHAR(31)";

use dm_proto::sql::quote;

/// One range of the primary key: from `lower` (included) to `upper`
/// (excluded); `None` is unbounded. The same ranges are read on every side,
/// so a row falls into the same chunk wherever it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<K> {
    pub lower: Option<K>,
    pub upper: Option<K>,
}

impl<K: Clone> Chunk<K> {
    /// The query parameters of [`range_condition`] for this chunk: the
    /// lower bound's values, then the upper bound's.
    pub fn params<V: Clone>(&self, values: impl Fn(&K) -> Vec<V>) -> Vec<V> {
        let mut out = Vec::new();
        if let Some(lower) = &self.lower {
            out.extend(values(lower));
        }
        if let Some(upper) = &self.upper {
            out.extend(values(upper));
        }
        out
    }
}

/// The chunks between consecutive `boundaries` (the first key of every
/// chunk but the first, in key order). The first chunk has no lower bound
/// and the last no upper bound, so upstream rows below or above every
/// downstream key are compared too.
pub fn chunks_between<K: Clone>(boundaries: &[K]) -> Vec<Chunk<K>> {
    chunks_within(
        &Chunk {
            lower: None,
            upper: None,
        },
        boundaries,
    )
}

/// `outer` cut at `boundaries` (keys inside it, in order): the pieces
/// cover exactly the keys of `outer`.
pub fn chunks_within<K: Clone>(outer: &Chunk<K>, boundaries: &[K]) -> Vec<Chunk<K>> {
    let mut lowers: Vec<Option<K>> = vec![outer.lower.clone()];
    lowers.extend(boundaries.iter().cloned().map(Some));
    let mut uppers: Vec<Option<K>> = boundaries.iter().cloned().map(Some).collect();
    uppers.push(outer.upper.clone());
    lowers
        .into_iter()
        .zip(uppers)
        .map(|(lower, upper)| Chunk { lower, upper })
        .collect()
}

/// Which side of a differing chunk to cut it along before reading rows:
/// the one with the most rows, when it has more than twice `chunk_rows`
/// (chunks are cut along the downstream's keys, so a side the downstream
/// lacks many rows of can hold far more). Cutting along one side leaves
/// at most `chunk_rows` of its rows in each piece, so after at most one cut
/// per side every piece is small.
pub fn oversized_side(rows_per_side: &[u64], chunk_rows: u64) -> Option<usize> {
    let (side, rows) = rows_per_side
        .iter()
        .enumerate()
        .max_by_key(|(_, rows)| **rows)?;
    (*rows > chunk_rows.saturating_mul(2)).then_some(side)
}

/// `(pk...)` as a row constructor (a plain column for a one-column key).
fn key_tuple(key: &[String]) -> String {
    let cols: Vec<String> = key.iter().map(|c| quote(c)).collect();
    if cols.len() == 1 {
        cols.join("")
    } else {
        format!("({})", cols.join(", "))
    }
}

/// `(?, ...)` with one mark per key column.
fn marks(key: &[String]) -> String {
    let marks = vec!["?"; key.len()].join(", ");
    if key.len() == 1 {
        marks
    } else {
        format!("({marks})")
    }
}

/// The `WHERE` condition of a chunk with the given bounds (tuple comparison
/// for a composite key); parameters as [`Chunk::params`] gives them.
pub fn range_condition(key: &[String], lower: bool, upper: bool) -> String {
    let tuple = key_tuple(key);
    let marks = marks(key);
    match (lower, upper) {
        (false, false) => "TRUE".into(),
        (true, false) => format!("{tuple} >= {marks}"),
        (false, true) => format!("{tuple} < {marks}"),
        (true, true) => format!("{tuple} >= {marks} AND {tuple} < {marks}"),
    }
}

fn order_by(key: &[String]) -> String {
    key.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
}

/// The first key of the next chunk: the key `chunk_rows` rows after the
/// current chunk's first key (or after the table's start), below `upper`
/// when there is one; parameters: the first key, then `upper`.
pub fn next_boundary_sql(
    table: &str,
    key: &[String],
    chunk_rows: u64,
    bounds: (bool, bool),
) -> String {
    let condition = range_condition(key, bounds.0, bounds.1);
    format!(
        "SELECT {} FROM {table} WHERE {condition} ORDER BY {} LIMIT 1 OFFSET {chunk_rows}",
        order_by(key),
        order_by(key)
    )
}

/// Row count and checksum of one chunk: the sum of the CRC32 of every row's
/// columns joined as text, with one `ISNULL` flag per column so that NULL
/// differs from any value (`CONCAT_WS` skips NULLs). A sum does not depend
/// on the order rows are read in, and sums of shards add up.
pub fn checksum_sql(
    table: &str,
    columns: &[String],
    key: &[String],
    chunk: (bool, bool),
) -> String {
    let values: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let nulls: Vec<String> = columns
        .iter()
        .map(|c| format!("ISNULL({})", quote(c)))
        .collect();
    format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CRC32(CONCAT_WS({SEPARATOR_SQL}, {}, {}))), 0) AS CHAR) \
         FROM {table} WHERE {}",
        values.join(", "),
        nulls.join(", "),
        range_condition(key, chunk.0, chunk.1)
    )
}

/// The rows of one chunk, columns in `columns`' order.
pub fn rows_sql(table: &str, columns: &[String], key: &[String], chunk: (bool, bool)) -> String {
    let values: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    format!(
        "SELECT {} FROM {table} WHERE {} ORDER BY {}",
        values.join(", "),
        range_condition(key, chunk.0, chunk.1),
        order_by(key)
    )
}

/// Row count and checksum of a chunk on one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum {
    pub rows: u64,
    pub sum: u64,
}

impl Checksum {
    /// The checksum of the union of two disjoint sets of rows (two shards).
    pub fn combine(self, other: Checksum) -> Checksum {
        Checksum {
            rows: self.rows.saturating_add(other.rows),
            sum: self.sum.wrapping_add(other.sum),
        }
    }
}

/// One row as text: its key and its image (`col=value, ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRow {
    pub key: String,
    pub image: String,
}

/// How a row differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Upstream only.
    Missing,
    /// Downstream only.
    Extra,
    /// On both sides with different values.
    Changed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::Extra => "extra",
            Kind::Changed => "changed",
        }
    }
}

/// One differing row; the image of an absent side is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: Kind,
    pub key: String,
    pub upstream: String,
    pub downstream: String,
}

/// The rows of one chunk compared by key: how many distinct keys were
/// compared, and the differences in key-text order. When shards hold the
/// same key twice, the first image is compared (the counts already made
/// the chunk differ).
pub fn diff_rows(upstream: Vec<TextRow>, downstream: Vec<TextRow>) -> (u64, Vec<Difference>) {
    let mut up: BTreeMap<String, String> = BTreeMap::new();
    for row in upstream {
        up.entry(row.key).or_insert(row.image);
    }
    let mut down: BTreeMap<String, String> = BTreeMap::new();
    for row in downstream {
        down.entry(row.key).or_insert(row.image);
    }
    let mut keys: Vec<&String> = up.keys().chain(down.keys()).collect();
    keys.sort();
    keys.dedup();
    let compared = keys.len() as u64;
    let differences = keys
        .into_iter()
        .filter_map(|key| match (up.get(key), down.get(key)) {
            (Some(u), Some(d)) if u == d => None,
            (Some(u), Some(d)) => Some(Difference {
                kind: Kind::Changed,
                key: key.clone(),
                upstream: u.clone(),
                downstream: d.clone(),
            }),
            (Some(u), None) => Some(Difference {
                kind: Kind::Missing,
                key: key.clone(),
                upstream: u.clone(),
                downstream: String::new(),
            }),
            (None, Some(d)) => Some(Difference {
                kind: Kind::Extra,
                key: key.clone(),
                upstream: String::new(),
                downstream: d.clone(),
            }),
            (None, None) => None,
        })
        .collect();
    (compared, differences)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, image: &str) -> TextRow {
        TextRow {
            key: key.into(),
            image: image.into(),
        }
    }

    #[test]
    fn chunks_cover_the_whole_key_space() {
        assert_eq!(
            chunks_between::<u32>(&[]),
            vec![Chunk {
                lower: None,
                upper: None
            }]
        );
        let chunks = chunks_between(&[10, 20]);
        assert_eq!(
            chunks,
            vec![
                Chunk {
                    lower: None,
                    upper: Some(10)
                },
                Chunk {
                    lower: Some(10),
                    upper: Some(20)
                },
                Chunk {
                    lower: Some(20),
                    upper: None
                },
            ]
        );
        assert_eq!(chunks[1].params(|k| vec![*k]), vec![10, 20]);
        assert_eq!(chunks[2].params(|k| vec![*k]), vec![20]);
    }

    #[test]
    fn a_chunk_is_cut_into_pieces_within_its_bounds() {
        let outer = Chunk {
            lower: Some(10),
            upper: None,
        };
        assert_eq!(
            chunks_within(&outer, &[15]),
            vec![
                Chunk {
                    lower: Some(10),
                    upper: Some(15)
                },
                Chunk {
                    lower: Some(15),
                    upper: None
                },
            ]
        );
        assert_eq!(chunks_within(&outer, &[]), vec![outer]);
    }

    #[test]
    fn only_a_side_far_above_the_chunk_size_is_cut_along() {
        assert_eq!(oversized_side(&[0, 100, 250, 30], 100), Some(2));
        assert_eq!(oversized_side(&[0, 200, 150], 100), None);
        assert_eq!(oversized_side(&[], 100), None);
    }

    #[test]
    fn conditions_use_one_column_or_a_tuple() {
        let one = vec!["id".to_string()];
        assert_eq!(range_condition(&one, false, false), "TRUE");
        assert_eq!(range_condition(&one, true, true), "`id` >= ? AND `id` < ?");
        let two = vec!["a".to_string(), "b`c".to_string()];
        assert_eq!(
            range_condition(&two, true, false),
            "(`a`, `b``c`) >= (?, ?)"
        );
        assert_eq!(range_condition(&two, false, true), "(`a`, `b``c`) < (?, ?)");
    }

    #[test]
    fn checksums_flag_nulls_and_boundaries_skip_a_chunk() {
        let cols = vec!["id".to_string(), "c".to_string()];
        let key = vec!["id".to_string()];
        let sql = checksum_sql("`d`.`t`", &cols, &key, (true, false));
        assert!(sql.contains("CONCAT_WS(CHAR(31), `id`, `c`, ISNULL(`id`), ISNULL(`c`))"));
        assert!(sql.ends_with("WHERE `id` >= ?"), "{sql}");
        assert_eq!(
            next_boundary_sql("`d`.`t`", &key, 100, (false, false)),
            "SELECT `id` FROM `d`.`t` WHERE TRUE ORDER BY `id` LIMIT 1 OFFSET 100"
        );
        assert_eq!(
            rows_sql("`d`.`t`", &cols, &key, (false, true)),
            "SELECT `id`, `c` FROM `d`.`t` WHERE `id` < ? ORDER BY `id`"
        );
    }

    #[test]
    fn shard_checksums_add_up_in_any_order() {
        let a = Checksum {
            rows: 2,
            sum: u64::MAX,
        };
        let b = Checksum { rows: 3, sum: 5 };
        assert_eq!(a.combine(b), b.combine(a));
        assert_eq!(a.combine(b), Checksum { rows: 5, sum: 4 });
        assert_eq!(Checksum::default().combine(b), b);
    }

    #[test]
    fn rows_differ_by_key() {
        let up = vec![row("id=1", "a"), row("id=2", "b"), row("id=3", "c")];
        let down = vec![row("id=1", "a"), row("id=3", "C"), row("id=4", "d")];
        let (compared, diffs) = diff_rows(up, down);
        assert_eq!(compared, 4);
        let kinds: Vec<(&str, &str)> = diffs
            .iter()
            .map(|d| (d.kind.as_str(), d.key.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![("missing", "id=2"), ("changed", "id=3"), ("extra", "id=4")]
        );
        assert_eq!(diffs[1].upstream, "c");
        assert_eq!(diffs[1].downstream, "C");
        assert_eq!(diffs[0].downstream, "");
    }
}
