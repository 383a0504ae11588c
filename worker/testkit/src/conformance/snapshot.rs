//! The snapshot part of the upstream conformance suite
//! ([`super::upstream`]): what every [`CopySource`] must give the
//! full copy. Snapshots open at the binlog's end at that moment; they see
//! neither later writes nor each other's; the tables, keys, key range,
//! columns and definition read in them describe the table; a chunk's rows
//! are its key range as text; and the binlog after a snapshot's position
//! holds exactly the writes it does not see.

use super::upstream::{expect, read, Writer};
use dm_rules::TaskRules;
use dm_worker::copy::plan::chunk_key;
use dm_worker::position::Position;
use dm_worker::sql::Literal;
use dm_worker::upstream::{BinlogSource, CopySnapshot, CopySource, KeyRange, TextRow};

fn text(cells: &[Option<&str>]) -> TextRow {
    cells
        .iter()
        .map(|c| c.map(|s| s.as_bytes().to_vec()))
        .collect()
}

fn chunk(lower: Option<i128>, upper: Option<i128>, key: Option<&str>) -> KeyRange {
    KeyRange {
        schema: "app".into(),
        table: "t".into(),
        index: 0,
        key_column: key.map(Into::into),
        lower,
        upper,
        row_filter: None,
    }
}

async fn chunk_rows(
    snapshot: &mut dyn CopySnapshot,
    chunk: &KeyRange,
    columns: &[String],
) -> Result<(Vec<Literal>, Vec<TextRow>), String> {
    let mut rows = snapshot
        .chunk_rows(chunk, columns)
        .await
        .map_err(|e| e.to_string())?;
    let kinds = rows.columns().iter().map(Literal::of).collect();
    let mut out = Vec::new();
    while let Some(row) = rows.next_row().await.map_err(|e| e.to_string())? {
        out.push(row);
    }
    Ok((kinds, out))
}

/// Runs the snapshot cases on `app.t (id, c, extra)` holding only row 1
/// (`'z'`, `'d'`), as the upstream suite leaves it.
pub async fn cases(
    copy: &dyn CopySource,
    source: &dyn BinlogSource,
    writer: &dyn Writer,
    rules: &TaskRules,
) -> Result<(), String> {
    writer.insert(&[(3, "c"), (4, "d")]).await?;
    let before = source.position().await.map_err(|e| e.to_string())?;
    let mut snapshots = copy
        .open_snapshots(2)
        .await
        .map_err(|e| format!("opening snapshots: {e}"))?;
    writer.update(1, "w").await?;
    writer.insert(&[(5, "e")]).await?;
    let place = |p: &Position| (p.binlog_name.clone(), p.binlog_pos);
    expect("snapshots", snapshots.len(), 2)?;
    for s in &snapshots {
        expect(
            "a snapshot's position is the binlog's end when it opened",
            place(s.position()),
            place(&before),
        )?;
    }
    let [first, second] = snapshots.as_mut_slice() else {
        return Err("two snapshots".into());
    };
    let first = first.as_mut();
    let tables = first.list_tables(rules).await.map_err(|e| e.to_string())?;
    if !tables.iter().any(|t| t.schema == "app" && t.table == "t") {
        return Err(format!("the snapshot must list app.t: {tables:?}"));
    }
    let keys = first
        .index_columns("app", "t")
        .await
        .map_err(|e| e.to_string())?;
    expect("the chunk key", chunk_key(&keys), Some("id".to_string()))?;
    expect(
        "the key range in the snapshot",
        first
            .key_range("app", "t", "id")
            .await
            .map_err(|e| e.to_string())?,
        Some((1, 4)),
    )?;
    let columns = first
        .writable_columns("app", "t")
        .await
        .map_err(|e| e.to_string())?;
    expect(
        "the columns",
        columns.clone(),
        vec!["id".to_string(), "c".to_string(), "extra".to_string()],
    )?;
    let show = first
        .show_create("app", "t")
        .await
        .map_err(|e| e.to_string())?;
    if !show.starts_with("CREATE TABLE `t`") || !show.contains("`extra`") {
        return Err(format!("SHOW CREATE TABLE of app.t: {show}"));
    }
    // The definition creates the table the copy writes.
    dm_worker::copy::definition::create_table_as(&show, "target", "t")
        .map_err(|e| e.to_string())?;
    let (kinds, low) = chunk_rows(first, &chunk(None, Some(4), Some("id")), &columns).await?;
    expect(
        "the literal kinds",
        kinds,
        vec![Literal::Number, Literal::Text, Literal::Text],
    )?;
    expect(
        "the rows of the first chunk",
        low,
        vec![
            text(&[Some("1"), Some("z"), Some("d")]),
            text(&[Some("3"), Some("c"), Some("d")]),
        ],
    )?;
    let (_, high) = chunk_rows(first, &chunk(Some(4), None, Some("id")), &columns).await?;
    expect(
        "the rows of the last chunk",
        high,
        vec![text(&[Some("4"), Some("d"), Some("d")])],
    )?;
    let (_, whole) = chunk_rows(second.as_mut(), &chunk(None, None, None), &columns).await?;
    expect("the whole table in the other snapshot", whole.len(), 3)?;
    // A snapshot's rows plus the binlog after it: the upstream.
    let (after, _, _) = read(source, second.position()).await?;
    expect("transactions after the snapshot's position", after.len(), 2)?;
    Ok(())
}
