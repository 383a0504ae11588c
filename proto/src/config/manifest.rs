//! `config export`'s manifest (`<dir>/manifest.yaml`): what an export holds
//! and what `config import` recreates.
//!
//! An export directory is DM's layout, `sources/<source-id>.yaml` and
//! `tasks/<task>.yaml` (files `operate-source create` and `start-task`
//! take unchanged), plus this manifest: the format version, when the
//! export was made, each source file, each task file with the stage of
//! each of its subtasks (DM exports no stages: its import starts every task
//! Running), the exporting cluster's next binding epoch, and which
//! passwords were masked.
//!
//! Passwords: the masters hand a non-empty password out only encrypted as
//! DM's `dmctl encrypt` writes it (every password field reads that form),
//! so the files import as they are. An export from a version that masked
//! them ([`MASKED_PASSWORD`]) still reads: import refuses a file that holds
//! the mask, naming the file, line and key ([`refuse_masked`]), until the
//! operator writes the real password in.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::db::{DbConfig, MASKED_PASSWORD};
use super::error::ConfigError;
use super::yaml::{self, KeyIndex};

/// The manifest's file name in an export directory.
pub const MANIFEST_FILE: &str = "manifest.yaml";
/// The folder of the source files.
pub const SOURCES_DIR: &str = "sources";
/// The folder of the task files.
pub const TASKS_DIR: &str = "tasks";
/// The manifest format this version writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// What the manifest (and dmctl) says about masked passwords.
pub const PASSWORDS_MASKED: &str = "passwords are masked (written as ******); write them into `from.password` of the source files and `target-database.password` of the task files before import";
/// What the manifest (and dmctl) says about encrypted passwords.
pub const PASSWORDS_ENCRYPTED: &str = "passwords are encrypted as `dmctl encrypt` writes them (`dmctl decrypt` shows one); import reads them as they are";
/// What the manifest says when no password needed masking.
pub const PASSWORDS_NONE: &str = "no file holds a password";

/// The key of a source file's password.
pub const SOURCE_PASSWORD_KEY: &str = "from.password";
/// The key of a task file's password.
pub const TASK_PASSWORD_KEY: &str = "target-database.password";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    /// When the export was made (RFC 3339, UTC).
    pub exported_at: String,
    /// The exporting cluster's next binding epoch: the importing cluster
    /// binds with epochs at least this large.
    pub next_epoch: u64,
    /// [`PASSWORDS_ENCRYPTED`], [`PASSWORDS_MASKED`] or [`PASSWORDS_NONE`].
    pub passwords: String,
    /// `file: key` of every masked password.
    #[serde(default)]
    pub masked_passwords: Vec<String>,
    /// `file: key` of every encrypted password.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encrypted_passwords: Vec<String>,
    #[serde(default)]
    pub sources: Vec<SourceFile>,
    #[serde(default)]
    pub tasks: Vec<TaskFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SourceFile {
    pub source_id: String,
    /// Relative to the export directory.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TaskFile {
    pub name: String,
    /// Relative to the export directory.
    pub file: String,
    /// The expected stage of the task's subtask on each source.
    pub stages: BTreeMap<String, SubtaskStage>,
}

/// The stage the cluster keeps a subtask in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubtaskStage {
    Running,
    Paused,
}

impl SubtaskStage {
    /// `Running` / `Paused` (as the master's export answer names them).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "Running" => Some(Self::Running),
            "Paused" => Some(Self::Paused),
            _ => None,
        }
    }
}

/// The relative path of a source's file.
pub fn source_file(source_id: &str) -> String {
    format!("{SOURCES_DIR}/{source_id}.yaml")
}

/// The relative path of a task's file.
pub fn task_file(name: &str) -> String {
    format!("{TASKS_DIR}/{name}.yaml")
}

/// Whether `name` can be a file name in an export directory as it is (no
/// path separator, not hidden, not empty).
pub fn usable_as_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// RFC 3339 UTC, to the second.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The passwords of an export's files, as `file: key`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passwords {
    pub masked: Vec<String>,
    pub encrypted: Vec<String>,
}

impl Passwords {
    /// Lists `db`'s password, of the file `file` at `key`, as masked or
    /// encrypted (an empty or plaintext one is neither).
    pub fn note(&mut self, db: &DbConfig, file: &str, key: &str) {
        if db.password == MASKED_PASSWORD {
            self.masked.push(format!("{file}: {key}"));
        } else if !db.password.is_empty() && db.password_is_encrypted() {
            self.encrypted.push(format!("{file}: {key}"));
        }
    }
}

