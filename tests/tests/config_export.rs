//! `config export` of the tutorial's cluster (3 masters, 3 sources, both
//! tasks, dmtask2 paused on two of its sources) and `config import` into a
//! fresh cluster (new masters and workers, the same upstreams and
//! downstream): both tasks back in their stages per source (a paused
//! subtask never runs), nothing copied again (the copy's done-marks untouched),
//! the rows written while no cluster ran arrive, and the downstream equals
//! the upstreams row for row. Passwords are exported encrypted (never as
//! written) and import logs in with them. On the way: a masked password
//! (an older export's) and a non-empty cluster are refused, and the batch `pause|resume|stop-task -s` form and
//! `shard-ddl-lock` answer in DM's shapes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use dm_tests::cluster::{dmctl, wait_syncing, Workers};
use dm_tests::scenario::{query_rows, TutorialCluster};
use dm_tests::tutorial::{self, partition_id, Row};
use dm_tests::MariaDb;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(90);
const DOWNSTREAM_PASSWORD: &str = "downstream-secret";

/// Runs dmctl; its stdout and whether it exited 0.
async fn dmctl_text(addrs: &str, args: &[&str]) -> (String, bool) {
    let binary = dm_tests::workspace_binary("dmctl").expect("dmctl built");
    let output = tokio::process::Command::new(binary)
        .arg("--master-addr")
        .arg(addrs)
        .args(args)
        .env_remove("DM_MASTER_ADDR")
        .output()
        .await
        .expect("dmctl runs");
    (
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string(),
        output.status.success(),
    )
}

/// The tutorial's task file `name`, writing to the downstream as user `dm`
/// with a password (which export masks).
fn task_file(dir: &Path, name: &str, downstream_port: u16) -> String {
    let path = tutorial::task_file(dir, name, downstream_port, "all").expect("task file");
    let text = std::fs::read_to_string(&path).expect("read");
    let text = text.replace(
        "user: \"root\"\n  password: \"\"",
        &format!("user: \"dm\"\n  password: \"{DOWNSTREAM_PASSWORD}\""),
    );
    assert!(text.contains(DOWNSTREAM_PASSWORD), "{text}");
    std::fs::write(&path, text).expect("write");
    path
}

/// dmtest2.t1 as dmtask2 writes it downstream: each upstream's ids through
/// its `partition id` mapping (instance 1..3).
async fn mapped_dmtest2(upstreams: &[MariaDb]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, server) in upstreams.iter().enumerate() {
        let instance = i as u64 + 1;
        for (id, c, port) in tutorial::rows(server, "dmtest2").await.expect("rows") {
            rows.push((partition_id(instance, id), c, port));
        }
    }
    rows.sort();
    rows
}

