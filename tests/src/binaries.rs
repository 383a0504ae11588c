//! Finding the programs the harness runs: system programs and this workspace's binaries.
//!
//! System programs (`mariadbd`, `mariadb-install-db`) are looked up on `PATH` and then in the
//! usual sbin/bin directories, because Debian installs `mariadbd` in `/usr/sbin`, which is
//! not on a normal user's `PATH`.
//!
//! Workspace binaries (`dm-master`, `dm-worker`, `dmctl`) are not built by `cargo test -p
//! dm-tests` (cargo only provides `CARGO_BIN_EXE_*` for binaries of the package under test),
//! so we look for them where cargo put them for the same profile as the running test
//! executable: `target/<profile>/deps/<test>` -> `target/<profile>/<name>`.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// Directories searched after `PATH` for system programs.
const SYSTEM_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/sbin",
];

/// Finds the system program `name` on `PATH` or in the usual system directories.
///
/// `hint` is appended to the error and should say how to install it.
pub fn find_program(name: &str, hint: &str) -> Result<PathBuf> {
    let path_dirs = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let candidates = path_dirs
        .iter()
        .map(PathBuf::as_path)
        .chain(SYSTEM_DIRS.iter().map(Path::new))
        .map(|dir| dir.join(name));
    for candidate in candidates {
        if is_executable_file(&candidate) {
            return Ok(candidate);
        }
    }
    Err(HarnessError::ProgramNotFound {
        program: name.to_owned(),
        searched: SYSTEM_DIRS.join(", "),
        hint: hint.to_owned(),
    })
}

/// Finds the workspace binary `name` (e.g. `dm-master`) built for the same profile as the
/// running test executable, honouring `CARGO_TARGET_DIR`.
///
/// Fails with a hint to run `cargo build --workspace --bins` if it has not been built.
pub fn workspace_binary(name: &str) -> Result<PathBuf> {
    let exe = env::current_exe()
        .map_err(|e| HarnessError::io("locating the running test executable", e))?;
    let target_dir = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
    let candidates = workspace_binary_candidates(&exe, target_dir.as_deref(), name);
    if let Some(found) = candidates.iter().find(|c| is_executable_file(c)) {
        return Ok(found.clone());
    }
    Err(HarnessError::WorkspaceBinaryMissing {
        name: name.to_owned(),
        searched: candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Where `name` may live, best guess first. Pure, so it can be unit-tested.
fn workspace_binary_candidates(exe: &Path, target_dir: Option<&Path>, name: &str) -> Vec<PathBuf> {
    let file_name = format!("{name}{}", env::consts::EXE_SUFFIX);
    let mut candidates = Vec::new();
    // target/<profile>/deps/<test-exe> (or examples/) -> target/<profile>
    let profile_dir = exe.parent().map(|dir| {
        if dir.file_name() == Some(OsStr::new("deps"))
            || dir.file_name() == Some(OsStr::new("examples"))
        {
            dir.parent().unwrap_or(dir)
        } else {
            dir
        }
    });
    if let Some(profile_dir) = profile_dir {
        candidates.push(profile_dir.join(&file_name));
    }
    if let Some(target_dir) = target_dir {
        let target_dirs = if target_dir.is_absolute() {
            vec![target_dir.to_path_buf()]
        } else {
            // Relative to where cargo was invoked: try the cwd and the workspace root.
            let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
            std::iter::once(target_dir.to_path_buf())
                .chain(workspace_root.map(|root| root.join(target_dir)))
                .collect()
        };
        let profile = profile_dir
            .and_then(Path::file_name)
            .unwrap_or(OsStr::new("debug"));
        for dir in target_dirs {
            candidates.push(dir.join(profile).join(&file_name));
        }
    }
    candidates.dedup();
    candidates
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_executable_in_deps_maps_to_profile_dir() {
        let candidates = workspace_binary_candidates(
            Path::new("/w/target/debug/deps/harness-0123abcd"),
            None,
            "dm-worker",
        );
        assert_eq!(candidates, vec![PathBuf::from("/w/target/debug/dm-worker")]);
    }

    #[test]
    fn cargo_target_dir_is_a_fallback_with_the_same_profile() {
        let candidates = workspace_binary_candidates(
            Path::new("/w/target/release/deps/harness-0123abcd"),
            Some(Path::new("/elsewhere")),
            "dmctl",
        );
        assert_eq!(
            candidates,
            vec![
                PathBuf::from("/w/target/release/dmctl"),
                PathBuf::from("/elsewhere/release/dmctl")
            ]
        );
    }

    #[test]
    fn missing_binary_error_says_how_to_build() {
        let err = workspace_binary("surely-not-a-binary-of-this-workspace").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("cargo build --workspace --bins"),
            "{message}"
        );
    }

    #[test]
    fn finds_sh_and_reports_missing_programs() {
        assert!(find_program("sh", "").is_ok());
        let err = find_program("surely-not-installed-anywhere", "apt-get install it").unwrap_err();
        assert!(err.to_string().contains("apt-get install it"));
    }
}
