//! Mutual TLS on every gRPC connection, over real processes:
//!
//! - a 3-master, 3-worker cluster with mutual TLS (and `cert-allowed-cn`)
//!   runs the seed tutorial, every step checked row for row;
//! - dmctl with the cluster's certificate works against every master, and
//!   is refused with a message that says why without TLS, without a
//!   certificate, with a certificate from another CA, trusting another CA,
//!   and with a name outside `cert-allowed-cn`; the Raft port refuses
//!   plaintext too;
//! - dmctl with TLS against a plaintext master is told the master does not
//!   use TLS;
//! - a worker without a valid certificate (none, another CA's, a name
//!   outside `cert-allowed-cn`), or that does not trust the masters', is
//!   not registered and logs why.

use std::path::Path;
use std::time::Duration;

use dm_tests::certs::{CertDir, CertFiles, TlsFlags};
use dm_tests::cluster::{dmctl_with, wait_worker_stage, workers_view, MasterTls, Masters, Workers};
use dm_tests::{tutorial, wait_until, RowMetadata};

const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

/// The masters' `cert-allowed-cn`.
const ALLOWED: [&str; 3] = ["dm-master", "dm-worker", "dmctl"];

const REQUIRES_TLS: &str = "this dm-master requires TLS: connect with --ssl-ca, --ssl-cert and --ssl-key (ssl-ca, ssl-cert and ssl-key in a dm-worker's or dm-master's configuration)";
const REQUIRES_CERTIFICATE: &str = "this dm-master requires a client certificate: connect with --ssl-cert and --ssl-key (ssl-cert and ssl-key in a dm-worker's or dm-master's configuration), a certificate signed by the cluster's CA";
const UNTRUSTED: &str = "this dm-master does not accept the client certificate (invalid peer certificate: UnknownIssuer): it must be signed by the cluster's CA (the masters' ssl-ca); connect with the --ssl-cert and --ssl-key the cluster's CA issued";
const NOT_ALLOWED: &str = "the client certificate's common name \"intruder\" is not in this dm-master's cert-allowed-cn [dm-master, dm-worker, dmctl]";

/// The cluster's CA and what it issued, and a stranger's.
struct Certs {
    cluster: CertDir,
    master: CertFiles,
    worker: CertFiles,
    dmctl: CertFiles,
    /// Signed by the cluster's CA, with a name outside `cert-allowed-cn`.
    intruder: CertFiles,
    stranger: CertDir,
    /// Signed by the stranger's CA, named as the cluster's dmctl.
    stranger_dmctl: CertFiles,
}

fn certs(dir: &Path) -> Certs {
    let cluster = CertDir::new(dir.join("cluster"));
    let stranger = CertDir::new(dir.join("stranger"));
    let issue = |ca: &CertDir, name: &str, cn: &str| ca.issue(name, cn).expect("certificate");
    Certs {
        master: issue(&cluster, "master", "dm-master"),
        worker: issue(&cluster, "worker", "dm-worker"),
        dmctl: issue(&cluster, "dmctl", "dmctl"),
        intruder: issue(&cluster, "intruder", "intruder"),
        stranger_dmctl: issue(&stranger, "dmctl", "dmctl"),
        cluster,
        stranger,
    }
}

fn master_tls(c: &Certs) -> MasterTls {
    MasterTls {
        flags: c.cluster.flags(&c.master),
        cert_allowed_cn: ALLOWED.iter().map(|n| n.to_string()).collect(),
        dmctl: c.cluster.flags(&c.dmctl),
    }
}

