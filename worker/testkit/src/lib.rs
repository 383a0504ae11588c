//! Test support for the worker: the in-memory upstream and downstream the
//! deterministic simulation runs on, and the conformance suites every
//! adapter of the worker's two ports passes (the MySQL ones against real
//! servers in `tests/`, the in-memory ones in this crate's tests).
//!
//! - [`upstream::MemUpstream`]: a binlog and tables in memory, both of the
//!   upstream port's traits (`BinlogSource`, `CopySource`).
//! - [`downstream::MemDownstream`]: the downstream port over an in-memory
//!   SQL engine, with the fence, checkpoints and atomic commits; and,
//!   for the simulation's proof that its checks can fail, a handle whose
//!   commits ignore the fence ([`downstream::MemDownstream::without_fence`]).
//! - [`conformance`]: the suites.
//!
//! Nothing here is linked into the `dm-worker` binary.

pub mod conformance;
pub mod downstream;
pub mod upstream;

/// Locks `mutex`, also after a panic elsewhere left it poisoned: the
/// in-memory databases stay meaningful.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
