//! DM 2.x sample files with every documented key (`fixtures/dm2/`, written
//! after DM's documented samples: task_advanced.yaml, source.yaml,
//! dm-master.toml, dm-worker.toml) given to the parsers: each key is
//! accepted (implemented or a no-op with a reason in the inventory) or
//! refused by name with the inventory's message; none is ignored silently
//! (an unknown key fails the parse, and every struct key has a status).
//!
//! The parse is repeated with each refused key's lines taken out until the
//! file is accepted, so every refused key is seen refused, in file order.

use std::path::{Path, PathBuf};

use dm_proto::config::inventory::{sections, Status};
use dm_proto::config::{
    ConfigError, DaemonArgs, MasterArgs, MasterConfig, SourceConfig, TaskConfig, WorkerArgs,
    WorkerConfig,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dm2")
        .join(name)
}

/// Whether `message` is the inventory's refusal of a key named `key`.
fn is_refusal(key: &str, message: &str) -> bool {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    sections()
        .iter()
        .any(|s| matches!(s.status(leaf), Some(Status::Refused(m)) if m == message))
}

/// `text` without line `line` (1-based) and the lines indented under it.
fn without_line(text: &str, line: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(removed) = lines.get(line - 1) else {
        return text.to_string();
    };
    let depth = indent(removed);
    let mut end = line;
    while end < lines.len() && !lines[end].trim().is_empty() && indent(lines[end]) > depth {
        end += 1;
    }
    let mut kept: Vec<&str> = lines[..line - 1].to_vec();
    kept.extend(&lines[end..]);
    kept.join("\n") + "\n"
}

/// Parses `text` again and again, taking out each refused key; returns
/// the refused keys in the order they were reported.
fn refused_keys(
    name: &str,
    mut text: String,
    parse: impl Fn(&str) -> Result<(), ConfigError>,
) -> Vec<String> {
    let mut refused = Vec::new();
    for _ in 0..50 {
        match parse(&text) {
            Ok(()) => return refused,
            Err(ConfigError::Invalid { at, key, message }) => {
                assert!(
                    is_refusal(&key, &message),
                    "{name}: `{key}` fails for another reason: {at}: {message}"
                );
                let line = at
                    .line
                    .unwrap_or_else(|| panic!("{name}: `{key}` refused without a line"));
                refused.push(key);
                text = without_line(&text, line);
            }
            Err(other) => panic!("{name}: {other}"),
        }
    }
    panic!("{name}: still refused after 50 keys")
}

#[test]
fn a_dm2_task_file_with_every_key_parses_or_refuses_by_name() {
    let text = std::fs::read_to_string(fixture("task_advanced.yaml")).expect("fixture");
    let refused = refused_keys("task_advanced.yaml", text, |t| {
        TaskConfig::parse("task_advanced.yaml", t).map(drop)
    });
    assert_eq!(
        refused,
        [
            "online-ddl",
            "online-ddl-scheme",
            "shadow-table-rules",
            "trash-table-rules",
            "mydumpers.global.extra-args",
        ]
    );
}

#[test]
fn a_dm2_source_file_with_every_key_parses_or_refuses_by_name() {
    let text = std::fs::read_to_string(fixture("source.yaml")).expect("fixture");
    let refused = refused_keys("source.yaml", text, |t| {
        SourceConfig::parse("source.yaml", t).map(drop)
    });
    assert_eq!(
        refused,
        ["enable-relay", "relay-binlog-name", "relay-binlog-gtid",]
    );
}

fn load_toml<T>(
    name: &str,
    text: &str,
    load: impl Fn(DaemonArgs) -> Result<T, ConfigError>,
) -> Result<(), ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    let common = DaemonArgs {
        config: Some(path.clone()),
        ..DaemonArgs::default()
    };
    load(common).map(drop).map_err(|e| match e {
        // Name the file as the fixture, whatever the temp dir.
        ConfigError::Invalid {
            mut at,
            key,
            message,
        } => {
            at.file = name.to_string();
            ConfigError::Invalid { at, key, message }
        }
        other => other,
    })
}

#[test]
fn a_dm2_master_file_with_every_key_parses_or_refuses_by_name() {
    let text = std::fs::read_to_string(fixture("dm-master.toml")).expect("fixture");
    let refused = refused_keys("dm-master.toml", text, |t| {
        load_toml("dm-master.toml", t, |common| {
            MasterConfig::load(&MasterArgs {
                common,
                ..MasterArgs::default()
            })
        })
    });
    // The TLS keys are honoured: their files are read when the daemon
    // starts, not when the configuration is loaded.
    assert!(refused.is_empty(), "{refused:?}");
}

#[test]
fn a_dm2_worker_file_with_every_key_parses_or_refuses_by_name() {
    let text = std::fs::read_to_string(fixture("dm-worker.toml")).expect("fixture");
    let refused = refused_keys("dm-worker.toml", text, |t| {
        load_toml("dm-worker.toml", t, |common| {
            WorkerConfig::load(&WorkerArgs {
                common,
                ..WorkerArgs::default()
            })
        })
    });
    // The TLS keys are honoured: their files are read when the daemon
    // starts, not when the configuration is loaded.
    assert!(refused.is_empty(), "{refused:?}");
}

/// A file that writes a refused key's default (as DM's samples do) is
/// accepted: only a value that asks for the missing feature is refused.
#[test]
fn refused_keys_written_with_their_defaults_are_accepted() {
    let master = "name = \"m\"\nmaster-addr = \"127.0.0.1:8261\"\nssl-ca = \"\"\nssl-cert = \"\"\nssl-key = \"\"\ncert-allowed-cn = []\n";
    load_toml("dm-master.toml", master, |common| {
        MasterConfig::load(&MasterArgs {
            common,
            ..MasterArgs::default()
        })
    })
    .expect("a master file with empty TLS keys loads");
    let worker = "name = \"w\"\nssl-ca = \"\"\nenable-relay = false\nrelay-binlog-name = \"\"\n";
    load_toml("dm-worker.toml", worker, |common| {
        WorkerConfig::load(&WorkerArgs {
            common,
            ..WorkerArgs::default()
        })
    })
    .expect("a worker file with relay off loads");
    let task = "name: t\ntask-mode: all\nonline-ddl: false\nonline-ddl-scheme: \"\"\nshadow-table-rules: []\ntarget-database:\n  host: h\n  user: u\n  security:\n    ssl-ca: \"\"\n    cert-allowed-cn: []\nmysql-instances:\n  - source-id: s\n    mydumper:\n      extra-args: \"\"\n";
    TaskConfig::parse("task.yaml", task).expect("a task with defaults parses");
}
