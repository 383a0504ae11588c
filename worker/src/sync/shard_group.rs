//! A sharding group *within* one source: several upstream tables of the
//! source merged into the same downstream table (pure state; the caller
//! persists it in `dm_meta.<task>_shard_group`, see
//! `downstream::shard_groups`).
//!
//! A DDL of a merged table must be applied downstream only after every
//! shard reached it, and each shard's rows written after its DDL have the
//! new shape, so they must not be applied before the DDL. Within a source,
//! when the first of the group's tables reaches the DDL, a *window* opens:
//!
//! 1. the table is *held*: its rows after its DDL are not applied (they are
//!    re-read later); the other tables' rows are applied as usual, so the
//!    source keeps moving and its checkpoints pass the held rows;
//! 2. each further table that reaches the same DDL is held too; a table
//!    with another DDL is a conflict that pauses the task with both;
//! 3. when the last table arrives, the source coordinates the DDL with the
//!    task's other sources (the Raft lock) at the last table's position,
//!    executes or skips it, and records `resync_until` = that position
//!    before its checkpoints move past the DDL;
//! 4. then it re-reads the binlog from the first held table's DDL up to
//!    `resync_until` and applies only the held rows, idempotently (safe
//!    mode), and closes the window.
//!
//! The window is saved (fenced) at every arrival and at step 3, so a worker
//! that dies at any point resumes it: before step 3 it keeps holding the
//! arrived tables (their skipped rows are re-read at step 4 anyway); after
//! step 3 it redoes step 4, which is idempotent because nothing after
//! `resync_until` was applied before the window closed. The re-read rows
//! are the declared replay window of a shard DDL.

use std::collections::{BTreeMap, BTreeSet};

use dm_proto::pb;
use serde::{Deserialize, Serialize};

use crate::downstream::Position;

/// An upstream or downstream table: (schema, table).
pub type TableName = (String, String);

/// An open window of one source (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupWindow {
    /// The merged downstream table.
    pub target: TableName,
    /// The routed DDL statements every member must reach.
    pub ddls: Vec<String>,
    /// The source's tables merged into `target`.
    pub members: BTreeSet<TableName>,
    /// Members that reached the DDL, with the end of their DDL event.
    pub arrived: BTreeMap<String, Arrived>,
    /// Set once the DDL is executed or skipped: re-read held rows up to
    /// here (the last member's DDL).
    pub resync_until: Option<StoredPosition>,
}

/// A member that reached the DDL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrived {
    pub table: TableName,
    pub at: StoredPosition,
}

/// A binlog position as the window stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPosition {
    pub name: String,
    pub pos: u32,
    #[serde(default)]
    pub gtid: String,
}

impl From<&Position> for StoredPosition {
    fn from(p: &Position) -> Self {
        Self {
            name: p.binlog_name.clone(),
            pos: p.binlog_pos,
            gtid: p.binlog_gtid.clone(),
        }
    }
}

impl From<&StoredPosition> for Position {
    fn from(p: &StoredPosition) -> Self {
        Position {
            binlog_name: p.name.clone(),
            binlog_pos: p.pos,
            binlog_gtid: p.gtid.clone(),
        }
    }
}

/// What an arrival did to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// Other members have not reached the DDL yet: the source reads on.
    Waiting,
    /// Every member reached it: coordinate it with the other sources.
    AllArrived,
}

fn key(table: &TableName) -> String {
    format!("`{}`.`{}`", table.0, table.1)
}

