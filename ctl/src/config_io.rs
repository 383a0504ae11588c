//! `config export|import` and `config task|source|master|worker NAME`.
//!
//! **Export** asks the leader for every source and task (passwords masked,
//! stages per source, the next binding epoch: [`pb::ExportConfigsResponse`])
//! and writes DM's layout, `sources/<source-id>.yaml` and
//! `tasks/<task>.yaml`, plus `manifest.yaml` (see
//! [`dm_proto::config::manifest`]), directories 0700 and files 0600, into a
//! directory that must be new or empty (an older export's files would
//! otherwise be mixed in).
//!
//! **Import** validates the whole directory before it changes anything:
//! the manifest, every file it lists and every file in `sources/` and
//! `tasks/` (each must be listed), each file as `operate-source create` or
//! `start-task` would read it, and no masked password left. Then
//! `PrepareImport` (refused unless the cluster has no source and no task;
//! raises the binding epochs above the exporting cluster's, whose fence
//! rows the downstream keeps), the sources in one `operate-source create`
//! (all or none), and each task with `start-task` without `--remove-meta`
//! (the subtasks resume from the downstream's checkpoints: a finished copy
//! is not run again), its subtasks the manifest says were Paused started
//! Paused (they never run until resumed). DM's import starts every task
//! Running and checks nothing first.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use dm_proto::config::manifest::{
    self, Manifest, Passwords, SourceFile, SubtaskStage, TaskFile, MANIFEST_FILE,
    PASSWORDS_ENCRYPTED, PASSWORDS_MASKED, SOURCES_DIR, SOURCE_PASSWORD_KEY, TASKS_DIR,
    TASK_PASSWORD_KEY,
};
use dm_proto::config::{SourceConfig, TaskConfig};
use dm_proto::pb;

use crate::client::Masters;
use crate::commands::{answer, rpc, to_json, Outcome};
use crate::error::CtlError;

/// `config ...`: DM's later command for configurations.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show a task's configuration (passwords masked).
    Task(NamedConfig),
    /// Show a source's configuration (passwords masked).
    Source(NamedConfig),
    /// Show a master's configuration.
    Master(NamedConfig),
    /// Show a worker's configuration.
    Worker(NamedConfig),
    /// Write every source and task, with their stages, into a directory.
    Export(DirArgs),
    /// Recreate the sources and tasks of an export in an empty cluster.
    Import(DirArgs),
}

#[derive(Debug, Args)]
pub struct NamedConfig {
    pub name: String,
    /// Write the configuration to this file instead of printing it.
    #[arg(short = 'p', long = "path")]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DirArgs {
    /// The directory to export to or import from (default `configs`).
    #[arg(short = 'd', long = "dir")]
    pub dir: Option<PathBuf>,
    /// The same as --dir (DM's later name); wins over --dir.
    #[arg(short = 'p', long = "path")]
    pub path: Option<PathBuf>,
}

impl DirArgs {
    /// `--path`, else `--dir`, else `configs` (DM's precedence).
    pub fn directory(&self) -> PathBuf {
        self.path
            .clone()
            .or_else(|| self.dir.clone())
            .unwrap_or_else(|| PathBuf::from("configs"))
    }
}

pub async fn run(command: ConfigCommand, masters: &Masters) -> Result<Outcome, CtlError> {
    match command {
        ConfigCommand::Task(c) => show(pb::CfgType::TaskType, c, masters).await,
        ConfigCommand::Source(c) => show(pb::CfgType::SourceType, c, masters).await,
        ConfigCommand::Master(c) => show(pb::CfgType::MasterType, c, masters).await,
        ConfigCommand::Worker(c) => show(pb::CfgType::WorkerType, c, masters).await,
        ConfigCommand::Export(d) => export(&d.directory(), masters).await,
        ConfigCommand::Import(d) => import(&d.directory(), masters).await,
    }
}

/// `config task|source|master|worker NAME [-p FILE]`.
async fn show(
    kind: pb::CfgType,
    config: NamedConfig,
    masters: &Masters,
) -> Result<Outcome, CtlError> {
    let req = pb::GetCfgRequest {
        r#type: kind as i32,
        name: config.name,
    };
    let resp = rpc!(masters, get_cfg, req)?;
    match (config.path, resp.result) {
        (Some(path), true) => {
            write_private(&path, &resp.cfg)?;
            let done = pb::GetCfgResponse {
                result: true,
                msg: format!("write config to file {} succeed", path.display()),
                cfg: String::new(),
            };
            Ok(answer(&done, true))
        }
        _ => Ok(answer(&resp, resp.result)),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CtlError + '_ {
    move |source| CtlError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Creates (or truncates) `path` readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), CtlError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    // An existing file keeps its mode through open: set it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io_error(path))?;
    file.write_all(text.as_bytes()).map_err(io_error(path))
}

