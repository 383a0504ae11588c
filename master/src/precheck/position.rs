//! `meta_position`: an incremental task starts its sync at the `meta` of
//! each instance (a binlog file and position, or, without a file, a GTID
//! position), when the downstream has no checkpoint for the source yet. A
//! position the upstream no longer has (purged) or never had would only
//! pause the subtask once it runs (the server refuses the binlog request),
//! so it is refused up front, as DM's meta position check does.
//!
//! Decided from the upstream's binlog facts ([`BinlogFacts`]):
//!
//! - a file: it is listed by `SHOW BINARY LOGS` (else it sorts before the
//!   oldest file: purged; or not: it never existed), the position is within
//!   the file's size, and `SHOW BINLOG EVENTS IN file FROM pos LIMIT 1`
//!   accepts it (the position starts an event);
//! - a MariaDB GTID position (`domain-server-seq`, one per domain): for
//!   each domain, its sequence number is not below the one the oldest
//!   binlog starts after (`BINLOG_GTID_POS(oldest, 4)`; below it, the next
//!   transactions were purged), and the server logged that GTID's server
//!   up to at least that number (`@@gtid_binlog_state`; otherwise it never
//!   existed there);
//! - a MySQL GTID set: the server decides with `GTID_SUBSET`: the set must
//!   hold every purged transaction (`@@gtid_purged`) and only executed
//!   ones (`@@gtid_executed`).

use dm_proto::config::task::Meta;

/// The upstream's binlogs as the meta position check needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinlogFacts {
    /// `SHOW BINARY LOGS`: (file, size in bytes), oldest first.
    pub files: Vec<(String, u64)>,
    pub gtid: GtidFacts,
    /// `SHOW BINLOG EVENTS IN <meta file> FROM <meta position> LIMIT 1`:
    /// the server's refusal, when it refused; `None` when not asked (no
    /// file, or the file is not listed, or the position is past its end).
    pub position_refused: Option<String>,
}

/// The upstream's GTID state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GtidFacts {
    /// Not read (the meta names a file).
    #[default]
    None,
    MariaDb {
        /// `@@gtid_binlog_state`: the last GTID of each (domain, server).
        binlog_state: String,
        /// `@@gtid_binlog_pos`: the last GTID of each domain.
        binlog_pos: String,
        /// `BINLOG_GTID_POS(<oldest file>, 4)`: the GTID position the
        /// oldest binlog starts after.
        at_oldest: String,
    },
    MySql {
        executed: String,
        purged: String,
        /// `GTID_SUBSET(@@gtid_purged, <meta>)`.
        holds_purged: bool,
        /// `GTID_SUBSET(<meta>, @@gtid_executed)`.
        within_executed: bool,
    },
}

/// An incremental source with no checkpoint, no `meta` and no
/// `--start-time`: where its sync would begin is unknown.
pub const MISSING_META: &str = "meta_position: task-mode incremental needs a start position for this source, which has no checkpoint to resume at: add `meta: {binlog-name: ..., binlog-pos: ...}` (or `binlog-gtid`) to its mysql-instances entry, or start the task with --start-time";

/// What recovers a refused meta position.
pub const FIX: &str = "set mysql-instances' meta to a position the upstream still has (SHOW BINARY LOGS), or use task-mode: all to copy the data first";

/// Whether `meta` names a position to check: a file, or a GTID alone.
pub fn has_position(meta: &Meta) -> bool {
    !meta.binlog_name.is_empty() || !meta.binlog_gtid.is_empty()
}

/// The failure text of `meta` on an upstream with `facts`, or `None`.
pub fn meta_position(meta: &Meta, facts: &BinlogFacts) -> Option<String> {
    let problem = if !meta.binlog_name.is_empty() {
        file_position(&meta.binlog_name, meta.binlog_pos, facts)
    } else if !meta.binlog_gtid.is_empty() {
        gtid_position(&meta.binlog_gtid, facts)
    } else {
        None
    }?;
    Some(format!("meta_position: {problem}: {FIX}"))
}

fn file_position(name: &str, pos: u32, facts: &BinlogFacts) -> Option<String> {
    let (Some((oldest, _)), Some((newest, _))) = (facts.files.first(), facts.files.last()) else {
        return Some(format!(
            "binlog {name} does not exist on the upstream (it lists no binlog)"
        ));
    };
    let range = format!("the upstream's binlogs are {oldest} to {newest}");
    let Some((_, size)) = facts.files.iter().find(|(f, _)| f == name) else {
        let verb = if sorts_before(name, oldest) {
            "was purged from"
        } else {
            "does not exist on"
        };
        return Some(format!("binlog {name} {verb} the upstream ({range})"));
    };
    if u64::from(pos) > *size {
        return Some(format!(
            "position ({name}, {pos}) is past the end of {name} ({size} bytes)"
        ));
    }
    facts
        .position_refused
        .as_ref()
        .map(|why| format!("position ({name}, {pos}) is not the start of an event ({why})"))
}

