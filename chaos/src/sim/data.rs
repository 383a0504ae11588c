//! The data the simulated cluster migrates: one in-memory upstream per
//! source (`app.t_<i>`, ids `i * 1_000_000 + n` so the shards never
//! collide) and one in-memory downstream they merge into (`app.t`), both
//! outside every host so they survive crashes, as real databases do.
//!
//! Workers reach them through [`SimDatabases`]; each worker host's
//! downstream handle stalls some commits (1-4 s, drawn from the seed), as
//! a paused worker or a slow network does: such a commit may land after
//! another worker took the source over, which is what the epoch fence is
//! for. `fence: false` hands out handles without the fence (the broken
//! build the checks must catch).

use std::collections::BTreeMap;
use std::sync::Arc;

use dm_proto::config::{DbConfig, SourceConfig};
use dm_worker::databases::Databases;
use dm_worker::downstream::memory::MemDownstream;
use dm_worker::downstream::Downstream;
use dm_worker::sync::source::BinlogSource;
use dm_worker::upstream::memory::MemUpstream;

/// One commit in this many stalls.
pub const STALL_ONE_IN: u64 = 40;

pub const SCHEMA: &str = "app";
pub const TARGET: &str = "t";

pub fn shard_table(i: usize) -> String {
    format!("t_{i}")
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
    /// `sources` upstreams, each with its shard table (empty).
    pub fn new(sources: usize) -> Self {
        let upstreams = (0..sources)
            .map(|i| {
                let up = MemUpstream::new(u32::try_from(i + 1).unwrap_or(1));
                up.create_table(SCHEMA, &shard_table(i), &["c"]);
                (source_id(i), up)
            })
            .collect();
        Self {
            upstreams,
            downstream: MemDownstream::new("down:3306"),
        }
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
        match self.world.upstreams.get(&source.source_id) {
            Some(up) => Arc::new(up.clone()),
            // A source with no data (the probe): an empty upstream.
            None => Arc::new(MemUpstream::new(99)),
        }
    }
}
