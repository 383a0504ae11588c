//! The downstream's checks: `target_connection` (the task's
//! `target-database` answers, with its user and password) and
//! `target_session` (every session setting the task's workers will make
//! there is accepted). DM connects to the downstream when it builds the
//! subtasks, so a task that ignores every checking item is still refused
//! when its downstream cannot be reached.
//!
//! Session settings:
//!
//! - a `tidb_*` variable in `target-database.session` exists only on TiDB
//!   (`SELECT VERSION()` names TiDB): on any other server it is refused,
//!   naming the variable;
//! - every other variable is set once on the check's connection, as the
//!   workers will set it; one the server refuses (unknown, bad value) is
//!   refused with the server's words;
//! - the session time zone (the task's `timezone`): a named zone needs the
//!   server's time zone tables.
//!
//! The same connection reads which sources already have a checkpoint
//! downstream: their sync resumes there, not at the task's `meta`.

use std::collections::BTreeSet;

use dm_proto::config::TaskConfig;
use dm_proto::sql::quote;
use dm_proto::sql::set_session;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::error::PrecheckError;
use super::facts::FETCH_TIMEOUT;

/// What the pre-check learned on the downstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFacts {
    /// `SELECT VERSION()`.
    pub version: String,
    /// Session variables the server refused: (name, value, why).
    pub refused: Vec<(String, String, String)>,
    /// Why the server refused the session time zone, if it did.
    pub time_zone_refused: Option<String>,
    /// Sources with a checkpoint in the task's meta schema.
    pub checkpointed: BTreeSet<String>,
}

/// Whether `SELECT VERSION()` names TiDB.
pub fn is_tidb(version: &str) -> bool {
    version.to_ascii_lowercase().contains("tidb")
}

/// Whether a session variable exists only on TiDB.
pub fn tidb_only(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with("tidb_")
}

fn is_time_zone(name: &str) -> bool {
    name.eq_ignore_ascii_case("time_zone")
}

/// `user@host:port` of the task's downstream (never the password).
pub fn address(task: &TaskConfig) -> String {
    let t = &task.target_database;
    format!("{}@{}:{}", t.user, t.host, t.port)
}

/// The `target_session` failures of `task` on a downstream with `facts`.
pub fn target_session(task: &TaskConfig, facts: &TargetFacts) -> Vec<String> {
    let mut failures = Vec::new();
    if !is_tidb(&facts.version) {
        failures.extend(
            task.target_database
                .session
                .keys()
                .filter(|name| tidb_only(name))
                .map(|name| {
                    format!(
                        "target-database.session sets {name}, which only TiDB has, but the downstream is {}: remove {name} from target-database.session",
                        facts.version
                    )
                }),
        );
    }
    failures.extend(facts.refused.iter().map(|(name, value, why)| {
        format!(
            "target-database.session sets {name} = {value}, which the downstream refuses: {why}: fix or remove it in target-database.session"
        )
    }));
    if let Some(why) = &facts.time_zone_refused {
        failures.push(format!(
            "timezone {} is unknown to the downstream: {why}: load its time zone tables (mariadb-tzinfo-to-sql) or give an offset such as \"+08:00\"",
            task.session_time_zone()
        ));
    }
    failures
}

/// Connects to `task`'s downstream as its workers will and fetches its
/// facts; gives up after [`FETCH_TIMEOUT`].
pub async fn fetch(task: &TaskConfig) -> Result<TargetFacts, PrecheckError> {
    let addr = address(task);
    match tokio::time::timeout(FETCH_TIMEOUT, fetch_unbounded(task, &addr)).await {
        Ok(result) => result,
        Err(_) => Err(PrecheckError::TargetTimeout {
            addr,
            secs: FETCH_TIMEOUT.as_secs(),
        }),
    }
}

