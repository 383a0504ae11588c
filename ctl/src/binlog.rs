//! `binlog skip|replace|revert|inject|list TASK [-s ..] [-b POS]` and DM
//! 2.0.7's `handle-error TASK [-s ..] [-b POS] skip|replace|revert [SQLS]`:
//! the arguments, checked here before any master is asked (the position
//! and statements as `dm_proto::binlog_op` reads them; DM's texts).

use dm_proto::binlog_op::{parse_binlog_pos, split_sqls};
use dm_proto::pb;

use crate::error::CtlError;

/// Which `binlog` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Skip,
    Replace,
    Revert,
    Inject,
    List,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Skip => "binlog skip",
            Verb::Replace => "binlog replace",
            Verb::Revert => "binlog revert",
            Verb::Inject => "binlog inject",
            Verb::List => "binlog list",
        }
    }

    fn op(self) -> pb::ErrorOp {
        match self {
            Verb::Skip => pb::ErrorOp::Skip,
            Verb::Replace => pb::ErrorOp::Replace,
            Verb::Revert => pb::ErrorOp::Revert,
            Verb::Inject => pb::ErrorOp::Inject,
            Verb::List => pb::ErrorOp::List,
        }
    }

    fn takes_sqls(self) -> bool {
        matches!(self, Verb::Replace | Verb::Inject)
    }
}

/// The request for `binlog VERB args` (`args`: the task, then the
/// statements of replace / inject); the task is resolved later.
pub fn request(
    verb: Verb,
    args: &[String],
    sources: &[String],
    binlog_pos: Option<&str>,
) -> Result<pb::HandleErrorRequest, CtlError> {
    let flag = |message: String| CtlError::Flag {
        flag: verb.name(),
        message,
    };
    let Some((task, rest)) = args.split_first() else {
        return Err(flag("expected TASK".into()));
    };
    if verb.takes_sqls() && rest.is_empty() {
        return Err(flag(format!(
            "expected TASK and the statements to {}, e.g. \"ALTER TABLE db.t ADD COLUMN c INT; ...\"",
            if verb == Verb::Replace { "run instead" } else { "run first" }
        )));
    }
    if !verb.takes_sqls() && verb != Verb::Revert && !rest.is_empty() {
        // DM ignores revert's extra arguments; the others take none.
        return Err(flag(format!(
            "expected TASK only, got {} more argument(s): {}",
            rest.len(),
            rest.join(" ")
        )));
    }
    finish(
        verb.op(),
        task,
        rest,
        sources,
        binlog_pos,
        verb.takes_sqls(),
    )
}

/// The request for DM 2.0.7's `handle-error TASK OP [SQLS]`.
pub fn handle_error_request(
    args: &[String],
    sources: &[String],
    binlog_pos: Option<&str>,
) -> Result<pb::HandleErrorRequest, CtlError> {
    let flag = |message: String| CtlError::Flag {
        flag: "handle-error",
        message,
    };
    let [task, op, sqls @ ..] = args else {
        return Err(flag(
            "expected TASK and an operation: handle-error <task-name | task-file> [-s source ...] [-b binlog-pos] <skip/replace/revert> [replace-sql1;replace-sql2;]".into(),
        ));
    };
    let op = match op.as_str() {
        "skip" => pb::ErrorOp::Skip,
        "replace" => pb::ErrorOp::Replace,
        "revert" => pb::ErrorOp::Revert,
        other => {
            return Err(flag(format!(
                "invalid operation '{other}', please use `skip`, `replace` or `revert`"
            )))
        }
    };
    if op == pb::ErrorOp::Replace && sqls.is_empty() {
        return Err(flag(
            "must specify the replace-sqls for replace operation".into(),
        ));
    }
    if op != pb::ErrorOp::Replace && !sqls.is_empty() {
        return Err(flag(
            "replace-sqls can not be used for 'skip/revert' operation".into(),
        ));
    }
    finish(
        op,
        task,
        sqls,
        sources,
        binlog_pos,
        op == pb::ErrorOp::Replace,
    )
}

fn finish(
    op: pb::ErrorOp,
    task: &str,
    rest: &[String],
    sources: &[String],
    binlog_pos: Option<&str>,
    takes_sqls: bool,
) -> Result<pb::HandleErrorRequest, CtlError> {
    let flag = |message: String| CtlError::Flag {
        flag: "binlog",
        message,
    };
    let binlog_pos = binlog_pos.unwrap_or_default().trim().to_string();
    if !binlog_pos.is_empty() {
        parse_binlog_pos(&binlog_pos).map_err(|e| flag(e.to_string()))?;
    }
    let sqls = if takes_sqls {
        split_sqls(rest).map_err(|e| flag(e.to_string()))?
    } else {
        Vec::new()
    };
    Ok(pb::HandleErrorRequest {
        op: op as i32,
        task: task.to_string(),
        sources: sources.to_vec(),
        binlog_pos,
        sqls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn binlog_commands_take_dms_arguments() {
        let req =
            request(Verb::Skip, &args(&["t"]), &[], Some("mysql-bin.000001:4")).expect("skip");
        assert_eq!(req.op, pb::ErrorOp::Skip as i32);
        assert_eq!(req.binlog_pos, "mysql-bin.000001:4");
        let req = request(
            Verb::Replace,
            &args(&[
                "t",
                "ALTER TABLE db.t ADD c INT;",
                "ALTER TABLE db.t ADD d INT",
            ]),
            &args(&["s1"]),
            None,
        )
        .expect("replace");
        assert_eq!(
            req.sqls,
            ["ALTER TABLE db.t ADD c INT", "ALTER TABLE db.t ADD d INT"]
        );
        assert_eq!(req.sources, ["s1"]);
        assert!(request(Verb::Replace, &args(&["t"]), &[], None).is_err());
        assert!(request(Verb::List, &args(&["t", "x"]), &[], None).is_err());
        assert!(request(Verb::Revert, &args(&["t", "ignored"]), &[], None).is_ok());
        assert_eq!(
            request(Verb::Skip, &args(&["t"]), &[], Some("bad"))
                .map_err(|e| e.to_string())
                .err(),
            Some("binlog: invalid --binlog-pos bad in handle-error operation: the format should be filename:pos (or a GTID domain-server-sequence for a subtask that uses GTID), position string bad".into())
        );
        assert_eq!(
            request(
                Verb::Inject,
                &args(&["t", "ALTER TABLE t ADD c INT"]),
                &[],
                None
            )
            .map_err(|e| e.to_string())
            .err(),
            Some(
                "binlog: injected DDL ALTER TABLE t ADD c INT without schema name not valid".into()
            )
        );
    }

    #[test]
    fn handle_error_checks_as_dm_2_0_7() {
        let err = |a: &[&str]| {
            handle_error_request(&args(a), &[], None)
                .map_err(|e| e.to_string())
                .err()
        };
        assert_eq!(
            err(&["t", "skip", "x"]),
            Some("handle-error: replace-sqls can not be used for 'skip/revert' operation".into())
        );
        assert_eq!(
            err(&["t", "replace"]),
            Some("handle-error: must specify the replace-sqls for replace operation".into())
        );
        assert_eq!(
            err(&["t", "inject"]),
            Some(
                "handle-error: invalid operation 'inject', please use `skip`, `replace` or `revert`"
                    .into()
            )
        );
        let req = handle_error_request(
            &args(&["t", "replace", "ALTER TABLE db.t ADD c INT"]),
            &[],
            None,
        )
        .expect("replace");
        assert_eq!(req.op, pb::ErrorOp::Replace as i32);
    }
}
