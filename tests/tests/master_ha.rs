//! The masters as a highly-available group, over real processes:
//! acknowledged writes survive leader kills and a full restart, and
//! membership changes (join, offline-member) show in list-member.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dm_tests::cluster::{dmctl, shown_sources, write_source_file, Masters};
use dm_tests::{wait_until, MariaDb, MariaDbOptions};
use serde_json::Value;

const LEADER_DEADLINE: Duration = Duration::from_secs(20);
const SOURCES: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_sources_survive_leader_kills_and_a_full_restart() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let mut masters = Masters::start(3).expect("masters start");
    let addrs = masters.client_addrs();
    masters.leader(LEADER_DEADLINE).await.expect("first leader");

    let files = tempfile::tempdir().expect("tempdir");
    let paths: Vec<(String, String)> = (0..SOURCES)
        .map(|i| {
            let id = format!("source-{i:02}");
            let path = write_source_file(files.path(), &id, upstream.port()).expect("source file");
            (id, path)
        })
        .collect();

    // Creations run in their own task while this one kills leaders.
    let progress = Arc::new(AtomicUsize::new(0));
    let creator = {
        let progress = progress.clone();
        let addrs = addrs.clone();
        tokio::spawn(async move {
            let mut acknowledged = BTreeSet::new();
            for (id, path) in paths {
                let answer = dmctl(&addrs, &["operate-source", "create", &path])
                    .await
                    .expect("dmctl answers");
                if answer["result"] == true {
                    acknowledged.insert(id);
                }
                progress.fetch_add(1, Ordering::SeqCst);
            }
            acknowledged
        })
    };
    let reached = |n: usize| {
        let progress = progress.clone();
        async move {
            wait_until(
                &format!("{n} creations done"),
                Duration::from_secs(60),
                Duration::from_millis(5),
                || {
                    let progress = progress.clone();
                    async move { progress.load(Ordering::SeqCst) >= n }
                },
            )
            .await
            .expect("creations progress");
        }
    };

    let mut killed = Vec::new();
    for (kill_at, restart_at) in [(6, 12), (18, 24)] {
        reached(kill_at).await;
        let leader = masters.leader(LEADER_DEADLINE).await.expect("leader");
        let index = masters.index_of(&leader).expect("leader is one of ours");
        masters.kill(index).expect("SIGKILL the leader");
        killed.push(leader);
        reached(restart_at).await;
        masters.spawn(index).expect("restart on its data dir");
    }
    let acknowledged = creator.await.expect("creator task");
    assert_eq!(killed.len(), 2);
    assert!(
        acknowledged.len() >= SOURCES - 2,
        "dmctl retries through elections, so almost every creation is acknowledged: {acknowledged:?}"
    );

    let shown = shown_sources(&addrs).await.expect("show answers");
    let lost: Vec<_> = acknowledged.difference(&shown).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");

    // All three stop, then start again from their data dirs.
    for i in 0..masters.len() {
        masters.stop(i).expect("stop");
    }
    for i in 0..masters.len() {
        masters.spawn(i).expect("restart");
    }
    masters
        .leader(LEADER_DEADLINE)
        .await
        .expect("leader after restart");
    let after_restart = shown_sources(&addrs).await.expect("show answers");
    assert_eq!(after_restart, shown, "the restart changed the sources");
}

