//! The task lifecycle through the masters, over real processes: start-task,
//! query-status (summary and detail), pause / resume / stop, check-task,
//! get-config, and a source that a task uses cannot be stopped.

use std::path::Path;
use std::time::Duration;

use dm_tests::cluster::{create_source, dmctl, wait_bound, Workers};
use dm_tests::{MariaDb, MariaDbOptions};

fn task_file(dir: &Path, name: &str, sources: &[&str], port: u16) -> String {
    let instances: String = sources
        .iter()
        .map(|s| format!("  - source-id: \"{s}\"\n    block-allow-list: \"all\"\n"))
        .collect();
    let text = format!(
        "name: {name}\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {port}\n  user: \"dm\"\n  password: \"downstream-secret\"\nmysql-instances:\n{instances}block-allow-list:\n  all:\n    do-dbs: [\"app\"]\n"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_is_started_queried_paused_resumed_and_stopped() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    // The downstream (the same server) has a user with a password, which
    // the pre-check logs in with and get-config masks.
    dm_tests::tutorial::run_sql(
        &upstream,
        &[
            "CREATE USER 'dm'@'%' IDENTIFIED BY 'downstream-secret'",
            "GRANT ALL PRIVILEGES ON *.* TO 'dm'@'%'",
        ],
    )
    .await
    .expect("downstream user");
    let (_masters, addrs) = dm_tests::scenario::masters().await.expect("masters");
    let dir = tempfile::tempdir().expect("tempdir");
    create_source(&addrs, dir.path(), "mysql1", upstream.port())
        .await
        .expect("source created");
    create_source(&addrs, dir.path(), "mysql2", upstream.port())
        .await
        .expect("source created");
    let _workers = Workers::start(2, &addrs, 2).expect("workers");
    for source in ["mysql1", "mysql2"] {
        wait_bound(&addrs, source, None, Duration::from_secs(20))
            .await
            .expect("bound");
    }

    let file = task_file(dir.path(), "task1", &["mysql1", "mysql2"], upstream.port());
    let started = dmctl(&addrs, &["start-task", &file])
        .await
        .expect("answers");
    assert_eq!(started["result"], true, "{started}");
    let sources = started["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 2);
    for s in sources {
        assert_eq!(s["result"], true);
        assert!(
            s["worker"]
                .as_str()
                .is_some_and(|w| w.starts_with("worker")),
            "{s}"
        );
    }

    let again = dmctl(&addrs, &["start-task", &file])
        .await
        .expect("answers");
    assert_eq!(again["result"], false);
    assert_eq!(
        again["msg"],
        "task task1 already exists; stop it first or use another name"
    );

    let missing = task_file(dir.path(), "task2", &["mysql1", "mysql9"], upstream.port());
    let refused = dmctl(&addrs, &["start-task", &missing])
        .await
        .expect("answers");
    assert_eq!(refused["result"], false);
    assert_eq!(
        refused["msg"],
        "source mysql9 does not exist; create it with `operate-source create` first"
    );

    let summary = dmctl(&addrs, &["query-status"]).await.expect("answers");
    assert_eq!(summary["tasks"][0]["taskName"], "task1", "{summary}");
    assert_eq!(
        summary["tasks"][0]["sources"].as_array().map(Vec::len),
        Some(2)
    );

    let detail = dmctl(&addrs, &["query-status", "task1"])
        .await
        .expect("answers");
    assert_eq!(detail["result"], true, "{detail}");
    let per_source = detail["sources"].as_array().expect("sources");
    assert_eq!(per_source.len(), 2);
    for s in per_source {
        assert_eq!(s["subTaskStatus"][0]["name"], "task1");
        assert!(s["sourceStatus"]["worker"]
            .as_str()
            .is_some_and(|w| !w.is_empty()));
    }

    // A source a task uses cannot be stopped.
    let busy = dmctl(&addrs, &["operate-source", "stop", "mysql1"])
        .await
        .expect("answers");
    assert_eq!(busy["result"], false);
    assert_eq!(
        busy["sources"][0]["msg"],
        "source mysql1 is used by task(s) task1; stop them first"
    );

    for op in ["pause-task", "resume-task"] {
        let answer = dmctl(&addrs, &[op, "task1"]).await.expect("answers");
        assert_eq!(answer["result"], true, "{op}: {answer}");
    }
    let paused_one = dmctl(&addrs, &["pause-task", "-s", "mysql2", &file])
        .await
        .expect("answers");
    assert_eq!(paused_one["result"], true, "{paused_one}");
    assert_eq!(paused_one["sources"].as_array().map(Vec::len), Some(1));

    let config = dmctl(&addrs, &["get-config", "task", "task1"])
        .await
        .expect("answers");
    assert_eq!(config["result"], true);
    let cfg = config["cfg"].as_str().expect("cfg");
    assert!(
        cfg.contains("name: task1") && !cfg.contains("downstream-secret"),
        "{cfg}"
    );

    let checked = dmctl(&addrs, &["check-task", &file])
        .await
        .expect("answers");
    assert_eq!(checked["result"], true, "{checked}");

    let stopped = dmctl(&addrs, &["stop-task", "task1"])
        .await
        .expect("answers");
    assert_eq!(stopped["result"], true, "{stopped}");
    let gone = dmctl(&addrs, &["query-status", "task1"])
        .await
        .expect("answers");
    assert_eq!(gone["result"], false);
    assert_eq!(gone["msg"], "task task1 does not exist");
    let freed = dmctl(&addrs, &["operate-source", "stop", "mysql1"])
        .await
        .expect("answers");
    assert_eq!(freed["result"], true, "{freed}");
}
