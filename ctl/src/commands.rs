//! Runs one dmctl command: validates local files, sends the request to a
//! master, prints the answer as DM prints it (JSON, 4-space indent).

use std::path::Path;

use dm_proto::check_result;
use dm_proto::config::{SourceConfig, TaskConfig};
use dm_proto::pb;
use serde::Serialize;

use crate::binlog;
use crate::cli::{BinlogOp, BinlogSchemaOp, Command, ConfigKind, OperateSchemaOp, SourceOp};
use crate::client::Masters;
use crate::error::CtlError;
use crate::schema;

/// Sends `req` with the client method `$method` to the first master that answers.
macro_rules! rpc {
    ($masters:expr, $method:ident, $req:expr) => {
        $masters
            .call(|mut client| {
                let req = $req.clone();
                async move { client.$method(req).await }
            })
            .await
    };
}
pub(crate) use rpc;

/// What a command printed and whether it succeeded.
#[derive(Debug)]
pub struct Outcome {
    pub output: String,
    pub ok: bool,
}

/// Runs `command` restricted to `sources`.
pub async fn run(command: Command, sources: Vec<String>, masters: &Masters) -> Outcome {
    match execute(command, sources, masters).await {
        Ok(outcome) => outcome,
        Err(err) => failure(&err.to_string()),
    }
}

/// DM's shape for a request that failed before any master answered.
#[derive(Debug, Serialize)]
struct Failure<'a> {
    result: bool,
    msg: &'a str,
}

/// Prints a failure in DM's `{"result": false, "msg": ...}` shape.
pub fn failure(msg: &str) -> Outcome {
    Outcome {
        output: to_json(&Failure { result: false, msg }),
        ok: false,
    }
}

/// 4-space indented JSON, as DM's dmctl prints.
pub fn to_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    match value.serialize(&mut ser) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("{{\"result\": false, \"msg\": \"cannot print the answer: {e}\"}}"),
    }
}

/// A response with the pre-check's results beside it: DM's dmctl prints
/// the detail inside the message text; this prints it as a `detail`
/// object, so the output stays JSON (see [`check_result`]).
#[derive(Debug, Serialize)]
struct WithDetail<'a, T> {
    #[serde(flatten)]
    response: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<check_result::CheckResults>,
}

impl<'a, T> WithDetail<'a, T> {
    fn new(response: &'a T, detail: Option<check_result::CheckResults>) -> Self {
        Self { response, detail }
    }
}

/// `start-task`'s answer: a refusal's `msg`, or a start's `checkResult`
/// (warnings), split into DM's header and the detail.
fn start_answer(resp: pb::StartTaskResponse) -> Outcome {
    let (msg, msg_detail) = check_result::split(&resp.msg);
    let (check, check_detail) = check_result::split(&resp.check_result);
    let shown = pb::StartTaskResponse {
        result: resp.result,
        msg: msg.to_string(),
        sources: resp.sources.clone(),
        check_result: check.to_string(),
    };
    answer(
        &WithDetail::new(&shown, msg_detail.or(check_detail)),
        resp.result,
    )
}

pub(crate) fn answer<T: Serialize>(value: &T, ok: bool) -> Outcome {
    Outcome {
        output: to_json(value),
        ok,
    }
}

