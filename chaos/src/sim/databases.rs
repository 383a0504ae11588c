//! The master's databases in the simulation: every upstream answers, the
//! downstream passes the pre-check, and
//! meta tables are removed without a server; `check-diff` and the table
//! reads of `binlog-schema` are not available (no tracked state is found). (The data path's in-memory
//! servers are separate; see the worker's upstream and downstream traits.)

use std::collections::BTreeMap;

use dm_master::databases::{DatabaseError, Databases};
use dm_master::diff::{DiffError, DiffLimits, DiffReport};
use dm_master::precheck::{FactsRequest, PrecheckError, SourceFacts, TargetFacts};
use dm_proto::config::{SourceConfig, TaskConfig};
use futures::future::BoxFuture;

#[derive(Debug, Clone, Copy, Default)]
pub struct SimDatabases;

impl Databases for SimDatabases {
    fn check_upstream<'a>(
        &'a self,
        _source: &'a SourceConfig,
    ) -> BoxFuture<'a, Result<String, DatabaseError>> {
        Box::pin(async { Ok("simulated".to_string()) })
    }

    fn source_facts<'a>(
        &'a self,
        source: &'a SourceConfig,
        _request: FactsRequest<'a>,
    ) -> BoxFuture<'a, Result<SourceFacts, PrecheckError>> {
        let addr = format!("{}:{}", source.from.host, source.from.port);
        Box::pin(async move { Err(PrecheckError::Timeout { addr, secs: 0 }) })
    }

    fn target_facts<'a>(
        &'a self,
        _task: &'a TaskConfig,
    ) -> BoxFuture<'a, Result<TargetFacts, PrecheckError>> {
        Box::pin(async {
            Ok(TargetFacts {
                version: "simulated".into(),
                ..TargetFacts::default()
            })
        })
    }

    fn remove_meta<'a>(
        &'a self,
        _task: &'a TaskConfig,
    ) -> BoxFuture<'a, Result<(), DatabaseError>> {
        Box::pin(async { Ok(()) })
    }

    fn check_diff<'a>(
        &'a self,
        _task: &'a TaskConfig,
        _sources: &'a BTreeMap<String, SourceConfig>,
        _limits: DiffLimits,
    ) -> BoxFuture<'a, Result<DiffReport, DiffError>> {
        Box::pin(async {
            Err(DiffError::NotAvailable(
                "the simulation has no database servers to compare".into(),
            ))
        })
    }

    fn upstream_create_table<'a>(
        &'a self,
        source: &'a SourceConfig,
        _schema: &'a str,
        _table: &'a str,
    ) -> BoxFuture<'a, Result<String, DatabaseError>> {
        let at = format!("{}:{}", source.from.host, source.from.port);
        Box::pin(async move { Err(DatabaseError::UpstreamTimeout { at, secs: 0 }) })
    }

    fn downstream_create_table<'a>(
        &'a self,
        task: &'a TaskConfig,
        _schema: &'a str,
        _table: &'a str,
    ) -> BoxFuture<'a, Result<String, DatabaseError>> {
        let target = &task.target_database;
        let at = format!("{}:{}", target.host, target.port);
        Box::pin(async move {
            Err(DatabaseError::ReadTimeout {
                side: "downstream",
                at,
                secs: 0,
            })
        })
    }

    fn tracked_schema_state<'a>(
        &'a self,
        _task: &'a TaskConfig,
        _source: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, DatabaseError>> {
        Box::pin(async { Ok(None) })
    }
}
