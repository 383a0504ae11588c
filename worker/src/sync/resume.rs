//! Where a sync run starts reading, and what each lane skips. Pure.
//!
//! Every lane keeps its own checkpoint (see [`super::lane`]). The reader
//! starts at the earliest of them and each lane skips what its own
//! checkpoint already covers, so nothing is applied twice. When the lane
//! count changed, the old lanes' checkpoints cannot say which rows a new
//! lane has: the reader starts at the earliest and every lane replays
//! idempotently (safe mode) up to the latest.
//!
//! ## Checkpoints in a file the upstream does not list
//!
//! A checkpoint is only useful if the upstream still has its file. The
//! reader checks every file name before it hands out a position, but a
//! checkpoint written by an older version, or edited by hand, can name a
//! file the server never had. Such checkpoints are resumed by their GTIDs
//! when they all have one of the same MariaDB replication domain: the
//! reader starts after the earliest GTID, and a lane skips every
//! transaction of that domain up to its own GTID's sequence number (a
//! domain's sequence numbers grow in binlog order). Anything else cannot
//! be resumed without guessing, so the sync stops with an error that says
//! what recovers the task.

use std::collections::BTreeMap;

use super::status;
use super::SyncError;
use crate::position::Position;
use crate::upstream::binlog::{describe, purged};

/// What a lane's checkpoint already covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Every change at or before this position.
    Through(Position),
    /// Every transaction of `domain` up to sequence number `seq`.
    ThroughSeq { domain: u32, seq: u64 },
}

impl Skip {
    /// Whether a change or transaction ending at `end` is covered.
    pub fn covers(&self, end: &Position) -> bool {
        match self {
            Skip::Through(p) => end.at_or_before(p),
            Skip::ThroughSeq { domain, seq } => {
                mariadb_gtid(&end.binlog_gtid).is_some_and(|(d, n)| d == *domain && n <= *seq)
            }
        }
    }
}

/// Where to start and what each lane skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePlan {
    /// Where the reader starts.
    pub from: Position,
    /// Per lane: what it skips (`None`: nothing, it resumes at `from`).
    pub skips: Vec<Option<Skip>>,
    /// Safe mode up to here (a changed lane count).
    pub replay_until: Option<Position>,
    /// Each lane's position, for the progress report.
    pub positions: Vec<Position>,
}

/// Plans the resume from the `stored` lane checkpoints for `lanes` lanes;
/// `start` when there are none. `files` are the upstream's binlog files.
pub fn plan(
    stored: &BTreeMap<u32, Position>,
    lanes: usize,
    start: &Position,
    files: &[String],
) -> Result<ResumePlan, SyncError> {
    if stored.is_empty() {
        return Ok(ResumePlan {
            from: start.clone(),
            skips: vec![None; lanes],
            replay_until: None,
            positions: vec![start.clone(); lanes],
        });
    }
    let same_layout = stored.len() == lanes && stored.keys().all(|l| (*l as usize) < lanes);
    // A purged file was real: reading from it fails with the server's own
    // "purged" error, which says what recovers the task.
    let unlisted: Vec<&Position> = stored
        .values()
        .filter(|p| !files.contains(&p.binlog_name) && !purged(&p.binlog_name, files))
        .collect();
    if !unlisted.is_empty() {
        return by_gtid(stored, lanes, same_layout, &unlisted, files);
    }
    let all: Vec<Position> = stored.values().cloned().collect();
    let from = status::earliest(&all);
    if same_layout {
        let positions: Vec<Position> = (0..lanes)
            .map(|l| {
                stored
                    .get(&(l as u32))
                    .cloned()
                    .unwrap_or_else(|| from.clone())
            })
            .collect();
        let skips = positions
            .iter()
            .map(|p| (*p != from).then(|| Skip::Through(p.clone())))
            .collect();
        Ok(ResumePlan {
            from,
            skips,
            replay_until: None,
            positions,
        })
    } else {
        // The lane count changed: lanes cannot skip by the old lanes'
        // checkpoints; replay idempotently from the earliest up to the
        // latest of them.
        let latest = Position::latest(&all).cloned();
        Ok(ResumePlan {
            from: from.clone(),
            skips: vec![None; lanes],
            replay_until: latest,
            positions: vec![from; lanes],
        })
    }
}

