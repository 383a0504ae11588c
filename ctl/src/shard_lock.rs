//! `shard-ddl-lock [TASK]` and `shard-ddl-lock unlock LOCK_ID`: DM's later
//! names of `show-ddl-locks` and `unlock-ddl-lock`, on the same requests.
//!
//! `--action skip|exec`, `--database` and `--table` are DM's flags for its
//! optimistic shard mode, where an unlock names one source's table and
//! says whether that source executes or skips the DDL. Every lock here is
//! pessimistic, as DM's are without them: the owner (or `--owner`)
//! executes the DDL and every other source skips it. So they are checked
//! as DM checks them and change nothing.

use clap::Args;
use dm_proto::pb;

use crate::client::Masters;
use crate::commands::{answer, failure, rpc, Outcome};
use crate::error::CtlError;

/// DM's text for an `--action` other than skip or exec.
pub const BAD_ACTION: &str = "please check --action argument, only exec/skip are acceptable";

#[derive(Debug, Args)]
pub struct ShardDdlLockArgs {
    /// `[TASK]` to show the locks (of all tasks when omitted), or `unlock
    /// LOCK_ID`.
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
    /// dm-worker to replace the default owner
    #[arg(short = 'o', long)]
    pub owner: Option<String>,
    /// force to remove DDL lock
    #[arg(short = 'f', long)]
    pub force_remove: bool,
    /// accept skip/exec values which means whether to skip or execute ddls
    /// (DM's optimistic mode only; every lock here is pessimistic: the owner
    /// executes and the others skip)
    #[arg(short = 'a', long, default_value = "skip")]
    pub action: String,
    /// database name of the table (DM's optimistic mode only)
    #[arg(short = 'd', long)]
    pub database: Option<String>,
    /// table name (DM's optimistic mode only)
    #[arg(short = 't', long)]
    pub table: Option<String>,
}

/// What the command line asks for (pure).
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Show { task: Option<String> },
    Unlock { lock_id: String },
}

/// Reads the positional arguments and checks the flags.
pub fn parse(args: &ShardDdlLockArgs) -> Result<Request, String> {
    match args.args.as_slice() {
        [] => Ok(Request::Show { task: None }),
        [unlock, rest @ ..] if unlock == "unlock" => {
            let [lock_id] = rest else {
                return Err(format!(
                    "shard-ddl-lock unlock takes exactly one lock ID (got {}); see `shard-ddl-lock` for the IDs",
                    rest.len()
                ));
            };
            if args.action != "skip" && args.action != "exec" {
                return Err(BAD_ACTION.to_string());
            }
            Ok(Request::Unlock {
                lock_id: lock_id.clone(),
            })
        }
        [task] => Ok(Request::Show {
            task: Some(task.clone()),
        }),
        more => Err(format!(
            "shard-ddl-lock takes at most one task (got {}: {}); to unlock write `shard-ddl-lock unlock LOCK_ID`",
            more.len(),
            more.join(" ")
        )),
    }
}

pub async fn run(
    args: ShardDdlLockArgs,
    sources: Vec<String>,
    masters: &Masters,
) -> Result<Outcome, CtlError> {
    match parse(&args) {
        Err(message) => Ok(failure(&message)),
        Ok(Request::Show { task }) => {
            let task = task
                .as_deref()
                .map(crate::commands::task_name)
                .transpose()?
                .unwrap_or_default();
            let req = pb::ShowDdlLocksRequest { task, sources };
            let resp = rpc!(masters, show_ddl_locks, req)?;
            Ok(answer(&resp, resp.result))
        }
        Ok(Request::Unlock { lock_id }) => {
            let req = pb::UnlockDdlLockRequest {
                id: lock_id,
                replace_owner: args.owner.unwrap_or_default(),
                force_remove: args.force_remove,
            };
            let resp = rpc!(masters, unlock_ddl_lock, req)?;
            Ok(answer(&resp, resp.result))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, Line};
    use clap::Parser;

    fn parsed(line: &[&str]) -> (Result<Request, String>, ShardDdlLockArgs) {
        let line = Line::try_parse_from(line).expect("parses");
        let Command::ShardDdlLock(args) = line.command else {
            panic!("not shard-ddl-lock: {line:?}");
        };
        (parse(&args), args)
    }

    #[test]
    fn show_and_unlock_forms() {
        assert_eq!(
            parsed(&["shard-ddl-lock"]).0,
            Ok(Request::Show { task: None })
        );
        assert_eq!(
            parsed(&["shard-ddl-lock", "dmtask2"]).0,
            Ok(Request::Show {
                task: Some("dmtask2".into())
            })
        );
        let (request, args) = parsed(&[
            "shard-ddl-lock",
            "unlock",
            "dmtask2-`db`.`t`",
            "-o",
            "mysql2",
            "-f",
            "-a",
            "exec",
        ]);
        assert_eq!(
            request,
            Ok(Request::Unlock {
                lock_id: "dmtask2-`db`.`t`".into()
            })
        );
        assert_eq!(args.owner.as_deref(), Some("mysql2"));
        assert!(args.force_remove);
        assert_eq!(
            parsed(&["shard-ddl-lock", "unlock", "x", "--action", "drop"]).0,
            Err(BAD_ACTION.to_string())
        );
        assert_eq!(
            parsed(&["shard-ddl-lock", "unlock"]).0,
            Err("shard-ddl-lock unlock takes exactly one lock ID (got 0); see `shard-ddl-lock` for the IDs".into())
        );
        assert!(parsed(&["shard-ddl-lock", "a", "b"]).0.is_err());
    }
}