fn master_names(answer: &Value) -> Vec<(String, bool)> {
    answer["members"][0]["master"]["masters"]
        .as_array()
        .map(|masters| {
            masters
                .iter()
                .map(|m| {
                    (
                        m["name"].as_str().unwrap_or_default().to_string(),
                        m["alive"] == true,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_for_masters(addrs: &str, expected: &[(&str, bool)]) {
    let expected: Vec<(String, bool)> = expected.iter().map(|(n, a)| (n.to_string(), *a)).collect();
    wait_until(
        "list-member shows the expected masters",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let expected = expected.clone();
            async move {
                let answer = dmctl(addrs, &["list-member", "--master"])
                    .await
                    .map_err(|e| e.to_string())?;
                let seen = master_names(&answer);
                if seen == expected {
                    Ok(())
                } else {
                    Err(format!("list-member shows {seen:?}"))
                }
            }
        },
    )
    .await
    .expect("membership");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_joins_and_another_is_taken_offline() {
    let mut masters = Masters::start(3).expect("masters start");
    masters.leader(LEADER_DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    wait_for_masters(
        &addrs,
        &[("master1", true), ("master2", true), ("master3", true)],
    )
    .await;

    let fourth = masters.join_new().expect("fourth master starts");
    let all = masters.client_addrs();
    wait_for_masters(
        &all,
        &[
            ("master1", true),
            ("master2", true),
            ("master3", true),
            ("master4", true),
        ],
    )
    .await;

    // A master that is down shows as not alive.
    masters.stop(1).expect("stop master2");
    wait_for_masters(
        &all,
        &[
            ("master1", true),
            ("master2", false),
            ("master3", true),
            ("master4", true),
        ],
    )
    .await;

    let answer = dmctl(&all, &["offline-member", "--master", "--name", "master2"])
        .await
        .expect("offline-member answers");
    assert_eq!(answer["result"], true, "{answer}");
    wait_for_masters(
        &all,
        &[("master1", true), ("master3", true), ("master4", true)],
    )
    .await;

    // The joined master is a voter: with it, the group survives losing another.
    let leader = masters.leader(LEADER_DEADLINE).await.expect("leader");
    let index = masters.index_of(&leader).expect("ours");
    masters.kill(index).expect("kill leader");
    let next = masters
        .leader(LEADER_DEADLINE)
        .await
        .expect("a new leader among the other two");
    assert_ne!(next, leader);
    assert!(fourth < masters.len());

    let answer = dmctl(&all, &["offline-member", "--master", "--name", "nobody"])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false);
    assert_eq!(answer["msg"], "master nobody is not a member");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_source_password_is_never_printed_or_logged() {
    const PASSWORD: &str = "s3cret-Pw-91";
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    dm_tests::tutorial::run_sql(
        &upstream,
        &[
            &format!("CREATE USER 'dm'@'%' IDENTIFIED BY '{PASSWORD}'"),
            "GRANT ALL PRIVILEGES ON *.* TO 'dm'@'%'",
        ],
    )
    .await
    .expect("user created");
    let masters = Masters::start(3).expect("masters start");
    masters.leader(LEADER_DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();

    let files = tempfile::tempdir().expect("tempdir");
    let path = files.path().join("secret.yaml");
    let text = format!(
        "source-id: secret\nfrom:\n  host: 127.0.0.1\n  port: {}\n  user: dm\n  password: \"{PASSWORD}\"\n",
        upstream.port()
    );
    std::fs::write(&path, text).expect("write");
    let path = path.display().to_string();

    let created = dmctl(&addrs, &["operate-source", "create", &path])
        .await
        .expect("answers");
    assert_eq!(created["result"], true, "{created}");
    let wrong = files.path().join("wrong.yaml").display().to_string();
    std::fs::write(&wrong, format!("source-id: wrong\nfrom:\n  host: 127.0.0.1\n  port: {}\n  user: dm\n  password: \"not-{PASSWORD}\"\n", upstream.port())).expect("write");
    let refused = dmctl(&addrs, &["operate-source", "create", &wrong])
        .await
        .expect("answers");
    assert_eq!(
        refused["result"], false,
        "a wrong password is caught at create: {refused}"
    );

    let config = dmctl(&addrs, &["get-config", "source", "secret"])
        .await
        .expect("answers");
    assert_eq!(config["result"], true, "{config}");
    let cfg = config["cfg"].as_str().expect("cfg");
    assert!(cfg.contains("password: '******'"), "{cfg}");
    for answer in [&created, &refused, &config] {
        assert!(!answer.to_string().contains(PASSWORD), "{answer}");
    }
    let shown = dmctl(&addrs, &["operate-source", "show"])
        .await
        .expect("answers");
    assert!(!shown.to_string().contains(PASSWORD));

    for entry in std::fs::read_dir(masters.dir()).expect("masters dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "log") {
            let log = std::fs::read_to_string(&path).expect("log");
            assert!(
                !log.contains(PASSWORD),
                "{} contains the password",
                path.display()
            );
        }
    }
}