/// Whether binlog file `a` comes before `b`: same base name and a smaller
/// number (`mysql-bin.000002` < `mysql-bin.000010`).
pub fn sorts_before(a: &str, b: &str) -> bool {
    let split = |f: &str| -> Option<(String, u64)> {
        let (base, number) = f.rsplit_once('.')?;
        Some((base.to_string(), number.parse().ok()?))
    };
    match (split(a), split(b)) {
        (Some((base_a, n_a)), Some((base_b, n_b))) => base_a == base_b && n_a < n_b,
        _ => false,
    }
}

/// One MariaDB GTID `domain-server-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

/// A MariaDB GTID that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtidError {
    #[error("{0:?} is not domain-server-sequence")]
    Shape(String),
    #[error("{0:?} is not domain-server-sequence (numbers)")]
    Numbers(String),
}

/// Parses a MariaDB GTID list (`0-1-5,1-2-9`; an empty text is empty).
pub fn parse_mariadb_gtids(text: &str) -> Result<Vec<MariaGtid>, GtidError> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let mut numbers = part.split('-');
            let (Some(d), Some(s), Some(n), None) = (
                numbers.next(),
                numbers.next(),
                numbers.next(),
                numbers.next(),
            ) else {
                return Err(GtidError::Shape(part.to_string()));
            };
            let bad = |_| GtidError::Numbers(part.to_string());
            Ok(MariaGtid {
                domain: d.parse().map_err(bad)?,
                server: s.parse().map_err(bad)?,
                seq: n.parse().map_err(bad)?,
            })
        })
        .collect()
}

