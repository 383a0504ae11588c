//! The application writing to the upstream shards while the migration
//! runs: small transactions of inserts, updates and deletes on every
//! shard, at seeded times, until the faults are over.

use std::time::Duration;

use dm_worker::upstream::Value;
use dm_worker_testkit::upstream::Write;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::data::{shard_base, shard_table, World, SCHEMA};
use super::workload::Journal;

/// A row of `columns` columns: the id, then text.
fn row(id: i64, text: String, columns: usize) -> Vec<Value> {
    let mut row = vec![Value::Int(id), Value::Bytes(text.clone().into_bytes())];
    for n in 2..columns {
        row.push(Value::Bytes(format!("{text}.{n}").into_bytes()));
    }
    row
}

/// The shard DDL of a seed that has one: when each shard runs it.
pub fn ddl_times(seed: u64, shards: usize, window: Duration) -> Option<Vec<Duration>> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0dd1_0dd1);
    if !rng.gen_bool(0.5) {
        return None;
    }
    let last = u64::try_from(window.as_millis().saturating_sub(1500))
        .unwrap_or(u64::MAX)
        .max(2001);
    Some(
        (0..shards)
            .map(|_| Duration::from_millis(rng.gen_range(2000..last)))
            .collect(),
    )
}

/// The client host's program: writes until the run settles.
pub async fn run(
    seed: u64,
    world: World,
    journal: Journal,
    ddl: Option<Vec<Duration>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0a99_1e55);
    let shards: Vec<_> = world.upstreams.values().cloned().collect();
    // New ids follow the rows the shards start with.
    let mut next_id: Vec<i64> = shards
        .iter()
        .enumerate()
        .map(|(i, up)| {
            up.ids(SCHEMA, &shard_table(i))
                .last()
                .map_or(0, |id| id - shard_base(i))
        })
        .collect();
    let mut written = 0u64;
    let mut ddl_due = ddl.unwrap_or_default();
    while !*journal.settled.borrow() {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..60))).await;
        let now = turmoil::elapsed();
        for (i, due) in ddl_due.iter_mut().enumerate() {
            if *due <= now {
                shards[i].add_column(SCHEMA, &shard_table(i), "extra", "d");
                *due = Duration::MAX;
            }
        }
        let i = rng.gen_range(0..shards.len());
        let table = shard_table(i);
        let columns = shards[i].column_count(SCHEMA, &table);
        let ids = shards[i].ids(SCHEMA, &table);
        let mut writes = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            let existing = (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())]);
            match (rng.gen_range(0..100), existing) {
                (0..=59, _) | (_, None) => {
                    next_id[i] += 1;
                    let id = shard_base(i) + next_id[i];
                    writes.push(Write::Insert(row(id, format!("v{written}"), columns)));
                }
                (60..=84, Some(id)) => {
                    writes.push(Write::Update(id, row(id, format!("u{written}"), columns)))
                }
                (_, Some(id)) => writes.push(Write::Delete(id)),
            }
            written += 1;
        }
        shards[i].transaction(SCHEMA, &table, &writes);
    }
    Ok(())
}
