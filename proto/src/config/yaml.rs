//! Strict YAML parsing with positions.
//!
//! Structure (unknown keys, types, enum values) is checked by serde while
//! deserializing; serde_yaml reports the line and column. Semantic checks run
//! afterwards on the typed value and know only the key path of a problem
//! (`mysql-instances[1].route-rules[0]`), so [`KeyIndex`] maps every key path
//! of the document to the line and column where it is written, from the YAML
//! parser's event stream.
//!
//! serde_yaml is used only in this module so that it can be swapped for a
//! drop-in fork without touching the config types.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::error::{ConfigError, Location};

/// Deserializes `text` (named `file` in errors) into `T`.
pub fn from_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    serde_yaml::from_str(text).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (Some(l.line()), Some(l.column())))
            .unwrap_or((None, None));
        let message = strip_location_suffix(&err.to_string());
        ConfigError::Syntax {
            at: Location {
                file: file.to_string(),
                line,
                column,
            },
            message: rephrase(&message),
        }
    })
}

/// Serializes a config back to YAML (for `get-config`).
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, ConfigError> {
    serde_yaml::to_string(value).map_err(|e| ConfigError::Encode(e.to_string()))
}

/// serde_yaml appends " at line L column C"; the location is reported separately.
fn strip_location_suffix(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(idx) => message[..idx].to_string(),
        None => message.to_string(),
    }
}

/// Serde speaks of "fields" and "variants"; configuration files have keys and
/// values. serde_yaml prefixes the key path (`a.b[0]: ...`): quote it the way
/// the semantic checks do.
fn rephrase(message: &str) -> String {
    let message = message
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing required key")
        .replace("duplicate field", "duplicate key")
        .replace("unknown variant", "invalid value")
        .replace("``", "`\"\"`")
        .replace("expected u16", "expected an integer from 0 to 65535")
        .replace("expected u32", "expected an integer from 0 to 4294967295")
        .replace("expected u64", "expected a non-negative integer");
    match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') && !path.is_empty() => {
            format!("`{path}`: {rest}")
        }
        _ => message,
    }
}

/// 1-based (line, column).
type Position = (usize, usize);

/// A key written twice in one mapping: its path, first and second position.
type Duplicate = (String, Position, Position);

/// Line and column of every key (and sequence item) of a YAML document.
#[derive(Debug, Default, Clone)]
pub struct KeyIndex {
    file: String,
    positions: HashMap<String, Position>,
    duplicates: Vec<Duplicate>,
}

impl KeyIndex {
    /// Indexes `text`. A text that does not parse gives an empty index (the
    /// serde pass reports the syntax error).
    pub fn new(file: &str, text: &str) -> Self {
        let mut builder = IndexBuilder::default();
        let mut parser = Parser::new_from_str(text);
        // A parse error just leaves the index partial.
        let _ = parser.load(&mut builder, false);
        Self {
            file: file.to_string(),
            positions: builder.positions,
            duplicates: builder.duplicates,
        }
    }

    /// Whether `path` is written in the document.
    pub fn contains(&self, path: &str) -> bool {
        self.positions.contains_key(path)
    }

    /// Rejects a key written twice in one mapping (YAML requires unique keys;
    /// serde would silently keep the last one).
    pub fn check_duplicates(&self) -> Result<(), ConfigError> {
        match self.duplicates.first() {
            None => Ok(()),
            Some((path, (first_line, _), (line, column))) => Err(ConfigError::Invalid {
                at: Location::at(self.file.clone(), *line, *column),
                key: path.clone(),
                message: format!("is written twice (first at line {first_line}); keep one"),
            }),
        }
    }

    /// Rejects a mapping that has both a key and its deprecated alias
    /// (`block-allow-list` and `black-white-list`).
    pub fn check_alias_pair(&self, parent: &str, key: &str, old: &str) -> Result<(), ConfigError> {
        let old_path = join(parent, old);
        if self.contains(&join(parent, key)) && self.contains(&old_path) {
            return Err(self.invalid(
                &old_path,
                format!("is the old name of `{key}`, which is also set; keep only `{key}`"),
            ));
        }
        Ok(())
    }

