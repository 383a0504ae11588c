//! dm-master's `GET /metrics` over real processes: every master exports
//! its Raft view, only the leader the cluster's families, and a leader
//! kill shows in the survivors' counters; a worker that dies shows offline
//! and its lease expiry is counted. With TLS, only a client whose
//! certificate the master accepts gets them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use dm_tests::certs::{CertDir, CertFiles};
use dm_tests::cluster::{create_source, wait_bound, MasterTls, Masters, Workers};
use dm_tests::prometheus::fetch_metrics;
use dm_tests::{find_program, http_get, wait_until, MariaDb, MariaDbOptions};

const DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// One scrape: `name{labels}` (labels as written) -> value.
#[derive(Debug, Clone)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .filter_map(|l| {
                    let (series, value) = l.rsplit_once(' ')?;
                    Some((series.to_string(), value.parse().ok()?))
                })
                .collect(),
        )
    }

    /// The value of the series `series` (`name` or `name{label="v",...}`).
    fn get(&self, series: &str) -> Option<f64> {
        self.0.get(series).copied()
    }

    /// The value of an unlabelled `name`, or a message naming it.
    fn value(&self, name: &str) -> Result<f64, String> {
        self.get(name)
            .ok_or_else(|| format!("no {name} in {:?}", self.0))
    }

    /// Whether any series of family `name` is exported.
    fn has_family(&self, name: &str) -> bool {
        self.0
            .keys()
            .any(|k| k == name || k.starts_with(&format!("{name}{{")))
    }
}

/// `GET /metrics` on `addr`, checked to be a 200 in Prometheus's text format.
/// Two workers' states, the bound sources and the lease expiries.
type WorkersShown = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);

fn workers_shown(s: &Scrape, first: &str, second: &str) -> WorkersShown {
    (
        s.get(first),
        s.get(second),
        s.get("dm_master_bindings"),
        s.get("dm_master_worker_lease_expiries_total"),
    )
}

async fn scrape(addr: &str) -> Result<Scrape, String> {
    Ok(Scrape::parse(&fetch_metrics(addr).await?))
}

/// Scrapes of the masters `indexes` (by index), once each answers.
async fn scrape_all(masters: &Masters, indexes: &[usize]) -> Result<Vec<Scrape>, String> {
    let mut scrapes = Vec::new();
    for &i in indexes {
        let addr = masters.spec(i).ok_or("no such master")?.client_addr();
        scrapes.push(scrape(&addr).await?);
    }
    Ok(scrapes)
}