fn gtid_position(gtid: &str, facts: &BinlogFacts) -> Option<String> {
    match &facts.gtid {
        GtidFacts::None => None,
        GtidFacts::MySql {
            executed,
            purged,
            holds_purged,
            within_executed,
        } => {
            if !holds_purged {
                Some(format!(
                    "GTID set {gtid} lacks transactions the upstream purged ({purged})"
                ))
            } else if !within_executed {
                Some(format!(
                    "GTID set {gtid} has transactions the upstream never executed (it executed {executed})"
                ))
            } else {
                None
            }
        }
        GtidFacts::MariaDb {
            binlog_state,
            binlog_pos,
            at_oldest,
        } => {
            let wanted = match parse_mariadb_gtids(gtid) {
                Ok(w) => w,
                Err(e) => {
                    return Some(format!(
                        "binlog-gtid {gtid} is not a MariaDB GTID position: {e}"
                    ))
                }
            };
            let state = parse_mariadb_gtids(binlog_state).unwrap_or_default();
            let oldest = parse_mariadb_gtids(at_oldest).unwrap_or_default();
            let oldest_file = facts.files.first().map_or("", |(f, _)| f.as_str());
            for want in &wanted {
                let logged = state
                    .iter()
                    .find(|g| g.domain == want.domain && g.server == want.server);
                if logged.is_none_or(|g| g.seq < want.seq) {
                    let ends = if binlog_pos.is_empty() {
                        "nothing"
                    } else {
                        binlog_pos
                    };
                    return Some(format!(
                        "GTID {gtid} never existed on the upstream (its binlog ends at {ends})"
                    ));
                }
                if oldest
                    .iter()
                    .any(|g| g.domain == want.domain && g.seq > want.seq)
                {
                    return Some(format!(
                        "GTID {gtid} was purged from the upstream (its oldest binlog {oldest_file} starts after {at_oldest})"
                    ));
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, pos: u32, gtid: &str) -> Meta {
        Meta {
            binlog_name: name.into(),
            binlog_pos: pos,
            binlog_gtid: gtid.into(),
        }
    }

    fn files() -> Vec<(String, u64)> {
        vec![
            ("mysql-bin.000003".into(), 700),
            ("mysql-bin.000004".into(), 400),
        ]
    }

    fn mariadb(state: &str, at_oldest: &str) -> BinlogFacts {
        BinlogFacts {
            files: files(),
            gtid: GtidFacts::MariaDb {
                binlog_state: state.into(),
                binlog_pos: state.into(),
                at_oldest: at_oldest.into(),
            },
            position_refused: None,
        }
    }

    fn problem(meta: &Meta, facts: &BinlogFacts) -> Option<String> {
        meta_position(meta, facts).map(|m| {
            m.strip_prefix("meta_position: ")
                .and_then(|m| m.strip_suffix(&format!(": {FIX}")))
                .expect("shape")
                .to_string()
        })
    }

    #[test]
    fn files_and_positions() {
        let facts = BinlogFacts {
            files: files(),
            ..BinlogFacts::default()
        };
        let range = "the upstream's binlogs are mysql-bin.000003 to mysql-bin.000004";
        for (name, pos, want) in [
            ("mysql-bin.000003", 4, None),
            ("mysql-bin.000004", 400, None),
            (
                "mysql-bin.000001",
                4,
                Some(format!("binlog mysql-bin.000001 was purged from the upstream ({range})")),
            ),
            (
                "mysql-bin.000010",
                4,
                Some(format!("binlog mysql-bin.000010 does not exist on the upstream ({range})")),
            ),
            (
                "other-bin.000001",
                4,
                Some(format!("binlog other-bin.000001 does not exist on the upstream ({range})")),
            ),
            (
                "mysql-bin.000004",
                401,
                Some("position (mysql-bin.000004, 401) is past the end of mysql-bin.000004 (400 bytes)".into()),
            ),
        ] {
            assert_eq!(problem(&meta(name, pos, ""), &facts), want, "{name}:{pos}");
        }
        let refused = BinlogFacts {
            position_refused: Some("Wrong offset or I/O error".into()),
            ..facts.clone()
        };
        assert_eq!(
            problem(&meta("mysql-bin.000004", 5, ""), &refused).as_deref(),
            Some("position (mysql-bin.000004, 5) is not the start of an event (Wrong offset or I/O error)")
        );
        assert_eq!(
            problem(&meta("mysql-bin.000001", 4, ""), &BinlogFacts::default()).as_deref(),
            Some("binlog mysql-bin.000001 does not exist on the upstream (it lists no binlog)")
        );
        // No position: nothing to check.
        assert_eq!(meta_position(&meta("", 4, ""), &facts), None);
    }

    #[test]
    fn mariadb_gtids() {
        let facts = mariadb("0-1-9,1-2-30", "0-1-4,1-2-10");
        for (gtid, want) in [
            ("0-1-4", None),
            ("0-1-9", None),
            ("0-1-4,1-2-10", None),
            ("1-2-25", None),
            (
                "0-1-3",
                Some("GTID 0-1-3 was purged from the upstream (its oldest binlog mysql-bin.000003 starts after 0-1-4,1-2-10)"),
            ),
            (
                "0-1-10",
                Some("GTID 0-1-10 never existed on the upstream (its binlog ends at 0-1-9,1-2-30)"),
            ),
            (
                "7-1-3",
                Some("GTID 7-1-3 never existed on the upstream (its binlog ends at 0-1-9,1-2-30)"),
            ),
            (
                "0-5-3",
                Some("GTID 0-5-3 never existed on the upstream (its binlog ends at 0-1-9,1-2-30)"),
            ),
            (
                "0-1",
                Some("binlog-gtid 0-1 is not a MariaDB GTID position: \"0-1\" is not domain-server-sequence"),
            ),
        ] {
            assert_eq!(problem(&meta("", 4, gtid), &facts).as_deref(), want, "{gtid}");
        }
        // A file wins over a GTID, as the sync unit starts from the file.
        assert_eq!(problem(&meta("mysql-bin.000003", 4, "0-1-1"), &facts), None);
    }

    #[test]
    fn mysql_gtid_sets() {
        let facts = |holds_purged, within_executed| BinlogFacts {
            files: files(),
            gtid: GtidFacts::MySql {
                executed: "u:1-100".into(),
                purged: "u:1-40".into(),
                holds_purged,
                within_executed,
            },
            position_refused: None,
        };
        let m = meta("", 4, "u:1-50");
        assert_eq!(problem(&m, &facts(true, true)), None);
        assert_eq!(
            problem(&m, &facts(false, true)).as_deref(),
            Some("GTID set u:1-50 lacks transactions the upstream purged (u:1-40)")
        );
        assert_eq!(
            problem(&m, &facts(true, false)).as_deref(),
            Some("GTID set u:1-50 has transactions the upstream never executed (it executed u:1-100)")
        );
    }

    #[test]
    fn binlog_files_sort_by_number() {
        assert!(sorts_before("mysql-bin.000002", "mysql-bin.000010"));
        assert!(!sorts_before("mysql-bin.000010", "mysql-bin.000002"));
        assert!(!sorts_before("a.000001", "b.000002"));
        assert!(!sorts_before("nonsense", "mysql-bin.000002"));
    }
}
