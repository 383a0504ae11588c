//! The few raw `libc` calls the harness needs; the only `unsafe` code in this crate.
//!
//! The workspace denies `unsafe_code`. Each function here allows it for one call, with the
//! reason it is sound, so the rest of the harness stays safe Rust.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the kernel SIGKILL the child when the thread that spawned it dies.
///
/// `Drop` handles the normal and the panicking case; this covers the test process being
/// killed (`SIGKILL`, OOM, a timeout in CI), where no destructor runs. Note the Linux
/// semantics: the signal fires when the *spawning thread* exits, not the whole process. Spawn
/// from a thread that lives at least as long as the child (the test thread, or a runtime
/// worker thread; not a short-lived `spawn_blocking` thread).
#[allow(unsafe_code)]
pub(crate) fn kill_when_parent_dies(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec. It calls only `prctl` and
    // `getppid`, which are async-signal-safe, takes no locks, does not allocate (errors are
    // built from raw OS codes) and captures a plain `u32`, so it is sound to run after `fork`
    // in a multi-threaded parent.
    unsafe {
        command.pre_exec(move || {
            let signal = libc::SIGKILL as libc::c_ulong;
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then nobody would signal us.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Sends `signal` to `pid`.
///
/// Callers pass the pid of their own child that they have not reaped yet, so the pid cannot
/// have been recycled for an unrelated process.
#[allow(unsafe_code)]
pub(crate) fn send_signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: kill(2) only takes integers and shares no memory with the caller.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether the effective user is root (then `mariadbd` needs `--user=root`).
#[allow(unsafe_code)]
pub(crate) fn running_as_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions, takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
