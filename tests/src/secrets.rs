//! Passwords where they must not be: every file under the daemons' dirs is
//! searched for each plaintext password, byte for byte; dmctl's
//! `encrypt` / `decrypt`, whose answers are text, not JSON; and the
//! password tests' one-table task (`app.t`, copied then synced) that logs
//! in to the source and the downstream with the passwords under test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::binaries::workspace_binary;
use crate::cluster::{create_source_from, dmctl, wait_bound, Workers};
use crate::error::{HarnessError, Result};
use crate::mariadb::MariaDb;
use crate::scenario::query_rows;
use crate::tutorial::run_sql;
use crate::wait::{wait_until, Check};

/// A database login of [`app_task`]: user and password as the file gives it.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    pub user: &'a str,
    pub password: &'a str,
}

/// Creates source `mysql1` on `upstream` logging in as `source`, starts
/// one worker, then task `name` copying and syncing `app.t` to
/// `downstream` as `target`; inserts row 2 upstream and waits until
/// `app.t` is equal on both sides (2 rows). Returns the worker, whose dir
/// holds its logs.
pub async fn app_task(
    addrs: &str,
    dir: &Path,
    name: &str,
    (upstream, source): (&MariaDb, Login<'_>),
    (downstream, target): (&MariaDb, Login<'_>),
) -> Result<Workers> {
    let yaml = format!(
        "source-id: mysql1\nfrom:\n  host: 127.0.0.1\n  port: {}\n  user: {}\n  password: \"{}\"\n",
        upstream.port(),
        source.user,
        source.password
    );
    create_source_from(addrs, dir, "mysql1", &yaml).await?;
    let workers = Workers::start(1, addrs, 2)?;
    wait_bound(addrs, "mysql1", None, Duration::from_secs(60)).await?;
    let task = format!(
        "name: {name}\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {}\n  user: \"{}\"\n  password: \"{}\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"app\"\nblock-allow-list:\n  app:\n    do-dbs: [\"app\"]\n",
        downstream.port(),
        target.user,
        target.password
    );
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, task)
        .map_err(|e| HarnessError::io(format!("writing {}", file.display()), e))?;
    let answer = dmctl(addrs, &["start-task", &file.display().to_string()]).await?;
    if answer["result"] != true {
        return Err(HarnessError::Task(format!("start-task {name}: {answer}")));
    }
    run_sql(upstream, &["INSERT INTO app.t VALUES (2, 'synced')"]).await?;
    let sql = "SELECT id, v FROM app.t ORDER BY id";
    wait_until(
        "copied and synced rows downstream",
        Duration::from_secs(60),
        Duration::from_millis(50),
        || async {
            let up = query_rows(upstream, sql).await;
            let down = query_rows(downstream, sql).await;
            if up.len() == 2 && up == down {
                return Check::Ready(());
            }
            let status = dmctl(addrs, &["query-status", name]).await.ok();
            Check::Pending(format!("{down:?}; {status:?}"))
        },
    )
    .await?;
    Ok(workers)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect(dir, &mut out);
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Where any of `secrets` appears in one of `files`: "SECRET in FILE".
pub fn found_in_files(files: &[PathBuf], secrets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap_or_default();
        for secret in secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!("{secret} in plaintext in {}", file.display()));
            }
        }
    }
    found
}

/// Panics naming the file when any of `secrets` appears in one of `files`.
pub fn assert_in_no_file(files: &[PathBuf], secrets: &[&str]) {
    let found = found_in_files(files, secrets);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The `dm_meta` tables of `downstream` searched, and where any of
/// `secrets` appears in one of their rows: "SECRET in dm_meta.TABLE".
pub async fn found_in_dm_meta(downstream: &MariaDb, secrets: &[&str]) -> (usize, Vec<String>) {
    let tables = query_rows(
        downstream,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'dm_meta'",
    )
    .await;
    let mut found = Vec::new();
    for table in &tables {
        let name = match table.first() {
            Some(mysql_async::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            other => {
                found.push(format!("a dm_meta table name that is not text: {other:?}"));
                continue;
            }
        };
        let rows = query_rows(downstream, &format!("SELECT * FROM dm_meta.`{name}`")).await;
        let text = format!("{rows:?}");
        for secret in secrets {
            if text.contains(secret) {
                found.push(format!("{secret} in dm_meta.{name}"));
            }
        }
    }
    (tables.len(), found)
}

/// Panics naming the table when any of `secrets` appears in a row of a
/// `dm_meta` table of `downstream` (which must have some).
pub async fn assert_not_in_dm_meta(downstream: &MariaDb, secrets: &[&str]) {
    let (tables, found) = found_in_dm_meta(downstream, secrets).await;
    assert!(tables > 0, "no dm_meta tables");
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Runs dmctl with `args` (no master involved: `encrypt`, `decrypt`) and
/// returns its trimmed output and whether it succeeded.
pub async fn dmctl_text(args: &[&str]) -> (String, bool) {
    let binary = match workspace_binary("dmctl") {
        Ok(binary) => binary,
        Err(e) => return (e.to_string(), false),
    };
    let output = tokio::process::Command::new(binary)
        .args(args)
        .env_remove("DM_MASTER_ADDR")
        .output()
        .await;
    match output {
        Ok(output) => (
            String::from_utf8_lossy(&output.stdout).trim().to_string(),
            output.status.success(),
        ),
        Err(e) => (format!("dmctl {args:?}: {e}"), false),
    }
}
