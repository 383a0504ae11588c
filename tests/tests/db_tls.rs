//! TLS to the databases over real processes: two upstreams and one
//! downstream that refuse logins without TLS (`require_secure_transport=ON`,
//! certificates from `scripts/make-certs.sh`).
//!
//! - Sources with `from.security` and a task with
//!   `target-database.security` pass `check-task`, copy, sync new rows and
//!   `check-diff` finds every row equal; one source verifies the server by
//!   `ssl-ca` alone, the other and the downstream also log in with a client
//!   certificate (`ssl-cert`, `ssl-key`) as a user created `REQUIRE X509`.
//! - Without `security`, `operate-source create` and `check-task` fail
//!   saying the server wants TLS and to set `security` with `ssl-ca`; a file
//!   that cannot be read is named with its key; a CA that did not sign the
//!   server's certificate fails the handshake.
//! - On the worker: a subtask whose downstream starts wanting TLS, and one
//!   whose `ssl-ca` file is gone, pause with those same errors in
//!   `query-status`.

use std::path::Path;
use std::time::Duration;

use dm_tests::certs::CertDir;
use dm_tests::check_answer::{problems, FAILED};
use dm_tests::cluster::{create_source_from, dmctl, subtasks_of, wait_bound, Masters, Workers};
use dm_tests::mariadb::ServerTls;
use dm_tests::scenario::query_rows;
use dm_tests::tutorial::run_sql;
use dm_tests::{wait_until, Check, MariaDb, MariaDbOptions};

const DEADLINE: Duration = Duration::from_secs(60);

/// What the error of a plain login to a TLS-only server says.
const WANTS_TLS: &str = "accepts this user only over TLS";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// A `security` block's lines at `indent`.
fn security(indent: &str, ca: &Path, client: Option<(&Path, &Path)>) -> String {
    let mut text = format!(
        "{indent}security:\n{indent}  ssl-ca: \"{}\"\n",
        ca.display()
    );
    if let Some((cert, key)) = client {
        text.push_str(&format!(
            "{indent}  ssl-cert: \"{}\"\n{indent}  ssl-key: \"{}\"\n",
            cert.display(),
            key.display()
        ));
    }
    text
}

fn source(id: &str, port: u16, user: &str, security: &str) -> String {
    format!("source-id: {id}\nfrom:\n  host: 127.0.0.1\n  port: {port}\n  user: {user}\n{security}")
}

/// A task of both sources selecting `dbs`, into `port` as `user`.
fn task(name: &str, dbs: &str, port: u16, user: &str, security: &str) -> String {
    format!(
        "name: {name}\ntask-mode: all\ntarget-database:\n  host: \"127.0.0.1\"\n  port: {port}\n  user: \"{user}\"\n{security}mysql-instances:\n  - source-id: \"mysql1\"\n    block-allow-list: \"sel\"\n  - source-id: \"mysql2\"\n    block-allow-list: \"sel\"\nblock-allow-list:\n  sel:\n    do-dbs: [{dbs}]\n"
    )
}

async fn rows_equal(up: &[&MariaDb], down: &MariaDb, tables: &[&str], want: usize) {
    wait_until(
        &format!("{tables:?} equal downstream"),
        DEADLINE,
        Duration::from_millis(50),
        || async move {
            let mut total = 0;
            for (server, table) in up.iter().zip(tables) {
                let sql = format!("SELECT id, v FROM {table} ORDER BY id");
                let upstream = query_rows(server, &sql).await;
                let downstream = query_rows(down, &sql).await;
                if upstream != downstream {
                    return Check::Pending(format!("{table}: {downstream:?} vs {upstream:?}"));
                }
                total += upstream.len();
            }
            if total == want {
                Check::Ready(())
            } else {
                Check::Pending(format!("{total} rows, want {want}"))
            }
        },
    )
    .await
    .expect("rows equal");
}

