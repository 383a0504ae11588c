//! Events read off successive Raft metrics: the leader this master knows
//! changed, this master became leader. Pure.

use crate::raft::NodeId;

/// What the previous look at Raft's metrics saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaftSeen {
    leader: Option<NodeId>,
    leading: bool,
}

/// What changed since the previous look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaftEvents {
    /// The known leader is now a master other than the one known before
    /// (including none before): `dm_master_raft_leader_changes_total`.
    pub leader_changed: bool,
    /// This master leads and did not before: `dm_master_start_leader_counter`.
    pub became_leader: bool,
    /// This master led and no longer does.
    pub stepped_down: bool,
}

impl RaftSeen {
    /// Records a new look (`leader` known, whether this master `leading`)
    /// and returns what changed.
    pub fn observe(&mut self, leader: Option<NodeId>, leading: bool) -> RaftEvents {
        let events = RaftEvents {
            leader_changed: leader.is_some() && leader != self.leader,
            became_leader: leading && !self.leading,
            stepped_down: !leading && self.leading,
        };
        *self = Self { leader, leading };
        events
    }

    pub fn leading(&self) -> bool {
        self.leading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_changes_and_leaderships_are_counted_once_each() {
        let mut seen = RaftSeen::default();
        let mut changes = 0;
        let mut leaderships = 0;
        let mut step_downs = 0;
        // (leader known, this master (id 1) leads)
        let looks = [
            (None, false),
            (Some(2), false), // first leader seen: a change
            (Some(2), false),
            (None, false),   // election under way
            (Some(1), true), // this master wins: a change and a leadership
            (Some(1), true),
            (Some(3), false), // deposed
            (Some(3), false),
            (None, false),
            (Some(3), false), // re-elected after a gap: a change
        ];
        for (leader, leading) in looks {
            let events = seen.observe(leader, leading);
            changes += u32::from(events.leader_changed);
            leaderships += u32::from(events.became_leader);
            step_downs += u32::from(events.stepped_down);
        }
        assert_eq!((changes, leaderships, step_downs), (4, 1, 1));
    }
}
