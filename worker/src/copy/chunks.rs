//! Splitting a table into key-range chunks.
//!
//! A table with a single integer key is cut into half-open ranges
//! `[lower, upper)` of about `rows_per_chunk` rows each, assuming keys are
//! spread evenly between the smallest and the largest (auto-increment keys
//! mostly are). The plan depends only on (min, max, rows, rows_per_chunk),
//! so a resumed copy computes the same chunks and can skip the ones marked
//! done. The first chunk has no lower bound and the last no upper bound, so
//! keys outside [min, max] at copy time are still copied.

/// One chunk: keys in `[lower, upper)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub index: u32,
    pub lower: Option<i128>,
    pub upper: Option<i128>,
}

/// Plans the chunks of a table whose integer key spans `[min, max]` over
/// about `rows` rows. An empty table (`min > max`) is one unbounded chunk.
pub fn plan_int_chunks(min: i128, max: i128, rows: u64, rows_per_chunk: u64) -> Vec<Chunk> {
    let whole = vec![Chunk {
        index: 0,
        lower: None,
        upper: None,
    }];
    if min > max || rows_per_chunk == 0 || rows <= rows_per_chunk {
        return whole;
    }
    let span = max - min + 1;
    let count = rows.div_ceil(rows_per_chunk).min(u64::from(u32::MAX));
    let count = i128::from(count).min(span);
    if count <= 1 {
        return whole;
    }
    let step = (span + count - 1) / count;
    let mut bounds: Vec<i128> = (1..count)
        .map(|i| min + i * step)
        .filter(|b| *b <= max)
        .collect();
    bounds.dedup();
    let mut chunks = Vec::with_capacity(bounds.len() + 1);
    let mut lower = None;
    for (index, bound) in bounds.iter().enumerate() {
        chunks.push(Chunk {
            index: index as u32,
            lower,
            upper: Some(*bound),
        });
        lower = Some(*bound);
    }
    chunks.push(Chunk {
        index: bounds.len() as u32,
        lower,
        upper: None,
    });
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers_everything(chunks: &[Chunk]) -> bool {
        chunks.first().is_some_and(|c| c.lower.is_none())
            && chunks.last().is_some_and(|c| c.upper.is_none())
            && chunks
                .windows(2)
                .all(|w| w[0].upper == w[1].lower && w[0].upper.is_some())
            && chunks
                .iter()
                .enumerate()
                .all(|(i, c)| c.index as usize == i)
    }

    #[test]
    fn small_or_empty_tables_are_one_chunk() {
        for (min, max, rows) in [(1, 100, 100), (5, 4, 0), (1, 1, 1)] {
            let chunks = plan_int_chunks(min, max, rows, 1000);
            assert_eq!(chunks.len(), 1, "{min}..{max}");
            assert!(covers_everything(&chunks));
        }
    }

    #[test]
    fn a_big_table_is_cut_into_even_ranges_that_cover_every_key() {
        let chunks = plan_int_chunks(1, 1_000_000, 1_000_000, 100_000);
        assert_eq!(chunks.len(), 10);
        assert!(covers_everything(&chunks));
        assert_eq!(chunks[1].lower, Some(100_001));
        assert_eq!(chunks[9].lower, Some(900_001));
    }

    #[test]
    fn the_plan_is_deterministic_and_handles_sparse_and_negative_keys() {
        assert_eq!(
            plan_int_chunks(-50, 50, 101, 10),
            plan_int_chunks(-50, 50, 101, 10)
        );
        let sparse = plan_int_chunks(1, 1_000_000_000_000, 300, 100);
        assert_eq!(sparse.len(), 3);
        assert!(covers_everything(&sparse));
        // More chunks wanted than distinct keys: never an empty range.
        let dense = plan_int_chunks(1, 3, 1000, 10);
        assert!(dense.len() <= 3 && covers_everything(&dense));
    }

    #[test]
    fn unsigned_bigint_keys_fit() {
        let max = i128::from(u64::MAX);
        let chunks = plan_int_chunks(0, max, 4_000_000, 1_000_000);
        assert_eq!(chunks.len(), 4);
        assert!(covers_everything(&chunks));
    }
}
