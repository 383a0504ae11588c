//! Raft for the masters: openraft's type config, the sled-backed log and
//! state-machine stores, and the network between masters.

pub mod log_store;
pub mod network;
pub mod state_machine;
pub mod store;
pub mod types;

pub use log_store::{SledLogReader, SledLogStore};
pub use network::Network;
pub use state_machine::{AppliedState, SledStateMachine, StateReader};
pub use store::{open_db, open_stores, stores_from_db, StoreError};
pub use types::{node_id, MasterNode, NodeId, TypeConfig};
