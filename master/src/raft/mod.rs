//! Raft for the masters: openraft's type config, the sled-backed log and
//! state-machine stores, and the network between masters.

pub mod types;

pub use types::{node_id, MasterNode, NodeId, TypeConfig};