/// The plan for checkpoints that name files the upstream does not list.
fn by_gtid(
    stored: &BTreeMap<u32, Position>,
    lanes: usize,
    same_layout: bool,
    unlisted: &[&Position],
    files: &[String],
) -> Result<ResumePlan, SyncError> {
    let refuse = |why: &str| {
        let bad = unlisted.first().map_or(String::new(), |p| p.to_string());
        SyncError::Position(format!(
            "the checkpoint {bad} names a binlog file the upstream does not list ({}), and {why}; \
             to start again: stop-task, then start-task --remove-meta with a `meta` position \
             the upstream has (or task-mode all)",
            describe(files)
        ))
    };
    if !same_layout {
        return Err(refuse(
            "the lane count (syncers.worker-count) changed since",
        ));
    }
    let mut seqs = Vec::with_capacity(lanes);
    for lane in 0..lanes {
        let position = stored
            .get(&(lane as u32))
            .ok_or_else(|| refuse("a lane has none"))?;
        let gtid = mariadb_gtid(&position.binlog_gtid)
            .ok_or_else(|| refuse("not every lane has a single MariaDB GTID to resume from"))?;
        seqs.push(gtid);
    }
    let domain = seqs.first().map(|(d, _)| *d).unwrap_or_default();
    if seqs.iter().any(|(d, _)| *d != domain) {
        return Err(refuse(
            "the lanes' GTIDs are of different replication domains",
        ));
    }
    let (earliest_lane, earliest) = seqs
        .iter()
        .enumerate()
        .min_by_key(|(_, (_, n))| *n)
        .map(|(l, _)| (l, stored.get(&(l as u32)).cloned().unwrap_or_default()))
        .ok_or_else(|| refuse("there are no lanes"))?;
    let from = Position {
        binlog_name: String::new(),
        binlog_pos: 0,
        binlog_gtid: earliest.binlog_gtid.clone(),
    };
    let skips = seqs
        .iter()
        .enumerate()
        .map(|(l, (d, n))| {
            (l != earliest_lane).then_some(Skip::ThroughSeq {
                domain: *d,
                seq: *n,
            })
        })
        .collect();
    tracing::warn!(checkpoint = %unlisted.first().map_or(String::new(), |p| p.to_string()),
        files = %describe(files), from = %from.binlog_gtid,
        "checkpoints name a binlog file the upstream does not list: resuming by their GTIDs");
    Ok(ResumePlan {
        from: from.clone(),
        skips,
        replay_until: None,
        positions: vec![from; lanes],
    })
}

