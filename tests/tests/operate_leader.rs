//! `operate-leader evict|cancel-evict` over real masters: an evicted
//! leader hands leadership over at once, an evicted master never leads
//! (not after the new leader dies, not after its own restart) until the
//! eviction is cancelled, the last master that may lead cannot be evicted,
//! and no acknowledged write is lost meanwhile.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dm_tests::cluster::{dmctl, shown_sources, write_source_file, Masters};
use dm_tests::{wait_until, MariaDb, MariaDbOptions};
use serde_json::Value;

const LEADER_DEADLINE: Duration = Duration::from_secs(20);
/// How soon leadership must move off an evicted leader.
const MOVE_DEADLINE: Duration = Duration::from_secs(1);
const ROUNDS: usize = 5;

async fn leader_name(addrs: &str) -> Option<String> {
    let answer = dmctl(addrs, &["list-member", "--leader"]).await.ok()?;
    answer["members"][0]["leader"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// Polls until a leader other than `old` is named; returns it and when.
async fn next_leader(addrs: &str, old: &str, started: Instant) -> (String, Duration) {
    let name = wait_until(
        &format!("a leader other than {old}"),
        LEADER_DEADLINE,
        Duration::from_millis(5),
        || async move {
            match leader_name(addrs).await {
                Some(name) if name != old => Ok(name),
                other => Err(format!("leader is {other:?}")),
            }
        },
    )
    .await
    .expect("leadership moves");
    (name, started.elapsed())
}

/// The third master: neither `a` nor `b`.
fn third(masters: &Masters, a: &str, b: &str) -> String {
    (0..masters.len())
        .map(|i| masters.spec(i).expect("spec").name.clone())
        .find(|n| n != a && n != b)
        .expect("three masters")
}

/// Polls until `name` leads; returns how long it took.
async fn wait_leads(addrs: &str, name: &str) -> Duration {
    let started = Instant::now();
    wait_until(
        &format!("{name} leads"),
        LEADER_DEADLINE,
        Duration::from_millis(5),
        || async move {
            match leader_name(addrs).await {
                Some(leader) if leader == name => Ok(()),
                other => Err(format!("leader is {other:?}")),
            }
        },
    )
    .await
    .expect("the master that may lead takes over");
    started.elapsed()
}

/// Asks who leads `polls` times; `evicted` must never be the answer.
async fn never_leads(addrs: &str, evicted: &str, polls: usize) {
    for _ in 0..polls {
        if let Some(name) = leader_name(addrs).await {
            assert_ne!(name, evicted, "an evicted master leads");
        }
    }
}

async fn operate_leader(addrs: &str, args: &[&str]) -> Value {
    let mut all = vec!["operate-leader"];
    all.extend_from_slice(args);
    dmctl(addrs, &all).await.expect("dmctl answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_evicted_leader_hands_over_within_a_second_and_never_leads_until_cancelled() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let mut masters = Masters::start(3).expect("masters start");
    let addrs = masters.client_addrs();
    masters.leader(LEADER_DEADLINE).await.expect("first leader");
    let files = tempfile::tempdir().expect("tempdir");

    // A steady stream of writes through dmctl while leadership moves.
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, addrs) = (done.clone(), addrs.clone());
        let (dir, port) = (files.path().to_path_buf(), upstream.port());
        tokio::spawn(async move {
            let mut acknowledged = BTreeSet::new();
            let mut i = 0;
            while !done.load(Ordering::SeqCst) {
                let id = format!("source-{i:03}");
                let path = write_source_file(&dir, &id, port).expect("source file");
                let answer = dmctl(&addrs, &["operate-source", "create", &path])
                    .await
                    .expect("dmctl answers");
                if answer["result"] == true {
                    acknowledged.insert(id);
                }
                i += 1;
            }
            (acknowledged, i)
        })
    };

    let mut moves = Vec::new();
    for round in 0..ROUNDS {
        let leader = masters.leader(LEADER_DEADLINE).await.expect("leader");
        let started = Instant::now();
        let answer = operate_leader(&addrs, &["evict", "--name", &leader]).await;
        assert_eq!(answer["result"], true, "{answer}");
        assert_eq!(answer["msg"], "", "{answer}");
        let (successor, took) = next_leader(&addrs, &leader, started).await;
        moves.push(took);
        never_leads(&addrs, &leader, 10).await;

        match round {
            // The new leader dies: the one master left that may lead takes
            // over. (Should the evicted one hold committed entries the other
            // lacks, Raft lets only it lead: it stands in after a second
            // without a leader and hands over once the other caught up.)
            1 => {
                let index = masters.index_of(&successor).expect("ours");
                masters.kill(index).expect("SIGKILL the new leader");
                let took = wait_leads(&addrs, &third(&masters, &leader, &successor)).await;
                println!("after the new leader's SIGKILL, the eligible master led in {took:?}");
                never_leads(&addrs, &leader, 10).await;
                masters.spawn(index).expect("restart");
            }
            // The eviction lasts across the evicted master's restart.
            2 => {
                let evicted = masters.index_of(&leader).expect("ours");
                masters.kill(evicted).expect("SIGKILL the evicted master");
                masters.spawn(evicted).expect("restart it");
                let index = masters.index_of(&successor).expect("ours");
                masters.kill(index).expect("SIGKILL the new leader");
                let took = wait_leads(&addrs, &third(&masters, &leader, &successor)).await;
                println!("after a restart of the evicted master and the new leader's SIGKILL, the eligible master led in {took:?}");
                never_leads(&addrs, &leader, 10).await;
                masters.spawn(index).expect("restart");
            }
            _ => {}
        }

        let answer = operate_leader(&addrs, &["cancel-evict", "--name", &leader]).await;
        assert_eq!(answer["result"], true, "{answer}");
    }

    // Two evicted: the third cannot be.
    let names: Vec<String> = (0..masters.len())
        .map(|i| masters.spec(i).expect("spec").name.clone())
        .collect();
    for name in &names[..2] {
        let answer = operate_leader(&addrs, &["evict", "--name", name]).await;
        assert_eq!(answer["result"], true, "{answer}");
    }
    let answer = operate_leader(&addrs, &["evict", "--name", &names[2]]).await;
    assert_eq!(answer["result"], false, "{answer}");
    let msg = answer["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("last master that may lead"),
        "the refusal says why: {answer}"
    );
    assert_eq!(
        masters.leader(LEADER_DEADLINE).await.expect("leader"),
        names[2]
    );
    let answer = operate_leader(&addrs, &["cancel-evict"]).await;
    assert_eq!(answer["result"], true, "{answer}");
    let answer = operate_leader(&addrs, &["evict", "--name", "nobody"]).await;
    assert_eq!(answer["result"], false, "{answer}");
    let answer = operate_leader(&addrs, &["sideways"]).await;
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid operate 'sideways' on leader"),
        "{answer}"
    );

    done.store(true, Ordering::SeqCst);
    let (acknowledged, attempted) = writer.await.expect("writer");
    let shown = shown_sources(&addrs).await.expect("show answers");
    let lost: Vec<_> = acknowledged.difference(&shown).collect();
    println!(
        "leadership moves after evict: {:?}; writes attempted {attempted}, acknowledged {}",
        moves,
        acknowledged.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(acknowledged.len() >= 10, "the writer made progress");
    for (round, took) in moves.iter().enumerate() {
        assert!(
            *took <= MOVE_DEADLINE,
            "round {round}: leadership took {took:?} to move"
        );
    }
}

/// The leader dies while the only other master that may lead lacks
/// committed entries the evicted one holds: Raft lets only the evicted
/// master lead, so it stands in, catches the other up and hands over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_evicted_master_stands_in_when_only_it_can_lead_and_hands_over() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let mut masters = Masters::start(3).expect("masters start");
    let addrs = masters.client_addrs();
    let leader = masters.leader(LEADER_DEADLINE).await.expect("leader");
    let names: Vec<String> = (0..masters.len())
        .map(|i| masters.spec(i).expect("spec").name.clone())
        .collect();
    let evicted = names
        .iter()
        .find(|n| **n != leader)
        .expect("a follower")
        .clone();
    let eligible = third(&masters, &leader, &evicted);
    let answer = operate_leader(&addrs, &["evict", "--name", &evicted]).await;
    assert_eq!(answer["result"], true, "{answer}");

    // The eligible master misses these writes (the leader and the evicted
    // master make the quorum).
    let frozen = masters.index_of(&eligible).expect("ours");
    masters.signal(frozen, libc::SIGSTOP).expect("SIGSTOP");
    let files = tempfile::tempdir().expect("tempdir");
    let leader_addr = masters
        .spec(masters.index_of(&leader).expect("ours"))
        .expect("spec")
        .client_addr();
    let mut acknowledged = BTreeSet::new();
    for i in 0..5 {
        let id = format!("missed-{i}");
        let path = write_source_file(files.path(), &id, upstream.port()).expect("source file");
        let answer = dmctl(&leader_addr, &["operate-source", "create", &path])
            .await
            .expect("dmctl answers");
        assert_eq!(answer["result"], true, "{answer}");
        acknowledged.insert(id);
    }
    masters
        .kill(masters.index_of(&leader).expect("ours"))
        .expect("SIGKILL the leader");
    masters.signal(frozen, libc::SIGCONT).expect("SIGCONT");

    let took = wait_leads(&addrs, &eligible).await;
    println!("the eligible master led {took:?} after the leader's SIGKILL");
    never_leads(&addrs, &evicted, 10).await;
    let shown = shown_sources(&addrs).await.expect("show answers");
    let lost: Vec<_> = acknowledged.difference(&shown).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}
