//! Name patterns shared by every rule kind.
//!
//! DM's rules select tables through tidb-tools' `table-rule-selector` (a trie
//! at 915b22e4, the version DM 2.0.7 pins). What that trie accepts is what
//! [`Wildcard`] accepts:
//!
//! * `*` matches any run of characters, including none, but only as the
//!   **last** character: `test_*` is fine, `*_log` or `a**` are refused with
//!   `pattern <p> not valid`;
//! * `?` matches exactly one character;
//! * `[abc]`, `[a-z]` match one character of the class, `[!abc]` one
//!   character outside it. A `[` with no later `]` is an ordinary character;
//!   `[!]` is the class of `!` alone, `[]` matches nothing, and a `-` at
//!   either end of a class is itself a member (as the trie parses them);
//! * everything else, `\` included, matches itself (there is no escaping).
//!
//! Block-allow lists also take `~regex` entries ([`NamePattern`]); a regex is
//! searched anywhere in the name (Go's `MatchString`), so anchor it with
//! `^...$` to match whole names.
//!
//! **Case.** Unless a task says `case-sensitive: true`, DM lower-cases the
//! patterns when it builds a rule and the schema/table names when it looks one
//! up ([`fold`]); regexes are compiled with `(?i)`.
//!
//! Differences from the trie, on purpose: names and patterns are matched per
//! Unicode character. The trie walks patterns byte by byte but names rune by
//! rune, so a non-ASCII name never matched a literal pattern there; here it
//! does. DM lower-cases the text of `~regex` entries before compiling them
//! with `(?i)`; we compile the text as written with `(?i)`, which matches the
//! same names except that lower-casing turned escapes such as `\D`, `\S`,
//! `\W` into their opposites.
//!
//! [`TableSelector`] holds the `(schema-pattern, table-pattern)` pairs of the
//! router, the binlog filter and the column mappings: a rule without a table
//! pattern is *schema level* and selects every table of matching schemas; a
//! rule with one is *table level*. Two rules with the same pair are refused,
//! as the trie's `Insert` refuses them.

use std::borrow::Cow;

use regex::Regex;

use super::error::RuleError;

/// `name` as rules see it: lower-cased unless matching is case-sensitive.
pub fn fold(name: &str, case_sensitive: bool) -> Cow<'_, str> {
    if case_sensitive {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    }
}

/// A DM wildcard pattern (`*` at the end, `?`, `[...]`).
#[derive(Debug, Clone)]
pub struct Wildcard {
    text: String,
    tokens: Vec<Token>,
    trailing_star: bool,
}

#[derive(Debug, Clone)]
enum Token {
    Char(char),
    AnyOne,
    Class(CharClass),
}

#[derive(Debug, Clone)]
struct CharClass {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl CharClass {
    fn matches(&self, c: char) -> bool {
        let inside = self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        inside != self.negated
    }

    /// Every range of `self` lies within one range of `other`.
    fn within(&self, other: &CharClass) -> bool {
        self.ranges
            .iter()
            .all(|&(lo, hi)| other.ranges.iter().any(|&(l2, h2)| l2 <= lo && hi <= h2))
    }

    /// The trie's notion of "the same class": same negation and mutual
    /// containment of the ranges.
    fn same(&self, other: &CharClass) -> bool {
        self.negated == other.negated && self.within(other) && other.within(self)
    }
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Char(p) => *p == c,
            Token::AnyOne => true,
            Token::Class(class) => class.matches(c),
        }
    }

    fn same(&self, other: &Token) -> bool {
        match (self, other) {
            (Token::Char(a), Token::Char(b)) => a == b,
            (Token::AnyOne, Token::AnyOne) => true,
            (Token::Class(a), Token::Class(b)) => a.same(b),
            _ => false,
        }
    }
}

/// Parses the class starting at `chars[0] == '['`; `None` when no `]`
/// follows (then `[` is an ordinary character). Returns the class and the
/// index of its `]`.
fn parse_class(chars: &[char]) -> Option<(CharClass, usize)> {
    let close = chars.iter().position(|&c| c == ']')?;
    let mut start = 1;
    let mut negated = false;
    if chars.get(1) == Some(&'!') {
        negated = true;
        start = 2;
    }
    let mut ranges = Vec::new();
    let mut i = start;
    while i < close {
        if chars.get(i + 1) == Some(&'-') && i + 2 < close {
            ranges.push((chars[i], chars[i + 2]));
            i += 3;
        } else {
            ranges.push((chars[i], chars[i]));
            i += 1;
        }
    }
    if ranges.is_empty() && negated {
        // `[!]` is the class of `!` itself.
        negated = false;
        ranges.push(('!', '!'));
    }
    Some((CharClass { negated, ranges }, close))
}

