//! What a master asks of the users' databases, behind one trait.
//!
//! A master touches the upstream and downstream servers in five places
//! only: `operate-source create` checks that the upstream answers, the task
//! pre-check reads each source's facts (variables, grants, tables,
//! binlogs) and the downstream's,
//! `--remove-meta` drops a task's meta tables downstream, `check-diff`
//! compares a task's upstream and downstream tables, and `binlog-schema`
//! reads table definitions and the tracked ones
//! ([`crate::tracked_schema`]). The binary uses
//! [`MySqlDatabases`]; the deterministic simulation, which has no servers,
//! supplies its own implementation, so the same master code runs in both.

use std::collections::BTreeMap;
use std::fmt;

use dm_proto::config::{SourceConfig, TaskConfig};
use futures::future::BoxFuture;

use crate::diff::{DiffError, DiffLimits, DiffReport};
use crate::precheck::facts::{FactsRequest, SourceFacts};
use crate::precheck::{PrecheckError, TargetFacts};

/// Why a database did not do what a master asked (pre-checks and
/// `check-diff` have their own errors, [`PrecheckError`] and [`DiffError`]).
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The upstream refused the connection or the query.
    #[error("cannot connect to the upstream {at}: {error}")]
    UpstreamFailed {
        at: String,
        error: dm_proto::db_conn::ConnectError,
    },
    /// The upstream did not answer in time.
    #[error("the upstream {at} did not answer within {secs} s")]
    UpstreamTimeout { at: String, secs: u64 },
    /// `--remove-meta` could not reach the downstream.
    #[error("--remove-meta: cannot connect to the downstream {addr}: {error}")]
    DownstreamUnreachable {
        addr: String,
        error: dm_proto::db_conn::ConnectError,
    },
    /// A read for `binlog-schema` failed.
    #[error("cannot read the {side} {at}: {error}")]
    ReadFailed {
        side: &'static str,
        at: String,
        error: mysql_async::Error,
    },
    /// A read for `binlog-schema` did not answer in time.
    #[error("the {side} {at} did not answer within {secs} s")]
    ReadTimeout {
        side: &'static str,
        at: String,
        secs: u64,
    },
    /// `SHOW CREATE TABLE` refused (no such table, no privilege).
    #[error("cannot read the definition of {table} on the {side} {at}: {why}")]
    NoSuchTable {
        side: &'static str,
        at: String,
        table: String,
        why: String,
    },
    /// `--remove-meta` could not drop a meta table.
    #[error("--remove-meta: dropping {table} on {addr}: {error}")]
    DropFailed {
        table: String,
        addr: String,
        error: mysql_async::Error,
    },
}

/// The master's view of the databases it manages.
pub trait Databases: Send + Sync + fmt::Debug + 'static {
    /// Connects to `source`'s upstream; its version, or why not.
    fn check_upstream<'a>(
        &'a self,
        source: &'a SourceConfig,
    ) -> BoxFuture<'a, Result<String, DatabaseError>>;

    /// `source`'s facts for the pre-check, with what `request` asks for.
    fn source_facts<'a>(
        &'a self,
        source: &'a SourceConfig,
        request: FactsRequest<'a>,
    ) -> BoxFuture<'a, Result<SourceFacts, PrecheckError>>;

    /// The facts of `task`'s downstream for the pre-check.
    fn target_facts<'a>(
        &'a self,
        task: &'a TaskConfig,
    ) -> BoxFuture<'a, Result<TargetFacts, PrecheckError>>;

    /// Drops `task`'s meta tables in its target database.
    fn remove_meta<'a>(&'a self, task: &'a TaskConfig) -> BoxFuture<'a, Result<(), DatabaseError>>;

    /// Compares `task`'s upstream tables (on `sources`, by id) with its
    /// downstream tables (see [`crate::diff`]).
    fn check_diff<'a>(
        &'a self,
        task: &'a TaskConfig,
        sources: &'a BTreeMap<String, SourceConfig>,
        limits: DiffLimits,
    ) -> BoxFuture<'a, Result<DiffReport, DiffError>>;

    /// `SHOW CREATE TABLE` of an upstream table of `source`
    /// (`binlog-schema update --from-source`).
    fn upstream_create_table<'a>(
        &'a self,
        source: &'a SourceConfig,
        schema: &'a str,
        table: &'a str,
    ) -> BoxFuture<'a, Result<String, DatabaseError>>;

    /// `SHOW CREATE TABLE` of a table of `task`'s downstream
    /// (`binlog-schema update --from-target`).
    fn downstream_create_table<'a>(
        &'a self,
        task: &'a TaskConfig,
        schema: &'a str,
        table: &'a str,
    ) -> BoxFuture<'a, Result<String, DatabaseError>>;

    /// The schema tracker's persisted state (JSON) in effect for `source`
    /// of `task`, if any (`binlog-schema list`; see
    /// [`crate::tracked_schema`]).
    fn tracked_schema_state<'a>(
        &'a self,
        task: &'a TaskConfig,
        source: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, DatabaseError>>;
}

/// Real MySQL / MariaDB servers, over the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct MySqlDatabases;

impl Databases for MySqlDatabases {
    fn check_upstream<'a>(
        &'a self,
        source: &'a SourceConfig,
    ) -> BoxFuture<'a, Result<String, DatabaseError>> {
        Box::pin(crate::upstream_check::check(source))
    }

    fn source_facts<'a>(
        &'a self,
        source: &'a SourceConfig,
        request: FactsRequest<'a>,
    ) -> BoxFuture<'a, Result<SourceFacts, PrecheckError>> {
        Box::pin(crate::precheck::facts::fetch(source, request))
    }

    fn target_facts<'a>(
        &'a self,
        task: &'a TaskConfig,
    ) -> BoxFuture<'a, Result<TargetFacts, PrecheckError>> {
        Box::pin(crate::precheck::target::fetch(task))
    }

    fn remove_meta<'a>(&'a self, task: &'a TaskConfig) -> BoxFuture<'a, Result<(), DatabaseError>> {
        Box::pin(crate::remove_meta::remove_meta(task))
    }

    fn check_diff<'a>(
        &'a self,
        task: &'a TaskConfig,
        sources: &'a BTreeMap<String, SourceConfig>,
        limits: DiffLimits,
    ) -> BoxFuture<'a, Result<DiffReport, DiffError>> {
        Box::pin(crate::diff::mysql::check_diff(task, sources, limits))
    }

    fn upstream_create_table<'a>(
        &'a self,
        source: &'a SourceConfig,
        schema: &'a str,
        table: &'a str,
    ) -> BoxFuture<'a, Result<String, DatabaseError>> {
        Box::pin(crate::tracked_schema::upstream_create_table(
            source, schema, table,
        ))
    }

    fn downstream_create_table<'a>(
        &'a self,
        task: &'a TaskConfig,
        schema: &'a str,
        table: &'a str,
    ) -> BoxFuture<'a, Result<String, DatabaseError>> {
        Box::pin(crate::tracked_schema::downstream_create_table(
            task, schema, table,
        ))
    }

    fn tracked_schema_state<'a>(
        &'a self,
        task: &'a TaskConfig,
        source: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, DatabaseError>> {
        Box::pin(crate::tracked_schema::tracked_state(task, source))
    }
}