/// Creates `dir` (and parents) with mode 0700.
fn private_dir(dir: &Path) -> Result<(), CtlError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

/// Lines printed as the command's output.
fn lines(lines: &[String], ok: bool) -> Outcome {
    Outcome {
        output: lines.join("\n"),
        ok,
    }
}

/// What an export writes: relative path -> text, and the manifest.
#[derive(Debug)]
pub struct ExportFiles {
    pub files: BTreeMap<String, String>,
    pub manifest: Manifest,
}

/// The files of an export from the leader's answer (pure); refuses names
/// that cannot be file names and configs that would not read back.
pub fn export_files(
    resp: &pb::ExportConfigsResponse,
    exported_at: std::time::SystemTime,
) -> Result<ExportFiles, Vec<String>> {
    let mut problems = Vec::new();
    let mut files = BTreeMap::new();
    let mut passwords = Passwords::default();
    let mut sources = Vec::new();
    for source in &resp.sources {
        if !manifest::usable_as_file_name(&source.source_id) {
            problems.push(format!(
                "source `{}`: its id cannot be a file name",
                source.source_id
            ));
            continue;
        }
        let file = manifest::source_file(&source.source_id);
        match SourceConfig::parse(&file, &source.config) {
            Ok(config) => passwords.note(&config.from, &file, SOURCE_PASSWORD_KEY),
            Err(e) => problems.push(format!(
                "the master's source config does not read back: {e}"
            )),
        }
        files.insert(file.clone(), source.config.clone());
        sources.push(SourceFile {
            source_id: source.source_id.clone(),
            file,
        });
    }
    let mut tasks = Vec::new();
    for task in &resp.tasks {
        if !manifest::usable_as_file_name(&task.name) {
            problems.push(format!(
                "task `{}`: its name cannot be a file name",
                task.name
            ));
            continue;
        }
        let file = manifest::task_file(&task.name);
        match TaskConfig::parse(&file, &task.config) {
            Ok(config) => passwords.note(&config.target_database, &file, TASK_PASSWORD_KEY),
            Err(e) => problems.push(format!("the master's task config does not read back: {e}")),
        }
        let mut stages = BTreeMap::new();
        for s in &task.stages {
            match SubtaskStage::parse(&s.stage) {
                Some(stage) => {
                    stages.insert(s.source.clone(), stage);
                }
                None => problems.push(format!(
                    "task `{}`: source {} has the unknown stage `{}`",
                    task.name, s.source, s.stage
                )),
            }
        }
        files.insert(file.clone(), task.config.clone());
        tasks.push(TaskFile {
            name: task.name.clone(),
            file,
            stages,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ExportFiles {
        files,
        manifest: Manifest::new(exported_at, resp.next_epoch, sources, tasks, passwords),
    })
}

/// `config export`.
async fn export(dir: &Path, masters: &Masters) -> Result<Outcome, CtlError> {
    let resp = rpc!(masters, export_configs, pb::ExportConfigsRequest {})?;
    if !resp.result {
        return Ok(lines(
            &[format!("can not export configs: {}", resp.msg)],
            false,
        ));
    }
    let exported = match export_files(&resp, std::time::SystemTime::now()) {
        Ok(e) => e,
        Err(problems) => return Ok(lines(&problems, false)),
    };
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Ok(lines(
            &[format!(
                "directory `{}` is not empty; export into a new or empty directory (-d), so no older export's files mix in",
                dir.display()
            )],
            false,
        ));
    }
    for sub in ["", SOURCES_DIR, TASKS_DIR] {
        private_dir(&dir.join(sub))?;
    }
    for (file, text) in &exported.files {
        write_private(&dir.join(file), text)?;
    }
    let manifest_text = exported.manifest.to_yaml()?;
    write_private(&dir.join(MANIFEST_FILE), &manifest_text)?;
    let mut out = vec![format!(
        "export configs to directory `{}` succeed",
        dir.display()
    )];
    if !exported.manifest.masked_passwords.is_empty() {
        out.push(format!(
            "{PASSWORDS_MASKED}: {}",
            exported.manifest.masked_passwords.join(", ")
        ));
    }
    if !exported.manifest.encrypted_passwords.is_empty() {
        out.push(format!(
            "{PASSWORDS_ENCRYPTED}: {}",
            exported.manifest.encrypted_passwords.join(", ")
        ));
    }
    Ok(lines(&out, true))
}

/// What import creates, in order, once everything is valid.
#[derive(Debug, PartialEq)]
pub struct ImportPlan {
    pub next_epoch: u64,
    /// Source files' texts.
    pub sources: Vec<String>,
    /// (name, task file text, sources to pause).
    pub tasks: Vec<(String, String, Vec<String>)>,
}

/// Validates an export directory's contents (pure): `manifest` is the
/// manifest's text, `files` every file of `sources/` and `tasks/` by
/// relative path (each must be listed); `shown` prefixes paths in
/// messages. Every problem found is returned, not just the first.
pub fn plan_import(
    shown: &Path,
    manifest: &str,
    files: &BTreeMap<String, String>,
) -> Result<ImportPlan, Vec<String>> {
    let at = |rel: &str| shown.join(rel).display().to_string();
    let manifest =
        Manifest::parse(&at(MANIFEST_FILE), manifest).map_err(|e| vec![e.to_string()])?;
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = manifest
        .sources
        .iter()
        .map(|s| s.file.as_str())
        .chain(manifest.tasks.iter().map(|t| t.file.as_str()))
        .collect();
    for rel in files.keys() {
        if !listed.contains(rel.as_str()) {
            problems.push(format!(
                "{}: is not listed in {MANIFEST_FILE}; list it there or remove it",
                at(rel)
            ));
        }
    }
    let mut sources = Vec::new();
    let mut source_ids = BTreeSet::new();
    for entry in &manifest.sources {
        let Some(text) = files.get(&entry.file) else {
            problems.push(format!(
                "{}: is missing ({MANIFEST_FILE} lists it)",
                at(&entry.file)
            ));
            continue;
        };
        match SourceConfig::parse(&at(&entry.file), text) {
            Ok(config) => {
                if config.source_id != entry.source_id {
                    problems.push(format!(
                        "{}: `source-id` is `{}` but {MANIFEST_FILE} lists the file as source `{}`",
                        at(&entry.file),
                        config.source_id,
                        entry.source_id
                    ));
                }
                if let Err(e) = manifest::refuse_masked(
                    &at(&entry.file),
                    text,
                    SOURCE_PASSWORD_KEY,
                    &config.from.password,
                ) {
                    problems.push(e.to_string());
                }
                source_ids.insert(config.source_id);
                sources.push(text.clone());
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let mut tasks = Vec::new();
    for entry in &manifest.tasks {
        let Some(text) = files.get(&entry.file) else {
            problems.push(format!(
                "{}: is missing ({MANIFEST_FILE} lists it)",
                at(&entry.file)
            ));
            continue;
        };
        let config = match TaskConfig::parse(&at(&entry.file), text) {
            Ok(c) => c,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        if config.name != entry.name {
            problems.push(format!(
                "{}: `name` is `{}` but {MANIFEST_FILE} lists the file as task `{}`",
                at(&entry.file),
                config.name,
                entry.name
            ));
        }
        if let Err(e) = manifest::refuse_masked(
            &at(&entry.file),
            text,
            TASK_PASSWORD_KEY,
            &config.target_database.password,
        ) {
            problems.push(e.to_string());
        }
        let instances: BTreeSet<&str> = config
            .mysql_instances
            .iter()
            .map(|i| i.source_id.as_str())
            .collect();
        let staged: BTreeSet<&str> = entry.stages.keys().map(String::as_str).collect();
        if instances != staged {
            problems.push(format!(
                "{}: the task's sources ({}) are not the sources {MANIFEST_FILE} gives stages for ({})",
                at(&entry.file),
                instances.iter().copied().collect::<Vec<_>>().join(", "),
                staged.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        for source in &instances {
            if !source_ids.contains(*source) {
                problems.push(format!(
                    "{}: source `{source}` of the task is not among the exported sources",
                    at(&entry.file)
                ));
            }
        }
        let paused = entry
            .stages
            .iter()
            .filter(|(_, stage)| **stage == SubtaskStage::Paused)
            .map(|(source, _)| source.clone())
            .collect();
        tasks.push((entry.name.clone(), text.clone(), paused));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ImportPlan {
        next_epoch: manifest.next_epoch,
        sources,
        tasks,
    })
}

/// Every file of `dir/sources` and `dir/tasks`, by relative path.
fn read_export(dir: &Path) -> Result<BTreeMap<String, String>, CtlError> {
    let mut files = BTreeMap::new();
    for sub in [SOURCES_DIR, TASKS_DIR] {
        let folder = dir.join(sub);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&folder)(e)),
        };
        for entry in entries {
            let path = entry.map_err(io_error(&folder))?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // Every file, not only *.yaml: one the manifest does not list
            // is refused rather than skipped.
            if !path.is_file() {
                continue;
            }
            // Not UTF-8: the parse (or the manifest check) names the file.
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            files.insert(format!("{sub}/{name}"), text);
        }
    }
    Ok(files)
}

/// `config import`.
async fn import(dir: &Path, masters: &Masters) -> Result<Outcome, CtlError> {
    if !dir.is_dir() {
        return Ok(lines(
            &[format!("config directory `{}` not exists", dir.display())],
            false,
        ));
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => text,
        Err(e) => {
            return Ok(lines(
                &[format!(
                    "{}: cannot be read ({e}); import reads directories that `config export` wrote",
                    manifest_path.display()
                )],
                false,
            ))
        }
    };
    let files = read_export(dir)?;
    let plan = match plan_import(dir, &manifest, &files) {
        Ok(plan) => plan,
        Err(mut problems) => {
            problems.push("nothing was imported".into());
            return Ok(lines(&problems, false));
        }
    };
    let prepared = rpc!(
        masters,
        prepare_import,
        pb::PrepareImportRequest {
            epoch_floor: plan.next_epoch,
        }
    )?;
    if !prepared.result {
        return Ok(lines(&[prepared.msg, "nothing was imported".into()], false));
    }
    let mut out = vec!["start creating sources".to_string()];
    if !plan.sources.is_empty() {
        let req = pb::OperateSourceRequest {
            op: pb::SourceOp::StartSource as i32,
            config: plan.sources.clone(),
            source_id: Vec::new(),
        };
        let resp = rpc!(masters, operate_source, req)?;
        if !resp.result {
            out.push(to_json(&resp));
            out.push("fail to create sources".into());
            return Ok(lines(&out, false));
        }
    }
    out.push("start creating tasks".into());
    for (name, text, paused) in &plan.tasks {
        let req = pb::StartTaskRequest {
            task: text.clone(),
            sources: Vec::new(),
            remove_meta: false,
            start_time: String::new(),
            paused_sources: paused.clone(),
        };
        let resp = rpc!(masters, start_task, req)?;
        if !resp.result {
            out.push(to_json(&resp));
            out.push(format!("fail to create task `{name}`"));
            return Ok(lines(&out, false));
        }
        if !paused.is_empty() {
            out.push(format!(
                "task `{name}` started paused on {} as exported",
                paused.join(", ")
            ));
        }
    }
    out.push(format!(
        "import configs from directory `{}` succeed",
        dir.display()
    ));
    Ok(lines(&out, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "source-id: mysql1\nfrom:\n  host: 127.0.0.1\n  port: 3307\n  user: root\n  password: '******'\n";
    const TASK: &str = "name: t\ntask-mode: all\ntarget-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\nmysql-instances:\n  - source-id: mysql1\n    block-allow-list: a\nblock-allow-list:\n  a:\n    do-dbs: [app]\n";

    fn answer() -> pb::ExportConfigsResponse {
        pb::ExportConfigsResponse {
            result: true,
            msg: String::new(),
            sources: vec![pb::ExportedSource {
                source_id: "mysql1".into(),
                config: SOURCE.into(),
            }],
            tasks: vec![pb::ExportedTask {
                name: "t".into(),
                config: TASK.into(),
                stages: vec![pb::ExportedSubtaskStage {
                    source: "mysql1".into(),
                    stage: "Paused".into(),
                }],
            }],
            next_epoch: 4,
        }
    }

    #[test]
    fn path_wins_over_dir_and_configs_is_the_default() {
        use crate::cli::{Command, Line};
        use clap::Parser;
        let dir_of = |line: &[&str]| match Line::try_parse_from(line).expect("parses").command {
            Command::Config(ConfigCommand::Export(d) | ConfigCommand::Import(d)) => d.directory(),
            other => panic!("not config export/import: {other:?}"),
        };
        assert_eq!(dir_of(&["config", "export"]), PathBuf::from("configs"));
        assert_eq!(dir_of(&["config", "import", "-d", "a"]), PathBuf::from("a"));
        assert_eq!(
            dir_of(&["config", "export", "--dir", "a", "-p", "b"]),
            PathBuf::from("b")
        );
        let parsed = Line::try_parse_from(["config", "worker", "worker1", "--path", "w.toml"])
            .expect("parses");
        let Command::Config(ConfigCommand::Worker(named)) = parsed.command else {
            panic!("not config worker: {parsed:?}");
        };
        assert_eq!(named.name, "worker1");
        assert_eq!(named.path, Some(PathBuf::from("w.toml")));
    }

    #[test]
    fn a_task_operation_without_a_task_takes_the_sources() {
        use crate::cli::{Command, Line};
        use clap::Parser;
        let parsed =
            Line::try_parse_from(["pause-task", "-s", "a,b", "--batch-size", "2"]).expect("parses");
        let Command::PauseTask(arg) = parsed.command else {
            panic!("not pause-task: {parsed:?}");
        };
        assert_eq!((arg.task, arg.batch_size), (None, 2));
        assert_eq!(parsed.sources, ["a", "b"]);
        let parsed = Line::try_parse_from(["stop-task", "t"]).expect("parses");
        let Command::StopTask(arg) = parsed.command else {
            panic!("not stop-task: {parsed:?}");
        };
        assert_eq!((arg.task.as_deref(), arg.batch_size), (Some("t"), 5));
    }

    #[test]
    fn an_export_lists_files_stages_and_masked_passwords() {
        let exported = export_files(&answer(), std::time::UNIX_EPOCH).expect("exports");
        assert_eq!(
            exported.files.keys().collect::<Vec<_>>(),
            ["sources/mysql1.yaml", "tasks/t.yaml"]
        );
        assert_eq!(
            exported.manifest.masked_passwords,
            ["sources/mysql1.yaml: from.password"]
        );
        assert_eq!(exported.manifest.passwords, PASSWORDS_MASKED);
        assert_eq!(
            exported.manifest.tasks[0].stages.get("mysql1"),
            Some(&SubtaskStage::Paused)
        );
        let mut bad = answer();
        bad.tasks[0].name = "../t".into();
        assert_eq!(
            export_files(&bad, std::time::UNIX_EPOCH).unwrap_err(),
            ["task `../t`: its name cannot be a file name"]
        );
    }

    #[test]
    fn an_import_refuses_masked_passwords_and_unlisted_files_then_plans() {
        let exported = export_files(&answer(), std::time::UNIX_EPOCH).expect("exports");
        let manifest = exported.manifest.to_yaml().expect("manifest");
        let mut files = exported.files.clone();
        files.insert("tasks/extra.yml".into(), TASK.into());
        let problems = plan_import(Path::new("configs"), &manifest, &files).unwrap_err();
        assert_eq!(
            problems,
            [
                "configs/tasks/extra.yml: is not listed in manifest.yaml; list it there or remove it",
                "configs/sources/mysql1.yaml:6:3: `from.password`: is masked (******), as `config export` writes passwords; write the real password here before import",
            ]
        );
        files.remove("tasks/extra.yml");
        files.insert(
            "sources/mysql1.yaml".into(),
            SOURCE.replace("'******'", "real"),
        );
        let plan = plan_import(Path::new("configs"), &manifest, &files).expect("valid");
        assert_eq!(plan.next_epoch, 4);
        assert_eq!(plan.sources, [SOURCE.replace("'******'", "real")]);
        assert_eq!(
            plan.tasks,
            [(
                "t".to_string(),
                TASK.to_string(),
                vec!["mysql1".to_string()]
            )]
        );
    }

    #[test]
    fn a_bad_file_is_named_with_its_line_and_key() {
        let exported = export_files(&answer(), std::time::UNIX_EPOCH).expect("exports");
        let manifest = exported.manifest.to_yaml().expect("manifest");
        let mut files = exported.files.clone();
        files.insert(
            "sources/mysql1.yaml".into(),
            SOURCE
                .replace("'******'", "real")
                .replace("port: 3307", "port: 99999"),
        );
        files.remove("tasks/t.yaml");
        let problems = plan_import(Path::new("d"), &manifest, &files).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("d/sources/mysql1.yaml:4:"),
            "{problems:?}"
        );
        assert!(problems[0].contains("from.port"), "{problems:?}");
        assert_eq!(
            problems[1],
            "d/tasks/t.yaml: is missing (manifest.yaml lists it)"
        );
    }
}