/// The copy's plan and done-marks of `task` (who copied each chunk, when).
async fn copy_marks(downstream: &MariaDb, task: &str) -> Vec<Vec<mysql_async::Value>> {
    query_rows(
        downstream,
        &format!(
            "SELECT source_id, cp_table, chunk_index, done, copied_rows, epoch, update_time \
             FROM dm_meta.{task}_copy_chunk ORDER BY source_id, cp_table, chunk_index"
        ),
    )
    .await
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// `count` new rows in `schema`.t1 of every upstream, with the data set's
/// auto-increment settings (dmtest1: the servers', non-overlapping;
/// dmtest2: 1, the same ids everywhere).
async fn insert_rows(upstreams: &[MariaDb], schema: &str, count: usize) {
    let increment = if schema == "dmtest2" {
        "set auto_increment_increment=1, auto_increment_offset=1"
    } else {
        "do 0"
    };
    let values = vec!["()"; count].join(",");
    for server in upstreams {
        tutorial::run_sql(
            server,
            &[
                increment,
                &format!("insert into {schema}.t1 values {values}"),
                &format!("update {schema}.t1 set c=md5(id), port=@@port where c is null"),
            ],
        )
        .await
        .expect("upstream rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exported_cluster_is_imported_into_a_fresh_one_and_resumes_where_it_was() {
    let mut old = TutorialCluster::start(&[tutorial::DMTEST1_SQL, tutorial::DMTEST2_SQL])
        .await
        .expect("tutorial cluster");
    let downstream = &old.dbs.downstream;
    tutorial::run_sql(
        downstream,
        &[
            &format!("CREATE USER 'dm'@'%' IDENTIFIED BY '{DOWNSTREAM_PASSWORD}'"),
            "GRANT ALL PRIVILEGES ON *.* TO 'dm'@'%'",
        ],
    )
    .await
    .expect("downstream user");
    let work = tempfile::tempdir().expect("tempdir");
    for name in ["dmtask1.yaml", "dmtask2.yaml"] {
        let file = task_file(work.path(), name, downstream.port());
        let started = dmctl(&old.addrs, &["start-task", &file])
            .await
            .expect("answers");
        assert_eq!(started["result"], true, "{started}");
    }
    wait_syncing(&old.addrs, "dmtask1", DEADLINE)
        .await
        .expect("dmtask1 syncing");
    wait_syncing(&old.addrs, "dmtask2", DEADLINE)
        .await
        .expect("dmtask2 syncing");
    let merged1 = tutorial::merged_rows(&old.dbs.upstreams, "dmtest1")
        .await
        .expect("rows");
    tutorial::wait_task_rows(
        &old.addrs, "dmtask1", downstream, "dmtest1", &merged1, DEADLINE,
    )
    .await
    .expect("dmtest1 copied");
    let mapped2 = mapped_dmtest2(&old.dbs.upstreams).await;
    tutorial::wait_task_rows(
        &old.addrs, "dmtask2", downstream, "dmtest2", &mapped2, DEADLINE,
    )
    .await
    .expect("dmtest2 copied");
    // A worker of the old cluster restarted once: its source was bound
    // again, under a newer epoch, which its fence rows downstream keep.
    let restarted = dm_tests::cluster::bound_worker(&old.addrs, "mysql3")
        .await
        .expect("answers")
        .expect("mysql3 bound");
    let index = old.workers.index_of(&restarted).expect("a worker");
    old.workers.kill(index).expect("killed");
    dm_tests::cluster::wait_worker_stage(&old.addrs, &restarted, "offline", DEADLINE)
        .await
        .expect("offline");
    old.workers.spawn(index).expect("restarted");
    dm_tests::cluster::wait_bound(&old.addrs, "mysql3", None, DEADLINE)
        .await
        .expect("bound again");
    for task in ["dmtask1", "dmtask2"] {
        wait_syncing(&old.addrs, task, DEADLINE)
            .await
            .expect("syncing again");
    }
    let paused = dmctl(
        &old.addrs,
        &["pause-task", "dmtask2", "-s", "mysql1,mysql2"],
    )
    .await
    .expect("answers");
    assert_eq!(paused["result"], true, "{paused}");
    wait_stages(&old.addrs, "dmtask2", ["Paused", "Paused", "Running"]).await;

    // Export.
    let export = work.path().join("export");
    let export_arg = export.display().to_string();
    let (out, ok) = dmctl_text(&old.addrs, &["config", "export", "-d", &export_arg]).await;
    assert!(ok, "{out}");
    assert_eq!(
        out,
        format!(
            "export configs to directory `{export_arg}` succeed\n{}: tasks/dmtask1.yaml: target-database.password, tasks/dmtask2.yaml: target-database.password",
            dm_proto::config::manifest::PASSWORDS_ENCRYPTED
        )
    );
    for dir in ["", "sources", "tasks"] {
        assert_eq!(mode(&export.join(dir)), 0o700, "{dir}");
    }
    for file in [
        "manifest.yaml",
        "sources/mysql1.yaml",
        "sources/mysql2.yaml",
        "sources/mysql3.yaml",
        "tasks/dmtask1.yaml",
        "tasks/dmtask2.yaml",
    ] {
        assert_eq!(mode(&export.join(file)), 0o600, "{file}");
    }
    let manifest_text = std::fs::read_to_string(export.join("manifest.yaml")).expect("manifest");
    let manifest = dm_proto::config::manifest::Manifest::parse("manifest.yaml", &manifest_text)
        .expect("manifest reads");
    assert!(manifest.masked_passwords.is_empty());
    assert_eq!(
        manifest.encrypted_passwords,
        [
            "tasks/dmtask1.yaml: target-database.password",
            "tasks/dmtask2.yaml: target-database.password"
        ]
    );
    for task in ["dmtask1", "dmtask2"] {
        let text =
            std::fs::read_to_string(export.join(format!("tasks/{task}.yaml"))).expect("read");
        assert!(!text.contains(DOWNSTREAM_PASSWORD), "{text}");
        let config = dm_proto::config::TaskConfig::parse(task, &text).expect("reads");
        assert_eq!(config.target_database.login_password(), DOWNSTREAM_PASSWORD);
    }
    let stages: Vec<(String, Vec<String>)> = manifest
        .tasks
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.stages.values().map(|s| format!("{s:?}")).collect(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            ("dmtask1".to_string(), vec!["Running".to_string(); 3]),
            (
                "dmtask2".to_string(),
                vec!["Paused".into(), "Paused".into(), "Running".into()]
            ),
        ]
    );
    // A second export never mixes into an earlier one.
    let (out, ok) = dmctl_text(&old.addrs, &["config", "export", "-d", &export_arg]).await;
    assert!(!ok, "{out}");
    assert_eq!(
        out,
        format!("directory `{export_arg}` is not empty; export into a new or empty directory (-d), so no older export's files mix in")
    );
    let exported_task =
        std::fs::read_to_string(export.join("tasks/dmtask1.yaml")).expect("task file");
    assert!(
        !exported_task.contains(DOWNSTREAM_PASSWORD),
        "{exported_task}"
    );
    assert!(!exported_task.contains("******"), "{exported_task}");

    // The old cluster goes away; the upstreams go on.
    let copied1 = copy_marks(downstream, "dmtask1").await;
    let copied2 = copy_marks(downstream, "dmtask2").await;
    assert!(!copied1.is_empty() && !copied2.is_empty());
    let TutorialCluster {
        dbs,
        masters,
        workers,
        dir: _old_dir,
        ..
    } = old;
    drop(workers);
    drop(masters);
    let downstream = &dbs.downstream;
    insert_rows(&dbs.upstreams, "dmtest1", 3).await;
    insert_rows(&dbs.upstreams, "dmtest2", 2).await;

    // A fresh cluster.
    let (_masters, addrs) = dm_tests::scenario::masters().await.expect("masters");
    let _workers = Workers::start(3, &addrs, 2).expect("workers");

    // Masked passwords (as an older export wrote them) are refused, naming
    // file, line and key; nothing is created.
    let mut exported_texts = Vec::new();
    for task in ["dmtask1", "dmtask2"] {
        let path = export.join(format!("tasks/{task}.yaml"));
        let text = std::fs::read_to_string(&path).expect("read");
        let config = dm_proto::config::TaskConfig::parse(task, &text).expect("reads");
        let masked = text.replace(&config.target_database.password, "'******'");
        assert_ne!(masked, text);
        std::fs::write(&path, masked).expect("write");
        exported_texts.push((path, text));
    }
    let (out, ok) = dmctl_text(&addrs, &["config", "import", "-d", &export_arg]).await;
    assert!(!ok, "{out}");
    let masked_at = |task: &str| {
        let line = exported_task_line(&export, task);
        format!(
            "{export_arg}/tasks/{task}.yaml:{line}:3: `target-database.password`: is masked (******), as `config export` writes passwords; write the real password here before import"
        )
    };
    assert_eq!(
        out,
        format!(
            "{}\n{}\nnothing was imported",
            masked_at("dmtask1"),
            masked_at("dmtask2")
        )
    );
    let shown = dmctl(&addrs, &["operate-source", "show"])
        .await
        .expect("answers");
    assert_eq!(shown["sources"], json!([]), "{shown}");

    // With the exported (encrypted) passwords, import recreates everything.
    for (path, text) in exported_texts {
        std::fs::write(&path, text).expect("write");
    }
    let (out, ok) = dmctl_text(&addrs, &["config", "import", "-d", &export_arg]).await;
    assert!(ok, "{out}");
    assert_eq!(
        out,
        format!(
            "start creating sources\nstart creating tasks\ntask `dmtask2` started paused on mysql1, mysql2 as exported\nimport configs from directory `{export_arg}` succeed"
        )
    );
    wait_syncing(&addrs, "dmtask1", DEADLINE)
        .await
        .expect("dmtask1 syncing again");
    let status = wait_stages(&addrs, "dmtask2", ["Paused", "Paused", "Running"]).await;
    for (source, subtask) in dm_tests::cluster::subtasks_of(&status, "dmtask2") {
        assert!(
            subtask["result"]["errors"]
                .as_array()
                .is_none_or(|e| e.is_empty()),
            "{source}: {subtask}"
        );
    }
    let merged1 = tutorial::merged_rows(&dbs.upstreams, "dmtest1")
        .await
        .expect("rows");
    assert_eq!(merged1.len(), 256 * 3 + 9);
    tutorial::wait_task_rows(&addrs, "dmtask1", downstream, "dmtest1", &merged1, DEADLINE)
        .await
        .expect("rows written while no cluster ran arrive");
    // dmtask2 runs on mysql3 only: mysql3's new rows arrive; mysql1's and
    // mysql2's subtasks started paused and never ran.
    let mut expected2: Vec<Row> = mapped_dmtest2(&dbs.upstreams)
        .await
        .into_iter()
        .filter(|r| r.0 >> 59 == 3)
        .chain(mapped2.iter().filter(|r| r.0 >> 59 != 3).cloned())
        .collect();
    expected2.sort();
    assert_eq!(expected2.len(), 256 * 3 + 2);
    tutorial::wait_rows(downstream, "dmtest2", &expected2, DEADLINE)
        .await
        .expect("dmtask2's rows from mysql3 only");
    // Nothing was copied again: every chunk's done-mark is the old cluster's.
    assert_eq!(copy_marks(downstream, "dmtask1").await, copied1);
    assert_eq!(copy_marks(downstream, "dmtask2").await, copied2);
    // The new cluster writes under epochs above every old one.
    let fences = query_rows(downstream, "SELECT epoch FROM dm_meta.dmtask1_fence").await;
    assert_eq!(fences.len(), 3);
    for row in &fences {
        let epoch: u64 = mysql_async::from_value(row[0].clone());
        assert!(
            epoch >= manifest.next_epoch,
            "{epoch} < {}",
            manifest.next_epoch
        );
    }

    // dmtask2's paused subtasks never ran: their sources' fence rows still
    // hold the old cluster's epochs; mysql3's holds the new cluster's.
    let fences = query_rows(
        downstream,
        "SELECT source_id, epoch FROM dm_meta.dmtask2_fence ORDER BY source_id",
    )
    .await;
    let fences: Vec<(String, bool)> = fences
        .iter()
        .map(|row| {
            let source: String = mysql_async::from_value(row[0].clone());
            let epoch: u64 = mysql_async::from_value(row[1].clone());
            (source, epoch >= manifest.next_epoch)
        })
        .collect();
    assert_eq!(
        fences,
        [
            ("mysql1".to_string(), false),
            ("mysql2".to_string(), false),
            ("mysql3".to_string(), true)
        ]
    );

    // Importing into a cluster that has sources and tasks is refused.
    let (out, ok) = dmctl_text(&addrs, &["config", "import", "-p", &export_arg]).await;
    assert!(!ok, "{out}");
    assert_eq!(
        out,
        "the cluster is not empty (sources: mysql1, mysql2, mysql3; tasks: dmtask1, dmtask2); import only into a cluster without sources and tasks, or stop them first (`stop-task`, `operate-source stop`)\nnothing was imported"
    );

    // `config task NAME` (get-config's later name), passwords masked.
    let shown = dmctl(&addrs, &["config", "task", "dmtask1"])
        .await
        .expect("answers");
    assert_eq!(shown["result"], true, "{shown}");
    assert!(
        shown["cfg"]
            .as_str()
            .is_some_and(|c| c.contains("'******'")),
        "{shown}"
    );

    let written = work.path().join("dmtask1.shown.yaml");
    let written_arg = written.display().to_string();
    let shown = dmctl(&addrs, &["config", "task", "dmtask1", "-p", &written_arg])
        .await
        .expect("answers");
    assert_eq!(
        shown,
        json!({"result": true, "msg": format!("write config to file {written_arg} succeed"), "cfg": ""})
    );
    assert_eq!(mode(&written), 0o600);
    let task = dm_proto::config::TaskConfig::from_file(&written).expect("a task file");
    assert_eq!(task.target_database.password, "******");

    // `shard-ddl-lock`: no lock; a bad --action gets DM's message.
    let locks = dmctl(&addrs, &["shard-ddl-lock"]).await.expect("answers");
    assert_eq!(locks["result"], true, "{locks}");
    assert_eq!(locks["locks"], json!([]), "{locks}");
    let refused = dmctl(
        &addrs,
        &[
            "shard-ddl-lock",
            "unlock",
            "dmtask1-`dmtest1`.`t1`",
            "-a",
            "drop",
        ],
    )
    .await
    .expect("answers");
    assert_eq!(
        refused,
        json!({"result": false, "msg": "please check --action argument, only exec/skip are acceptable"})
    );

    // Batch forms: every task of the given sources, restricted to them.
    let refused = dmctl(&addrs, &["pause-task"]).await.expect("answers");
    assert_eq!(
        refused,
        json!({"result": false, "msg": "must give one source-name when task-name/task-conf is not specified"})
    );
    let resumed = dmctl(&addrs, &["resume-task", "-s", "mysql1,mysql2,mysql3"])
        .await
        .expect("answers");
    assert_eq!(
        resumed,
        batch_answer(&addrs, "Resume", &["mysql1", "mysql2", "mysql3"]).await
    );
    wait_syncing(&addrs, "dmtask2", DEADLINE)
        .await
        .expect("dmtask2 resumed");
    let mapped2 = mapped_dmtest2(&dbs.upstreams).await;
    assert_eq!(mapped2.len(), 256 * 3 + 6);
    tutorial::wait_task_rows(&addrs, "dmtask2", downstream, "dmtest2", &mapped2, DEADLINE)
        .await
        .expect("dmtask2 resumes from its checkpoint");
    let paused = dmctl(&addrs, &["pause-task", "-s", "mysql2", "--batch-size", "1"])
        .await
        .expect("answers");
    assert_eq!(paused, batch_answer(&addrs, "Pause", &["mysql2"]).await);
    for task in ["dmtask1", "dmtask2"] {
        wait_stages(&addrs, task, ["Running", "Paused", "Running"]).await;
    }
    let stopped = dmctl(&addrs, &["stop-task", "-s", "mysql1,mysql2,mysql3"])
        .await
        .expect("answers");
    assert_eq!(
        stopped,
        batch_answer(&addrs, "Delete", &["mysql1", "mysql2", "mysql3"]).await
    );
    let status = dmctl(&addrs, &["query-status"]).await.expect("answers");
    assert_eq!(status["tasks"], json!([]), "{status}");
}

/// Waits until `task`'s subtasks on mysql1..3 show `stages`; the status.
async fn wait_stages(addrs: &str, task: &str, stages: [&str; 3]) -> Value {
    let expected = json!([
        ["mysql1", stages[0]],
        ["mysql2", stages[1]],
        ["mysql3", stages[2]]
    ]);
    let expected = &expected;
    dm_tests::wait_until(
        &format!("{task} in stages {stages:?}"),
        DEADLINE,
        Duration::from_millis(100),
        || async move {
            let status = dmctl(addrs, &["query-status", task])
                .await
                .expect("answers");
            let shown: Vec<(String, Value)> = dm_tests::cluster::subtasks_of(&status, task)
                .into_iter()
                .map(|(source, t)| (source, t["stage"].clone()))
                .collect();
            if json!(shown) == *expected {
                dm_tests::Check::Ready(status)
            } else {
                dm_tests::Check::Pending(status.to_string())
            }
        },
    )
    .await
    .expect("stages")
}

/// The line of `target-database.password` in an exported task file.
fn exported_task_line(export: &Path, task: &str) -> usize {
    let text = std::fs::read_to_string(export.join(format!("tasks/{task}.yaml"))).expect("read");
    let mut in_target = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("target-database:") {
            in_target = true;
        } else if in_target && line.trim_start().starts_with("password:") {
            return i + 1;
        } else if !line.starts_with(' ') {
            in_target = false;
        }
    }
    panic!("no target-database.password in {text}");
}

/// DM's batch answer for both tutorial tasks on `sources`, each source with
/// the worker bound to it.
async fn batch_answer(addrs: &str, op: &str, sources: &[&str]) -> Value {
    let mut entries = Vec::new();
    for source in sources {
        let worker = dm_tests::cluster::bound_worker(addrs, source)
            .await
            .expect("answers")
            .expect("bound");
        entries.push(json!({"result": true, "source": source, "worker": worker}));
    }
    let tasks: Vec<Value> = ["dmtask1", "dmtask2"]
        .iter()
        .map(|task| json!({"task": task, "op": op, "result": true, "msg": "", "sources": entries}))
        .collect();
    json!({"result": true, "msg": "", "tasks": tasks})
}
