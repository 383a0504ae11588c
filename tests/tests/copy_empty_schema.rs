//! The full copy creates the schemas the block-allow list selects even when
//! they hold no table, under their routed names, over real processes; a
//! schema the list leaves out is not created.

use std::time::Duration;

use dm_tests::cluster::wait_syncing;
use dm_tests::scenario::OneSource;
use dm_tests::MariaDb;
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(60);

const TASK: &str = "name: schemas\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: PORT\n  user: \"root\"\n  password: \"\"\nmysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"picked\"\n    route-rules: [\"rename-empty\"]\nblock-allow-list:\n  picked:\n    do-dbs: [\"app\", \"~^empty_\"]\nroutes:\n  rename-empty:\n    schema-pattern: \"empty_one\"\n    target-schema: \"routed_empty\"\n";

async fn schemas(server: &MariaDb) -> Vec<String> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'dm_meta') \
         ORDER BY SCHEMA_NAME",
    )
    .await
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn selected_schemas_without_tables_are_created_under_their_routed_names() {
    let c = OneSource::start(
        1,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY)",
            "INSERT INTO app.t VALUES (1)",
            "CREATE DATABASE empty_one",
            "CREATE DATABASE empty_two",
            "CREATE DATABASE other",
        ],
    )
    .await
    .expect("cluster");
    c.start_task("schemas", TASK).await.expect("started");
    wait_syncing(&c.addrs, "schemas", DEADLINE)
        .await
        .expect("sync unit");
    // The sync unit starts once the copy is done.
    assert_eq!(
        schemas(&c.downstream).await,
        ["app", "empty_two", "routed_empty"]
    );
}