impl Wildcard {
    /// Parses a pattern as given (fold it first for case-insensitive rules).
    pub fn parse(pattern: &str) -> Result<Self, RuleError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut trailing_star = false;
        let mut i = 0;
        while i < chars.len() {
            if trailing_star {
                return Err(RuleError::InvalidPattern(pattern.to_string()));
            }
            match chars[i] {
                '*' => trailing_star = true,
                '?' => tokens.push(Token::AnyOne),
                '[' => match parse_class(&chars[i..]) {
                    Some((class, close)) => {
                        tokens.push(Token::Class(class));
                        i += close;
                    }
                    None => tokens.push(Token::Char('[')),
                },
                c => tokens.push(Token::Char(c)),
            }
            i += 1;
        }
        Ok(Wildcard {
            text: pattern.to_string(),
            tokens,
            trailing_star,
        })
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `name` (already folded) matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let mut chars = name.chars();
        for token in &self.tokens {
            match chars.next() {
                Some(c) if token.matches(c) => {}
                _ => return false,
            }
        }
        self.trailing_star || chars.next().is_none()
    }

    /// Whether two patterns land on the same trie entry.
    fn same(&self, other: &Wildcard) -> bool {
        self.trailing_star == other.trailing_star
            && self.tokens.len() == other.tokens.len()
            && self
                .tokens
                .iter()
                .zip(&other.tokens)
                .all(|(a, b)| a.same(b))
    }
}

/// A block-allow list entry: a wildcard, or a regex when it starts with `~`.
#[derive(Debug, Clone)]
pub enum NamePattern {
    Wildcard(Wildcard),
    Regex(Regex),
}

impl NamePattern {
    /// Parses an entry; `case_sensitive: false` folds wildcards and makes
    /// regexes case-insensitive.
    pub fn parse(entry: &str, case_sensitive: bool) -> Result<Self, RuleError> {
        match entry.strip_prefix('~') {
            Some(re) => compile_regex(re, case_sensitive).map(NamePattern::Regex),
            None => Wildcard::parse(&fold(entry, case_sensitive)).map(NamePattern::Wildcard),
        }
    }

    /// Whether `name` (already folded) matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Wildcard(w) => w.matches(name),
            NamePattern::Regex(re) => re.is_match(name),
        }
    }
}

/// Compiles a regex, with `(?i)` unless case-sensitive.
pub(crate) fn compile_regex(pattern: &str, case_sensitive: bool) -> Result<Regex, RuleError> {
    let text = if case_sensitive {
        Cow::Borrowed(pattern)
    } else {
        Cow::Owned(format!("(?i){pattern}"))
    };
    Regex::new(&text).map_err(|e| RuleError::InvalidRegex {
        pattern: pattern.to_string(),
        reason: one_line(&e.to_string()),
    })
}

/// The regex crate's errors span lines; keep the last meaningful one.
fn one_line(text: &str) -> String {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or(text))
        .to_string()
}

/// Rules keyed by `(schema-pattern, table-pattern)`, as in DM's selector.
#[derive(Debug, Clone)]
pub struct TableSelector<T> {
    kind: &'static str,
    entries: Vec<SelectorEntry<T>>,
}

#[derive(Debug, Clone)]
struct SelectorEntry<T> {
    schema: Wildcard,
    table: Option<Wildcard>,
    value: T,
}

/// The rules a `(schema, table)` pair selects, split by level.
#[derive(Debug)]
pub struct Selected<'a, T> {
    pub schema_level: Vec<&'a T>,
    pub table_level: Vec<&'a T>,
}

impl<'a, T> Selected<'a, T> {
    /// No rule matched at all.
    pub fn is_empty(&self) -> bool {
        self.schema_level.is_empty() && self.table_level.is_empty()
    }

    /// Every matching rule, schema level first.
    pub fn all(&self) -> impl Iterator<Item = &'a T> + '_ {
        self.schema_level.iter().chain(&self.table_level).copied()
    }
}

impl<T> TableSelector<T> {
    /// An empty selector; `kind` names it in duplicate-pattern errors.
    pub fn new(kind: &'static str) -> Self {
        TableSelector {
            kind,
            entries: Vec::new(),
        }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a rule. An empty `table_pattern` makes it schema level. Patterns
    /// are folded unless case-sensitive. The schema pattern must not be
    /// empty, and no other rule may have the same pair.
    pub fn insert(
        &mut self,
        schema_pattern: &str,
        table_pattern: &str,
        case_sensitive: bool,
        value: T,
    ) -> Result<(), RuleError> {
        if schema_pattern.is_empty() {
            return Err(RuleError::EmptyPattern(format!(
                "{}: schema pattern {schema_pattern} can't be empty",
                self.kind
            )));
        }
        let schema = Wildcard::parse(&fold(schema_pattern, case_sensitive))?;
        let table = if table_pattern.is_empty() {
            None
        } else {
            Some(Wildcard::parse(&fold(table_pattern, case_sensitive))?)
        };
        let duplicate = self.entries.iter().any(|e| {
            e.schema.same(&schema)
                && match (&e.table, &table) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.same(b),
                    _ => false,
                }
        });
        if duplicate {
            let pattern = match &table {
                Some(t) => format!("`{}`.`{}`", schema.as_str(), t.as_str()),
                None => format!("`{}`", schema.as_str()),
            };
            return Err(RuleError::DuplicatePattern {
                kind: self.kind,
                pattern,
            });
        }
        self.entries.push(SelectorEntry {
            schema,
            table,
            value,
        });
        Ok(())
    }

