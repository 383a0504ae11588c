//! Passwords where they must not be: every file under the daemons' dirs is
//! searched for each plaintext password, byte for byte; and dmctl's
//! `encrypt` / `decrypt`, whose answers are text, not JSON.

use std::path::{Path, PathBuf};

use crate::binaries::workspace_binary;
use crate::mariadb::MariaDb;
use crate::scenario::query_rows;

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

/// Panics naming the file when any of `secrets` appears in one of `files`.
pub fn assert_in_no_file(files: &[PathBuf], secrets: &[&str]) {
    for secret in secrets {
        for file in files {
            let bytes = std::fs::read(file).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in plaintext in {}",
                file.display()
            );
        }
    }
}

/// Panics naming the table when any of `secrets` appears in a row of a
/// `dm_meta` table of `downstream` (which must have some).
pub async fn assert_not_in_dm_meta(downstream: &MariaDb, secrets: &[&str]) {
    let tables = query_rows(
        downstream,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'dm_meta'",
    )
    .await;
    assert!(!tables.is_empty(), "no dm_meta tables");
    for table in tables {
        let name = match table.first() {
            Some(mysql_async::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("table name {other:?}"),
        };
        let rows = query_rows(downstream, &format!("SELECT * FROM dm_meta.`{name}`")).await;
        let text = format!("{rows:?}");
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in dm_meta.{name}");
        }
    }
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
