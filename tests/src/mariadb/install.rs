//! Creating a fresh data directory with `mariadb-install-db`.
//!
//! `--no-defaults` keeps the host's option files out; `--auth-root-authentication-method=normal`
//! gives `root@localhost` a normal (empty) password, so clients connect over TCP as root
//! without a password; `--skip-test-db` saves time. Output goes to `install.log`, and its tail
//! is in the error if the tool fails.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::layout::Layout;
use super::options::LEAN_INSTALL_ARGS;
use crate::error::{HarnessError, Result};
use crate::process::log_tail;
use crate::sys;

/// Generous: about 0.7 s on an idle machine, but several installs may run at once on 2 cores.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) async fn install_db(program: &Path, layout: &Layout, as_root: bool) -> Result<()> {
    let mut command = tokio::process::Command::new(program);
    command.arg("--no-defaults");
    if as_root {
        command.arg("--user=root");
    }
    command
        .arg(format!("--datadir={}", layout.data_dir.display()))
        // A private tmpdir: see `Layout::tmp_dir`.
        .arg(format!("--tmpdir={}", layout.tmp_dir.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(LEAN_INSTALL_ARGS)
        .current_dir(&layout.root)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    sys::kill_when_parent_dies(command.as_std_mut());

    let failed = |reason: String, output: String| HarnessError::InstallDb {
        dir: layout.root.clone(),
        reason,
        output,
    };
    let output = match tokio::time::timeout(INSTALL_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Err(failed(
                format!("could not run {}: {e}", program.display()),
                String::new(),
            ))
        }
        Err(_) => {
            return Err(failed(
                format!("did not finish within {INSTALL_TIMEOUT:?}"),
                String::new(),
            ))
        }
    };
    let mut log = output.stdout;
    log.extend_from_slice(&output.stderr);
    std::fs::write(&layout.install_log, &log)
        .map_err(|e| HarnessError::io(format!("writing {}", layout.install_log.display()), e))?;
    if !output.status.success() {
        return Err(failed(
            output.status.to_string(),
            log_tail(&layout.install_log, 0, 40),
        ));
    }
    Ok(())
}
