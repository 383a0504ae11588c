//! The inventory of configuration keys: for every key of every
//! configuration struct (task, source, master and worker files, their
//! sections, and the daemons' command-line flags), exactly one [`Status`].
//!
//! Why: a key that is parsed and then ignored makes a user believe a rule
//! or a protection is in force when it is not. So each key is either
//! implemented, refused with a message saying what to do instead, or
//! accepted as a no-op with the reason our design makes it unnecessary.
//!
//! The tables cannot drift from the structs: [`keys_of`] reads a struct's
//! keys from its own `Deserialize` impl (the names serde matches), and the
//! tests fail when a struct has a key without a status or a status names a
//! key the struct lacks. The README's list of refused and no-op keys is
//! generated from the same tables ([`readme_table`]) and compared by a test.
//!
//! A refused key refuses only when the file (or flag) sets it to something
//! other than its default, so a sample that writes `enable-relay: false`
//! still works. "Set" is decided on the parsed value, generically: a key is
//! set when its serialized value is neither empty (`false`, `0`, `""`, an
//! empty list or map, a map of empties) nor the value the struct takes when
//! the key is absent ([`set_keys`]). The parsers report the first refused
//! key in document order, with file:line:key ([`Refusal`]).

pub mod daemons;
mod introspect;
pub mod source;
pub mod task;

use serde::Serialize;
use serde_json::Value;

pub use introspect::keys_of;

/// What a key does here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The key works as DM documents it.
    Implemented,
    /// Setting the key (to anything but its default) is an error; the text
    /// follows "`key`: " and says what to do instead.
    Refused(&'static str),
    /// Accepted, no effect: the reason our design makes it unnecessary.
    NoOp(&'static str),
}

/// One configuration struct's keys and their statuses.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// Where the keys are written, as a user names it (`task file`,
    /// `task file: mysql-instances[]`, `dm-master flags`).
    pub name: &'static str,
    /// Every key of the struct with its status.
    pub keys: &'static [(&'static str, Status)],
    /// The struct's real keys ([`keys_of`]), or a flag list.
    pub real_keys: fn() -> Vec<String>,
}

impl Section {
    /// The status of `key`, when the section lists it.
    pub fn status(&self, key: &str) -> Option<Status> {
        self.keys.iter().find(|(k, _)| *k == key).map(|(_, s)| *s)
    }
}

/// Every section of every configuration file and command line.
pub fn sections() -> Vec<&'static Section> {
    let mut all: Vec<&'static Section> = Vec::new();
    all.extend(task::SECTIONS);
    all.extend(source::SECTIONS);
    all.extend(daemons::SECTIONS);
    all
}

/// A refused key that a configuration sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The key's path in the file (`target-database.security.ssl-ca`).
    pub path: String,
    /// The message after "`key`: ".
    pub message: &'static str,
}

/// Messages shared by several sections.
pub mod reasons {
    /// Relay-log keys of source and worker files.
    pub const RELAY: &str = "is not supported yet: relay logs are not built, the worker reads the upstream's binlog directly; remove it (or set it to false)";
    /// Relay-log settings other than `enable-relay`.
    pub const RELAY_SETTING: &str = "is not supported yet: relay logs are not built, the worker reads the upstream's binlog directly; remove the relay settings";
    /// Online DDL keys of a task.
    pub const ONLINE_DDL: &str = "is not supported yet: the shadow and trash tables of gh-ost and pt-online-schema-change would be replicated as ordinary tables; remove it (or set it to false) and run the schema change downstream too, or pause the task around it";
    /// `relay-dir`, which DM 1.x files (the tutorial's) write with relay
    /// logs off.
    pub const RELAY_DIR: &str =
        "relay logs are not kept (`enable-relay: true` is refused), so nothing is written there";
    /// Relay purge settings.
    pub const PURGE: &str =
        "purges relay logs, which are not kept: the worker reads the upstream's binlog directly";
    /// Deprecated `tracer` sections.
    pub const TRACER: &str = "deprecated in DM 2.x, which ignores it too";
}

/// The keys of `value` (a struct serialized as a map) that are set: not
/// empty and not equal to `baseline`'s value of the same key.
pub fn set_keys<T: Serialize>(value: &T, baseline: &Value) -> Vec<String> {
    let Ok(Value::Object(map)) = serde_json::to_value(value) else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(key, v)| !is_empty(v) && baseline.get(key) != Some(v))
        .map(|(key, _)| key)
        .collect()
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.values().all(is_empty),
    }
}

/// The refused keys of `section` that `value` sets, with `prefix` (the
/// section's path in the file) before each key.
pub fn refusals<T: Serialize>(
    section: &Section,
    value: &T,
    baseline: &Value,
    prefix: &str,
) -> Vec<Refusal> {
    set_keys(value, baseline)
        .into_iter()
        .filter_map(|key| match section.status(&key) {
            Some(Status::Refused(message)) => Some(Refusal {
                path: if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                },
                message,
            }),
            _ => None,
        })
        .collect()
}

/// A struct's values when no key is written, as JSON (for [`set_keys`]).
pub(crate) fn defaults<T: Default + Serialize>() -> Value {
    serde_json::to_value(T::default()).unwrap_or(Value::Null)
}

/// The README's section on refused and no-op keys (Markdown).
pub fn readme_table() -> String {
    let mut out = String::from("| where | key | status | why |\n|---|---|---|---|\n");
    for section in sections() {
        for (key, status) in section.keys {
            let (word, why) = match status {
                Status::Implemented => continue,
                Status::Refused(m) => ("refused", *m),
                Status::NoOp(m) => ("no-op", *m),
            };
            out.push_str(&format!(
                "| {} | `{key}` | {word} | {} |\n",
                section.name,
                why.replace('|', "\\|")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
