//! What the daemons write is their owner's alone: every directory a master
//! creates under its data dir is 0700 and every file 0600 (the Raft log,
//! snapshots and state hold every source's and task's settings).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use dm_tests::cluster::{create_source, Masters};
use dm_tests::{MariaDb, MariaDbOptions};

/// Every (path, mode) under `dir`, `dir` included.
fn modes(dir: &Path, out: &mut Vec<(String, u32)>) {
    let mode = std::fs::metadata(dir)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    out.push((dir.display().to_string(), mode));
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            modes(&path, out);
        } else {
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777;
            out.push((path.display().to_string(), mode));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_masters_data_dir_is_its_owners_alone() {
    let upstream = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("upstream");
    let masters = Masters::start(3).expect("masters");
    let addrs = masters.client_addrs();
    masters
        .leader(Duration::from_secs(20))
        .await
        .expect("leader");
    create_source(&addrs, masters.dir(), "mysql1", upstream.port())
        .await
        .expect("a source in the Raft log");
    let mut found = Vec::new();
    for i in 0..masters.len() {
        let name = &masters.spec(i).expect("spec").name;
        modes(&masters.dir().join(format!("{name}.data")), &mut found);
    }
    assert!(found.len() > 3, "the data dirs hold files: {found:?}");
    let open: Vec<_> = found
        .iter()
        .filter(|(path, mode)| {
            let wanted = if Path::new(path).is_dir() {
                0o700
            } else {
                0o600
            };
            *mode != wanted
        })
        .collect();
    assert!(open.is_empty(), "readable by others: {open:?}");
}