const WORKER_STATE: &str = "dm_master_worker_state{worker=\"worker1\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masters_export_raft_and_cluster_metrics_and_a_failover_shows() {
    let mut masters = Masters::start(3).expect("masters");
    let addrs = masters.client_addrs();
    let leader = masters.leader(DEADLINE).await.expect("leader");
    let leader_i = masters.index_of(&leader).expect("a started master");
    let _workers = Workers::start(1, &addrs, 60).expect("worker");

    // The leader says so, the others do not; one term, three voters; only
    // the leader exports the registered worker (free: DM's 1).
    let all = [0, 1, 2];
    let before = wait_until("every master exports its view", DEADLINE, POLL, || {
        let masters = &masters;
        async move {
            let scrapes = scrape_all(masters, &all).await?;
            let mut terms = Vec::new();
            for (i, s) in scrapes.iter().enumerate() {
                let leading = s.value("dm_master_raft_is_leader")?;
                if leading != f64::from(u8::from(i == leader_i)) {
                    return Err(format!("master {i}: is_leader {leading}"));
                }
                if s.value("dm_master_raft_voters")? != 3.0 {
                    return Err(format!(
                        "master {i}: voters {:?}",
                        s.get("dm_master_raft_voters")
                    ));
                }
                if s.value("dm_master_raft_applied_index")? < 1.0 {
                    return Err(format!("master {i}: nothing applied"));
                }
                terms.push(s.value("dm_master_raft_term")?);
                if i == leader_i {
                    if s.get(WORKER_STATE) != Some(1.0) {
                        return Err(format!(
                            "leader: {WORKER_STATE} = {:?}",
                            s.get(WORKER_STATE)
                        ));
                    }
                    if s.value("dm_master_bindings")? != 0.0 {
                        return Err("leader: bindings without a source".to_string());
                    }
                } else if s.has_family("dm_master_worker_state")
                    || s.has_family("dm_master_bindings")
                {
                    return Err(format!("follower {i} exports leader-only families"));
                }
            }
            if terms.iter().any(|t| *t != terms[0] || *t < 1.0) {
                return Err(format!("terms differ: {terms:?}"));
            }
            Ok::<_, String>(scrapes)
        }
    })
    .await
    .expect("metrics before the failover");
    eprintln!("SCRAPE {:#?}", before[leader_i]);
    // Families every master exports from its start.
    for name in [
        "dm_master_start_leader_counter",
        "dm_master_raft_leader_changes_total",
        "dm_master_worker_lease_expiries_total",
        "dm_master_raft_commit_duration_seconds_count",
    ] {
        assert!(
            before.iter().all(|s| s.get(name).is_some()),
            "{name}: {before:?}"
        );
    }
    assert!(
        before[leader_i]
            .value("dm_master_raft_commit_duration_seconds_count")
            .expect("count")
            >= 1.0,
        "the worker's registration was a write on the leader"
    );
    assert!(
        before[leader_i]
            .value("dm_master_start_leader_counter")
            .expect("counter")
            >= 1.0
    );

    // SIGKILL the leader; a survivor takes over.
    masters.kill(leader_i).expect("kill");
    let survivors: Vec<usize> = all.iter().copied().filter(|i| *i != leader_i).collect();
    let new_leader = wait_until("a new leader", DEADLINE, POLL, || {
        let masters = &masters;
        let leader = &leader;
        async move {
            let name = masters.leader(POLL).await.map_err(|e| e.to_string())?;
            if &name == leader {
                return Err(format!("{name} still named leader"));
            }
            Ok::<_, String>(name)
        }
    })
    .await
    .expect("a new leader");
    let new_i = masters.index_of(&new_leader).expect("a started master");
    assert!(survivors.contains(&new_i));

    wait_until("the survivors show the failover", DEADLINE, POLL, || {
        let masters = &masters;
        let before = &before;
        let survivors = &survivors;
        let new_leader = &new_leader;
        async move {
            let scrapes = scrape_all(masters, survivors).await?;
            for (s, &i) in scrapes.iter().zip(survivors) {
                let changes = s.value("dm_master_raft_leader_changes_total")?;
                let changes_before = before[i].value("dm_master_raft_leader_changes_total")?;
                if changes <= changes_before {
                    return Err(format!(
                        "master {i}: leader changes {changes_before} -> {changes}"
                    ));
                }
                let leading = s.value("dm_master_raft_is_leader")? == 1.0;
                if leading != (i == new_i) {
                    return Err(format!(
                        "master {i}: is_leader {leading}, list-member names {new_leader}"
                    ));
                }
                if i == new_i {
                    let started = s.value("dm_master_start_leader_counter")?;
                    let started_before = before[i].value("dm_master_start_leader_counter")?;
                    if started <= started_before {
                        return Err(format!("new leader: started {started_before} -> {started}"));
                    }
                    if s.get(WORKER_STATE) != Some(1.0) {
                        return Err(format!(
                            "new leader: {WORKER_STATE} = {:?}",
                            s.get(WORKER_STATE)
                        ));
                    }
                } else if s.has_family("dm_master_worker_state") {
                    return Err(format!("follower {i} exports dm_master_worker_state"));
                }
            }
            let terms: Vec<f64> = scrapes
                .iter()
                .map(|s| s.value("dm_master_raft_term"))
                .collect::<Result<_, _>>()?;
            let old_term = before[new_i].value("dm_master_raft_term")?;
            if terms.iter().any(|t| *t != terms[0] || *t <= old_term) {
                return Err(format!("terms {terms:?} after {old_term}"));
            }
            Ok::<_, String>(())
        }
    })
    .await
    .expect("metrics after the failover");
}