/// `domain-server-seq` of a single MariaDB GTID: (domain, seq).
fn mariadb_gtid(gtid: &str) -> Option<(u32, u64)> {
    let mut parts = gtid.trim().split('-');
    let domain = parts.next()?.parse().ok()?;
    let _server: u32 = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((domain, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pos: u32) -> Position {
        Position {
            binlog_name: "bin.000001".into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        }
    }

    fn files() -> Vec<String> {
        vec!["bin.000001".to_string()]
    }

    #[test]
    fn lanes_resume_at_their_own_checkpoints_from_the_earliest() {
        let stored = BTreeMap::from([(0, at(500)), (1, at(300)), (2, at(900))]);
        let plan = plan(&stored, 3, &at(4), &files()).unwrap();
        assert_eq!(plan.from, at(300));
        assert_eq!(plan.positions, [at(500), at(300), at(900)]);
        assert_eq!(
            plan.skips,
            [
                Some(Skip::Through(at(500))),
                None,
                Some(Skip::Through(at(900)))
            ]
        );
        assert_eq!(plan.replay_until, None);
    }

    #[test]
    fn a_changed_lane_count_replays_idempotently_up_to_the_latest() {
        let stored = BTreeMap::from([(0, at(500)), (1, at(300))]);
        let more = plan(&stored, 4, &at(4), &files()).unwrap();
        assert_eq!(more.from, at(300));
        assert_eq!(more.skips, vec![None; 4]);
        assert_eq!(more.replay_until, Some(at(500)));
        let fewer = plan(&stored, 1, &at(4), &files()).unwrap();
        assert_eq!(fewer.replay_until, Some(at(500)));
    }

    #[test]
    fn a_first_start_begins_everywhere_at_the_start() {
        let plan = plan(&BTreeMap::new(), 2, &at(4), &files()).unwrap();
        assert_eq!(plan.from, at(4));
        assert_eq!(plan.skips, vec![None, None]);
        assert_eq!(plan.replay_until, None);
    }

    fn bad(gtid: &str) -> Position {
        Position {
            binlog_name: "bin.00".into(),
            binlog_pos: 777,
            binlog_gtid: gtid.into(),
        }
    }

    #[test]
    fn checkpoints_in_an_unlisted_file_resume_by_their_gtids() {
        let stored = BTreeMap::from([(0, bad("0-1-40")), (1, bad("0-1-35")), (2, bad("0-1-52"))]);
        let plan = plan(&stored, 3, &at(4), &files()).unwrap();
        assert_eq!(plan.from.binlog_gtid, "0-1-35");
        assert!(plan.from.binlog_name.is_empty());
        assert_eq!(
            plan.skips,
            [
                Some(Skip::ThroughSeq { domain: 0, seq: 40 }),
                None,
                Some(Skip::ThroughSeq { domain: 0, seq: 52 })
            ]
        );
        let skip = Skip::ThroughSeq { domain: 0, seq: 40 };
        let end = |gtid: &str| Position {
            binlog_gtid: gtid.into(),
            ..at(900)
        };
        assert!(skip.covers(&end("0-1-40")));
        assert!(skip.covers(&end("0-2-39")));
        assert!(!skip.covers(&end("0-1-41")));
        assert!(!skip.covers(&end("1-1-3")));
    }

    #[test]
    fn purged_files_are_told_from_names_the_server_never_had() {
        let files = [
            "mysql-bin.000007".to_string(),
            "mysql-bin.000009".to_string(),
        ];
        assert!(purged("mysql-bin.000002", &files));
        assert!(!purged("mysql-bin.00", &files));
        assert!(!purged("mysql-bin.000008x", &files));
        assert!(!purged("other-bin.000002", &files));
        assert!(!purged("mysql-bin.000010", &files));
        // A purged checkpoint is planned as usual: the server refuses it.
        let stored = BTreeMap::from([(
            0,
            Position {
                binlog_name: "mysql-bin.000002".into(),
                binlog_pos: 4,
                binlog_gtid: String::new(),
            },
        )]);
        let plan = plan(&stored, 1, &at(4), &files).unwrap();
        assert_eq!(plan.from.binlog_name, "mysql-bin.000002");
    }

    #[test]
    fn unlisted_checkpoints_without_usable_gtids_say_what_recovers_the_task() {
        for stored in [
            BTreeMap::from([(0, bad("0-1-40")), (1, bad(""))]),
            BTreeMap::from([(0, bad("0-1-40")), (1, bad("1-1-3"))]),
            BTreeMap::from([(0, bad("0-1-40,1-1-3")), (1, bad("0-1-3"))]),
        ] {
            let err = plan(&stored, 2, &at(4), &files()).unwrap_err().to_string();
            assert!(
                err.contains("bin.00") && err.contains("--remove-meta"),
                "{err}"
            );
        }
        let stored = BTreeMap::from([(0, bad("0-1-40")), (1, bad("0-1-41"))]);
        let err = plan(&stored, 3, &at(4), &files()).unwrap_err().to_string();
        assert!(err.contains("worker-count"), "{err}");
    }
}
