//! The conformance suites against real MariaDB servers: the downstream's
//! (`dm_worker_testkit::conformance::downstream`) and the upstream's
//! (`dm_worker_testkit::conformance::upstream`). The simulation's in-memory
//! downstream and upstream pass the same suites in the worker's unit tests.
//! Both suites cover the full copy: snapshots upstream, the plan and
//! fenced chunk transactions downstream.

use dm_tests::{MariaDb, MariaDbOptions, Restart};
use dm_worker::downstream::MySqlDownstream;
use dm_worker::upstream::mysql::{MySqlCopySource, MySqlSource};
use dm_worker_testkit::conformance::downstream as conformance;
use dm_worker_testkit::conformance::upstream::{self as source_conformance, Writer};
use futures::future::BoxFuture;
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_passes_the_downstream_conformance_suite() {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("downstream");
    let downstream = MySqlDownstream::new(server.opts());
    conformance::run(&downstream, "conformance")
        .await
        .expect("conformance");
    // Twice: the suite cleans up after itself.
    conformance::run(&downstream, "conformance")
        .await
        .expect("conformance, again");
}

/// SQL on a real server, for the upstream suite.
struct SqlWriter {
    server: tokio::sync::Mutex<MariaDb>,
}

impl SqlWriter {
    fn run(&self, sql: String) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut conn = self
                .server
                .lock()
                .await
                .conn()
                .await
                .map_err(|e| e.to_string())?;
            conn.query_drop(&sql)
                .await
                .map_err(|e| format!("{sql}: {e}"))
        })
    }
}

impl Writer for SqlWriter {
    fn create_table(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.run("CREATE DATABASE app".into()).await?;
            self.run("CREATE TABLE app.t (id BIGINT NOT NULL PRIMARY KEY, c VARCHAR(64))".into())
                .await
        })
    }

    fn insert(&self, rows: &[(i64, &'static str)]) -> BoxFuture<'_, Result<(), String>> {
        let values: Vec<String> = rows
            .iter()
            .map(|(id, c)| format!("({id}, '{c}')"))
            .collect();
        self.run(format!(
            "INSERT INTO app.t (id, c) VALUES {}",
            values.join(", ")
        ))
    }

    fn update(&self, id: i64, c: &'static str) -> BoxFuture<'_, Result<(), String>> {
        self.run(format!("UPDATE app.t SET c = '{c}' WHERE id = {id}"))
    }

    fn delete(&self, id: i64) -> BoxFuture<'_, Result<(), String>> {
        self.run(format!("DELETE FROM app.t WHERE id = {id}"))
    }

    fn add_column(&self) -> BoxFuture<'_, Result<(), String>> {
        self.run("ALTER TABLE app.t ADD COLUMN extra VARCHAR(64) NOT NULL DEFAULT 'd'".into())
    }

    fn restart(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.server
                .lock()
                .await
                .restart(Restart::Crash)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_passes_the_upstream_conformance_suite() {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let source = MySqlSource::new(server.opts());
    let copy = MySqlCopySource {
        opts: server.opts(),
    };
    let writer = SqlWriter {
        server: tokio::sync::Mutex::new(server),
    };
    let rules = source_conformance::app_rules().expect("rules");
    source_conformance::run(&source, &copy, &writer, &rules)
        .await
        .expect("conformance");
}
