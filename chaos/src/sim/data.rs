//! The data the simulated cluster migrates: one in-memory upstream per
//! source (`app.t_<i>`, ids `i * 1_000_000 + n` so the shards never
//! collide) and one in-memory downstream they merge into (`app.t`), both
//! outside every host so they survive crashes, as real databases do. A
//! run with the full copy starts with rows in every shard, enough for
//! several chunks, read at [`READ_PER_ROW`] so that the copy takes
//! seconds of simulated time and the faults meet it.
//!
//! Workers reach them through [`SimDatabases`]; each worker host's
//! downstream handle stalls some commits (1-4 s, drawn from the seed), as
//! a paused worker or a slow network does: such a commit may land after
//! another worker took the source over, which is what the epoch fence is
//! for. `fence: false` hands out handles without the fence (the broken
//! build the checks must catch).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dm_proto::config::{DbConfig, SourceConfig};
use dm_worker::databases::Databases;
use dm_worker::downstream::Downstream;
use dm_worker::upstream::BinlogSource;
use dm_worker::upstream::CopySource;
use dm_worker::upstream::Value;
use dm_worker_testkit::downstream::MemDownstream;
use dm_worker_testkit::upstream::{MemUpstream, RowMetadata, Write};

/// One commit in this many stalls.
pub const STALL_ONE_IN: u64 = 40;
/// Rows per transaction of the rows a shard starts with.
pub const PRELOAD_BATCH: usize = 50;
/// Rows every shard starts with when the task copies them.
pub const PRELOADED_ROWS: i64 = 1000;
/// Simulated time the full copy takes to read one upstream row.
pub const READ_PER_ROW: Duration = Duration::from_millis(10);

pub const SCHEMA: &str = "app";
pub const TARGET: &str = "t";

pub fn shard_table(i: usize) -> String {
    format!("t_{i}")
}

/// The first id of shard `i`'s range, less one.
pub fn shard_base(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(0) * 1_000_000
}

pub fn source_id(i: usize) -> String {
    format!("s{i}")
}

/// The databases of one run.
#[derive(Debug, Clone)]
pub struct World {
    pub upstreams: BTreeMap<String, MemUpstream>,
    pub downstream: MemDownstream,
}

impl World {
    /// `sources` upstreams whose row events carry `metadata`, each with
    /// its shard table holding `rows` rows (ids `1..=rows` in the shard's
    /// range), written in transactions of [`PRELOAD_BATCH`].
    pub fn new(sources: usize, rows: i64, metadata: RowMetadata) -> Self {
        let upstreams = (0..sources)
            .map(|i| {
                let up = MemUpstream::with_metadata(u32::try_from(i + 1).unwrap_or(1), metadata);
                let table = shard_table(i);
                up.create_table(SCHEMA, &table, &["c"]);
                let base = shard_base(i);
                let ids: Vec<i64> = (1..=rows).collect();
                for batch in ids.chunks(PRELOAD_BATCH) {
                    let writes: Vec<Write> = batch
                        .iter()
                        .map(|n| {
                            Write::Insert(vec![
                                Value::Int(base + n),
                                Value::Bytes(format!("p{n}").into_bytes()),
                            ])
                        })
                        .collect();
                    up.transaction(SCHEMA, &table, &writes);
                }
                (source_id(i), up)
            })
            .collect();
        Self {
            upstreams,
            downstream: MemDownstream::new("down:3306"),
        }
    }

    /// A source's upstream; a source with no data (the probe) gets an
    /// empty one.
    pub fn upstream(&self, source: &str) -> MemUpstream {
        self.upstreams
            .get(source)
            .cloned()
            .unwrap_or_else(|| MemUpstream::new(99))
    }

    /// Every shard's rows, merged and ordered by id.
    pub fn merged_upstream(&self) -> Vec<Vec<Option<String>>> {
        let mut rows: Vec<Vec<Option<String>>> = self
            .upstreams
            .values()
            .enumerate()
            .flat_map(|(i, up)| up.rows(SCHEMA, &shard_table(i)))
            .collect();
        rows.sort_by_key(|r| id_of(r));
        rows
    }

    /// The downstream's merged table, ordered by id.
    pub fn downstream_rows(&self) -> Vec<Vec<Option<String>>> {
        let mut rows = self.downstream.rows(SCHEMA, TARGET).unwrap_or_default();
        rows.sort_by_key(|r| id_of(r));
        rows
    }
}

fn id_of(row: &[Option<String>]) -> i64 {
    row.first()
        .cloned()
        .flatten()
        .and_then(|id| id.parse().ok())
        .unwrap_or(i64::MIN)
}

/// A worker host's view of the [`World`].
#[derive(Debug)]
pub struct SimDatabases {
    world: World,
    /// Seeds this host's stalls.
    seed: u64,
    fence: bool,
}

impl SimDatabases {
    pub fn new(world: World, seed: u64, fence: bool) -> Self {
        Self { world, seed, fence }
    }
}

impl Databases for SimDatabases {
    fn downstream(&self, _target: &DbConfig, _connections: usize) -> Arc<dyn Downstream> {
        let base = if self.fence {
            self.world.downstream.clone()
        } else {
            self.world.downstream.without_fence()
        };
        Arc::new(base.stalling(self.seed, STALL_ONE_IN))
    }

    fn source(&self, source: &SourceConfig) -> Arc<dyn BinlogSource> {
        Arc::new(self.world.upstream(&source.source_id))
    }

    fn copy_source(&self, source: &SourceConfig, _connections: usize) -> Arc<dyn CopySource> {
        Arc::new(
            self.world
                .upstream(&source.source_id)
                .reading_at(READ_PER_ROW),
        )
    }
}