fn quoted(ddls: &[String]) -> String {
    ddls.iter()
        .map(|d| format!("`{d}`"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A sharding group's window that cannot take an arrival, or be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("{upstream} reached a DDL of {target} while the source's shards of {waiting} wait at {ddls}: finish one shard DDL before starting another")]
    OtherTarget {
        upstream: String,
        target: String,
        waiting: String,
        ddls: String,
    },
    #[error("the shard tables of this source disagree on the DDL of {target}: {these} vs {those}")]
    OtherDdls {
        target: String,
        these: String,
        those: String,
    },
    #[error("{upstream} reached {ddls} a second time (at {at}, first at {first}) before every shard table of this source reached it once")]
    SecondArrival {
        upstream: String,
        ddls: String,
        at: String,
        first: String,
    },
    #[error("the stored shard group is unreadable: {0}")]
    Unreadable(String),
}

impl GroupWindow {
    /// Opens a window: `upstream` reached `ddls` (routed to `target`) at
    /// `at`; `members` are the source's tables merged into `target`.
    pub fn open(
        target: TableName,
        ddls: Vec<String>,
        mut members: BTreeSet<TableName>,
        upstream: TableName,
        at: &Position,
    ) -> (Self, Arrival) {
        members.insert(upstream.clone());
        let mut window = Self {
            target,
            ddls,
            members,
            arrived: BTreeMap::new(),
            resync_until: None,
        };
        window.arrived.insert(
            key(&upstream),
            Arrived {
                table: upstream,
                at: at.into(),
            },
        );
        let arrival = window.arrival();
        (window, arrival)
    }

    fn arrival(&self) -> Arrival {
        if self
            .members
            .iter()
            .all(|m| self.arrived.contains_key(&key(m)))
        {
            Arrival::AllArrived
        } else {
            Arrival::Waiting
        }
    }

    /// `upstream` reached `ddls` of `target` at `at`. Reaching the same
    /// DDL again at the same position (a re-read after a restart) changes
    /// nothing. Another merged table's DDL, other statements, or a second
    /// DDL of a held table are errors naming both.
    pub fn arrive(
        &mut self,
        upstream: TableName,
        target: &TableName,
        ddls: &[String],
        at: &Position,
    ) -> Result<Arrival, GroupError> {
        if *target != self.target {
            return Err(GroupError::OtherTarget {
                upstream: key(&upstream),
                target: key(target),
                waiting: key(&self.target),
                ddls: quoted(&self.ddls),
            });
        }
        if ddls != self.ddls {
            return Err(GroupError::OtherDdls {
                target: key(target),
                these: quoted(ddls),
                those: quoted(&self.ddls),
            });
        }
        let stored = StoredPosition::from(at);
        match self.arrived.get(&key(&upstream)) {
            Some(a) if a.at == stored => {}
            Some(a) => {
                return Err(GroupError::SecondArrival {
                    upstream: key(&upstream),
                    ddls: quoted(ddls),
                    at: format!("{}:{}", stored.name, stored.pos),
                    first: format!("{}:{}", a.at.name, a.at.pos),
                })
            }
            None => {
                self.members.insert(upstream.clone());
                self.arrived.insert(
                    key(&upstream),
                    Arrived {
                        table: upstream,
                        at: stored,
                    },
                );
            }
        }
        Ok(self.arrival())
    }

    fn arrived_at(&self, schema: &str, table: &str) -> Option<Position> {
        self.arrived
            .get(&key(&(schema.to_string(), table.to_string())))
            .map(|a| Position::from(&a.at))
    }

    /// Whether a row event of `schema.table` ending at `end` is held back
    /// (its table reached the DDL before it; the window is not resolved).
    pub fn holds(&self, schema: &str, table: &str, end: &Position) -> bool {
        self.resync_until.is_none()
            && self
                .arrived_at(schema, table)
                .is_some_and(|at| !end.at_or_before(&at))
    }

    /// Where the re-read starts: the first member's DDL.
    pub fn first(&self) -> Option<Position> {
        let all: Vec<Position> = self
            .arrived
            .values()
            .map(|a| Position::from(&a.at))
            .collect();
        Position::earliest(&all).cloned()
    }

    /// Where the re-read ends, once the DDL ran.
    pub fn until(&self) -> Option<Position> {
        self.resync_until.as_ref().map(Position::from)
    }

    /// Whether a row event re-read at `end` was held and is applied now.
    pub fn replays(&self, schema: &str, table: &str, end: &Position) -> bool {
        let (Some(until), Some(at)) = (self.until(), self.arrived_at(schema, table)) else {
            return false;
        };
        !end.at_or_before(&at) && end.at_or_before(&until)
    }

    /// The DDL ran (or was skipped) at `at`, the last member's position.
    pub fn resolved(&mut self, at: &Position) {
        self.resync_until = Some(at.into());
    }

    /// (members that reached the DDL, members that have not).
    pub fn progress(&self) -> (Vec<String>, Vec<String>) {
        self.members
            .iter()
            .map(key)
            .partition(|k| self.arrived.contains_key(k))
    }

    /// DM's `unresolvedGroups` entry for `query-status`.
    pub fn status(&self) -> pb::ShardingGroup {
        let (synced, unsynced) = self.progress();
        pb::ShardingGroup {
            target: key(&self.target),
            dd_ls: self.ddls.clone(),
            first_location: self.first().map(|p| p.to_string()).unwrap_or_default(),
            synced,
            unsynced,
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn decode(text: &str) -> Result<Self, GroupError> {
        serde_json::from_str(text).map_err(|e| GroupError::Unreadable(e.to_string()))
    }
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

    fn t(name: &str) -> TableName {
        ("app".into(), name.into())
    }

    fn ddl() -> Vec<String> {
        vec!["ALTER TABLE `app`.`t` ADD COLUMN c INT".into()]
    }

    fn window() -> GroupWindow {
        let members = BTreeSet::from([t("t_1"), t("t_2"), t("t_3")]);
        let (w, arrival) = GroupWindow::open(t("t"), ddl(), members, t("t_1"), &at(100));
        assert_eq!(arrival, Arrival::Waiting);
        w
    }

    #[test]
    fn a_window_holds_arrived_tables_until_every_member_arrives() {
        let mut w = window();
        assert!(w.holds("app", "t_1", &at(150)));
        assert!(!w.holds("app", "t_1", &at(100)), "rows before its DDL");
        assert!(!w.holds("app", "t_2", &at(150)), "t_2 has not arrived");
        assert_eq!(
            w.arrive(t("t_2"), &t("t"), &ddl(), &at(200)),
            Ok(Arrival::Waiting)
        );
        assert!(w.holds("app", "t_2", &at(250)));
        assert_eq!(
            w.progress(),
            (
                vec!["`app`.`t_1`".into(), "`app`.`t_2`".into()],
                vec!["`app`.`t_3`".into()]
            )
        );
        // A re-read of an arrival after a restart changes nothing.
        assert_eq!(
            w.arrive(t("t_2"), &t("t"), &ddl(), &at(200)),
            Ok(Arrival::Waiting)
        );
        assert_eq!(
            w.arrive(t("t_3"), &t("t"), &ddl(), &at(300)),
            Ok(Arrival::AllArrived)
        );
        assert_eq!(w.first(), Some(at(100)));
    }

    #[test]
    fn a_resolved_window_replays_exactly_the_held_rows() {
        let mut w = window();
        w.arrive(t("t_2"), &t("t"), &ddl(), &at(200)).unwrap();
        w.arrive(t("t_3"), &t("t"), &ddl(), &at(300)).unwrap();
        w.resolved(&at(300));
        assert_eq!(w.until(), Some(at(300)));
        assert!(
            !w.holds("app", "t_1", &at(150)),
            "nothing is held once resolved"
        );
        let cases = [
            ("t_1", 100, false),
            ("t_1", 150, true),
            ("t_1", 250, true),
            ("t_2", 150, false),
            ("t_2", 250, true),
            ("t_3", 250, false),
            ("t_1", 350, false),
            ("other", 150, false),
        ];
        for (table, pos, replayed) in cases {
            assert_eq!(
                w.replays("app", table, &at(pos)),
                replayed,
                "{table} at {pos}"
            );
        }
    }

    #[test]
    fn disagreements_are_errors_naming_both_sides() {
        let mut w = window();
        let other = vec!["ALTER TABLE `app`.`t` ADD COLUMN d INT".into()];
        let e = w.arrive(t("t_2"), &t("t"), &other, &at(200)).unwrap_err();
        assert!(matches!(e, GroupError::OtherDdls { .. }), "{e}");
        let e = e.to_string();
        assert!(
            e.contains("ADD COLUMN d") && e.contains("ADD COLUMN c"),
            "{e}"
        );
        let e = w.arrive(t("u_1"), &t("u"), &ddl(), &at(200)).unwrap_err();
        assert!(matches!(e, GroupError::OtherTarget { .. }), "{e}");
        let e = e.to_string();
        assert!(e.contains("`app`.`u`") && e.contains("`app`.`t`"), "{e}");
        let e = w.arrive(t("t_1"), &t("t"), &ddl(), &at(400)).unwrap_err();
        assert!(matches!(e, GroupError::SecondArrival { .. }), "{e}");
        assert!(e.to_string().contains("second time"), "{e}");
        assert_eq!(w.progress().0, vec!["`app`.`t_1`".to_string()]);
    }

    #[test]
    fn a_table_outside_the_known_members_joins_the_group() {
        let mut w = window();
        w.arrive(t("t_9"), &t("t"), &ddl(), &at(200)).unwrap();
        assert!(w.members.contains(&t("t_9")));
    }

    #[test]
    fn windows_survive_their_stored_form() {
        let mut w = window();
        w.resolved(&at(300));
        assert_eq!(GroupWindow::decode(&w.encode()), Ok(w));
        assert!(matches!(
            GroupWindow::decode("{"),
            Err(GroupError::Unreadable(_))
        ));
    }
}
