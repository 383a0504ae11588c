//! The downstream as the sync unit and the full copy see it: one trait,
//! two adapters (`mysql::MySqlDownstream` over the network, and the
//! in-memory one the deterministic simulation uses, in `dm-worker-testkit`),
//! one conformance suite both pass (`dm_worker_testkit::conformance`).
//!
//! The trait is the contract of the fence: `claim` raises a source's epoch,
//! and every later `commit_fenced`, `save_copy_plan` or chunk commit of a
//! smaller epoch commits nothing; statements and the lane's checkpoint
//! commit together or not at all, and so do a copy chunk's rows and its
//! done-mark. Statements are SQL text, exactly what is sent to MySQL, so the in-memory
//! implementation runs the same statements the real one does.

use std::collections::BTreeMap;
use std::fmt;

use futures::future::BoxFuture;

use super::{
    CheckpointKey, Commit, DownstreamError, MetaTables, OpenChunk, OpenSync, ShardIntent,
    StoredChunk, StoredSchema,
};
use crate::position::Position;

/// A downstream call's future.
pub type Call<'a, T> = BoxFuture<'a, Result<T, DownstreamError>>;

/// What the sync unit needs of the downstream database.
pub trait Downstream: Send + Sync + fmt::Debug {
    /// `host:port`, for messages.
    fn addr(&self) -> &str;

    /// Creates the meta schema and the task's meta tables if missing.
    fn prepare<'a>(&'a self, meta: &'a MetaTables) -> Call<'a, ()>;

    /// The longest statement the downstream accepts (MySQL: its
    /// `max_allowed_packet`, less headroom): the copy's and the sync's
    /// statements are sized by it.
    fn max_statement_bytes(&self) -> Call<'_, usize>;

    /// Takes `source` for `epoch` (see the module docs of `downstream`).
    fn claim<'a>(&'a self, meta: &'a MetaTables, source: &'a str, epoch: u64) -> Call<'a, Commit>;

    /// The epoch that owns `source` (0 if none claimed it yet).
    fn fence_epoch<'a>(&'a self, meta: &'a MetaTables, source: &'a str) -> Call<'a, u64>;

    /// Every stored checkpoint of `source`, by lane.
    fn lane_checkpoints<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, BTreeMap<u32, Position>>;

    /// Runs `statements` and moves `key`'s checkpoint to `position` in one
    /// transaction, unless a larger epoch than `epoch` claimed the source.
    fn commit_fenced<'a>(
        &'a self,
        key: &'a CheckpointKey,
        epoch: u64,
        position: &'a Position,
        statements: &'a [Vec<u8>],
    ) -> Call<'a, Commit>;

    /// Opens `key`'s lane transaction under `epoch`, to be written in
    /// pieces and committed with the checkpoint (see `SyncTx`).
    fn begin_sync<'a>(&'a self, key: &'a CheckpointKey, epoch: u64) -> Call<'a, OpenSync>;

    /// Runs one statement outside any transaction (DDL).
    fn execute<'a>(&'a self, statement: &'a str) -> Call<'a, ()>;

    /// Whether `schema`.`table` has a unique key besides its primary key.
    fn has_other_unique_keys<'a>(&'a self, schema: &'a str, table: &'a str) -> Call<'a, bool>;

    /// The generated (virtual or stored) columns of `schema`.`table`.
    fn generated_columns<'a>(&'a self, schema: &'a str, table: &'a str) -> Call<'a, Vec<String>>;

    /// `SHOW CREATE TABLE`; `None` when the table is absent.
    fn show_create_table<'a>(&'a self, schema: &'a str, table: &'a str)
        -> Call<'a, Option<String>>;

    /// Every row of `schema`.`table`, values as text (`None` is NULL), in
    /// no particular order: for checks, not for the data path.
    fn table_rows<'a>(
        &'a self,
        schema: &'a str,
        table: &'a str,
    ) -> Call<'a, Vec<Vec<Option<String>>>>;

    /// The stored plan of `source`'s full copy (empty without one).
    fn copy_plan<'a>(&'a self, meta: &'a MetaTables, source: &'a str)
        -> Call<'a, Vec<StoredChunk>>;

    /// Stores the plan of `source`'s full copy in one transaction fenced
    /// by `epoch`.
    fn save_copy_plan<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        plan: &'a [StoredChunk],
    ) -> Call<'a, Commit>;

    /// Opens the fenced transaction that writes `chunk` and its done-mark.
    fn begin_chunk<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        chunk: &'a StoredChunk,
    ) -> Call<'a, OpenChunk>;

    /// Closes the connections.
    fn close(&self) -> Call<'_, ()>;

    /// The source's last recorded shard-DDL intent.
    fn shard_intent<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Option<ShardIntent>>;

    /// Records `intent` for `source`, fenced by `epoch`.
    fn save_shard_intent<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        intent: &'a ShardIntent,
    ) -> Call<'a, Commit>;

    /// The source's stored sharding-group window.
    fn shard_group<'a>(&'a self, meta: &'a MetaTables, source: &'a str)
        -> Call<'a, Option<String>>;

    /// Stores (`Some`) or closes (`None`) the window, fenced by `epoch`.
    fn save_shard_group<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        state: Option<&'a str>,
    ) -> Call<'a, Commit>;

    /// The source's stored schema-tracker states, oldest first.
    fn schema_states<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Vec<StoredSchema>>;

    /// Stores `state` (its `seq` is assigned) and keeps only the source's
    /// `keep` latest states (this one included), in one transaction fenced
    /// by `epoch`.
    fn save_schema_state<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        state: &'a StoredSchema,
        keep: usize,
    ) -> Call<'a, Commit>;

    /// How many statements of the `binlog replace` / `inject` operation
    /// `op_id` ran downstream (0: none, or no mark).
    fn binlog_op_done<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        op_id: u64,
    ) -> Call<'a, u32>;

    /// Marks `statements` statements of operation `op_id` run, in a
    /// transaction fenced by `epoch`.
    fn save_binlog_op_done<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        op_id: u64,
        statements: u32,
    ) -> Call<'a, Commit>;
}
