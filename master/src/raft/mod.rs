//! Raft for the masters: openraft's type config and runtime, the log and
//! state-machine stores on a storage backend (sled in production, memory in
//! the simulation), and the network between masters.

pub mod disk;
pub mod log_store;
pub mod network;
pub mod runtime;
pub mod state_machine;
pub mod store;
pub mod types;

pub use disk::{Disk, MemDisk, SledDisk};
pub use log_store::{LogReader, LogStore, MemLogStore, SledLogReader, SledLogStore};
pub use network::Network;
pub use runtime::{seed_raft_rng, unseed_raft_rng, RaftRuntime};
pub use state_machine::{
    AppliedState, MemStateMachine, SledStateMachine, StateMachine, StateReader,
};
pub use store::{mem_stores, open_db, open_stores, stores_from_db, stores_on, StoreError};
pub use types::{node_id, MasterNode, NodeId, TypeConfig};