impl Manifest {
    /// A manifest for `sources` and `tasks`; `passwords` lists `file: key`
    /// of each masked and each encrypted password.
    pub fn new(
        exported_at: SystemTime,
        next_epoch: u64,
        sources: Vec<SourceFile>,
        tasks: Vec<TaskFile>,
        passwords: Passwords,
    ) -> Self {
        let Passwords { masked, encrypted } = passwords;
        Self {
            format_version: FORMAT_VERSION,
            exported_at: timestamp(exported_at),
            next_epoch,
            passwords: if !masked.is_empty() {
                PASSWORDS_MASKED
            } else if !encrypted.is_empty() {
                PASSWORDS_ENCRYPTED
            } else {
                PASSWORDS_NONE
            }
            .to_string(),
            masked_passwords: masked,
            encrypted_passwords: encrypted,
            sources,
            tasks,
        }
    }

    pub fn to_yaml(&self) -> Result<String, ConfigError> {
        yaml::to_string(self)
    }

    /// Parses a manifest; `file` names it in errors. Checks the format
    /// version, that every file is in its folder, and that no source or
    /// task is listed twice.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let index = KeyIndex::new(file, text);
        index.check_duplicates()?;
        let manifest: Manifest = yaml::from_str(file, text)?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(index.invalid(
                "format-version",
                format!(
                    "is {}; this dmctl reads format version {FORMAT_VERSION}",
                    manifest.format_version
                ),
            ));
        }
        let mut seen = BTreeMap::new();
        for (i, source) in manifest.sources.iter().enumerate() {
            let key = format!("sources[{i}]");
            if source.file != source_file(&source.source_id)
                || !usable_as_file_name(&source.source_id)
            {
                return Err(index.invalid(
                    &format!("{key}.file"),
                    format!("must be `{}`", source_file(&source.source_id)),
                ));
            }
            if let Some(first) = seen.insert(source.file.clone(), i) {
                return Err(index.invalid(
                    &format!("{key}.source-id"),
                    format!("is listed twice (also sources[{first}])"),
                ));
            }
        }
        for (i, task) in manifest.tasks.iter().enumerate() {
            let key = format!("tasks[{i}]");
            if task.file != task_file(&task.name) || !usable_as_file_name(&task.name) {
                return Err(index.invalid(
                    &format!("{key}.file"),
                    format!("must be `{}`", task_file(&task.name)),
                ));
            }
            if let Some(first) = seen.insert(task.file.clone(), i) {
                return Err(index.invalid(
                    &format!("{key}.name"),
                    format!("is listed twice (also tasks[{first}])"),
                ));
            }
            if task.stages.is_empty() {
                return Err(index.invalid(
                    &format!("{key}.stages"),
                    "must give the stage (Running or Paused) of each source of the task",
                ));
            }
        }
        Ok(manifest)
    }
}

