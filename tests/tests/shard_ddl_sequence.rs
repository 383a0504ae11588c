//! Successive pessimistic shard DDLs on one merged table (DM's `shardddl1`
//! COLUMN_INDEX case): the tutorial's three shards of `dmtest1.t1` merged by
//! `dmtask1`, every shard running three DDLs back to back under a write
//! load on every shard. A source that finished one lock reaches the next
//! DDL of the same table before the lock is gone; each DDL must still be a
//! lock of its own: every DDL runs exactly once downstream, no subtask
//! pauses, the merged table ends with the shards' definition and rows;
//! also with the master leader killed while the shards run their DDLs.

use std::time::Duration;

use dm_tests::cluster::{dmctl, subtasks_of};
use dm_tests::scenario::{ShardLoad, TutorialCluster};
use dm_tests::{wait_until, Check, HarnessError, MariaDb};
use mysql_async::prelude::Queryable;

const DEADLINE: Duration = Duration::from_secs(90);
const TASK: &str = "dmtask1";

/// Run on every shard, back to back.
const DDLS: &[&str] = &[
    "ALTER TABLE dmtest1.t1 ADD COLUMN c2 INT NOT NULL DEFAULT 5",
    "ALTER TABLE dmtest1.t1 ADD INDEX idx_c2 (c2)",
    "ALTER TABLE dmtest1.t1 ADD COLUMN c3 VARCHAR(16) NOT NULL DEFAULT 'x'",
];

async fn query_rows<T: mysql_async::prelude::FromRow + Send + 'static>(
    server: &MariaDb,
    sql: &str,
) -> Vec<T> {
    let Ok(mut conn) = server.conn().await else {
        return Vec::new();
    };
    conn.query(sql).await.unwrap_or_default()
}

/// The table's columns and indexes as information_schema shows them.
type Columns = Vec<(String, String, String, Option<String>)>;
type Indexes = Vec<(String, u32, String, u32)>;
/// (id, c, port, c2, c3)
type Rows = Vec<(
    u64,
    Option<String>,
    Option<i32>,
    Option<i32>,
    Option<String>,
)>;

async fn definition(server: &MariaDb) -> (Columns, Indexes) {
    let columns = query_rows(
        server,
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = 'dmtest1' AND TABLE_NAME = 't1' ORDER BY ORDINAL_POSITION",
    )
    .await;
    let indexes = query_rows(
        server,
        "SELECT INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = 'dmtest1' AND TABLE_NAME = 't1' ORDER BY INDEX_NAME, SEQ_IN_INDEX",
    )
    .await;
    (columns, indexes)
}

const ALL_ROWS: &str = "SELECT id, c, port, c2, c3 FROM dmtest1.t1 ORDER BY id";

/// Fails at once when a subtask paused; otherwise whether no lock exists.
async fn locks_gone_without_pause(addrs: &str) -> Check<()> {
    let status = match dmctl(addrs, &["query-status", TASK]).await {
        Ok(s) => s,
        Err(e) => return Check::Pending(e.to_string()),
    };
    if let Some((source, sub)) = subtasks_of(&status, TASK)
        .into_iter()
        .find(|(_, t)| t["stage"] == "Paused" || !t["result"].is_null())
    {
        return Check::Abort(HarnessError::Task(format!(
            "{TASK} on {source} paused: {}",
            sub["result"]
        )));
    }
    match dmctl(addrs, &["show-ddl-locks"]).await {
        Ok(l) if l["msg"] == "no DDL lock exists" => Check::Ready(()),
        Ok(l) => Check::Pending(l.to_string()),
        Err(e) => Check::Pending(e.to_string()),
    }
}

/// Counts `needle` across every worker's log.
fn in_logs(c: &TutorialCluster, needle: &str) -> usize {
    (0..c.workers.len())
        .map(|i| {
            std::fs::read_to_string(c.workers.log_path(i))
                .unwrap_or_default()
                .matches(needle)
                .count()
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn successive_shard_ddls_on_one_table_each_run_once() {
    successive_ddls(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn successive_shard_ddls_survive_a_leader_failover() {
    successive_ddls(true).await;
}

/// The leader is killed (and restarted) while the shards run their DDLs
/// when `failover`.
async fn successive_ddls(failover: bool) {
    let mut c = TutorialCluster::dmtask1_replicating(DEADLINE)
        .await
        .expect("dmtask1 replicating");
    let load = ShardLoad::start(&c.dbs.upstreams).await;
    let mut shards = Vec::new();
    for server in &c.dbs.upstreams {
        let mut conn = server.conn().await.expect("upstream connection");
        let port = server.port();
        shards.push(tokio::spawn(async move {
            for ddl in DDLS {
                conn.query_drop(*ddl)
                    .await
                    .unwrap_or_else(|e| panic!("{ddl} on the shard at port {port}: {e}"));
            }
        }));
    }
    if failover {
        let leader = c.masters.leader(DEADLINE).await.expect("leader");
        let index = c.masters.index_of(&leader).expect("index");
        c.masters.kill(index).expect("kill the leader");
        c.masters.leader(DEADLINE).await.expect("a new leader");
        c.masters.spawn(index).expect("restart the master");
    }
    for shard in shards {
        shard.await.expect("shard DDLs");
    }
    let addrs = c.addrs.as_str();
    // Every DDL of every shard reached, every lock resolved, no pause.
    wait_until(
        "the upstream definition downstream, every lock resolved",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            let want = definition(&c.dbs.upstreams[0]).await;
            match locks_gone_without_pause(addrs).await {
                Check::Ready(()) => {}
                other => return other,
            }
            let got = definition(&c.dbs.downstream).await;
            if got == want {
                Check::Ready(())
            } else {
                Check::Pending(format!("downstream {got:?}, upstream {want:?}"))
            }
        },
    )
    .await
    .expect("the DDLs replicated");
    let writes = load.stop().await;
    assert!(writes > 0, "the shards were written to");
    let mut expected: Rows = Vec::new();
    for server in &c.dbs.upstreams {
        expected.extend(query_rows(server, ALL_ROWS).await);
    }
    expected.sort();
    wait_until(
        "the downstream equals the merged shards",
        DEADLINE,
        Duration::from_millis(100),
        || async {
            if let Check::Abort(e) = locks_gone_without_pause(addrs).await {
                return Check::Abort(e);
            }
            let got: Rows = query_rows(&c.dbs.downstream, ALL_ROWS).await;
            if got == expected {
                Check::Ready(())
            } else {
                Check::Pending(format!("{} rows, {} expected", got.len(), expected.len()))
            }
        },
    )
    .await
    .expect("rows converge");
    // Every DDL once, by its lock's owner; none replayed.
    assert_eq!(in_logs(&c, "shard DDL executed downstream"), DDLS.len());
    assert_eq!(in_logs(&c, "DDL already applied downstream"), 0);
    let status = dmctl(addrs, &["query-status", TASK]).await.expect("status");
    for (source, sub) in subtasks_of(&status, TASK) {
        assert_eq!(sub["stage"], "Running", "{source}: {sub}");
        assert!(sub["result"].is_null(), "{source}: {sub}");
    }
}
