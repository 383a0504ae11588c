//! The downstream conformance suite: what every [`Downstream`] must do,
//! run against MySQL/MariaDB (the integration tests) and against the
//! in-memory downstream (unit tests), so the simulation's downstream
//! behaves as the real one for everything the worker relies on: the fence,
//! atomic commits with the checkpoint, per-lane checkpoints, the
//! statements the sync unit sends, DDL and its error codes, the shard-DDL
//! records, the full copy's plan and chunk transactions
//! ([`super::downstream_copy`]).
//!
//! [`run`] returns the first broken expectation as an error naming it.

pub(super) use super::upstream::expect;
use dm_worker::downstream::{
    CheckpointKey, Commit, Downstream, DownstreamError, MetaTables, OpenSync, Position, ShardIntent,
};

fn at(pos: u32) -> Position {
    Position {
        binlog_name: "mysql-bin.000001".into(),
        binlog_pos: pos,
        binlog_gtid: String::new(),
    }
}

pub(super) fn code(e: &DownstreamError) -> Option<u16> {
    match e {
        DownstreamError::Database { source, .. } => source.code(),
        _ => None,
    }
}

pub(super) fn ok<T>(what: &str, r: Result<T, DownstreamError>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

pub(super) fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
    cells.iter().map(|c| c.map(String::from)).collect()
}

/// Rows of `schema.table`, ordered by their first column as a number.
pub(super) async fn sorted_rows(
    d: &dyn Downstream,
    schema: &str,
    table: &str,
) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut rows = ok("reading rows", d.table_rows(schema, table).await)?;
    rows.sort_by_key(|r| {
        r.first()
            .cloned()
            .flatten()
            .and_then(|id| id.parse::<i64>().ok())
    });
    Ok(rows)
}

/// Runs the suite in a fresh database `schema` (and `<schema>_meta`); both
/// are dropped at the end.
pub async fn run(d: &dyn Downstream, schema: &str) -> Result<(), String> {
    let meta = MetaTables {
        meta_schema: format!("{schema}_meta"),
        task: "conformance".into(),
    };
    let _ = d
        .execute(&format!("DROP DATABASE IF EXISTS `{schema}`"))
        .await;
    let _ = d
        .execute(&format!("DROP DATABASE IF EXISTS `{}`", meta.meta_schema))
        .await;
    let result = cases(d, schema, &meta).await;
    let _ = d
        .execute(&format!("DROP DATABASE IF EXISTS `{schema}`"))
        .await;
    let _ = d
        .execute(&format!("DROP DATABASE IF EXISTS `{}`", meta.meta_schema))
        .await;
    result
}

