//! Configurations as the masters keep them: passwords encrypted.
//!
//! A source's `from.password` and a task's `target-database.password` are
//! written to the Raft log, its snapshots and every master's sled files.
//! The masters therefore encrypt a password given in plaintext when they
//! propose the source or task (never in `apply`: the random IV would make
//! each master's state differ), the way `dmctl encrypt` writes it; every
//! reader decrypts by DM's rule ([`crate::config::DbConfig::login_password`]). A password
//! already encrypted is kept as written ([`crate::config::DbConfig::encrypted`]).
//!
//! A task file is kept as the user wrote it (comments and layout are what
//! `get-config` shows), with only the password's value replaced in place;
//! should the text not allow that (a flow mapping, say), the task is
//! written back from its parsed form instead. Either way the result must
//! parse to the same task with the encrypted password.

use super::task::TaskConfig;
use super::yaml::KeyIndex;

/// The task file `text` (of `task`, as parsed from it) with its
/// `target-database.password` encrypted.
pub fn task_yaml_at_rest(text: &str, task: &TaskConfig) -> String {
    let db = &task.target_database;
    if db.password.is_empty() || db.password_is_encrypted() {
        return text.to_string();
    }
    let mut expected = task.clone();
    expected.target_database = db.encrypted();
    let encrypted = expected.target_database.password.clone();
    let parses_as_expected = |candidate: &str| {
        TaskConfig::parse("task", candidate).is_ok_and(|mut t| {
            // The stored password decides nothing else.
            let same_password = t.target_database.password == encrypted;
            t.target_database.password = encrypted.clone();
            same_password && t == expected
        })
    };
    if let Some(candidate) = replaced_in_place(text, &encrypted) {
        if parses_as_expected(&candidate) {
            return candidate;
        }
    }
    // Written back whole; `to_yaml` output parses (get-config relies on it).
    expected.to_yaml().unwrap_or_else(|_| text.to_string())
}

/// `text` with the value on the line of `target-database.password`
/// replaced by `encrypted` (quoted).
fn replaced_in_place(text: &str, encrypted: &str) -> Option<String> {
    let at = KeyIndex::new("task", text).locate("target-database.password");
    let line_no = at.line?;
    let column = at.column?;
    let mut out = String::with_capacity(text.len() + encrypted.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 != line_no {
            out.push_str(line);
            continue;
        }
        let start = line.char_indices().nth(column - 1).map(|(b, _)| b)?;
        let colon = start + line.get(start..)?.find(':')?;
        let ending = if line.ends_with("\r\n") {
            "\r\n"
        } else if line.ends_with('\n') {
            "\n"
        } else {
            ""
        };
        out.push_str(line.get(..=colon)?);
        out.push_str(&format!(" \"{encrypted}\"{ending}"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = "# the tutorial's task\nname: t\ntask-mode: all\ntarget-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  password: \"s3cret\"   # plain\nmysql-instances:\n  - source-id: mysql1\n    block-allow-list: a\nblock-allow-list:\n  a:\n    do-dbs: [app]\n";

    #[test]
    fn a_task_files_password_is_encrypted_in_place() {
        let task = TaskConfig::parse("t", TASK).expect("task");
        let stored = task_yaml_at_rest(TASK, &task);
        assert!(!stored.contains("s3cret"), "{stored}");
        assert!(stored.starts_with("# the tutorial's task\n"), "{stored}");
        let back = TaskConfig::parse("t", &stored).expect("parses");
        assert_eq!(back.target_database.login_password(), "s3cret");
        // Once encrypted, kept.
        assert_eq!(task_yaml_at_rest(&stored, &back), stored);
    }

    #[test]
    fn a_flow_mapping_is_written_back_whole() {
        let text = TASK.replace(
            "target-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  password: \"s3cret\"   # plain\n",
            "target-database: {host: 127.0.0.1, port: 4000, password: s3cret, user: root}\n",
        );
        let task = TaskConfig::parse("t", &text).expect("task");
        let stored = task_yaml_at_rest(&text, &task);
        assert!(!stored.contains("s3cret"), "{stored}");
        let back = TaskConfig::parse("t", &stored).expect("parses");
        assert_eq!(back.target_database.login_password(), "s3cret");
        assert_eq!(back.target_database.user, "root");
    }

    #[test]
    fn empty_and_encrypted_passwords_are_kept() {
        let text = TASK.replace("  password: \"s3cret\"   # plain\n", "");
        let task = TaskConfig::parse("t", &text).expect("task");
        assert_eq!(task_yaml_at_rest(&text, &task), text);
        assert_eq!(task.target_database.encrypted().password, "");
    }
}
