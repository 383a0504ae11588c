//! Followers point workers at the leader's advertised client address
//! (`--advertise-addr`), not at its peer address, also in a group started
//! from `--initial-cluster` (whose members know each other by peer URL
//! only) and after the leader changes.

use std::time::Duration;

use dm_proto::pb;
use dm_proto::pb::worker_control_client::WorkerControlClient;
use dm_tests::cluster::{MasterSpec, Masters};
use dm_tests::{free_port, wait_until};

const DEADLINE: Duration = Duration::from_secs(20);

/// What the follower `i` answers a heartbeat: the leader address it names.
async fn leader_named_by(masters: &Masters, i: usize) -> Option<String> {
    let addr = masters.spec(i)?.client_addr();
    let mut client = WorkerControlClient::connect(format!("http://{addr}"))
        .await
        .ok()?;
    let answer = client
        .heartbeat(pb::HeartbeatRequest {
            name: "nobody".into(),
            address: "127.0.0.1:1".into(),
            ..Default::default()
        })
        .await
        .ok()?
        .into_inner();
    (!answer.is_leader).then_some(answer.leader_addr)
}

async fn followers_name(masters: &Masters, leader: usize, advertised: &str) {
    for i in (0..masters.len()).filter(|i| *i != leader) {
        wait_until(
            &format!("master{} names the leader at {advertised}", i + 1),
            DEADLINE,
            Duration::from_millis(50),
            || async move {
                let named = leader_named_by(masters, i).await;
                if named.as_deref() == Some(advertised) {
                    dm_tests::Check::Ready(())
                } else {
                    dm_tests::Check::Pending(format!("named {named:?}"))
                }
            },
        )
        .await
        .expect("the follower names the advertised address");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followers_name_the_leaders_advertised_address() {
    // Nothing listens on the advertised ports: the test only reads them.
    let specs = (1..=3)
        .map(|i| MasterSpec {
            name: format!("master{i}"),
            client_port: free_port().expect("port"),
            peer_port: free_port().expect("port"),
            advertise_port: Some(free_port().expect("port")),
        })
        .collect::<Vec<_>>();
    let mut masters = Masters::start_with(specs).expect("masters");
    let advertised = |masters: &Masters, i: usize| {
        let port = masters
            .spec(i)
            .and_then(|s| s.advertise_port)
            .expect("port");
        format!("127.0.0.1:{port}")
    };

    let name = masters.leader(DEADLINE).await.expect("a leader");
    let leader = masters.index_of(&name).expect("known leader");
    followers_name(&masters, leader, &advertised(&masters, leader)).await;

    masters.kill(leader).expect("kill the leader");
    let others = masters.client_addrs();
    let next = wait_until("a new leader", DEADLINE, Duration::from_millis(50), || {
        let others = others.clone();
        let masters = &masters;
        async move {
            let answer = dm_tests::cluster::dmctl(&others, &["list-member", "--leader"])
                .await
                .ok()?;
            let name = answer["members"][0]["leader"]["name"].as_str()?;
            masters.index_of(name).filter(|i| *i != leader)
        }
    })
    .await
    .expect("a new leader");
    masters.spawn(leader).expect("restart the old leader");
    followers_name(&masters, next, &advertised(&masters, next)).await;
}
