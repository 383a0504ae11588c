//! `binlog-schema list|update|delete` and DM 2.0.7's `operate-schema
//! get|set|remove`: the arguments, checked here before any master is
//! asked.
//!
//! `binlog-schema` takes its table as positional arguments, in one of two
//! forms told apart by `-s`: `TASK SOURCE DATABASE TABLE` names one
//! source; with `-s SOURCE[,SOURCE]` (DM's form) the positionals are
//! `TASK DATABASE TABLE`. `update` then takes a file holding the
//! CREATE TABLE statement, or `--from-source` / `--from-target` instead.
//! A file must hold exactly one CREATE TABLE statement; anything else is
//! refused naming the file.

use std::path::Path;

use dm_proto::pb;
use dm_proto::schema_op::check_create_table;

use crate::error::CtlError;

/// Which `binlog-schema` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    List,
    Update,
    Delete,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::List => "binlog-schema list",
            Verb::Update => "binlog-schema update",
            Verb::Delete => "binlog-schema delete",
        }
    }

    fn op(self) -> pb::SchemaOp {
        match self {
            Verb::List => pb::SchemaOp::GetSchema,
            Verb::Update => pb::SchemaOp::SetSchema,
            Verb::Delete => pb::SchemaOp::RemoveSchema,
        }
    }
}

/// Where `update` takes the definition from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct From {
    pub source: bool,
    pub target: bool,
}

/// The table a `binlog-schema` command is about, and its file if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The task's name, or a task file (resolved later).
    pub task: String,
    pub sources: Vec<String>,
    pub database: String,
    pub table: String,
    pub file: Option<String>,
}

/// Reads `args` as `TASK SOURCE DATABASE TABLE [FILE]`, or, with `-s`
/// (`sources` not empty), as `TASK DATABASE TABLE [FILE]`.
pub fn target(verb: Verb, args: &[String], sources: &[String]) -> Result<Target, CtlError> {
    let takes_file = verb == Verb::Update;
    let (form, fixed) = if sources.is_empty() {
        ("TASK SOURCE DATABASE TABLE", 4)
    } else {
        ("TASK DATABASE TABLE (with -s SOURCE)", 3)
    };
    let most = fixed + usize::from(takes_file);
    if args.len() < fixed || args.len() > most {
        let file = if takes_file { " [FILE]" } else { "" };
        let other = if sources.is_empty() {
            format!("or TASK DATABASE TABLE{file} with -s SOURCE")
        } else {
            format!("or TASK SOURCE DATABASE TABLE{file} without -s")
        };
        return Err(CtlError::Flag {
            flag: verb.name(),
            message: format!(
                "expected {form}{file} ({other}), got {} argument(s): {}",
                args.len(),
                args.join(" ")
            ),
        });
    }
    let mut rest = args.iter().cloned();
    let mut next = || rest.next().unwrap_or_default();
    let task = next();
    let sources = if sources.is_empty() {
        vec![next()]
    } else {
        sources.to_vec()
    };
    let database = next();
    let table = next();
    let file = Some(next()).filter(|f| !f.is_empty());
    if let Some(empty) = [("TASK", &task), ("DATABASE", &database), ("TABLE", &table)]
        .into_iter()
        .find(|(_, v)| v.is_empty())
        .map(|(name, _)| name)
    {
        return Err(CtlError::Flag {
            flag: verb.name(),
            message: format!("{empty} must not be empty"),
        });
    }
    Ok(Target {
        task,
        sources,
        database,
        table,
        file,
    })
}

/// The request for `verb` on `target`; `update` reads and checks its file.
pub fn request(
    verb: Verb,
    target: Target,
    task: String,
    from: From,
) -> Result<pb::OperateSchemaRequest, CtlError> {
    let flag = |message: &str| CtlError::Flag {
        flag: verb.name(),
        message: message.to_string(),
    };
    let mut schema = String::new();
    if verb == Verb::Update {
        match (&target.file, from.source, from.target) {
            (_, true, true) => {
                return Err(flag("from-source and from-target can not be used together"))
            }
            (Some(_), true, _) | (Some(_), _, true) => {
                return Err(flag(
                    "can not set schema-file when use from-source or from-target",
                ))
            }
            (None, false, false) => {
                return Err(flag(
                    "give a file holding the CREATE TABLE statement, or --from-source (the upstream's current definition) or --from-target (the downstream table's)",
                ))
            }
            (Some(file), false, false) => schema = create_table_file(Path::new(file))?,
            (None, _, _) => {}
        }
    }
    Ok(pb::OperateSchemaRequest {
        op: verb.op() as i32,
        task,
        sources: target.sources,
        database: target.database,
        table: target.table,
        schema,
        // Accepted and unused, as the master says (see dmmaster.proto).
        flush: true,
        sync: true,
        from_source: from.source,
        from_target: from.target,
    })
}

