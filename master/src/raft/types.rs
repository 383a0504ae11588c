//! openraft's type configuration for the masters' Raft group.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::state::{Request, Response};

/// A master's Raft node id: a stable hash of its name (names are unique in
/// a cluster, and every master can compute every other's id from
/// `--initial-cluster` alone).
pub type NodeId = u64;

/// What the group knows about a master: its name and where to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterNode {
    pub name: String,
    /// Address dmctl and workers use (`advertise-addr`).
    pub client_addr: String,
    /// Address Raft traffic goes to (host:port of `advertise-peer-urls`).
    pub peer_addr: String,
}

impl MasterNode {
    /// Where clients should talk to this master: its client address, or its
    /// peer address (which serves every service too) when that is unknown.
    pub fn client_or_peer_addr(&self) -> &str {
        if self.client_addr.is_empty() {
            &self.peer_addr
        } else {
            &self.client_addr
        }
    }
}

impl fmt::Display for MasterNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({}, peer {})",
            self.name, self.client_addr, self.peer_addr
        )
    }
}

openraft::declare_raft_types!(
    /// The masters' Raft types.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = MasterNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = super::runtime::RaftRuntime,
);

/// FNV-1a 64 of the master's name: deterministic across processes and
/// versions (std's hasher is not).
pub fn node_id(name: &str) -> NodeId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_stable() {
        assert_eq!(node_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(node_id("master1"), node_id("master1"));
        assert_ne!(node_id("master1"), node_id("master2"));
        // Pinned: a change would make restarted masters strangers to their group.
        assert_eq!(node_id("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
