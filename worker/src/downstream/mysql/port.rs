//! [`MySqlDownstream`] as the downstream port.

use std::collections::BTreeMap;

use super::MySqlDownstream;
use crate::downstream::{
    Call, CheckpointKey, Commit, Downstream, MetaTables, OpenChunk, OpenSync, ShardIntent,
    StoredChunk, StoredSchema,
};
use crate::position::Position;

impl Downstream for MySqlDownstream {
    fn addr(&self) -> &str {
        MySqlDownstream::addr(self)
    }

    fn prepare<'a>(&'a self, meta: &'a MetaTables) -> Call<'a, ()> {
        Box::pin(MySqlDownstream::prepare(self, meta))
    }

    fn max_statement_bytes(&self) -> Call<'_, usize> {
        Box::pin(MySqlDownstream::max_statement_bytes(self))
    }

    fn claim<'a>(&'a self, meta: &'a MetaTables, source: &'a str, epoch: u64) -> Call<'a, Commit> {
        Box::pin(MySqlDownstream::claim(self, meta, source, epoch))
    }

    fn fence_epoch<'a>(&'a self, meta: &'a MetaTables, source: &'a str) -> Call<'a, u64> {
        Box::pin(MySqlDownstream::fence_epoch(self, meta, source))
    }

    fn lane_checkpoints<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, BTreeMap<u32, Position>> {
        Box::pin(MySqlDownstream::lane_checkpoints(self, meta, source))
    }

    fn commit_fenced<'a>(
        &'a self,
        key: &'a CheckpointKey,
        epoch: u64,
        position: &'a Position,
        statements: &'a [Vec<u8>],
    ) -> Call<'a, Commit> {
        Box::pin(MySqlDownstream::commit_fenced(
            self, key, epoch, position, statements,
        ))
    }

    fn begin_sync<'a>(&'a self, key: &'a CheckpointKey, epoch: u64) -> Call<'a, OpenSync> {
        Box::pin(MySqlDownstream::begin_sync(self, key, epoch))
    }

    fn execute<'a>(&'a self, statement: &'a str) -> Call<'a, ()> {
        Box::pin(MySqlDownstream::execute(self, statement))
    }

    fn has_other_unique_keys<'a>(&'a self, schema: &'a str, table: &'a str) -> Call<'a, bool> {
        Box::pin(MySqlDownstream::has_other_unique_keys(self, schema, table))
    }

    fn generated_columns<'a>(&'a self, schema: &'a str, table: &'a str) -> Call<'a, Vec<String>> {
        Box::pin(MySqlDownstream::generated_columns(self, schema, table))
    }

    fn show_create_table<'a>(
        &'a self,
        schema: &'a str,
        table: &'a str,
    ) -> Call<'a, Option<String>> {
        Box::pin(MySqlDownstream::show_create_table(self, schema, table))
    }

    fn table_rows<'a>(
        &'a self,
        schema: &'a str,
        table: &'a str,
    ) -> Call<'a, Vec<Vec<Option<String>>>> {
        Box::pin(MySqlDownstream::table_rows(self, schema, table))
    }

    fn copy_plan<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Vec<StoredChunk>> {
        Box::pin(MySqlDownstream::copy_plan(self, meta, source))
    }

    fn save_copy_plan<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        plan: &'a [StoredChunk],
    ) -> Call<'a, Commit> {
        Box::pin(MySqlDownstream::save_copy_plan(
            self, meta, source, epoch, plan,
        ))
    }

    fn begin_chunk<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        chunk: &'a StoredChunk,
    ) -> Call<'a, OpenChunk> {
        Box::pin(MySqlDownstream::begin_chunk(
            self, meta, source, epoch, chunk,
        ))
    }

    fn close(&self) -> Call<'_, ()> {
        Box::pin(MySqlDownstream::close(self.clone()))
    }

    fn shard_intent<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Option<ShardIntent>> {
        Box::pin(MySqlDownstream::shard_intent(self, meta, source))
    }

    fn save_shard_intent<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        intent: &'a ShardIntent,
    ) -> Call<'a, Commit> {
        Box::pin(MySqlDownstream::save_shard_intent(
            self, meta, source, epoch, intent,
        ))
    }

    fn shard_group<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Option<String>> {
        Box::pin(MySqlDownstream::shard_group(self, meta, source))
    }

    fn save_shard_group<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        state: Option<&'a str>,
    ) -> Call<'a, Commit> {
        Box::pin(MySqlDownstream::save_shard_group(
            self, meta, source, epoch, state,
        ))
    }

    fn schema_states<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
    ) -> Call<'a, Vec<StoredSchema>> {
        Box::pin(MySqlDownstream::schema_states(self, meta, source))
    }

    fn save_schema_state<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        state: &'a StoredSchema,
        keep: usize,
    ) -> Call<'a, Commit> {
        Box::pin(MySqlDownstream::save_schema_state(
            self, meta, source, epoch, state, keep,
        ))
    }

    fn binlog_op_done<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        op_id: u64,
    ) -> Call<'a, u32> {
        Box::pin(MySqlDownstream::binlog_op_done(self, meta, source, op_id))
    }

    fn save_binlog_op_done<'a>(
        &'a self,
        meta: &'a MetaTables,
        source: &'a str,
        epoch: u64,
        op_id: u64,
        statements: u32,
    ) -> Call<'a, Commit> {
        Box::pin(MySqlDownstream::save_binlog_op_done(
            self, meta, source, epoch, op_id, statements,
        ))
    }
}