/// `dmctl FLAGS list-member` against `addr`: its `msg` when it failed.
async fn refusal(addr: &str, flags: &[String]) -> String {
    let answer = dmctl_with(addr, flags, &["list-member"])
        .await
        .expect("dmctl answers");
    assert_eq!(answer["result"], false, "{answer}");
    answer["msg"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_tutorial_runs_with_mutual_tls() {
    let stdout = tutorial::run_program_with(RowMetadata::Full, &["--tls", "--passwords"])
        .await
        .expect("the tutorial replicates exactly over TLS");
    assert!(stdout.contains("== Mutual TLS"), "{stdout}");
    assert!(stdout.contains("== No plaintext password in "), "{stdout}");
    assert!(
        stdout.contains("--cert-allowed-cn=dm-master,dm-worker,dmctl"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmctl_needs_a_certificate_the_masters_accept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = certs(dir.path());
    let masters = Masters::start_tls(3, master_tls(&c)).expect("masters");
    // Elected over Raft, which runs over TLS between the masters.
    masters.leader(DEADLINE).await.expect("a leader");

    let right = c.cluster.flags(&c.dmctl).args();
    for i in 0..masters.len() {
        let addr = masters.spec(i).expect("spec").client_addr();
        let answer = dmctl_with(&addr, &right, &["list-member", "--master"])
            .await
            .expect("dmctl answers");
        assert_eq!(answer["result"], true, "{addr}: {answer}");
        let listed = answer["members"][0]["master"]["masters"]
            .as_array()
            .map(Vec::len);
        assert_eq!(listed, Some(3), "{addr}: {answer}");
    }

    let spec = masters.spec(0).expect("spec").clone();
    let addr = spec.client_addr();
    assert_eq!(refusal(&addr, &[]).await, format!("{addr}: {REQUIRES_TLS}"));
    let peer = format!("127.0.0.1:{}", spec.peer_port);
    assert_eq!(
        refusal(&peer, &[]).await,
        format!("{peer}: {REQUIRES_TLS}"),
        "the Raft port takes TLS only"
    );
    assert_eq!(
        refusal(&addr, &TlsFlags::ca_only(c.cluster.ca()).args()).await,
        format!("{addr}: {REQUIRES_CERTIFICATE}")
    );
    let from_stranger = TlsFlags::new(c.cluster.ca(), c.stranger_dmctl.clone()).args();
    assert_eq!(
        refusal(&addr, &from_stranger).await,
        format!("{addr}: {UNTRUSTED}")
    );
    let trusting_stranger = TlsFlags::new(c.stranger.ca(), c.dmctl.clone()).args();
    assert_eq!(
        refusal(&addr, &trusting_stranger).await,
        format!("no master accepted the TLS connection ({addr}: the master's certificate is not trusted (it is not signed by a CA this client trusts): it must be signed by the CA in --ssl-ca and name the address dialled)")
    );
    let intruder = c.cluster.flags(&c.intruder).args();
    assert_eq!(
        refusal(&addr, &intruder).await,
        format!("{addr}: {NOT_ALLOWED}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmctl_with_tls_is_told_a_plaintext_master_does_not_use_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = certs(dir.path());
    let masters = Masters::start(1).expect("masters");
    masters.leader(DEADLINE).await.expect("a leader");
    let addr = masters.client_addrs();
    assert_eq!(
        refusal(&addr, &c.cluster.flags(&c.dmctl).args()).await,
        format!("no master accepted the TLS connection ({addr}: the master does not use TLS (it answered the TLS handshake with something else: received corrupt message of type InvalidContentType): connect without --ssl-ca, --ssl-cert and --ssl-key, or turn TLS on at the masters)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_without_a_valid_certificate_cannot_register() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = certs(dir.path());
    let masters = Masters::start_tls(1, master_tls(&c)).expect("masters");
    masters.leader(DEADLINE).await.expect("a leader");
    let join = masters.client_addrs();

    let refused = [
        (None, REQUIRES_TLS.to_string()),
        (
            Some(TlsFlags::new(c.cluster.ca(), c.stranger_dmctl.clone())),
            UNTRUSTED.to_string(),
        ),
        (Some(c.cluster.flags(&c.intruder)), NOT_ALLOWED.to_string()),
        (
            Some(TlsFlags::new(c.stranger.ca(), c.worker.clone())),
            "the master's certificate is not trusted (it is not signed by a CA this client trusts)"
                .to_string(),
        ),
    ];
    let mut bad = Vec::new();
    for (flags, why) in refused {
        let workers = Workers::start_tls(1, &join, 60, flags).expect("worker");
        let log = workers.log_path(0);
        wait_until(
            &format!("the worker logs that it is refused: {why}"),
            DEADLINE,
            POLL,
            || {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let found = text.contains("a master refused this worker") && text.contains(&why);
                async move { found }
            },
        )
        .await
        .expect("the refusal is logged");
        bad.push(workers);
    }
    let view = workers_view(&join).await.expect("list-member");
    assert!(view.is_empty(), "no refused worker is registered: {view:?}");

    let good = Workers::start_tls(1, &join, 60, Some(c.cluster.flags(&c.worker))).expect("worker");
    wait_worker_stage(&join, "worker1", "free", DEADLINE)
        .await
        .expect("the worker with the cluster's certificate registers");
    let view = workers_view(&join).await.expect("list-member");
    assert_eq!(view.len(), 1, "{view:?}");
    drop(good);
    drop(bad);
}
