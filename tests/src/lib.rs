//! Test harness for the DM cluster: throwaway MariaDB servers and guarded child processes.
//!
//! Integration tests need real upstream/downstream databases and, later, the real
//! `dm-master` / `dm-worker` binaries. Everything here is built around one rule: whatever a
//! test starts is stopped and removed again, also when the test panics (cleanup lives in
//! `Drop`, which runs on unwind) and also when the test process itself is killed (children
//! get `PR_SET_PDEATHSIG(SIGKILL)`).
//!
//! A second rule: tests never sleep to wait for something; they poll a condition with a
//! deadline ([`wait_until`]) so they are as fast as the system allows and fail with a message
//! naming what never happened.
//!
//! Modules, one job each:
//! - [`mariadb`]: start/stop MariaDB servers in temp directories ([`MariaDb`]).
//! - [`cluster`]: real dm-master processes and dmctl.
//! - [`check_answer`]: the pre-check's results in dmctl's answers.
//! - [`prometheus`]: a real Prometheus server scraping a cluster, and its HTTP API.
//! - [`process`]: a guard that stops a spawned child on drop ([`ChildGuard`]).
//! - [`certs`]: CA and certificates for TLS tests, made by `scripts/make-certs.sh`.
//! - [`binaries`]: find system programs and workspace binaries ([`workspace_binary`]).
//! - [`port`]: pick free TCP ports on 127.0.0.1.
//! - [`wait`]: poll a condition until a deadline.
//! - [`secrets`]: plaintext passwords searched for in files; dmctl encrypt / decrypt.
//! - [`tutorial`]: the DM tutorial's steps, shared by `seed-tutorial` and the tests.
//! - [`types_table`], [`ddl_steps`]: the type-coverage table and a table altered step by
//!   step, shared by the tests that replicate them with and without column names.
//! - [`error`]: the harness error type.
//! - `sys`: the few `libc` calls (the only `unsafe` in this crate).

pub mod bench;
pub mod bench_copy;
pub mod bench_sync;
pub mod bench_txn;
pub mod bench_worker;
pub mod big_table;
pub mod binaries;
pub mod certs;
pub mod check_answer;
pub mod cluster;
pub mod ddl_steps;
pub mod error;
pub mod http;
pub mod mariadb;
pub mod port;
pub mod process;
pub mod prometheus;
pub mod scenario;
pub mod secrets;
mod sys;
pub mod tutorial;
pub mod types_table;
pub mod wait;

pub use binaries::{find_program, workspace_binary};
pub use error::{HarnessError, Result, ServerReport};
pub use http::{http_get, http_get_accepting};
pub use mariadb::{AutoIncrement, MariaDb, MariaDbOptions, Restart, RowMetadata};
pub use port::free_port;
pub use process::ChildGuard;
pub use wait::{wait_until, Check, Outcome};
