//! `binlog skip|replace|inject` as the sync meets them.
//!
//! The leader holds every operation in Raft and sends a subtask's ones in
//! each heartbeat answer until a report lists them done; the sync sees the
//! latest list while it runs (an operation at a position ahead applies
//! when the stream gets there). An operation is about the event that
//! *starts* at its position: the end of the event before it in the stream
//! ([`Starts`]), as `query-status` shows it in a paused subtask's error
//! (DM's `startLocation`), or, for a GTID, the statement of that
//! transaction.
//!
//! - skip: the statement is not run downstream; the schema tracker follows
//!   it all the same (the upstream table did change) and the checkpoints
//!   move past it;
//! - replace: the operation's statements run instead, through the same
//!   path as a statement from the binlog;
//! - inject: the operation's statements run, then the event as usual.
//!
//! The statements of a replace or an inject are marked in the downstream
//! one by one (`<task>_binlog_op`), so a replay of the event does not run
//! again those that ran. In a sharded merge a skip or a replace goes
//! through the event's shard-DDL lock as the event reads (see
//! `statement::Instead`): at the lock's owner, where a downstream
//! rejection shows, a skip counts as the lock's DDL done and a replace
//! runs as the lock's DDL; the other sources follow the lock as usual.
//!
//! An operation is done once the checkpoints are past its event (then a
//! restart resumes after it, so it cannot apply twice); one whose position
//! the stream passes without an event starting there is done too, with a
//! warning in the status. The report lists the done ids; the leader drops
//! them.

use std::collections::BTreeSet;

use dm_proto::pb;
use tokio::sync::watch;

use crate::position::Position;

/// What to do with the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Skip,
    Replace(Vec<String>),
    Inject(Vec<String>),
}

/// Where the event starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    File { name: String, pos: u32 },
    Gtid(String),
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinlogOp {
    pub id: u64,
    pub at: At,
    pub kind: Kind,
}

/// The operations held for a subtask, as the leader last sent them.
pub type Ops = watch::Receiver<Vec<BinlogOp>>;

impl BinlogOp {
    /// A heartbeat's operations (unknown kinds are left out, logged).
    pub fn from_assignment(ops: &[pb::BinlogOperation]) -> Vec<BinlogOp> {
        ops.iter()
            .filter_map(|op| {
                let kind = match op.op.as_str() {
                    "skip" => Kind::Skip,
                    "replace" => Kind::Replace(op.sqls.clone()),
                    "inject" => Kind::Inject(op.sqls.clone()),
                    other => {
                        tracing::warn!(id = op.id, op = other, "unknown binlog operation ignored");
                        return None;
                    }
                };
                let at = if op.gtid.is_empty() {
                    At::File {
                        name: op.binlog_name.clone(),
                        pos: op.binlog_pos,
                    }
                } else {
                    At::Gtid(op.gtid.clone())
                };
                Some(BinlogOp {
                    id: op.id,
                    at,
                    kind,
                })
            })
            .collect()
    }

    /// Shown in logs and warnings.
    pub fn describe(&self) -> String {
        let at = match &self.at {
            At::File { name, pos } => format!("({name}, {pos})"),
            At::Gtid(g) => format!("(gtid {g})"),
        };
        let op = match self.kind {
            Kind::Skip => "skip",
            Kind::Replace(_) => "replace",
            Kind::Inject(_) => "inject",
        };
        format!("binlog {op} {} at {at}", self.id)
    }
}

/// Where each event of the stream starts: where the one before it ended.
#[derive(Debug, Clone)]
pub struct Starts {
    last_end: Position,
    /// The GTID of the transaction being read.
    pub gtid: String,
}

impl Starts {
    /// A stream opened at `from`.
    pub fn new(from: &Position) -> Self {
        Self {
            last_end: from.clone(),
            gtid: String::new(),
        }
    }

    /// An event ending at `end` was read; where it started. Events the
    /// server makes up (at offset 0) move nothing.
    pub fn read(&mut self, end: &Position) -> Position {
        let start = self.last_end.clone();
        if end.binlog_pos != 0 {
            self.last_end = end.clone();
        }
        start
    }
}

/// The operation for the statement starting at `start` (in the transaction
/// `gtid`), not yet done (pure).
pub fn matching<'a>(
    ops: &'a [BinlogOp],
    done: &BTreeSet<u64>,
    start: &Position,
    gtid: &str,
) -> Option<&'a BinlogOp> {
    ops.iter()
        .filter(|op| !done.contains(&op.id))
        .find(|op| match &op.at {
            At::File { name, pos } => *name == start.binlog_name && *pos == start.binlog_pos,
            At::Gtid(g) => !gtid.is_empty() && g == gtid,
        })
}

