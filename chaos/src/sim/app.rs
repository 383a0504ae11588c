//! The application writing to the upstream shards while the migration
//! runs: small transactions of inserts, updates and deletes on every
//! shard, at seeded times, until the faults are over.

use std::time::Duration;

use dm_worker::upstream::memory::Write;
use mysql_async::Value;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::data::{shard_table, World, SCHEMA};
use super::workload::Journal;

fn row(id: i64, text: String) -> Vec<Value> {
    vec![Value::Int(id), Value::Bytes(text.into_bytes())]
}

/// The client host's program: writes until the run settles.
pub async fn run(
    seed: u64,
    world: World,
    journal: Journal,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0a99_1e55);
    let shards: Vec<_> = world.upstreams.values().cloned().collect();
    let mut next_id = vec![0i64; shards.len()];
    let mut written = 0u64;
    while !*journal.settled.borrow() {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..60))).await;
        let i = rng.gen_range(0..shards.len());
        let table = shard_table(i);
        let ids = shards[i].ids(SCHEMA, &table);
        let mut writes = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            let existing = (!ids.is_empty()).then(|| ids[rng.gen_range(0..ids.len())]);
            match (rng.gen_range(0..100), existing) {
                (0..=59, _) | (_, None) => {
                    next_id[i] += 1;
                    let id = i64::try_from(i).unwrap_or(0) * 1_000_000 + next_id[i];
                    writes.push(Write::Insert(row(id, format!("v{written}"))));
                }
                (60..=84, Some(id)) => {
                    writes.push(Write::Update(id, row(id, format!("u{written}"))))
                }
                (_, Some(id)) => writes.push(Write::Delete(id)),
            }
            written += 1;
        }
        shards[i].transaction(SCHEMA, &table, &writes);
    }
    Ok(())
}