async fn fetch_unbounded(task: &TaskConfig, addr: &str) -> Result<TargetFacts, PrecheckError> {
    let mut conn = crate::db_opts::connect(&task.target_database, crate::db_opts::TARGET_DATABASE)
        .await
        .map_err(|e| PrecheckError::TargetConnect {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    let facts = read_facts(&mut conn, task, addr).await;
    if let Err(e) = conn.disconnect().await {
        tracing::debug!(%addr, error = %e, "closing the pre-check connection");
    }
    facts
}

async fn read_facts(
    conn: &mut Conn,
    task: &TaskConfig,
    addr: &str,
) -> Result<TargetFacts, PrecheckError> {
    let failed = |what: &'static str| {
        move |e: mysql_async::Error| PrecheckError::TargetQuery {
            addr: addr.to_string(),
            what,
            reason: e.to_string(),
        }
    };
    let version: Option<String> = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(failed("the version"))?;
    let version = version.unwrap_or_default();
    let tidb = is_tidb(&version);
    let mut refused = Vec::new();
    for (name, value) in &task.target_database.session {
        if is_time_zone(name) || (tidb_only(name) && !tidb) {
            continue;
        }
        match conn.query_drop(set_session(name, value)).await {
            Ok(()) => {}
            Err(mysql_async::Error::Server(e)) => {
                refused.push((name.clone(), value.clone(), e.message));
            }
            Err(e) => return Err(failed("the session variables")(e)),
        }
    }
    let time_zone_refused = match conn
        .query_drop(set_session("time_zone", task.session_time_zone()))
        .await
    {
        Ok(()) => None,
        Err(mysql_async::Error::Server(e)) => Some(e.message),
        Err(e) => return Err(failed("the time zone")(e)),
    };
    let table = format!(
        "{}.{}",
        quote(&task.meta_schema),
        quote(&format!("{}_checkpoint", task.name))
    );
    let checkpointed = match conn
        .query::<String, _>(format!("SELECT DISTINCT source_id FROM {table}"))
        .await
    {
        Ok(sources) => sources.into_iter().collect(),
        // No meta schema or table yet: no checkpoint.
        Err(mysql_async::Error::Server(e)) if e.code == 1146 || e.code == 1049 => BTreeSet::new(),
        Err(e) => return Err(failed("the task's checkpoints")(e)),
    };
    Ok(TargetFacts {
        version,
        refused,
        time_zone_refused,
        checkpointed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(session: &str, extra: &str) -> TaskConfig {
        TaskConfig::parse(
            "t.yaml",
            &format!(
                "name: t\ntask-mode: all\n{extra}target-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  session:\n{session}mysql-instances:\n  - source-id: s\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn tidb_variables_need_tidb() {
        let t = task(
            "    tidb_txn_mode: optimistic\n    TIDB_Skip_UTF8_Check: 1\n    sql_mode: ''\n",
            "",
        );
        let mariadb = TargetFacts {
            version: "10.11.19-MariaDB-log".into(),
            ..TargetFacts::default()
        };
        assert_eq!(
            target_session(&t, &mariadb),
            [
                "target-database.session sets TIDB_Skip_UTF8_Check, which only TiDB has, but the downstream is 10.11.19-MariaDB-log: remove TIDB_Skip_UTF8_Check from target-database.session",
                "target-database.session sets tidb_txn_mode, which only TiDB has, but the downstream is 10.11.19-MariaDB-log: remove tidb_txn_mode from target-database.session",
            ]
        );
        let tidb = TargetFacts {
            version: "8.0.11-TiDB-v7.5.1".into(),
            ..TargetFacts::default()
        };
        assert!(target_session(&t, &tidb).is_empty());
    }

    #[test]
    fn refusals_name_the_variable_and_the_zone() {
        let t = task("    x: 1\n", "timezone: Mars/Base\n");
        let facts = TargetFacts {
            version: "8.0.36".into(),
            refused: vec![("x".into(), "1".into(), "Unknown system variable 'x'".into())],
            time_zone_refused: Some("Unknown or incorrect time zone: 'Mars/Base'".into()),
            checkpointed: BTreeSet::new(),
        };
        assert_eq!(
            target_session(&t, &facts),
            [
                "target-database.session sets x = 1, which the downstream refuses: Unknown system variable 'x': fix or remove it in target-database.session",
                "timezone Mars/Base is unknown to the downstream: Unknown or incorrect time zone: 'Mars/Base': load its time zone tables (mariadb-tzinfo-to-sql) or give an offset such as \"+08:00\"",
            ]
        );
    }
}