    /// Where `path` is written; falls back to the nearest written ancestor
    /// (a missing key is reported at the mapping that lacks it).
    pub fn locate(&self, path: &str) -> Location {
        let mut candidate = path;
        loop {
            if let Some(&(line, column)) = self.positions.get(candidate) {
                return Location::at(self.file.clone(), line, column);
            }
            match parent_path(candidate) {
                Some(parent) => candidate = parent,
                None => return Location::file(self.file.clone()),
            }
        }
    }

    /// An [`ConfigError::Invalid`] at `path`.
    pub fn invalid(&self, path: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            at: self.locate(path),
            key: path.to_string(),
            message: message.into(),
        }
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> None.
fn parent_path(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        /// A sequence item not yet positioned: placed at its first key,
        /// which is where a reader looks for it.
        unplaced_item: bool,
    },
    Seq {
        path: String,
        index: usize,
    },
}

#[derive(Default)]
struct IndexBuilder {
    stack: Vec<Frame>,
    positions: HashMap<String, Position>,
    duplicates: Vec<Duplicate>,
}

impl IndexBuilder {
    /// Path of the node that is about to start; a sequence item is placed
    /// at `mark` when given.
    fn child_path(&mut self, mark: Option<Marker>) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Map { path, key, .. }) => join(path, key.as_deref().unwrap_or("")),
            Some(Frame::Seq { path, index }) => {
                let item = format!("{path}[{index}]");
                if let Some(mark) = mark {
                    self.positions.entry(item.clone()).or_insert(position(mark));
                }
                item
            }
        }
    }

    /// A value (scalar or collection) finished: the parent moves on.
    fn value_done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }
}

/// 1-based line and column (yaml-rust2's column counts from 0).
fn position(mark: Marker) -> Position {
    (mark.line(), mark.col() + 1)
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl MarkedEventReceiver for IndexBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map {
                    path,
                    key,
                    unplaced_item,
                }) = self.stack.last_mut()
                {
                    if key.is_none() {
                        let full = join(path, &value);
                        let here = position(mark);
                        if std::mem::take(unplaced_item) {
                            self.positions.entry(path.clone()).or_insert(here);
                        }
                        match self.positions.get(&full) {
                            Some(&first) => self.duplicates.push((full, first, here)),
                            None => {
                                self.positions.insert(full, here);
                            }
                        }
                        *key = Some(value);
                        return;
                    }
                }
                self.child_path(Some(mark));
                self.value_done();
            }
            Event::Alias(_) => {
                self.child_path(Some(mark));
                self.value_done();
            }
            Event::MappingStart(..) => {
                let unplaced_item = matches!(self.stack.last(), Some(Frame::Seq { .. }));
                let path = self.child_path(None);
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    unplaced_item,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.child_path(Some(mark));
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: t\nmysql-instances:\n  - source-id: a\n    route-rules: [r1, r2]\n  - source-id: b\nroutes:\n  r1:\n    schema-pattern: x\n";

    #[test]
    fn locates_keys_and_items() {
        let index = KeyIndex::new("t.yaml", DOC);
        assert_eq!(index.locate("name").to_string(), "t.yaml:1:1");
        assert_eq!(index.locate("mysql-instances[1]").to_string(), "t.yaml:5:5");
        assert_eq!(
            index.locate("mysql-instances[0].source-id").to_string(),
            "t.yaml:3:5"
        );
        assert_eq!(
            index
                .locate("mysql-instances[0].route-rules[1]")
                .to_string(),
            "t.yaml:4:23"
        );
        assert_eq!(
            index.locate("mysql-instances[1].source-id").to_string(),
            "t.yaml:5:5"
        );
        assert_eq!(
            index.locate("routes.r1.schema-pattern").to_string(),
            "t.yaml:8:5"
        );
    }

    #[test]
    fn finds_duplicate_keys() {
        let index = KeyIndex::new("t.yaml", "a: 1\nb:\n  c: 1\n  c: 2\n");
        let err = index.check_duplicates().unwrap_err().to_string();
        assert_eq!(
            err,
            "t.yaml:4:3: `b.c`: is written twice (first at line 3); keep one"
        );
    }

    #[test]
    fn missing_key_falls_back_to_its_parent() {
        let index = KeyIndex::new("t.yaml", DOC);
        assert_eq!(
            index.locate("routes.r1.target-schema").to_string(),
            "t.yaml:7:3"
        );
        assert_eq!(index.locate("nothing").to_string(), "t.yaml");
    }
}