/// Waits until a subtask of `task` is paused with an error holding `text`;
/// the error.
async fn paused_with(addrs: &str, task: &str, text: &str) -> String {
    wait_until(
        &format!("{task} paused with {text:?}"),
        DEADLINE,
        Duration::from_millis(100),
        || async move {
            let answer = dmctl(addrs, &["query-status", task]).await.ok()?;
            subtasks_of(&answer, task)
                .into_iter()
                .filter(|(_, t)| t["stage"] == "Paused")
                .map(|(_, t)| t["result"]["errors"].to_string())
                .find(|e| e.contains(text))
        },
    )
    .await
    .expect("paused with the error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copy_sync_checks_and_check_diff_run_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = CertDir::new(dir.path().join("certs"));
    let server = certs
        .issue("mariadb", "mariadb")
        .expect("server certificate");
    let client = certs.issue("dm", "dm").expect("client certificate");
    let ca = certs.ca();
    let tls = ServerTls {
        ca: ca.clone(),
        cert: server.cert.clone(),
        key: server.key.clone(),
    };
    let mut servers =
        MariaDb::start_many(3, |i| MariaDbOptions::new(i as u32 + 1).tls(tls.clone()))
            .await
            .expect("TLS servers");
    let downstream = servers.pop().expect("downstream");
    let up2 = servers.pop().expect("upstream 2");
    let up1 = servers.pop().expect("upstream 1");

    let x509_user = [
        "CREATE USER 'dm'@'%' REQUIRE X509",
        "GRANT ALL PRIVILEGES ON *.* TO 'dm'@'%'",
    ];
    for server in [&up1, &up2, &downstream] {
        run_sql(server, &x509_user).await.expect("user dm");
    }
    for (server, db, first) in [(&up1, "app1", 1), (&up2, "app2", 101)] {
        let mut sql = vec![
            format!("CREATE DATABASE {db}"),
            format!("CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))"),
            "CREATE DATABASE other".to_string(),
            "CREATE TABLE other.t (id INT PRIMARY KEY, v VARCHAR(20))".to_string(),
        ];
        for id in first..first + 30 {
            sql.push(format!("INSERT INTO {db}.t VALUES ({id}, 'copied {id}')"));
        }
        let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
        run_sql(server, &sql).await.expect("upstream data");
    }

    let masters = Masters::start(1).expect("master");
    masters.leader(DEADLINE).await.expect("leader");
    let addrs = masters.client_addrs();
    let files = dir.path();

    // A source without `security`: the master says the server wants TLS.
    let file = write(
        files,
        "plain.yaml",
        &source("mysql1", up1.port(), "root", ""),
    );
    let answer = dmctl(&addrs, &["operate-source", "create", &file])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");
    let text = answer.to_string();
    println!("a source without security: {answer}");
    assert!(text.contains(WANTS_TLS), "{answer}");
    assert!(
        text.contains("set `from.security` with `ssl-ca`"),
        "{answer}"
    );
    // An `ssl-ca` that cannot be read is named with its key.
    let missing = files.join("no-such-ca.pem");
    let file = write(
        files,
        "missing.yaml",
        &source(
            "mysql1",
            up1.port(),
            "root",
            &security("  ", &missing, None),
        ),
    );
    let answer = dmctl(&addrs, &["operate-source", "create", &file])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer.to_string().contains(&format!(
            "`from.security.ssl-ca` names {}, which cannot be read",
            missing.display()
        )),
        "{answer}"
    );
    // A CA that did not sign the server's certificate: the handshake fails,
    // named as TLS.
    let stranger = CertDir::new(files.join("stranger"));
    stranger.issue("other", "other").expect("a stranger CA");
    let file = write(
        files,
        "stranger.yaml",
        &source(
            "mysql1",
            up1.port(),
            "root",
            &security("  ", &stranger.ca(), None),
        ),
    );
    let answer = dmctl(&addrs, &["operate-source", "create", &file])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");
    println!("a stranger CA: {answer}");
    assert!(
        answer.to_string().contains(&format!(
            "TLS to 127.0.0.1:{} failed (`from.security`)",
            up1.port()
        )),
        "{answer}"
    );
    // `ssl-cert` without `ssl-key` is a configuration error naming the key.
    let file = write(
        files,
        "half.yaml",
        &format!(
            "{}    ssl-cert: \"{}\"\n",
            source("mysql1", up1.port(), "root", "  security:\n"),
            client.cert.display()
        ),
    );
    let answer = dmctl(&addrs, &["operate-source", "create", &file])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");
    assert!(
        answer.to_string().contains("from.security.ssl-key"),
        "{answer}"
    );

    // mysql1: the server verified against the CA; mysql2: and a client
    // certificate for the REQUIRE X509 user.
    let client_files = Some((client.cert.as_path(), client.key.as_path()));
    create_source_from(
        &addrs,
        files,
        "mysql1",
        &source("mysql1", up1.port(), "root", &security("  ", &ca, None)),
    )
    .await
    .expect("mysql1 over TLS");
    create_source_from(
        &addrs,
        files,
        "mysql2",
        &source(
            "mysql2",
            up2.port(),
            "dm",
            &security("  ", &ca, client_files),
        ),
    )
    .await
    .expect("mysql2 over TLS with a client certificate");
    let _workers = Workers::start(2, &addrs, 2).expect("workers");
    for id in ["mysql1", "mysql2"] {
        wait_bound(&addrs, id, None, DEADLINE).await.expect("bound");
    }

    // The task without `security` on the downstream fails its check.
    let plain = write(
        files,
        "plain-task.yaml",
        &task("plain", "\"other\"", downstream.port(), "root", ""),
    );
    let answer = dmctl(&addrs, &["check-task", &plain])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");
    assert_eq!(answer["msg"], FAILED, "{answer}");
    let failures = problems(&answer, "fail").join("\n");
    println!("check-task without security: {failures}");
    assert!(failures.contains(WANTS_TLS), "{answer}");
    assert!(
        failures.contains("set `target-database.security` with `ssl-ca`"),
        "{answer}"
    );
    let answer = dmctl(&addrs, &["start-task", &plain])
        .await
        .expect("answers");
    assert_eq!(answer["result"], false, "{answer}");

    // Over TLS: checked, copied, synced, compared.
    let secure = write(
        files,
        "tls.yaml",
        &task(
            "tls",
            "\"app1\", \"app2\"",
            downstream.port(),
            "dm",
            &security("  ", &ca, client_files),
        ),
    );
    let answer = dmctl(&addrs, &["check-task", &secure])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    let answer = dmctl(&addrs, &["start-task", &secure])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    let tables = ["app1.t", "app2.t"];
    rows_equal(&[&up1, &up2], &downstream, &tables, 60).await;
    run_sql(&up1, &["INSERT INTO app1.t VALUES (31, 'synced 31')"])
        .await
        .expect("a new row");
    run_sql(
        &up2,
        &[
            "INSERT INTO app2.t VALUES (131, 'synced 131')",
            "UPDATE app2.t SET v = 'updated' WHERE id = 101",
        ],
    )
    .await
    .expect("new rows");
    rows_equal(&[&up1, &up2], &downstream, &tables, 62).await;
    let diff = dmctl(&addrs, &["check-diff", "tls"])
        .await
        .expect("check-diff answers");
    assert_eq!(diff["result"], true, "{diff}");
    assert_eq!(diff["rowsCompared"], 62, "{diff}");
    assert_eq!(diff["rowsDiffering"], 0, "{diff}");
    println!("check-diff over TLS: {diff}");

    // On the worker: a task whose downstream starts wanting TLS after it
    // was checked pauses with the same words.
    run_sql(&downstream, &["SET GLOBAL require_secure_transport = OFF"])
        .await
        .expect("plain logins allowed");
    let answer = dmctl(&addrs, &["start-task", &plain])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    let answer = dmctl(&addrs, &["pause-task", "plain"])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    run_sql(&downstream, &["SET GLOBAL require_secure_transport = ON"])
        .await
        .expect("TLS required again");
    let answer = dmctl(&addrs, &["resume-task", "plain"])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    let error = paused_with(&addrs, "plain", WANTS_TLS).await;
    println!("query-status: {error}");
    assert!(
        error.contains("set `target-database.security` with `ssl-ca`"),
        "{error}"
    );
    // And one whose `ssl-ca` is gone names the key and the file.
    let ca_copy = files.join("ca-copy.pem");
    std::fs::copy(&ca, &ca_copy).expect("copy the CA");
    let copy_task = write(
        files,
        "copy.yaml",
        &task(
            "tls_copy",
            "\"other\"",
            downstream.port(),
            "dm",
            &security("  ", &ca_copy, client_files),
        ),
    );
    let answer = dmctl(&addrs, &["start-task", &copy_task])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    let answer = dmctl(&addrs, &["pause-task", "tls_copy"])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    std::fs::remove_file(&ca_copy).expect("remove the CA copy");
    let answer = dmctl(&addrs, &["resume-task", "tls_copy"])
        .await
        .expect("answers");
    assert_eq!(answer["result"], true, "{answer}");
    let error = paused_with(
        &addrs,
        "tls_copy",
        &format!(
            "`target-database.security.ssl-ca` names {}, which cannot be read",
            ca_copy.display()
        ),
    )
    .await;
    println!("query-status: {error}");
    // The TLS task kept replicating throughout.
    run_sql(&up1, &["INSERT INTO app1.t VALUES (32, 'synced 32')"])
        .await
        .expect("one more row");
    rows_equal(&[&up1, &up2], &downstream, &tables, 63).await;
}