/// Refuses a file whose password at `key` (`from.password`,
/// `target-database.password`) still holds [`MASKED_PASSWORD`], naming the
/// file, line and key.
pub fn refuse_masked(file: &str, text: &str, key: &str, password: &str) -> Result<(), ConfigError> {
    if password != MASKED_PASSWORD {
        return Ok(());
    }
    Err(KeyIndex::new(file, text).invalid(
        key,
        format!("is masked ({MASKED_PASSWORD}), as `config export` writes passwords; write the real password here before import"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn sample() -> Manifest {
        Manifest::new(
            UNIX_EPOCH + Duration::from_secs(1_796_000_000),
            7,
            vec![SourceFile {
                source_id: "mysql-replica-01".into(),
                file: source_file("mysql-replica-01"),
            }],
            vec![TaskFile {
                name: "dmtask1".into(),
                file: task_file("dmtask1"),
                stages: [("mysql-replica-01".to_string(), SubtaskStage::Paused)].into(),
            }],
            Passwords {
                masked: vec!["sources/mysql-replica-01.yaml: from.password".into()],
                encrypted: Vec::new(),
            },
        )
    }

    #[test]
    fn encrypted_passwords_are_listed_and_said() {
        let manifest = Manifest::new(
            UNIX_EPOCH,
            1,
            vec![],
            vec![],
            Passwords {
                masked: Vec::new(),
                encrypted: vec!["tasks/t.yaml: target-database.password".into()],
            },
        );
        assert_eq!(manifest.passwords, PASSWORDS_ENCRYPTED);
        let text = manifest.to_yaml().expect("writes");
        assert!(
            text.contains("encrypted-passwords:\n- 'tasks/t.yaml: target-database.password'"),
            "{text}"
        );
        assert_eq!(
            Manifest::parse("manifest.yaml", &text).expect("reads"),
            manifest
        );
    }

    #[test]
    fn a_manifest_round_trips() {
        let manifest = sample();
        let text = manifest.to_yaml().expect("writes");
        assert_eq!(
            text,
            "format-version: 1\nexported-at: 2026-11-30T00:53:20Z\nnext-epoch: 7\npasswords: passwords are masked (written as ******); write them into `from.password` of the source files and `target-database.password` of the task files before import\nmasked-passwords:\n- 'sources/mysql-replica-01.yaml: from.password'\nsources:\n- source-id: mysql-replica-01\n  file: sources/mysql-replica-01.yaml\ntasks:\n- name: dmtask1\n  file: tasks/dmtask1.yaml\n  stages:\n    mysql-replica-01: Paused\n"
        );
        assert_eq!(
            Manifest::parse("manifest.yaml", &text).expect("reads"),
            manifest
        );
    }

    #[test]
    fn without_passwords_the_manifest_says_so() {
        let manifest = Manifest::new(UNIX_EPOCH, 1, vec![], vec![], Passwords::default());
        assert_eq!(manifest.passwords, PASSWORDS_NONE);
        assert_eq!(manifest.exported_at, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_bad_manifest_names_the_line_and_key() {
        let text = sample().to_yaml().expect("writes");
        let err = Manifest::parse(
            "m.yaml",
            &text.replace("format-version: 1", "format-version: 2"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "m.yaml:1:1: `format-version`: is 2; this dmctl reads format version 1"
        );
        let err = Manifest::parse(
            "m.yaml",
            &text.replace("file: tasks/dmtask1.yaml", "file: ../dmtask1.yaml"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "m.yaml:12:3: `tasks[0].file`: must be `tasks/dmtask1.yaml`"
        );
        let err = Manifest::parse("m.yaml", &text.replace("Paused", "Stopped")).unwrap_err();
        assert!(err.to_string().starts_with("m.yaml:14:"), "{err}");
        assert!(err.to_string().contains("Stopped"), "{err}");
    }

    #[test]
    fn a_masked_password_is_refused_with_its_place() {
        let text = "source-id: s\nfrom:\n  host: h\n  user: u\n  password: '******'\n";
        let err = refuse_masked("sources/s.yaml", text, SOURCE_PASSWORD_KEY, "******").unwrap_err();
        assert_eq!(
            err.to_string(),
            "sources/s.yaml:5:3: `from.password`: is masked (******), as `config export` writes passwords; write the real password here before import"
        );
        assert!(refuse_masked("f", text, SOURCE_PASSWORD_KEY, "secret").is_ok());
        assert!(refuse_masked("f", text, SOURCE_PASSWORD_KEY, "").is_ok());
    }

    /// What `config export` writes (the `get-config` writers) is what
    /// `start-task` and `operate-source create` read back, unchanged.
    #[test]
    fn exported_files_read_back_as_the_same_configs() {
        use crate::config::{SourceConfig, TaskConfig};
        for (name, text) in [
            ("dmtask1.yaml", include_str!("../../../dm-cnf/dmtask1.yaml")),
            ("dmtask2.yaml", include_str!("../../../dm-cnf/dmtask2.yaml")),
        ] {
            let task = TaskConfig::parse(name, text).expect("the tutorial's task");
            let written = task.to_yaml().expect("writes");
            let read = TaskConfig::parse("exported", &written).unwrap_or_else(|e| {
                panic!("{name} as exported does not read back: {e}\n{written}")
            });
            assert_eq!(read, task, "{name}");
        }
        let source = SourceConfig::parse(
            "s.yaml",
            "source-id: mysql1\nenable-gtid: true\nserver-id: 77\nfrom:\n  host: 127.0.0.1\n  port: 3307\n  user: root\n  password: pw\nfilters:\n- schema-pattern: a\n  events: [drop table]\n  action: Ignore\n",
        )
        .expect("source");
        let read = SourceConfig::parse("exported", &source.to_yaml().expect("writes"))
            .expect("reads back");
        assert_eq!(read, source);
    }

    #[test]
    fn names_that_cannot_be_file_names() {
        assert!(usable_as_file_name("mysql-replica-01"));
        for bad in ["", ".hidden", "a/b", "a\\b"] {
            assert!(!usable_as_file_name(bad), "{bad}");
        }
    }
}
