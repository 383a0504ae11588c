//! Passwords written encrypted the way DM's `dmctl encrypt` writes them
//! log in, over real processes; `dmctl decrypt` reverses `dmctl encrypt`;
//! plaintext passwords keep working beside them, and are found nowhere in
//! plaintext afterwards: not in any master's data dir (Raft log,
//! snapshots, state), not in the masters' or workers' files and logs, not
//! in the downstream's `dm_meta`.

use dm_tests::cluster::create_source_from;
use dm_tests::scenario::{masters, upstream_and_downstream};
use dm_tests::secrets::{app_task, assert_in_no_file, assert_not_in_dm_meta, files_under, Login};
use dm_tests::tutorial::run_sql;

/// `123456` as DM's algorithm encrypts it under DM's key with the IV
/// 00 01 .. 0f (computed with `openssl enc -aes-256-cfb`; see
/// `dm_proto::secret`).
const DM_ENCRYPTED_123456: &str = "AAECAwQFBgcICQoLDA0OD0AQo3le16c=";

async fn dmctl_text(args: &[&str]) -> String {
    let (text, ok) = dm_tests::secrets::dmctl_text(args).await;
    assert!(ok, "dmctl {args:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dms_encrypted_passwords_log_in_to_the_upstream_and_the_downstream() {
    // dmctl's own round trip.
    let encrypted = dmctl_text(&["encrypt", "s3cret pass"]).await;
    assert_ne!(encrypted, "s3cret pass");
    assert_eq!(dmctl_text(&["decrypt", &encrypted]).await, "s3cret pass");
    assert_eq!(
        dmctl_text(&["decrypt", DM_ENCRYPTED_123456]).await,
        "123456"
    );

    let (upstream, downstream) = upstream_and_downstream(&[]).await.expect("servers");
    let users = [
        "CREATE USER 'dm'@'%' IDENTIFIED BY '123456'",
        "GRANT ALL PRIVILEGES ON *.* TO 'dm'@'%'",
        &format!("CREATE USER 'plain'@'%' IDENTIFIED BY '{UPSTREAM_PLAIN}'"),
        "GRANT ALL PRIVILEGES ON *.* TO 'plain'@'%'",
        &format!("CREATE USER 'plain_down'@'%' IDENTIFIED BY '{DOWNSTREAM_PLAIN}'"),
        "GRANT ALL PRIVILEGES ON *.* TO 'plain_down'@'%'",
    ];
    run_sql(&upstream, &users).await.expect("upstream users");
    run_sql(&downstream, &users)
        .await
        .expect("downstream users");
    run_sql(
        &upstream,
        &[
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO app.t VALUES (1, 'copied')",
        ],
    )
    .await
    .expect("upstream data");

    let (masters, addrs) = masters().await.expect("masters");
    let dir = tempfile::tempdir().expect("tempdir");
    // A DM-encrypted password logs in (the master checks the upstream).
    let encrypted_source = format!(
        "source-id: mysql9\nfrom:\n  host: 127.0.0.1\n  port: {}\n  user: dm\n  password: \"{DM_ENCRYPTED_123456}\"\n",
        upstream.port()
    );
    create_source_from(&addrs, dir.path(), "mysql9", &encrypted_source)
        .await
        .expect("the master logs in with the decrypted password");
    // The migrated source and the task give theirs in plaintext.
    let workers = app_task(
        &addrs,
        dir.path(),
        "secret",
        (
            &upstream,
            Login {
                user: "plain",
                password: UPSTREAM_PLAIN,
            },
        ),
        (
            &downstream,
            Login {
                user: "plain_down",
                password: DOWNSTREAM_PLAIN,
            },
        ),
    )
    .await
    .expect("plaintext passwords log in; rows arrive");

    // Nowhere in plaintext.
    let mut files = files_under(masters.dir());
    let workers_dir = workers.log_path(0);
    files.extend(files_under(workers_dir.parent().expect("the workers' dir")));
    assert!(files.len() > 5, "{files:?}");
    assert_in_no_file(&files, &[UPSTREAM_PLAIN, DOWNSTREAM_PLAIN]);
    assert_not_in_dm_meta(&downstream, &[UPSTREAM_PLAIN, DOWNSTREAM_PLAIN]).await;
}

const UPSTREAM_PLAIN: &str = "up-secret-7";
const DOWNSTREAM_PLAIN: &str = "down-secret-9";