/// The CREATE TABLE statement in `path`, checked.
pub fn create_table_file(path: &Path) -> Result<String, CtlError> {
    let text = std::fs::read_to_string(path).map_err(|source| CtlError::Io {
        path: path.display().to_string(),
        source,
    })?;
    check_create_table(&text).map_err(|e| CtlError::SchemaFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_source_is_positional_without_s_and_from_s_otherwise() {
        assert_eq!(
            target(Verb::List, &words("t mysql1 db tb"), &[]).expect("valid"),
            Target {
                task: "t".into(),
                sources: vec!["mysql1".into()],
                database: "db".into(),
                table: "tb".into(),
                file: None,
            }
        );
        assert_eq!(
            target(
                Verb::Update,
                &words("t db tb f.sql"),
                &["a".into(), "b".into()]
            )
            .expect("valid"),
            Target {
                task: "t".into(),
                sources: vec!["a".into(), "b".into()],
                database: "db".into(),
                table: "tb".into(),
                file: Some("f.sql".into()),
            }
        );
        assert_eq!(
            target(Verb::Update, &words("t mysql1 db tb"), &[])
                .expect("valid")
                .file,
            None
        );
    }

    #[test]
    fn a_wrong_count_says_both_forms() {
        let err = target(Verb::Delete, &words("t db tb"), &[]).expect_err("too few");
        assert_eq!(
            err.to_string(),
            "binlog-schema delete: expected TASK SOURCE DATABASE TABLE (or TASK DATABASE TABLE with -s SOURCE), got 3 argument(s): t db tb"
        );
        let err = target(Verb::List, &words("t db tb x"), &["s".into()]).expect_err("too many");
        assert_eq!(
            err.to_string(),
            "binlog-schema list: expected TASK DATABASE TABLE (with -s SOURCE) (or TASK SOURCE DATABASE TABLE without -s), got 4 argument(s): t db tb x"
        );
        let err = target(Verb::Update, &words("t s db tb f g"), &[]).expect_err("too many");
        assert!(err
            .to_string()
            .starts_with("binlog-schema update: expected TASK SOURCE DATABASE TABLE [FILE] "));
    }

    #[test]
    fn update_takes_a_file_or_a_server_and_not_both() {
        let t = |args: &str| target(Verb::Update, &words(args), &[]).expect("valid");
        let refused = |args: &str, from: From| {
            request(Verb::Update, t(args), "t".into(), from)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            refused(
                "t s db tb",
                From {
                    source: true,
                    target: true
                }
            ),
            "binlog-schema update: from-source and from-target can not be used together"
        );
        assert_eq!(
            refused(
                "t s db tb f.sql",
                From {
                    source: true,
                    target: false
                }
            ),
            "binlog-schema update: can not set schema-file when use from-source or from-target"
        );
        assert!(refused("t s db tb", From::default())
            .starts_with("binlog-schema update: give a file holding the CREATE TABLE statement"));
        let from_target = request(
            Verb::Update,
            t("t s db tb"),
            "t".into(),
            From {
                source: false,
                target: true,
            },
        )
        .expect("valid");
        assert!(from_target.from_target && from_target.schema.is_empty());
        assert_eq!(from_target.op, pb::SchemaOp::SetSchema as i32);
    }

    #[test]
    fn a_file_must_hold_one_create_table_and_is_named_when_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.sql");
        std::fs::write(&good, "CREATE TABLE tb (id INT PRIMARY KEY, v VARCHAR(10))")
            .expect("write");
        let bad = dir.path().join("bad.sql");
        std::fs::write(&bad, "ALTER TABLE tb ADD COLUMN c INT").expect("write");
        assert!(create_table_file(&good).is_ok_and(|s| s.starts_with("CREATE TABLE tb")));
        assert_eq!(
            create_table_file(&bad).expect_err("refused").to_string(),
            format!(
                "schema file {}: is not a CREATE TABLE statement (it starts `ALTER TABLE tb`); give one CREATE TABLE statement, as SHOW CREATE TABLE prints it",
                bad.display()
            )
        );
        let missing = dir.path().join("missing.sql");
        assert!(create_table_file(&missing)
            .expect_err("refused")
            .to_string()
            .starts_with(&missing.display().to_string()));
    }
}
