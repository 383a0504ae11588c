//! What a master asks of the users' databases, behind one trait.
//!
//! A master touches the upstream and downstream servers in four places
//! only: `operate-source create` checks that the upstream answers, the task
//! pre-check reads each source's facts (variables, grants, tables,
//! binlogs) and the downstream's,
//! `--remove-meta` drops a task's meta tables downstream, and `check-diff`
//! compares a task's upstream and downstream tables. The binary uses
//! [`MySqlDatabases`]; the deterministic simulation, which has no servers,
//! supplies its own implementation, so the same master code runs in both.

use std::collections::BTreeMap;
use std::fmt;

use dm_proto::config::{SourceConfig, TaskConfig};
use futures::future::BoxFuture;

use crate::diff::{DiffError, DiffLimits, DiffReport};
use crate::precheck::facts::{FactsRequest, SourceFacts};
use crate::precheck::{PrecheckError, TargetFacts};

/// The master's view of the databases it manages.
pub trait Databases: Send + Sync + fmt::Debug + 'static {
    /// Connects to `source`'s upstream; its version, or why not.
    fn check_upstream<'a>(
        &'a self,
        source: &'a SourceConfig,
    ) -> BoxFuture<'a, Result<String, String>>;

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
    fn remove_meta<'a>(&'a self, task: &'a TaskConfig) -> BoxFuture<'a, Result<(), String>>;

    /// Compares `task`'s upstream tables (on `sources`, by id) with its
    /// downstream tables (see [`crate::diff`]).
    fn check_diff<'a>(
        &'a self,
        task: &'a TaskConfig,
        sources: &'a BTreeMap<String, SourceConfig>,
        limits: DiffLimits,
    ) -> BoxFuture<'a, Result<DiffReport, DiffError>>;
}

/// Real MySQL / MariaDB servers, over the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct MySqlDatabases;

impl Databases for MySqlDatabases {
    fn check_upstream<'a>(
        &'a self,
        source: &'a SourceConfig,
    ) -> BoxFuture<'a, Result<String, String>> {
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

    fn remove_meta<'a>(&'a self, task: &'a TaskConfig) -> BoxFuture<'a, Result<(), String>> {
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
}
