//! `--v1-sources-path`: the directory of DM 1.x source files that TiUP's
//! `dm import` hands a new DM 2.x cluster.
//!
//! DM imports a 1.x cluster at its first start: it adds every file of the
//! directory as a source, asks each 1.x worker for its subtasks' configs
//! and stages (1.x worker metadata), upgrades the 1.x checkpoint tables
//! downstream, creates the subtasks, then deletes the directory. Our workers
//! have no 1.x metadata to give, so half of that import cannot be done, and
//! importing only the sources would leave the tasks silently behind. So: an
//! empty or missing directory (nothing to import; TiUP keeps passing the
//! flag after an import) is fine, and a directory holding files stops the
//! master at start, naming the flag, the files and the way to do it by hand.

use std::path::Path;

use super::StartError;

/// Fine when `dir` is unset, missing or holds no files (sub-directories are
/// ignored, as DM ignores them); otherwise the files it holds, refused.
pub fn check(dir: &str) -> Result<(), StartError> {
    if dir.is_empty() {
        return Ok(());
    }
    let entries = match std::fs::read_dir(Path::new(dir)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(%dir, "v1-sources-path does not exist; nothing to import");
            return Ok(());
        }
        Err(source) => {
            return Err(StartError::V1SourcesRead {
                dir: dir.to_string(),
                source,
            })
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| StartError::V1SourcesRead {
            dir: dir.to_string(),
            source,
        })?;
        if !entry.path().is_dir() {
            files.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    if files.is_empty() {
        tracing::info!(%dir, "v1-sources-path is empty; nothing to import");
        return Ok(());
    }
    files.sort();
    Err(StartError::V1SourcesImport {
        dir: dir.to_string(),
        files: files.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_missing_or_unset_directories_import_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("sub dir");
        assert!(check("").is_ok());
        assert!(check(&dir.path().display().to_string()).is_ok());
        assert!(check(&dir.path().join("missing").display().to_string()).is_ok());
    }

    #[test]
    fn source_files_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("b.yaml"), "source-id: b\n").expect("file");
        std::fs::write(dir.path().join("a.yaml"), "source-id: a\n").expect("file");
        let path = dir.path().display().to_string();
        let message = check(&path).expect_err("refused").to_string();
        assert!(
            message.starts_with(&format!("--v1-sources-path {path} holds a.yaml, b.yaml")),
            "{message}"
        );
        assert!(message.contains("dmctl operate-source create"), "{message}");
    }
}