fn read(path: &Path) -> Result<String, CtlError> {
    std::fs::read_to_string(path).map_err(|source| CtlError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// A task given by name, or by a file whose `name` is used.
pub(crate) fn task_name(arg: &str) -> Result<String, CtlError> {
    let path = Path::new(arg);
    if path.is_file() {
        Ok(TaskConfig::from_file(path)?.name)
    } else {
        Ok(arg.to_string())
    }
}

async fn execute(
    command: Command,
    sources: Vec<String>,
    masters: &Masters,
) -> Result<Outcome, CtlError> {
    Ok(match command {
        Command::StartTask {
            config_file,
            remove_meta,
            start_time,
        } => {
            let text = read(&config_file)?;
            TaskConfig::parse(&config_file.display().to_string(), &text)?;
            let req = pb::StartTaskRequest {
                task: text,
                sources,
                remove_meta,
                start_time: checked_start_time(start_time)?,
                paused_sources: Vec::new(),
            };
            let resp = rpc!(masters, start_task, req)?;
            start_answer(resp)
        }
        Command::StopTask(t) => operate_task(pb::TaskOp::Stop, t, sources, masters).await?,
        Command::PauseTask(t) => operate_task(pb::TaskOp::Pause, t, sources, masters).await?,
        Command::ResumeTask(t) => operate_task(pb::TaskOp::Resume, t, sources, masters).await?,
        Command::QueryStatus { task, more } => {
            let name = task
                .as_deref()
                .map(task_name)
                .transpose()?
                .unwrap_or_default();
            // DM prints a one-line-per-task summary when nothing narrows it.
            let summarized = name.is_empty() && sources.is_empty() && !more;
            let req = pb::QueryStatusListRequest { name, sources };
            let resp = rpc!(masters, query_status, req)?;
            if summarized {
                answer(&crate::status::summarize(&resp), resp.result)
            } else {
                answer(&resp, resp.result)
            }
        }
        Command::CheckTask {
            config_file,
            error_count,
            warn_count,
            start_time,
        } => {
            let text = read(&config_file)?;
            TaskConfig::parse(&config_file.display().to_string(), &text)?;
            let req = pb::CheckTaskRequest {
                task: text,
                err_cnt: error_count,
                warn_cnt: warn_count,
                start_time: checked_start_time(start_time)?,
            };
            let resp = rpc!(masters, check_task, req)?;
            let (msg, detail) = check_result::split(&resp.msg);
            let shown = pb::CheckTaskResponse {
                result: resp.result,
                msg: msg.to_string(),
            };
            answer(&WithDetail::new(&shown, detail), resp.result)
        }
        Command::OperateSource {
            op,
            args,
            print_sample_config,
        } => {
            if print_sample_config {
                return Ok(Outcome {
                    output: SourceConfig::sample().to_string(),
                    ok: true,
                });
            }
            operate_source(op, args, sources, masters).await?
        }
        Command::ListMember {
            leader,
            master,
            worker,
            names,
        } => {
            let req = pb::ListMemberRequest {
                leader,
                master,
                worker,
                names,
            };
            let resp = rpc!(masters, list_member, req)?;
            answer(&resp, resp.result)
        }
        Command::OfflineMember {
            master,
            worker,
            name,
        } => {
            let kind = match (master, worker) {
                (true, _) => "master",
                (_, true) => "worker",
                _ => {
                    return Err(CtlError::Flag {
                        flag: "offline-member",
                        message: "give --master or --worker".into(),
                    })
                }
            };
            let req = pb::OfflineMemberRequest {
                r#type: kind.into(),
                name,
            };
            let resp = rpc!(masters, offline_member, req)?;
            answer(&resp, resp.result)
        }
        Command::TransferSource {
            source_id,
            worker_id,
        } => {
            let req = pb::TransferSourceRequest {
                source: source_id,
                worker: worker_id,
            };
            let resp = rpc!(masters, transfer_source, req)?;
            answer(&resp, resp.result)
        }
        Command::ShowDdlLocks { task } => {
            let task = task
                .as_deref()
                .map(task_name)
                .transpose()?
                .unwrap_or_default();
            let req = pb::ShowDdlLocksRequest { task, sources };
            let resp = rpc!(masters, show_ddl_locks, req)?;
            answer(&resp, resp.result)
        }
        Command::UnlockDdlLock {
            lock_id,
            owner,
            force_remove,
        } => {
            let req = pb::UnlockDdlLockRequest {
                id: lock_id,
                replace_owner: owner.unwrap_or_default(),
                force_remove,
            };
            let resp = rpc!(masters, unlock_ddl_lock, req)?;
            answer(&resp, resp.result)
        }
        Command::GetConfig { kind, name, file } => {
            let r#type = match kind {
                ConfigKind::Task => pb::CfgType::TaskType,
                ConfigKind::Master => pb::CfgType::MasterType,
                ConfigKind::Worker => pb::CfgType::WorkerType,
                ConfigKind::Source => pb::CfgType::SourceType,
            } as i32;
            let req = pb::GetCfgRequest { r#type, name };
            let resp = rpc!(masters, get_cfg, req)?;
            if let (Some(path), true) = (file, resp.result) {
                std::fs::write(&path, &resp.cfg).map_err(|source| CtlError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                let done = pb::GetCfgResponse {
                    result: true,
                    msg: format!("config written to {}", path.display()),
                    cfg: String::new(),
                };
                answer(&done, true)
            } else {
                answer(&resp, resp.result)
            }
        }
        Command::CheckDiff {
            task,
            chunk_size,
            max_rows,
        } => {
            if chunk_size == 0 || max_rows == 0 {
                return Err(CtlError::Flag {
                    flag: "check-diff",
                    message: "--chunk-size and --max-rows must be at least 1".into(),
                });
            }
            let req = pb::CheckDiffRequest {
                task: task_name(&task)?,
                chunk_rows: chunk_size,
                max_rows,
            };
            let resp = rpc!(masters, check_diff, req)?;
            answer(&crate::diff::printable(&resp), resp.result)
        }
        Command::BinlogSchema(op) => {
            let (verb, args, from) = match op {
                BinlogSchemaOp::List { args } => {
                    (schema::Verb::List, args, schema::From::default())
                }
                BinlogSchemaOp::Update {
                    args,
                    from_source,
                    from_target,
                    ..
                } => (
                    schema::Verb::Update,
                    args,
                    schema::From {
                        source: from_source,
                        target: from_target,
                    },
                ),
                BinlogSchemaOp::Delete { args } => {
                    (schema::Verb::Delete, args, schema::From::default())
                }
            };
            let target = schema::target(verb, &args, &sources)?;
            let task = task_name(&target.task)?;
            let req = schema::request(verb, target, task, from)?;
            operate_schema(req, masters).await?
        }
        Command::OperateSchema {
            op,
            task,
            schema_file,
            database,
            table,
            ..
        } => {
            let verb = match op {
                OperateSchemaOp::Get => schema::Verb::List,
                OperateSchemaOp::Set => schema::Verb::Update,
                OperateSchemaOp::Remove => schema::Verb::Delete,
            };
            if sources.is_empty() {
                return Ok(failure(
                    "must specify at least one source (`-s` / `--source`)",
                ));
            }
            let (Some(database), Some(table)) = (database, table) else {
                return Ok(failure("must specify 'database' (`-d`) and 'table' (`-t`)"));
            };
            if verb != schema::Verb::Update && schema_file.is_some() {
                return Ok(failure("a schema file is only taken by 'set'"));
            }
            let target = schema::Target {
                task: task.clone(),
                sources,
                database,
                table,
                file: schema_file.map(|f| f.display().to_string()),
            };
            let req = schema::request(verb, target, task_name(&task)?, schema::From::default())?;
            operate_schema(req, masters).await?
        }
        Command::OperateLeader { op, name } => {
            let op = match op.as_str() {
                "evict" => pb::LeaderOp::EvictLeaderOp,
                "cancel-evict" => pb::LeaderOp::CancelEvictLeaderOp,
                other => {
                    return Ok(failure(&format!(
                        "invalid operate '{other}' on leader; use `evict` or `cancel-evict`"
                    )))
                }
            };
            let req = pb::OperateLeaderRequest {
                op: op as i32,
                name: name.unwrap_or_default(),
            };
            let resp = rpc!(masters, operate_leader, req)?;
            answer(&resp, resp.result)
        }
        Command::Config(c) => crate::config_io::run(c, masters).await?,
        Command::ShardDdlLock(args) => crate::shard_lock::run(args, sources, masters).await?,
        Command::Encrypt {
            text,
            secret_key_path,
        } => match secret_key(secret_key_path.as_deref()) {
            Ok(key) => Outcome {
                output: key.encrypt(&text),
                ok: true,
            },
            Err(e) => failure(&e.to_string()),
        },
        Command::Decrypt {
            text,
            secret_key_path,
        } => match secret_key(secret_key_path.as_deref()).map(|key| key.decrypt(&text)) {
            Ok(Ok(plain)) => Outcome {
                output: plain,
                ok: true,
            },
            Ok(Err(e)) => failure(&format!("can not decrypt password {text}: {e}")),
            Err(e) => failure(&e.to_string()),
        },
        Command::Binlog(cmd) => {
            let (verb, args) = match cmd.op {
                BinlogOp::Skip { args } => (binlog::Verb::Skip, args),
                BinlogOp::Replace { args } => (binlog::Verb::Replace, args),
                BinlogOp::Revert { args } => (binlog::Verb::Revert, args),
                BinlogOp::Inject { args } => (binlog::Verb::Inject, args),
                BinlogOp::List { args } => (binlog::Verb::List, args),
            };
            let mut req = binlog::request(verb, &args, &sources, cmd.binlog_pos.as_deref())?;
            req.task = task_name(&req.task)?;
            handle_error(req, masters).await?
        }
        Command::HandleError { args, binlog_pos } => {
            let mut req = binlog::handle_error_request(&args, &sources, binlog_pos.as_deref())?;
            req.task = task_name(&req.task)?;
            handle_error(req, masters).await?
        }
        Command::Exit => Outcome {
            output: String::new(),
            ok: true,
        },
    })
}

/// `--start-time` as given, once it has one of DM's forms.
fn checked_start_time(text: Option<String>) -> Result<String, CtlError> {
    let Some(text) = text else {
        return Ok(String::new());
    };
    dm_proto::start_time::StartTime::parse(&text).map_err(|e| CtlError::Flag {
        flag: "start-time",
        message: e.to_string(),
    })?;
    Ok(text
        .trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string())
}

/// Sends a `binlog` request; it succeeds when every source did.
async fn handle_error(req: pb::HandleErrorRequest, masters: &Masters) -> Result<Outcome, CtlError> {
    let resp = rpc!(masters, handle_error, req)?;
    let ok = resp.result && resp.sources.iter().all(|s| s.result);
    Ok(answer(&resp, ok))
}

/// Sends a `binlog-schema` request; it succeeds when every source did.
async fn operate_schema(
    req: pb::OperateSchemaRequest,
    masters: &Masters,
) -> Result<Outcome, CtlError> {
    let resp = rpc!(masters, operate_schema, req)?;
    let ok = resp.result && resp.sources.iter().all(|s| s.result);
    Ok(answer(&resp, ok))
}

/// One task, or (without a task) every task of the `-s` sources.
async fn operate_task(
    op: pb::TaskOp,
    arg: crate::cli::TaskArg,
    sources: Vec<String>,
    masters: &Masters,
) -> Result<Outcome, CtlError> {
    let Some(task) = arg.task else {
        return crate::batch::run(op, sources, arg.batch_size, masters).await;
    };
    let req = pb::OperateTaskRequest {
        op: op as i32,
        name: task_name(&task)?,
        sources,
    };
    let resp = rpc!(masters, operate_task, req)?;
    Ok(answer(&resp, resp.result))
}

/// `operate-source`; `-s` sources come first among the source ids (as in
/// DM), so `show -s mysql1` shows that source only.
async fn operate_source(
    op: SourceOp,
    args: Vec<String>,
    sources: Vec<String>,
    masters: &Masters,
) -> Result<Outcome, CtlError> {
    let mut config = Vec::new();
    let mut source_id = sources;
    let op = match op {
        SourceOp::Update => {
            return Ok(failure(
                "updating a source is not supported; stop it and create it again",
            ))
        }
        SourceOp::Create => {
            if args.is_empty() {
                return Ok(failure(
                    "operate-source create needs at least one source file",
                ));
            }
            for arg in &args {
                let path = Path::new(arg);
                let text = read(path)?;
                SourceConfig::parse(arg, &text)?;
                config.push(text);
            }
            pb::SourceOp::StartSource
        }
        SourceOp::Stop => {
            for arg in &args {
                let path = Path::new(arg);
                if path.is_file() {
                    source_id.push(SourceConfig::from_file(path)?.source_id);
                } else {
                    source_id.push(arg.clone());
                }
            }
            pb::SourceOp::StopSource
        }
        SourceOp::Show => {
            source_id.extend(args);
            pb::SourceOp::ShowSource
        }
    };
    let req = pb::OperateSourceRequest {
        op: op as i32,
        config,
        source_id,
    };
    let resp = rpc!(masters, operate_source, req)?;
    Ok(answer(&resp, resp.result))
}

/// The key of `encrypt` / `decrypt`: the file's, or DM's built-in one.
fn secret_key(
    path: Option<&std::path::Path>,
) -> Result<dm_proto::secret::SecretKey, dm_proto::secret::KeyFileError> {
    match path {
        Some(path) => dm_proto::secret::load_key_file(path),
        None => Ok(dm_proto::secret::SecretKey::dm_default()),
    }
}
