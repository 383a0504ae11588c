//! The source file's keys (`operate-source create`).

use serde_json::Value;

use super::task::connection_refusals;
use super::Status::{Implemented, NoOp, Refused};
use super::{keys_of, reasons, refusals, Refusal, Section};
use crate::config::{CheckerConfig, PurgeConfig, SourceConfig};

/// Top-level keys of a source file.
pub static SOURCE: Section = Section {
    name: "source file",
    keys: &[
        ("source-id", Implemented),
        (
            "enable-gtid",
            NoOp("checkpoints keep the binlog file and position together with the server's GTID set; the reader needs no choice between them"),
        ),
        (
            "auto-fix-gtid",
            NoOp("it repairs relay logs, which are not kept"),
        ),
        ("enable-relay", Refused(reasons::RELAY)),
        ("relay-binlog-name", Refused(reasons::RELAY_SETTING)),
        ("relay-binlog-gtid", Refused(reasons::RELAY_SETTING)),
        ("relay-dir", NoOp(reasons::RELAY_DIR)),
        (
            "meta-dir",
            NoOp("positions are checkpointed downstream with the data, not in local files"),
        ),
        (
            "flavor",
            NoOp("the reader speaks to MySQL and MariaDB alike and learns the kind from the server"),
        ),
        (
            "charset",
            NoOp("row values are decoded with each column's own character set"),
        ),
        ("server-id", Implemented),
        ("from", Implemented),
        ("purge", NoOp(reasons::PURGE)),
        ("checker", Implemented),
        ("case-sensitive", Implemented),
        ("filters", Implemented),
        ("tracer", NoOp(reasons::TRACER)),
    ],
    real_keys: keys_of::<SourceConfig>,
};

/// `purge` (relay logs).
pub static PURGE: Section = Section {
    name: "source file: purge",
    keys: &[
        ("interval", NoOp(reasons::PURGE)),
        ("expires", NoOp(reasons::PURGE)),
        ("remain-space", NoOp(reasons::PURGE)),
    ],
    real_keys: keys_of::<PurgeConfig>,
};

/// `checker` (auto-resume of paused subtasks).
pub static CHECKER: Section = Section {
    name: "source file: checker",
    keys: &[
        ("check-enable", Implemented),
        ("backoff-rollback", Implemented),
        ("backoff-max", Implemented),
        ("check-interval", Implemented),
        ("backoff-min", Implemented),
        ("backoff-jitter", Implemented),
        ("backoff-factor", Implemented),
    ],
    real_keys: keys_of::<CheckerConfig>,
};

/// Every section of a source file (its `from` is the task file's
/// connection section, its `filters[]` the task file's filter section).
pub static SECTIONS: &[&Section] = &[&SOURCE, &PURGE, &CHECKER];

/// The refused keys a source sets.
pub fn source_refusals(source: &SourceConfig) -> Vec<Refusal> {
    let base = crate::config::yaml::from_str::<SourceConfig>(
        "defaults",
        "{source-id: s, from: {host: h, user: u}}",
    )
    .ok()
    .and_then(|s| serde_json::to_value(s).ok())
    .unwrap_or(Value::Null);
    let mut found = refusals(&SOURCE, source, &base, "");
    found.extend(connection_refusals(&source.from, "from"));
    found
}