/// `curl` over HTTPS with `cert` (or none): (HTTP status, body).
fn curl_https(addr: &str, ca: &Path, cert: Option<&CertFiles>) -> (String, String) {
    let curl = find_program("curl", "install curl").expect("curl");
    let mut cmd = std::process::Command::new(curl);
    cmd.args(["--silent", "--show-error", "--http1.1", "--max-time", "5"])
        .arg("--cacert")
        .arg(ca)
        .args(["--write-out", "\n%{http_code}"]);
    if let Some(cert) = cert {
        cmd.arg("--cert")
            .arg(&cert.cert)
            .arg("--key")
            .arg(&cert.key);
    }
    let output = cmd
        .arg(format!("https://{addr}/metrics"))
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_metrics_are_served_to_accepted_certificates_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CertDir::new(dir.path().join("ca"));
    let issue = |name: &str, cn: &str| ca.issue(name, cn).expect("certificate");
    let (master, dmctl, intruder) = (
        issue("master", "dm-master"),
        issue("dmctl", "dmctl"),
        issue("intruder", "intruder"),
    );
    let masters = Masters::start_tls(
        1,
        MasterTls {
            flags: ca.flags(&master),
            cert_allowed_cn: vec!["dm-master".into(), "dmctl".into()],
            dmctl: ca.flags(&dmctl),
        },
    )
    .expect("masters");
    masters.leader(DEADLINE).await.expect("leader");
    let addr = masters.client_addrs();

    let (status, body) = curl_https(&addr, &ca.ca(), Some(&dmctl));
    assert_eq!(status, "200", "{body}");
    assert_eq!(
        Scrape::parse(&body).get("dm_master_raft_is_leader"),
        Some(1.0),
        "{body}"
    );
    // A certificate outside cert-allowed-cn, none, or no TLS at all: no
    // metrics.
    for cert in [Some(&intruder), None] {
        let (_, body) = curl_https(&addr, &ca.ca(), cert);
        assert!(!body.contains("dm_master_"), "{cert:?}: {body}");
    }
    let plain = http_get(&addr, "/metrics").await.unwrap_or_default();
    assert!(!plain.contains("dm_master_"), "{plain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_worker_shows_offline_and_its_lease_expiry_is_counted() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let masters = Masters::start(1).expect("masters");
    masters.leader(DEADLINE).await.expect("leader");
    let addr = masters.client_addrs();
    let files = tempfile::tempdir().expect("tempdir");
    create_source(&addr, files.path(), "source-a", upstream.port())
        .await
        .expect("source created");
    let mut workers = Workers::start(2, &addr, 2).expect("workers");
    let bound = wait_bound(&addr, "source-a", None, DEADLINE)
        .await
        .expect("bound");
    let free = if bound == "worker1" {
        "worker2"
    } else {
        "worker1"
    };
    let state = |w: &str| format!("dm_master_worker_state{{worker=\"{w}\"}}");
    const EPOCH: &str = "dm_master_binding_epoch{source_id=\"source-a\"}";

    let first_epoch = wait_until("the binding shows", DEADLINE, POLL, || {
        let (addr, state, bound) = (&addr, &state, &bound);
        async move {
            let s = scrape(addr).await?;
            let shown = workers_shown(&s, &state(bound), &state(free));
            if shown != (Some(2.0), Some(1.0), Some(1.0), Some(0.0)) {
                return Err(format!("bound, free, bindings, expiries: {shown:?}"));
            }
            s.get(EPOCH).ok_or_else(|| format!("no {EPOCH}"))
        }
    })
    .await
    .expect("one source bound");

    workers
        .kill(workers.index_of(&bound).expect("ours"))
        .expect("kill");
    wait_until("the lease expiry shows", DEADLINE, POLL, || {
        let (addr, state, bound) = (&addr, &state, &bound);
        async move {
            let s = scrape(addr).await?;
            let shown = workers_shown(&s, &state(bound), &state(free));
            if shown != (Some(0.0), Some(2.0), Some(1.0), Some(1.0)) {
                return Err(format!("dead, other, bindings, expiries: {shown:?}"));
            }
            match s.get(EPOCH) {
                Some(epoch) if epoch > first_epoch => Ok(()),
                epoch => Err(format!("{EPOCH} {epoch:?} after {first_epoch}")),
            }
        }
    })
    .await
    .expect("the source moved, once counted");
}