async fn cases(d: &dyn Downstream, schema: &str, meta: &MetaTables) -> Result<(), String> {
    let t = format!("`{schema}`.`t`");
    ok("prepare", d.prepare(meta).await)?;
    ok("prepare again", d.prepare(meta).await)?;
    ok(
        "create database",
        d.execute(&format!("CREATE DATABASE `{schema}`")).await,
    )?;
    let create = format!("CREATE TABLE {t} (id INT NOT NULL, c VARCHAR(40), PRIMARY KEY (id))");
    ok("create table", d.execute(&create).await)?;
    let again = d.execute(&create).await.err();
    expect(
        "creating it again fails with 1050",
        again.as_ref().and_then(code),
        Some(1050),
    )?;
    expect(
        "no table",
        ok("show", d.show_create_table(schema, "nope").await)?,
        None,
    )?;

    // The fence.
    let key = |lane| CheckpointKey {
        meta_schema: meta.meta_schema.clone(),
        task: meta.task.clone(),
        source: "s1".into(),
        lane,
    };
    let insert = |sql: &str| vec![sql.as_bytes().to_vec()];
    let unclaimed = d
        .commit_fenced(
            &key(0),
            5,
            &at(100),
            &insert(&format!("INSERT INTO {t} (`id`,`c`) VALUES (9,0x39)")),
        )
        .await;
    if !matches!(unclaimed, Err(DownstreamError::NotClaimed { .. })) {
        return Err(format!(
            "a commit before any claim must fail as not claimed: {unclaimed:?}"
        ));
    }
    expect(
        "claim 5",
        ok("claim", d.claim(meta, "s1", 5).await)?,
        Commit::Committed,
    )?;
    expect("fence", ok("fence", d.fence_epoch(meta, "s1").await)?, 5)?;
    expect(
        "an older claim",
        ok("claim", d.claim(meta, "s1", 4).await)?,
        Commit::Fenced { by_epoch: 5 },
    )?;
    let first = insert(&format!(
        "INSERT INTO {t} (`id`,`c`) VALUES (1,0x61),(2,0x62)"
    ));
    expect(
        "commit",
        ok(
            "commit",
            d.commit_fenced(&key(0), 5, &at(100), &first).await,
        )?,
        Commit::Committed,
    )?;
    let two = vec![row(&[Some("1"), Some("a")]), row(&[Some("2"), Some("b")])];
    expect(
        "rows after the commit",
        sorted_rows(d, schema, "t").await?,
        two.clone(),
    )?;
    let checkpoints = ok("checkpoints", d.lane_checkpoints(meta, "s1").await)?;
    expect("checkpoint", checkpoints.get(&0).cloned(), Some(at(100)))?;

    // Atomic: a failing statement leaves rows and checkpoint as they were.
    let failing = vec![
        format!("INSERT INTO {t} (`id`,`c`) VALUES (3,0x63)").into_bytes(),
        format!("INSERT INTO {t} (`id`,`c`) VALUES (1,0x7a)").into_bytes(),
    ];
    let duplicate = d.commit_fenced(&key(0), 5, &at(200), &failing).await.err();
    expect(
        "a duplicate key fails with 1062",
        duplicate.as_ref().and_then(code),
        Some(1062),
    )?;
    expect(
        "rows after the failed commit",
        sorted_rows(d, schema, "t").await?,
        two.clone(),
    )?;
    let checkpoints = ok("checkpoints", d.lane_checkpoints(meta, "s1").await)?;
    expect(
        "checkpoint after the failed commit",
        checkpoints.get(&0).cloned(),
        Some(at(100)),
    )?;

    // A stale epoch commits nothing.
    let stale = insert(&format!("INSERT INTO {t} (`id`,`c`) VALUES (4,0x64)"));
    expect(
        "a commit of an older epoch",
        ok(
            "commit",
            d.commit_fenced(&key(0), 4, &at(300), &stale).await,
        )?,
        Commit::Fenced { by_epoch: 5 },
    )?;
    expect(
        "claim 6",
        ok("claim", d.claim(meta, "s1", 6).await)?,
        Commit::Committed,
    )?;
    expect(
        "a commit of the epoch claimed over",
        ok(
            "commit",
            d.commit_fenced(&key(0), 5, &at(300), &stale).await,
        )?,
        Commit::Fenced { by_epoch: 6 },
    )?;
    expect(
        "rows after fenced commits",
        sorted_rows(d, schema, "t").await?,
        two,
    )?;

    // The sync unit's statements; lanes keep their own checkpoints.
    let dml = vec![
        format!("UPDATE {t} SET `id`=1,`c`=0x7a WHERE `id` <=> 1 LIMIT 1").into_bytes(),
        format!("DELETE FROM {t} WHERE `id` <=> 2 LIMIT 1").into_bytes(),
        format!("REPLACE INTO {t} (`id`,`c`) VALUES (3,NULL),(1,0x79)").into_bytes(),
        format!("DELETE FROM {t} WHERE `id` <=> 42 LIMIT 1").into_bytes(),
    ];
    expect(
        "commit on lane 1",
        ok("commit", d.commit_fenced(&key(1), 6, &at(400), &dml).await)?,
        Commit::Committed,
    )?;
    expect(
        "rows after the sync unit's statements",
        sorted_rows(d, schema, "t").await?,
        vec![row(&[Some("1"), Some("y")]), row(&[Some("3"), None])],
    )?;
    let checkpoints = ok("checkpoints", d.lane_checkpoints(meta, "s1").await)?;
    expect(
        "per-lane checkpoints",
        checkpoints.into_iter().collect::<Vec<_>>(),
        vec![(0, at(100)), (1, at(400))],
    )?;

    pieces(d, schema, &key).await?;

    // DDL and the codes a replayed DDL meets.
    let before = ok("show", d.show_create_table(schema, "t").await)?;
    let alter = format!("ALTER TABLE {t} ADD COLUMN extra INT NOT NULL DEFAULT 7");
    ok("alter", d.execute(&alter).await)?;
    let again = d.execute(&alter).await.err();
    expect(
        "adding the column again fails with 1060",
        again.as_ref().and_then(code),
        Some(1060),
    )?;
    let after = ok("show", d.show_create_table(schema, "t").await)?;
    if before == after || after.is_none() {
        return Err(format!(
            "SHOW CREATE TABLE must change with the table: {before:?} / {after:?}"
        ));
    }
    expect(
        "rows after ADD COLUMN",
        sorted_rows(d, schema, "t").await?,
        vec![
            row(&[Some("1"), Some("y"), Some("7")]),
            row(&[Some("3"), None, Some("7")]),
        ],
    )?;
    expect(
        "no other unique key",
        ok("keys", d.has_other_unique_keys(schema, "t").await)?,
        false,
    )?;
    ok(
        "unique index",
        d.execute(&format!("CREATE UNIQUE INDEX u_c ON {t} (c)"))
            .await,
    )?;
    expect(
        "another unique key",
        ok("keys", d.has_other_unique_keys(schema, "t").await)?,
        true,
    )?;
    let missing = d
        .execute(&format!("DROP TABLE `{schema}`.`nope`"))
        .await
        .err();
    expect(
        "dropping a missing table fails with 1051",
        missing.as_ref().and_then(code),
        Some(1051),
    )?;

    // Shard-DDL records, fenced like everything else.
    let intent = ShardIntent {
        lock_id: "task-`db`.`t`".into(),
        binlog_name: "mysql-bin.000001".into(),
        binlog_pos: 500,
        table_before: before,
    };
    expect(
        "no intent yet",
        ok("intent", d.shard_intent(meta, "s1").await)?,
        None,
    )?;
    expect(
        "save an intent",
        ok("intent", d.save_shard_intent(meta, "s1", 6, &intent).await)?,
        Commit::Committed,
    )?;
    expect(
        "the intent",
        ok("intent", d.shard_intent(meta, "s1").await)?,
        Some(intent.clone()),
    )?;
    expect(
        "an intent of an older epoch",
        ok("intent", d.save_shard_intent(meta, "s1", 5, &intent).await)?,
        Commit::Fenced { by_epoch: 6 },
    )?;
    expect(
        "open a group window",
        ok(
            "group",
            d.save_shard_group(meta, "s1", 6, Some("{\"w\":1}")).await,
        )?,
        Commit::Committed,
    )?;
    expect(
        "the window",
        ok("group", d.shard_group(meta, "s1").await)?,
        Some("{\"w\":1}".to_string()),
    )?;
    expect(
        "close it",
        ok("group", d.save_shard_group(meta, "s1", 6, None).await)?,
        Commit::Committed,
    )?;
    expect(
        "closed",
        ok("group", d.shard_group(meta, "s1").await)?,
        None,
    )?;
    // `binlog replace` / `inject` marks: none, then per operation, fenced.
    expect(
        "no binlog operation mark",
        ok("binlog op", d.binlog_op_done(meta, "s1", 7).await)?,
        0,
    )?;
    expect(
        "mark one statement",
        ok(
            "binlog op",
            d.save_binlog_op_done(meta, "s1", 6, 7, 1).await,
        )?,
        Commit::Committed,
    )?;
    expect(
        "mark two",
        ok(
            "binlog op",
            d.save_binlog_op_done(meta, "s1", 6, 7, 2).await,
        )?,
        Commit::Committed,
    )?;
    expect(
        "a mark of an older epoch",
        ok(
            "binlog op",
            d.save_binlog_op_done(meta, "s1", 5, 7, 3).await,
        )?,
        Commit::Fenced { by_epoch: 6 },
    )?;
    expect(
        "the mark",
        ok("binlog op", d.binlog_op_done(meta, "s1", 7).await)?,
        2,
    )?;
    expect(
        "another operation",
        ok("binlog op", d.binlog_op_done(meta, "s1", 8).await)?,
        0,
    )?;
    super::downstream_copy::cases(d, schema, meta).await
}