    /// The rules selecting `schema`.`table` (names already folded). A
    /// table-level rule also sees an empty table name, which only a bare `*`
    /// table pattern matches (as in the trie).
    pub fn select(&self, schema: &str, table: &str) -> Selected<'_, T> {
        let mut selected = Selected {
            schema_level: Vec::new(),
            table_level: Vec::new(),
        };
        for entry in &self.entries {
            if !entry.schema.matches(schema) {
                continue;
            }
            match &entry.table {
                None => selected.schema_level.push(&entry.value),
                Some(t) if t.matches(table) => selected.table_level.push(&entry.value),
                Some(_) => {}
            }
        }
        selected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        Wildcard::parse(pattern).unwrap().matches(name)
    }

    #[test]
    fn wildcards_match_as_dm_selector() {
        let cases: &[(&str, &str, bool)] = &[
            ("test", "test", true),
            ("test", "test1", false),
            ("test", "tes", false),
            ("test_*", "test_", true),
            ("test_*", "test_01", true),
            ("test_*", "test", false),
            ("*", "", true),
            ("*", "anything", true),
            ("t_?", "t_1", true),
            ("t_?", "t_", false),
            ("t_?", "t_12", false),
            ("t_??*", "t_12", true),
            ("t_??*", "t_1", false),
            ("a?b?", "abbd", true),
            ("a?b?", "aaaa", false),
            ("foo[bar]", "foor", true),
            ("foo[bar]", "foo[bar]", false),
            ("t[0-3]", "t2", true),
            ("t[0-3]", "t4", false),
            ("t[!0-3]", "t4", true),
            ("t[!0-3]", "t2", false),
            ("t[a-]", "t-", true),
            ("t[-a]", "t-", true),
            ("t[!]", "t!", true),
            ("t[]", "t", false),
            ("t[]", "t]", false),
            ("t[x", "t[x", true),
            ("special\\", "special\\", true),
            ("表_?", "表_1", true),
        ];
        for &(pattern, name, want) in cases {
            assert_eq!(matches(pattern, name), want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn a_star_must_be_last() {
        for bad in ["*_log", "a*b", "a**", "**"] {
            let err = Wildcard::parse(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("pattern {bad} not valid"));
        }
        assert!(Wildcard::parse("a?*").is_ok());
    }

    #[test]
    fn case_folding() {
        let p = NamePattern::parse("Test_*", false).unwrap();
        assert!(p.matches(&fold("TEST_1", false)));
        let p = NamePattern::parse("Test_*", true).unwrap();
        assert!(!p.matches(&fold("test_1", true)));
        assert!(p.matches(&fold("Test_1", true)));
        let re = NamePattern::parse("~^FOO", false).unwrap();
        assert!(re.matches(&fold("foo2", false)));
        let re = NamePattern::parse("~^FOO", true).unwrap();
        assert!(!re.matches("foo2"));
        // Not lower-casing the regex text keeps `\D` meaning "not a digit".
        let re = NamePattern::parse(r"~^\D+$", false).unwrap();
        assert!(re.matches("abc"));
        assert!(!re.matches("123"));
    }

    #[test]
    fn regexes_are_searched_not_anchored() {
        let re = NamePattern::parse("~test", true).unwrap();
        assert!(re.matches("my_test_1"));
        let bad = NamePattern::parse("~(", true).unwrap_err();
        assert!(matches!(bad, RuleError::InvalidRegex { .. }), "{bad}");
    }

    #[test]
    fn selector_levels_and_duplicates() {
        let mut s = TableSelector::new("test rules");
        s.insert("db*", "", false, 1).unwrap();
        s.insert("db*", "t_*", false, 2).unwrap();
        s.insert("db1", "*", false, 3).unwrap();
        let got = s.select("db1", "t_1");
        assert_eq!(got.schema_level, vec![&1]);
        assert_eq!(got.table_level, vec![&2, &3]);
        // An empty table name is only matched by a bare `*`.
        let got = s.select("db1", "");
        assert_eq!(got.table_level, vec![&3]);
        assert!(s.select("other", "t_1").is_empty());

        let err = s.insert("DB*", "", false, 4).unwrap_err();
        assert_eq!(err.to_string(), "test rules: pattern `db*` already exists");
        // The trie treats `[ab]` and `[ba]` as the same entry.
        s.insert("x", "t[ab]", true, 5).unwrap();
        assert!(s.insert("x", "t[ba]", true, 6).is_err());
        // Case-sensitive patterns differing in case are different rules.
        s.insert("X", "t[ab]", true, 7).unwrap();
        assert!(s.insert("", "t", true, 8).is_err());
    }
}
