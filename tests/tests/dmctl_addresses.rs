//! dmctl's `--master-addr` list and `-s`, over real masters:
//!
//! - `operate-source show -s SOURCE` shows only that source;
//! - addresses may carry DM's `http://` / `https://` prefixes;
//! - an address that does not answer (a SIGSTOPped master, a port that
//!   accepts connections but never speaks) or is not a gRPC server (a
//!   MariaDB port) listed first costs at most a short per-address timeout,
//!   also with `--rpc-timeout`, and dmctl moves on to the next address.

use std::time::{Duration, Instant};

use dm_tests::cluster::{create_source, dmctl, Masters};
use dm_tests::{MariaDb, MariaDbOptions};
use serde_json::Value;

const LEADER_DEADLINE: Duration = Duration::from_secs(20);

/// What dmctl may spend on addresses that do not answer before it reaches
/// a live master (the per-address timeout plus a process start).
const SKIP_BUDGET: Duration = Duration::from_secs(4);

async fn started() -> (Masters, String) {
    let masters = Masters::start(3).expect("masters");
    masters.leader(LEADER_DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    (masters, addrs)
}

fn source_ids(answer: &Value) -> Vec<String> {
    answer["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["source"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operate_source_show_honours_the_source_flag() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let (_masters, addrs) = started().await;
    let dir = tempfile::tempdir().expect("tempdir");
    for id in ["mysql1", "mysql2", "mysql3"] {
        create_source(&addrs, dir.path(), id, upstream.port())
            .await
            .expect("source created");
    }

    let all = dmctl(&addrs, &["operate-source", "show"])
        .await
        .expect("answers");
    assert_eq!(source_ids(&all), ["mysql1", "mysql2", "mysql3"], "{all}");

    let one = dmctl(&addrs, &["operate-source", "show", "-s", "mysql2"])
        .await
        .expect("answers");
    assert_eq!(one["result"], true, "{one}");
    assert_eq!(source_ids(&one), ["mysql2"], "{one}");

    let two = dmctl(&addrs, &["-s", "mysql3,mysql1", "operate-source", "show"])
        .await
        .expect("answers");
    assert_eq!(source_ids(&two), ["mysql3", "mysql1"], "{two}");

    let unknown = dmctl(&addrs, &["operate-source", "show", "-s", "nope"])
        .await
        .expect("answers");
    assert_eq!(unknown["result"], false, "{unknown}");
    assert_eq!(unknown["sources"][0]["msg"], "source nope does not exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn master_addresses_may_carry_http_prefixes() {
    let (masters, _) = started().await;
    let plain = masters.spec(0).expect("master").client_addr();
    let other = masters.spec(1).expect("master").client_addr();
    for addrs in [
        format!("http://{plain}"),
        format!("https://{plain}"),
        format!("HTTP://{plain}/"),
        format!("http://{plain},https://{other}"),
    ] {
        let answer = dmctl(&addrs, &["list-member", "--master"])
            .await
            .expect("answers");
        assert_eq!(answer["result"], true, "{addrs}: {answer}");
    }
    let bad = dmctl("ftp://127.0.0.1:1", &["list-member"])
        .await
        .expect("answers");
    assert_eq!(bad["result"], false, "{bad}");
    let msg = bad["msg"].as_str().expect("msg");
    assert!(msg.contains("ftp://127.0.0.1:1"), "{msg}");
}

/// Runs `dmctl --master-addr ADDRS [extra] list-member --master`; the
/// answer and how long it took.
async fn timed_list_member(addrs: &str, extra: &[&str]) -> (Value, Duration) {
    let mut args: Vec<&str> = extra.to_vec();
    args.extend(["list-member", "--master"]);
    let started = Instant::now();
    let answer = dmctl(addrs, &args).await.expect("dmctl prints JSON");
    (answer, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_master_listed_first_costs_a_short_timeout() {
    let (mut masters, _) = started().await;
    let leader = masters.leader(LEADER_DEADLINE).await.expect("leader");
    // Freeze a follower, so the group keeps its leader.
    let frozen = (0..3)
        .find(|i| masters.spec(*i).is_some_and(|s| s.name != leader))
        .expect("a follower");
    let live: Vec<String> = (0..3)
        .filter(|i| *i != frozen)
        .map(|i| masters.spec(i).expect("master").client_addr())
        .collect();
    let frozen_addr = masters.spec(frozen).expect("master").client_addr();
    masters.signal(frozen, libc::SIGSTOP).expect("SIGSTOP");
    let addrs = format!("{frozen_addr},{}", live.join(","));

    let (answer, took) = timed_list_member(&addrs, &[]).await;
    eprintln!("frozen master first: {took:?}");
    assert_eq!(answer["result"], true, "{answer}");
    assert!(took < SKIP_BUDGET, "took {took:?}");

    let (answer, took) = timed_list_member(&addrs, &["--rpc-timeout", "5s"]).await;
    eprintln!("frozen master first, --rpc-timeout 5s: {took:?}");
    assert_eq!(answer["result"], true, "{answer}");
    assert!(took < SKIP_BUDGET, "took {took:?}");

    masters.signal(frozen, libc::SIGCONT).expect("SIGCONT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn addresses_that_are_not_masters_are_skipped() {
    let not_grpc = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("a MariaDB server");
    let (masters, _) = started().await;
    let live = masters.spec(0).expect("master").client_addr();
    // A port that accepts connections (the kernel's backlog) but whose
    // owner never reads them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let silent_addr = silent.local_addr().expect("addr").to_string();

    for first in [format!("127.0.0.1:{}", not_grpc.port()), silent_addr] {
        let addrs = format!("{first},{live}");
        let (answer, took) = timed_list_member(&addrs, &[]).await;
        eprintln!("{first} first: {took:?}");
        assert_eq!(answer["result"], true, "{first}: {answer}");
        assert!(took < SKIP_BUDGET, "{first}: took {took:?}");
    }

    // With no master among them, dmctl says what each address did.
    let addrs = format!("127.0.0.1:{}", not_grpc.port());
    let (answer, took) = timed_list_member(&addrs, &[]).await;
    assert_eq!(answer["result"], false, "{answer}");
    assert!(took < SKIP_BUDGET, "took {took:?}");
    let msg = answer["msg"].as_str().expect("msg");
    assert!(msg.contains(&addrs), "{msg}");
    drop(silent);
}