/// A lane's transaction in pieces (epoch 6 owns the source): nothing shows
/// before it commits, then every piece and the checkpoint do; a stale
/// epoch cannot open one; a failing piece lands nothing.
async fn pieces(
    d: &dyn Downstream,
    schema: &str,
    key: &dyn Fn(u32) -> CheckpointKey,
) -> Result<(), String> {
    let t2 = format!("`{schema}`.`t2`");
    ok(
        "create t2",
        d.execute(&format!(
            "CREATE TABLE {t2} (id INT NOT NULL, c VARCHAR(40), PRIMARY KEY (id))"
        ))
        .await,
    )?;
    let piece =
        |id: u32| vec![format!("INSERT INTO {t2} (`id`,`c`) VALUES ({id},0x70)").into_bytes()];
    let OpenSync::Open(mut tx) = ok("begin", d.begin_sync(&key(2), 6).await)? else {
        return Err("the owner's transaction must open".into());
    };
    ok("first piece", tx.write(piece(10)).await)?;
    ok("second piece", tx.write(piece(11)).await)?;
    expect(
        "nothing shows before the commit",
        sorted_rows(d, schema, "t2").await?,
        Vec::new(),
    )?;
    expect(
        "the pieces commit",
        ok("commit", tx.commit(at(500)).await)?,
        Commit::Committed,
    )?;
    expect(
        "every piece after the commit",
        sorted_rows(d, schema, "t2").await?,
        vec![row(&[Some("10"), Some("p")]), row(&[Some("11"), Some("p")])],
    )?;
    let checkpoints = ok(
        "checkpoints",
        d.lane_checkpoints(&key(2).meta(), "s1").await,
    )?;
    expect(
        "the pieces' checkpoint",
        checkpoints.get(&2).cloned(),
        Some(at(500)),
    )?;
    match ok("begin stale", d.begin_sync(&key(2), 5).await)? {
        OpenSync::Fenced { by_epoch: 6 } => {}
        OpenSync::Fenced { by_epoch } => {
            return Err(format!("fenced by {by_epoch}, want 6"));
        }
        OpenSync::Open(tx) => {
            let landed = tx.commit(at(600)).await;
            if matches!(landed, Ok(Commit::Committed)) {
                return Err("a stale epoch's pieces must not commit".into());
            }
        }
    }
    let OpenSync::Open(mut tx) = ok("begin", d.begin_sync(&key(2), 6).await)? else {
        return Err("the owner's transaction must open".into());
    };
    let written = match tx.write(piece(12)).await {
        Ok(()) => tx.write(piece(10)).await,
        Err(e) => Err(e),
    };
    if written.is_ok() {
        let landed = tx.commit(at(700)).await;
        if landed.is_ok() {
            return Err("a duplicate key in a piece must fail the transaction".into());
        }
    }
    expect(
        "a failed transaction in pieces lands nothing",
        sorted_rows(d, schema, "t2").await?,
        vec![row(&[Some("10"), Some("p")]), row(&[Some("11"), Some("p")])],
    )?;
    let checkpoints = ok(
        "checkpoints",
        d.lane_checkpoints(&key(2).meta(), "s1").await,
    )?;
    expect(
        "its checkpoint stays",
        checkpoints.get(&2).cloned(),
        Some(at(500)),
    )
}
