//! The full copy's part of the downstream conformance suite: the plan is
//! stored once under the fence and read back as written; a chunk's rows
//! and its done-mark commit together, and not at all under a stale epoch,
//! when a newer epoch claims the source while the chunk is open, or when
//! a row is already there (1062).

use super::downstream::{code, expect, ok, row, sorted_rows};
use dm_worker::downstream::{
    ChunkDone, ChunkTx, Commit, Downstream, MetaTables, OpenChunk, Position, StoredChunk,
};

const SOURCE: &str = "s2";

fn chunk(schema: &str, index: u32, lower: Option<i128>, upper: Option<i128>) -> StoredChunk {
    StoredChunk {
        schema: "up".into(),
        table: "c_1".into(),
        index,
        target_schema: schema.into(),
        target_table: "c".into(),
        key_column: Some("id".into()),
        lower,
        upper,
        estimate_rows: 5,
        done: None,
    }
}

fn done(rows: u64, pos: u32) -> ChunkDone {
    ChunkDone {
        rows,
        bytes: 60,
        position: Position {
            binlog_name: "mysql-bin.000002".into(),
            binlog_pos: pos,
            binlog_gtid: "0-1-9".into(),
        },
    }
}

async fn open(
    d: &dyn Downstream,
    meta: &MetaTables,
    epoch: u64,
    chunk: &StoredChunk,
) -> Result<Box<dyn ChunkTx>, String> {
    match ok(
        "begin a chunk",
        d.begin_chunk(meta, SOURCE, epoch, chunk).await,
    )? {
        OpenChunk::Open(tx) => Ok(tx),
        OpenChunk::Fenced { by_epoch } => {
            Err(format!("a chunk of epoch {epoch} was fenced by {by_epoch}"))
        }
    }
}

/// Runs the copy cases in `schema` (created already) with `meta`
/// prepared.
pub async fn cases(d: &dyn Downstream, schema: &str, meta: &MetaTables) -> Result<(), String> {
    let c = format!("`{schema}`.`c`");
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {c} (\n  `id` BIGINT NOT NULL,\n  `v` VARCHAR(40),\n  PRIMARY KEY (`id`)\n)"
    );
    ok("create the copy's table", d.execute(&create).await)?;
    ok("create it again", d.execute(&create).await)?;
    expect(
        "claim",
        ok("claim", d.claim(meta, SOURCE, 3).await)?,
        Commit::Committed,
    )?;
    expect(
        "no plan yet",
        ok("plan", d.copy_plan(meta, SOURCE).await)?,
        Vec::new(),
    )?;
    let plan = vec![
        chunk(schema, 0, None, Some(10)),
        chunk(schema, 1, Some(10), None),
    ];
    expect(
        "a plan of an older epoch",
        ok("save", d.save_copy_plan(meta, SOURCE, 2, &plan).await)?,
        Commit::Fenced { by_epoch: 3 },
    )?;
    expect(
        "still no plan",
        ok("plan", d.copy_plan(meta, SOURCE).await)?,
        Vec::new(),
    )?;
    expect(
        "save the plan",
        ok("save", d.save_copy_plan(meta, SOURCE, 3, &plan).await)?,
        Commit::Committed,
    )?;
    expect(
        "the plan reads back",
        ok("plan", d.copy_plan(meta, SOURCE).await)?,
        plan.clone(),
    )?;

    // A chunk: its rows and done-mark in one transaction.
    let mut tx = open(d, meta, 3, &plan[0]).await?;
    let insert = |values: &str| format!("INSERT INTO {c} (`id`,`v`) VALUES {values}").into_bytes();
    ok("write", tx.write(insert("(1,'a'),(2,'b')")).await)?;
    ok("write", tx.write(insert("(3,NULL)")).await)?;
    expect(
        "commit the chunk",
        ok("commit", tx.commit(done(3, 700)).await)?,
        Commit::Committed,
    )?;
    let three = vec![
        row(&[Some("1"), Some("a")]),
        row(&[Some("2"), Some("b")]),
        row(&[Some("3"), None]),
    ];
    expect(
        "the chunk's rows",
        sorted_rows(d, schema, "c").await?,
        three.clone(),
    )?;
    let mut first_done = plan.clone();
    first_done[0].done = Some(done(3, 700));
    expect(
        "the chunk is marked done",
        ok("plan", d.copy_plan(meta, SOURCE).await)?,
        first_done.clone(),
    )?;

    // Fenced: a stale epoch opens nothing.
    let stale = ok("begin", d.begin_chunk(meta, SOURCE, 2, &plan[1]).await)?;
    if !matches!(stale, OpenChunk::Fenced { by_epoch: 3 }) {
        return Err(format!(
            "a chunk of an older epoch must be fenced by 3: {stale:?}"
        ));
    }
    // A claim while a chunk is open: the chunk commits nothing.
    let mut open_tx = open(d, meta, 3, &plan[1]).await?;
    ok("write", open_tx.write(insert("(10,'x')")).await)?;
    expect(
        "claim 4",
        ok("claim", d.claim(meta, SOURCE, 4).await)?,
        Commit::Committed,
    )?;
    match open_tx.commit(done(1, 800)).await {
        Ok(Commit::Fenced { by_epoch: 4 }) | Err(_) => {}
        other => {
            return Err(format!(
                "a chunk open across a newer claim must not commit: {other:?}"
            ))
        }
    }
    expect(
        "rows after the fenced chunk",
        sorted_rows(d, schema, "c").await?,
        three.clone(),
    )?;
    expect(
        "the fenced chunk is not done",
        ok("plan", d.copy_plan(meta, SOURCE).await)?,
        first_done.clone(),
    )?;

    // A row already there: the chunk fails with 1062, atomically.
    let mut again = open(d, meta, 4, &plan[1]).await?;
    let written = again.write(insert("(11,'y'),(2,'b')")).await;
    let failed = match written {
        Err(e) => Some(e),
        Ok(()) => again.commit(done(2, 900)).await.err(),
    };
    expect(
        "a duplicate row fails the chunk with 1062",
        failed.as_ref().and_then(code),
        Some(1062),
    )?;
    expect(
        "rows after the failed chunk",
        sorted_rows(d, schema, "c").await?,
        three.clone(),
    )?;
    expect(
        "the failed chunk is not done",
        ok("plan", d.copy_plan(meta, SOURCE).await)?,
        first_done.clone(),
    )?;

    // The new owner copies the chunk.
    let mut last = open(d, meta, 4, &plan[1]).await?;
    ok("write", last.write(insert("(10,'x'),(11,'y')")).await)?;
    expect(
        "commit the last chunk",
        ok("commit", last.commit(done(2, 1000)).await)?,
        Commit::Committed,
    )?;
    let mut all_done = first_done;
    all_done[1].done = Some(done(2, 1000));
    expect(
        "every chunk is done",
        ok("plan", d.copy_plan(meta, SOURCE).await)?,
        all_done,
    )?;
    let mut five = three;
    five.push(row(&[Some("10"), Some("x")]));
    five.push(row(&[Some("11"), Some("y")]));
    expect("every row", sorted_rows(d, schema, "c").await?, five)
}