/// The operations the stream passed that are not done yet (pure): a
/// file position before `start`, or a GTID of the domain and server of
/// `gtid` (the transaction being read) with a lower sequence number.
pub fn passed<'a>(
    ops: &'a [BinlogOp],
    done: &'a BTreeSet<u64>,
    start: &'a Position,
    gtid: &'a str,
) -> impl Iterator<Item = &'a BinlogOp> + 'a {
    let reading = split_gtid(gtid);
    ops.iter()
        .filter(|op| !done.contains(&op.id))
        .filter(move |op| match &op.at {
            At::File { name, pos } => {
                (name.as_str(), *pos) < (start.binlog_name.as_str(), start.binlog_pos)
            }
            At::Gtid(g) => match (split_gtid(g), reading) {
                (Some((domain, server, seq)), Some((d, s, now))) => {
                    domain == d && server == s && seq < now
                }
                _ => false,
            },
        })
}

/// A MariaDB GTID `domain-server-sequence`.
fn split_gtid(gtid: &str) -> Option<(u32, u32, u64)> {
    let mut parts = gtid.split('-');
    let domain = parts.next()?.parse().ok()?;
    let server = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((domain, server, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(name: &str, pos: u32) -> Position {
        Position {
            binlog_name: name.into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        }
    }

    fn op(id: u64, at: At) -> BinlogOp {
        BinlogOp {
            id,
            at,
            kind: Kind::Skip,
        }
    }

    #[test]
    fn an_event_starts_where_the_one_before_ended() {
        let mut starts = Starts::new(&pos("b.000001", 300));
        assert_eq!(starts.read(&pos("b.000001", 0)), pos("b.000001", 300));
        assert_eq!(starts.read(&pos("b.000001", 342)), pos("b.000001", 300));
        assert_eq!(starts.read(&pos("b.000001", 500)), pos("b.000001", 342));
        // A rotate: the next event starts at the new file's position.
        assert_eq!(starts.read(&pos("b.000002", 4)), pos("b.000001", 500));
        assert_eq!(starts.read(&pos("b.000002", 256)), pos("b.000002", 4));
    }

    #[test]
    fn operations_match_by_start_or_gtid_and_passed_ones_are_found() {
        let ops = vec![
            op(
                3,
                At::File {
                    name: "b.000001".into(),
                    pos: 342,
                },
            ),
            op(4, At::Gtid("0-1-7".into())),
            op(
                5,
                At::File {
                    name: "b.000002".into(),
                    pos: 4,
                },
            ),
        ];
        let none = BTreeSet::new();
        let at = pos("b.000001", 342);
        assert_eq!(matching(&ops, &none, &at, "").map(|o| o.id), Some(3));
        assert_eq!(
            matching(&ops, &none, &pos("b.000001", 900), "0-1-7").map(|o| o.id),
            Some(4)
        );
        assert_eq!(matching(&ops, &none, &pos("b.000001", 343), "0-1-6"), None);
        let done = BTreeSet::from([3]);
        assert_eq!(matching(&ops, &done, &at, ""), None);
        let passed_ids: Vec<u64> = passed(&ops, &none, &pos("b.000001", 500), "0-1-7")
            .map(|o| o.id)
            .collect();
        assert_eq!(passed_ids, [3]);
        let passed_ids: Vec<u64> = passed(&ops, &done, &pos("b.000002", 100), "0-1-8")
            .map(|o| o.id)
            .collect();
        assert_eq!(passed_ids, [4, 5]);
        // Another domain or server says nothing about 0-1-7.
        let passed_ids: Vec<u64> = passed(&ops, &done, &pos("b.000001", 0), "1-1-9")
            .map(|o| o.id)
            .collect();
        assert!(passed_ids.is_empty());
    }

    #[test]
    fn an_assignment_gives_the_operations() {
        let wire = [
            pb::BinlogOperation {
                id: 2,
                op: "replace".into(),
                binlog_name: "b.000001".into(),
                binlog_pos: 342,
                gtid: String::new(),
                sqls: vec!["ALTER TABLE db.t ADD c INT".into()],
            },
            pb::BinlogOperation {
                id: 3,
                op: "skip".into(),
                binlog_name: String::new(),
                binlog_pos: 0,
                gtid: "0-1-7".into(),
                sqls: vec![],
            },
        ];
        assert_eq!(
            BinlogOp::from_assignment(&wire),
            [
                BinlogOp {
                    id: 2,
                    at: At::File {
                        name: "b.000001".into(),
                        pos: 342
                    },
                    kind: Kind::Replace(vec!["ALTER TABLE db.t ADD c INT".into()]),
                },
                op(3, At::Gtid("0-1-7".into())),
            ]
        );
    }
}
