//! A guard for a spawned child process: stopped on drop, killed with its parent.
//!
//! Tests start servers (MariaDB now, `dm-master` / `dm-worker` later) that must not outlive
//! the test. [`ChildGuard`] owns the child and, when dropped (also during a panic's
//! unwinding), sends SIGTERM, waits up to a deadline, SIGKILLs if needed and reaps the child,
//! so no process and no zombie is left behind. Children also get `PR_SET_PDEATHSIG(SIGKILL)`,
//! covering the case where the test process is killed and no destructor runs.
//!
//! The child's stdout and stderr go to a log file (appended), whose tail is what error
//! messages show when the child misbehaves.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::sys;

pub use crate::binaries::workspace_binary;

/// Default time a child gets to exit after SIGTERM before it is SIGKILLed.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a stopping child is checked.
const STOP_POLL: Duration = Duration::from_millis(10);

/// At most this many bytes of a log are read to build its tail.
const TAIL_BYTES: u64 = 64 * 1024;

/// Owns a spawned child process; stops and reaps it when dropped.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    pid: u32,
    log_path: PathBuf,
    stop_timeout: Duration,
    exit: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawns `command` with stdin closed and stdout/stderr appended to `log_path`.
    ///
    /// `name` is used in logs and errors (e.g. "mariadbd server-id 2"). The child gets
    /// `PR_SET_PDEATHSIG(SIGKILL)`: it dies when the spawning *thread* exits, so spawn from a
    /// thread that outlives it (see the `sys` module).
    pub fn spawn(
        name: impl Into<String>,
        mut command: Command,
        log_path: impl Into<PathBuf>,
    ) -> Result<Self> {
        let name = name.into();
        let log_path = log_path.into();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| {
                HarnessError::io(format!("opening log {} for {name}", log_path.display()), e)
            })?;
        let log_err = log
            .try_clone()
            .map_err(|e| HarnessError::io(format!("duplicating log handle for {name}"), e))?;
        command.stdin(Stdio::null()).stdout(log).stderr(log_err);
        sys::kill_when_parent_dies(&mut command);
        let child = command.spawn().map_err(|source| HarnessError::Spawn {
            name: name.clone(),
            program: PathBuf::from(command.get_program()),
            source,
        })?;
        let pid = child.id();
        tracing::debug!(%name, pid, log = %log_path.display(), "spawned child process");
        Ok(Self {
            name,
            child,
            pid,
            log_path,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            exit: None,
        })
    }

    /// Name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process id (stays valid to read after the child exited, but then names no process).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// File receiving the child's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Sets how long [`stop`](Self::stop) and `Drop` wait after SIGTERM before SIGKILL.
    pub fn set_stop_timeout(&mut self, timeout: Duration) {
        self.stop_timeout = timeout;
    }

    /// The exit status if the child has exited (reaping it), `None` while it runs.
    pub fn try_exit_status(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().map_err(|e| {
                HarnessError::io(
                    format!("checking whether {} (pid {}) exited", self.name, self.pid),
                    e,
                )
            })?;
        }
        Ok(self.exit)
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_exit_status(), Ok(None))
    }

    /// Sends `signal` (e.g. `libc::SIGSTOP`) to the running child.
    pub fn signal(&mut self, signal: libc::c_int) -> Result<()> {
        if let Some(status) = self.try_exit_status()? {
            return Err(self.stop_error(format!(
                "cannot send signal {signal}: already exited ({status})"
            )));
        }
        // Not reaped yet (checked above), so the pid is still our child's.
        sys::send_signal(self.pid, signal)
            .map_err(|e| self.stop_error(format!("signal {signal}: {e}")))
    }

    /// SIGKILLs the child right away and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.try_exit_status()? {
            return Ok(status);
        }
        self.child
            .kill()
            .map_err(|e| self.stop_error(format!("SIGKILL: {e}")))?;
        let status = self
            .child
            .wait()
            .map_err(|e| self.stop_error(format!("reaping after SIGKILL: {e}")))?;
        self.exit = Some(status);
        tracing::debug!(name = %self.name, pid = self.pid, %status, "killed child process");
        Ok(status)
    }

    /// Stops the child gracefully: SIGTERM, wait up to the stop timeout, then SIGKILL.
    /// Blocks the calling thread; in async code prefer [`shutdown`](Self::shutdown).
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let started = Instant::now();
        if let Some(status) = self.terminate()? {
            return Ok(status);
        }
        loop {
            if let Some(status) = self.stop_step(started)? {
                return Ok(status);
            }
            std::thread::sleep(STOP_POLL);
        }
    }

    /// Async version of [`stop`](Self::stop) that does not block the runtime while waiting.
    pub async fn shutdown(mut self) -> Result<ExitStatus> {
        let started = Instant::now();
        if let Some(status) = self.terminate()? {
            return Ok(status);
        }
        loop {
            if let Some(status) = self.stop_step(started)? {
                return Ok(status);
            }
            tokio::time::sleep(STOP_POLL).await;
        }
    }

    /// One poll of a stop begun at `started`: the exit status once the child
    /// exited (SIGKILLed when the stop timeout passed), `None` to poll again.
    fn stop_step(&mut self, started: Instant) -> Result<Option<ExitStatus>> {
        if let Some(status) = self.try_exit_status()? {
            return Ok(Some(self.stopped(status, started)));
        }
        if started.elapsed() >= self.stop_timeout {
            return self.kill_after_timeout().map(Some);
        }
        Ok(None)
    }

    /// The last `max_lines` lines of the child's log (or a note saying why it is unreadable).
    pub fn log_tail(&self, max_lines: usize) -> String {
        log_tail(&self.log_path, 0, max_lines)
    }

    /// Sends SIGTERM unless the child already exited (then returns its status).
    fn terminate(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(status) = self.try_exit_status()? {
            return Ok(Some(status));
        }
        match sys::send_signal(self.pid, libc::SIGTERM) {
            Ok(()) => Ok(None),
            // Exited between the check and the signal: reap it.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => self.kill().map(Some),
            Err(e) => Err(self.stop_error(format!("SIGTERM: {e}"))),
        }
    }

    fn stopped(&self, status: ExitStatus, started: Instant) -> ExitStatus {
        tracing::debug!(name = %self.name, pid = self.pid, %status, elapsed = ?started.elapsed(), "child process stopped");
        status
    }

    fn kill_after_timeout(&mut self) -> Result<ExitStatus> {
        tracing::warn!(
            name = %self.name,
            pid = self.pid,
            timeout = ?self.stop_timeout,
            "child ignored SIGTERM; sending SIGKILL"
        );
        self.kill()
    }

    fn stop_error(&self, reason: String) -> HarnessError {
        HarnessError::Stop {
            name: self.name.clone(),
            pid: self.pid,
            reason,
        }
    }
}

