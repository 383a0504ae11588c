//! Strict TOML parsing for the dm-master and dm-worker config files, with
//! `file:line:column` in every error.

use serde::de::DeserializeOwned;

use super::error::{ConfigError, Location};

/// Deserializes `text` (named `file` in errors) into `T`.
pub fn from_str<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|err| {
        let at = match err.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                Location::at(file, line, column)
            }
            None => Location::file(file),
        };
        let message = err
            .message()
            .trim()
            .replace("unknown field", "unknown key")
            .replace("missing field", "missing required key")
            .replace("unknown variant", "invalid value");
        ConfigError::Syntax { at, message }
    })
}

/// Writes a configuration back as TOML (`get-config master|worker`).
pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, ConfigError> {
    toml::to_string(value).map_err(|e| ConfigError::Encode(e.to_string()))
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// Where a top-level `key = ...` is written in `text`.
pub fn locate_key(file: &str, text: &str, key: &str) -> Location {
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                return Location::at(file, n + 1, line.len() - trimmed.len() + 1);
            }
        }
        if trimmed.starts_with('[') {
            // Past the top-level table.
            break;
        }
    }
    Location::file(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 11), (2, 6));
    }

    #[test]
    fn locates_top_level_keys() {
        let text = "# c\nname = \"x\"\n  join = \"y\"\n[from]\nhost = \"h\"\n";
        assert_eq!(locate_key("f", text, "join").to_string(), "f:3:3");
        assert_eq!(locate_key("f", text, "host").to_string(), "f");
    }
}

/// Reads and parses the `--config` file when one is given (defaults
/// otherwise), and returns the config with an [`Origin`] ready for flags.
pub(crate) fn load_file<T: DeserializeOwned + Default>(
    path: Option<&std::path::Path>,
) -> Result<(T, Origin), ConfigError> {
    let Some(path) = path else {
        return Ok((T::default(), Origin::default()));
    };
    let text = super::error::read_file(path)?;
    let name = path.display().to_string();
    let cfg = from_str(&name, &text)?;
    let origin = Origin {
        file: Some((name, text)),
        ..Origin::default()
    };
    Ok((cfg, origin))
}

/// Where each value of a file-plus-flags config came from, so an error can
/// point at the flag or at the file's line.
#[derive(Debug, Default)]
pub(crate) struct Origin {
    /// The file's name and text, when a `--config` file was read.
    pub file: Option<(String, String)>,
    pub from_flags: std::collections::BTreeSet<&'static str>,
}

impl Origin {
    /// Overrides `field` with a flag's value, when the flag was given.
    pub fn flag<T: Clone>(&mut self, field: &mut T, value: &Option<T>, key: &'static str) {
        if let Some(v) = value {
            *field = v.clone();
            self.from_flags.insert(key);
        }
    }

    /// A [`ConfigError::Invalid`] for `key`, at the flag or the file line.
    pub fn invalid(&self, key: &str, message: impl ToString) -> ConfigError {
        ConfigError::Invalid {
            at: self.place(key),
            key: key.to_string(),
            message: message.to_string(),
        }
    }

    /// Where a top-level key (or a `[table]`) of a file-plus-flags config
    /// was given: its flag, its line, its table's header, or the file.
    fn place(&self, key: &str) -> Location {
        match &self.file {
            _ if self.from_flags.contains(key) => Location::file(format!("command line (--{key})")),
            Some((file, text)) => {
                let at = locate_key(file, text, key);
                if at.line.is_some() {
                    return at;
                }
                let header = format!("[{key}]");
                text.lines()
                    .position(|line| line.trim() == header)
                    .map_or(at, |n| Location::at(file.clone(), n + 1, 1))
            }
            None => Location::file("defaults"),
        }
    }

    /// The first refused key a configuration sets (flags first, then the
    /// file's lines) as an error at its flag or line; a nested key
    /// (`from.security.ssl-ca`) is placed at its table.
    pub fn first_refusal(
        &self,
        refusals: Vec<super::inventory::Refusal>,
    ) -> Result<(), ConfigError> {
        let first = refusals
            .into_iter()
            .map(|r| (self.place(r.path.split('.').next().unwrap_or(&r.path)), r))
            .min_by_key(|(at, _)| (at.line.is_some(), at.line, at.column));
        match first {
            Some((at, r)) => Err(ConfigError::Invalid {
                at,
                key: r.path,
                message: r.message.to_string(),
            }),
            None => Ok(()),
        }
    }
}
