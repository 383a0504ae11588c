//! MySQL GTID sets (`uuid:1-5:7-9,uuid2:1-3`): what a MySQL upstream has
//! executed, as checkpoints record it and `COM_BINLOG_DUMP_GTID` takes it.
//!
//! A MariaDB GTID position (`domain-server-seq`, one per domain) names the
//! last transaction of each domain, so the reader keeps the last one it saw.
//! A MySQL position is the whole set of executed transactions instead: the
//! reader starts from the checkpoint's set and adds each GTID event's
//! `uuid:gno` to it. Sets are kept merged and sorted, so the text form is
//! canonical and equal sets print equal.

use std::collections::BTreeMap;
use std::fmt;

use mysql_async::{GnoInterval, Sid};

/// Whether a recorded GTID position is a MySQL set (MariaDB GTIDs have no
/// `:`).
pub fn is_mysql_gtid(text: &str) -> bool {
    text.contains(':')
}

/// A MySQL GTID set: per server uuid, sorted disjoint inclusive intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet {
    by_uuid: BTreeMap<String, Vec<(u64, u64)>>,
}

/// Why a text is not a MySQL GTID set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtidSetError {
    #[error("GTID set {text:?}: {uuid:?} is not a server uuid: {error}")]
    NotUuid {
        text: String,
        uuid: String,
        error: String,
    },
    #[error("GTID set {text:?}: {interval:?} is not `N` or `N-M` (numbers)")]
    NotInterval { text: String, interval: String },
    #[error("GTID set {text:?}: interval {interval:?} must be 1 <= N <= M")]
    EmptyInterval { text: String, interval: String },
    #[error("GTID set {text:?}: {part:?} has no interval")]
    NoInterval { text: String, part: String },
}

impl GtidSet {
    /// Parses `uuid:1-5:7,uuid2:3` (whitespace and newlines as MySQL prints
    /// them are ignored; an empty text is the empty set).
    pub fn parse(text: &str) -> Result<Self, GtidSetError> {
        let mut set = Self::default();
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for part in compact.split(',').filter(|p| !p.is_empty()) {
            let mut pieces = part.split(':');
            let uuid = pieces.next().unwrap_or_default();
            let uuid = uuid::Uuid::parse_str(uuid)
                .map_err(|e| GtidSetError::NotUuid {
                    text: text.to_string(),
                    uuid: uuid.to_string(),
                    error: e.to_string(),
                })?
                .as_hyphenated()
                .to_string();
            let mut any = false;
            for interval in pieces {
                let (from, to) = interval.split_once('-').unwrap_or((interval, interval));
                let parse = |n: &str| {
                    n.parse::<u64>().map_err(|_| GtidSetError::NotInterval {
                        text: text.to_string(),
                        interval: interval.to_string(),
                    })
                };
                let (from, to) = (parse(from)?, parse(to)?);
                if from == 0 || to < from {
                    return Err(GtidSetError::EmptyInterval {
                        text: text.to_string(),
                        interval: interval.to_string(),
                    });
                }
                set.add_range(&uuid, from, to);
                any = true;
            }
            if !any {
                return Err(GtidSetError::NoInterval {
                    text: text.to_string(),
                    part: part.to_string(),
                });
            }
        }
        Ok(set)
    }

    /// Adds one transaction `uuid:gno`.
    pub fn add(&mut self, uuid: &str, gno: u64) {
        self.add_range(uuid, gno, gno);
    }

    fn add_range(&mut self, uuid: &str, from: u64, to: u64) {
        let intervals = self.by_uuid.entry(uuid.to_ascii_lowercase()).or_default();
        intervals.push((from, to));
        intervals.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(intervals.len());
        for &(start, end) in intervals.iter() {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        *intervals = merged;
    }

    /// Whether `uuid:gno` is in the set.
    pub fn contains(&self, uuid: &str, gno: u64) -> bool {
        self.by_uuid
            .get(&uuid.to_ascii_lowercase())
            .is_some_and(|i| i.iter().any(|&(from, to)| from <= gno && gno <= to))
    }

    /// The set as `COM_BINLOG_DUMP_GTID` takes it (wire intervals end
    /// exclusive).
    pub fn to_sids(&self) -> Vec<Sid<'static>> {
        self.by_uuid
            .iter()
            .filter_map(|(uuid, intervals)| {
                let uuid = uuid::Uuid::parse_str(uuid).ok()?;
                let intervals = intervals
                    .iter()
                    .map(|&(from, to)| GnoInterval::new(from, to.saturating_add(1)))
                    .collect();
                Some(Sid::new(*uuid.as_bytes()).with_intervals(intervals))
            })
            .collect()
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (uuid, intervals)) in self.by_uuid.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            f.write_str(uuid)?;
            for &(from, to) in intervals {
                if from == to {
                    write!(f, ":{from}")?;
                } else {
                    write!(f, ":{from}-{to}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "a1b2c3d4-0000-0000-0000-000000000001";

    #[test]
    fn parses_and_prints_canonically() {
        let set = GtidSet::parse(&format!("{B}:3,\n{}:1-5:7-9:6", A.to_ascii_uppercase()))
            .expect("valid set");
        assert_eq!(set.to_string(), format!("{A}:1-9,{B}:3"));
        assert_eq!(GtidSet::parse("").expect("empty").to_string(), "");
    }

    #[test]
    fn adding_merges_neighbours_and_fills_gaps() {
        let mut set = GtidSet::parse(&format!("{A}:1-3:5")).expect("valid set");
        set.add(A, 7);
        assert_eq!(set.to_string(), format!("{A}:1-3:5:7"));
        set.add(A, 4);
        assert_eq!(set.to_string(), format!("{A}:1-5:7"));
        set.add(A, 6);
        set.add(A, 2);
        assert_eq!(set.to_string(), format!("{A}:1-7"));
        set.add(B, 1);
        assert_eq!(set.to_string(), format!("{A}:1-7,{B}:1"));
        assert!(set.contains(A, 7) && !set.contains(A, 8) && set.contains(B, 1));
    }

    #[test]
    fn wire_intervals_end_exclusive() {
        let set = GtidSet::parse(&format!("{A}:1-5:7")).expect("valid set");
        let sids = set.to_sids();
        assert_eq!(sids.len(), 1);
        let wire: Vec<(u64, u64)> = sids[0]
            .intervals()
            .iter()
            .map(|i| (i.start(), i.end()))
            .collect();
        assert_eq!(wire, vec![(1, 6), (7, 8)]);
        assert_eq!(sids[0].to_string(), format!("{A}:1-5:7"));
    }

    #[test]
    fn bad_sets_name_the_part() {
        for bad in [
            "nonsense:1-2",
            A,
            &format!("{A}:x"),
            &format!("{A}:5-3"),
            &format!("{A}:0"),
        ] {
            let err = GtidSet::parse(bad).expect_err(bad).to_string();
            assert!(err.contains("GTID set"), "{err}");
        }
        assert!(is_mysql_gtid(&format!("{A}:1")) && !is_mysql_gtid("0-1-5"));
    }
}