/// Spawns `cmd` (output to `log`) and waits up to `deadline` for it to exit
/// unsuccessfully, as a daemon does when it refuses to start; returns what
/// it printed.
pub async fn refused_start(
    name: &str,
    cmd: Command,
    log: &Path,
    deadline: Duration,
) -> Result<String> {
    let mut child = ChildGuard::spawn(name, cmd, log)?;
    let status = crate::wait::wait_until(
        &format!("{name} exits"),
        deadline,
        Duration::from_millis(50),
        || {
            let exited = child.try_exit_status().ok().flatten();
            async move { exited }
        },
    )
    .await?;
    if status.success() {
        return Err(HarnessError::Task(format!(
            "{name} exited successfully ({status}), not refusing to start"
        )));
    }
    std::fs::read_to_string(log)
        .map_err(|e| HarnessError::io(format!("reading {}", log.display()), e))
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.exit.is_some() {
            return;
        }
        if let Err(error) = self.stop() {
            tracing::warn!(name = %self.name, pid = self.pid, %error, "could not stop child process on drop");
            // Last resort so that at least no zombie remains if the stop failed half-way.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `max_lines` lines of the file at `path`, reading from byte `from` on (and at most
/// the last 64 KiB). Never fails: an unreadable file yields a note instead.
pub fn log_tail(path: &Path, from: u64, max_lines: usize) -> String {
    match read_from(path, from) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(max_lines)..].join("\n")
        }
        Err(e) => format!("<could not read {}: {e}>", path.display()),
    }
}

/// Text of the file at `path` from byte `from` on, at most the last 64 KiB of it.
pub(crate) fn read_from(path: &Path, from: u64) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = from.max(len.saturating_sub(TAIL_BYTES)).min(len);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_exists(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn drop_terminates_and_reaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sleep");
        command.arg("600");
        let guard = ChildGuard::spawn("sleep", command, dir.path().join("sleep.log")).unwrap();
        let pid = guard.pid();
        assert!(proc_exists(pid));
        drop(guard);
        assert!(!proc_exists(pid), "child {pid} still exists (zombie?)");
    }

    #[test]
    fn sigkill_after_timeout_when_sigterm_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sh");
        // Print only once the trap is installed so the test does not race it.
        command.args([
            "-c",
            "trap '' TERM; echo trapped; while :; do sleep 0.05; done",
        ]);
        let log = dir.path().join("sh.log");
        let mut guard = ChildGuard::spawn("stubborn sh", command, &log).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&log).unwrap().contains("trapped") {
            assert!(Instant::now() < deadline, "sh never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        guard.set_stop_timeout(Duration::from_millis(200));
        let status = guard.stop().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(guard.log_tail(5), "trapped");
    }

    #[tokio::test]
    async fn shutdown_reports_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", "echo one; echo two; echo three; exit 3"]);
        let mut guard = ChildGuard::spawn("sh", command, dir.path().join("sh.log")).unwrap();
        let status = crate::wait_until(
            "sh to exit",
            Duration::from_secs(10),
            Duration::from_millis(5),
            || {
                let status = guard.try_exit_status();
                async move { status.ok().flatten() }
            },
        )
        .await
        .unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(guard.log_tail(2), "two\nthree");
        assert_eq!(guard.shutdown().await.unwrap().code(), Some(3));
    }
}
