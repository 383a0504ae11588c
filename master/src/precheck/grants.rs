//! Decisions on the user's grants: `replication_privilege` and
//! `dump_privilege`, from the lines of `SHOW GRANTS`.
//!
//! A line is read as `GRANT <privileges> ON <object> TO ...`: privileges are
//! upper-cased (`ALL PRIVILEGES` becomes `ALL`, which grants everything on
//! its object); column-level privileges (`SELECT (a, b)`) are left out, they
//! do not let a whole table be read. The object is `*.*`, `` `db`.* `` (the
//! name may hold `LIKE` wildcards, `\_` being a literal `_`) or
//! `` `db`.`table` ``; anything else (routines, `PROXY ON ''@'%'`, role
//! grants without `ON`) grants nothing the pre-check looks for. Privileges
//! that come through roles are not seen (`SHOW GRANTS` does not list them).
//!
//! Names are compared without regard to case: a false alarm would refuse a
//! task that works, so the checks err on the lenient side.

/// Privileges one grant line gives on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Upper case, words joined by single spaces; `ALL PRIVILEGES` is `ALL`.
    pub privileges: Vec<String>,
    pub object: Object,
}

/// What a grant line applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// `*.*`
    Global,
    /// `db.*`; the name is a `LIKE` pattern.
    Schema(String),
    /// `db.table`
    Table(String, String),
    /// Routines, proxies, `*` (the default schema): nothing we need.
    Other,
}

impl Object {
    /// Whether the object includes table `schema`.`table`.
    pub fn covers(&self, schema: &str, table: &str) -> bool {
        match self {
            Object::Global => true,
            Object::Schema(pattern) => like(pattern, schema),
            Object::Table(s, t) => s.eq_ignore_ascii_case(schema) && t.eq_ignore_ascii_case(table),
            Object::Other => false,
        }
    }
}

impl Grant {
    /// Whether the line grants one of `names` (or `ALL`).
    pub fn gives(&self, names: &[&str]) -> bool {
        self.privileges
            .iter()
            .any(|p| p == "ALL" || names.contains(&p.as_str()))
    }
}

/// The names `REPLICATION SLAVE` has been shown under.
pub const REPLICATION_SLAVE: &[&str] = &["REPLICATION SLAVE", "REPLICATION REPLICA"];
/// The names `REPLICATION CLIENT` has been shown under (MariaDB >= 10.5.2
/// shows `BINLOG MONITOR`).
pub const REPLICATION_CLIENT: &[&str] = &["REPLICATION CLIENT", "BINLOG MONITOR"];

/// `replication_privilege`: the sync unit asks for the binlog position
/// (REPLICATION CLIENT) and reads the binlog as a replica (REPLICATION
/// SLAVE); both are global privileges.
pub fn replication_privilege(lines: &[String], current_user: &str) -> Option<String> {
    let grants = parse_all(lines);
    let missing: Vec<&str> = [
        ("REPLICATION SLAVE", REPLICATION_SLAVE),
        ("REPLICATION CLIENT", REPLICATION_CLIENT),
    ]
    .into_iter()
    .filter(|(_, names)| !global(&grants, names))
    .map(|(name, _)| name)
    .collect();
    if missing.is_empty() {
        return None;
    }
    let user = grantee(current_user);
    let list = missing.join(", ");
    Some(format!(
        "replication_privilege: {user} lacks {list}; the sync unit needs {} to read the binlog: GRANT {list} ON *.* TO {user}",
        them(missing.len())
    ))
}

/// `dump_privilege`: the dump unit reads every selected table (SELECT) and,
/// on MySQL, takes its consistent snapshot with `FLUSH TABLES WITH READ
/// LOCK` (RELOAD). `tables` are the selected tables, `None` when unknown, in
/// which case SELECT must be global.
pub fn dump_privilege(
    lines: &[String],
    current_user: &str,
    mariadb: bool,
    tables: Option<&[(String, String)]>,
) -> Option<String> {
    let grants = parse_all(lines);
    let reload = mariadb || global(&grants, &["RELOAD"]);
    let select_everywhere = global(&grants, &["SELECT"]);
    let uncovered: Vec<&(String, String)> = match tables {
        _ if select_everywhere => Vec::new(),
        None => Vec::new(),
        Some(tables) => tables
            .iter()
            .filter(|(s, t)| {
                !grants
                    .iter()
                    .any(|g| g.gives(&["SELECT"]) && g.object.covers(s, t))
            })
            .collect(),
    };
    let select_global_missing = tables.is_none() && !select_everywhere;
    if reload && !select_global_missing && uncovered.is_empty() {
        return None;
    }

    let user = grantee(current_user);
    let mut lacks = Vec::new();
    let mut global_fix = Vec::new();
    if !reload {
        lacks.push("RELOAD".to_string());
        global_fix.push("RELOAD");
    }
    if select_global_missing {
        lacks.push("SELECT".to_string());
        global_fix.push("SELECT");
    }
    if !uncovered.is_empty() {
        const SHOWN: usize = 5;
        let mut names: Vec<String> = uncovered
            .iter()
            .take(SHOWN)
            .map(|(s, t)| format!("`{s}`.`{t}`"))
            .collect();
        if uncovered.len() > SHOWN {
            names.push(format!("and {} more", uncovered.len() - SHOWN));
        }
        lacks.push(format!("SELECT on {}", names.join(", ")));
    }
    let mut fixes = Vec::new();
    if !global_fix.is_empty() {
        fixes.push(format!("GRANT {} ON *.* TO {user}", global_fix.join(", ")));
    }
    let mut schemas: Vec<&str> = uncovered.iter().map(|(s, _)| s.as_str()).collect();
    schemas.sort_unstable();
    schemas.dedup();
    fixes.extend(
        schemas
            .iter()
            .map(|s| format!("GRANT SELECT ON `{s}`.* TO {user}")),
    );
    Some(format!(
        "dump_privilege: {user} lacks {}; the dump unit needs {} to copy the selected tables consistently: {}",
        lacks.join(", "),
        them(global_fix.len() + usize::from(!uncovered.is_empty())),
        fixes.join("; ")
    ))
}

fn them(n: usize) -> &'static str {
    if n == 1 {
        "it"
    } else {
        "them"
    }
}

/// `user@host` (as `CURRENT_USER()` returns it) quoted for a GRANT.
pub fn grantee(current_user: &str) -> String {
    match current_user.rsplit_once('@') {
        Some((user, host)) => format!("'{user}'@'{host}'"),
        None if current_user.is_empty() => "the source's user".to_string(),
        None => format!("'{current_user}'"),
    }
}

fn global(grants: &[Grant], names: &[&str]) -> bool {
    grants
        .iter()
        .any(|g| g.object == Object::Global && g.gives(names))
}

/// Every line that reads as a grant of privileges on an object.
pub fn parse_all(lines: &[String]) -> Vec<Grant> {
    lines.iter().filter_map(|l| parse(l)).collect()
}

/// One `SHOW GRANTS` line, if it grants privileges `ON` something.
pub fn parse(line: &str) -> Option<Grant> {
    let tokens = tokenize(line);
    let mut it = tokens.iter().peekable();
    match it.next() {
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("GRANT") => {}
        _ => return None,
    }

    let mut privileges = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut column_level = false;
    let mut depth = 0usize;
    let mut finish = |words: &mut Vec<String>, column_level: &mut bool| {
        if !words.is_empty() && !*column_level {
            let name = words.join(" ");
            privileges.push(if name == "ALL PRIVILEGES" {
                "ALL".to_string()
            } else {
                name
            });
        }
        words.clear();
        *column_level = false;
    };
    let mut saw_on = false;
    for token in it.by_ref() {
        match token {
            Token::Word(w) if depth == 0 && w.eq_ignore_ascii_case("ON") => {
                saw_on = true;
                break;
            }
            Token::Word(w) if depth == 0 => words.push(w.to_ascii_uppercase()),
            Token::Punct('(') => {
                depth += 1;
                column_level = true;
            }
            Token::Punct(')') => depth = depth.saturating_sub(1),
            Token::Punct(',') if depth == 0 => finish(&mut words, &mut column_level),
            _ => {}
        }
    }
    if !saw_on {
        return None;
    }
    finish(&mut words, &mut column_level);

    if let Some(Token::Word(w)) = it.peek() {
        if w.eq_ignore_ascii_case("TABLE") {
            it.next();
        }
    }
    let part = |token: Option<&Token>| -> Option<Part> {
        match token? {
            Token::Punct('*') => Some(Part::Star),
            Token::Quoted(name) => Some(Part::Name(name.clone())),
            Token::Word(name)
                if !name.eq_ignore_ascii_case("FUNCTION")
                    && !name.eq_ignore_ascii_case("PROCEDURE")
                    && !name.eq_ignore_ascii_case("PACKAGE") =>
            {
                Some(Part::Name(name.clone()))
            }
            _ => None,
        }
    };
    let first = part(it.next());
    let object = match (first, it.next()) {
        (Some(first), Some(Token::Punct('.'))) => match (first, part(it.next())) {
            (Part::Star, Some(Part::Star)) => Object::Global,
            (Part::Name(schema), Some(Part::Star)) => Object::Schema(schema),
            (Part::Name(schema), Some(Part::Name(table))) => Object::Table(schema, table),
            _ => Object::Other,
        },
        _ => Object::Other,
    };
    Some(Grant { privileges, object })
}

enum Part {
    Star,
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A bare word: keyword, privilege word, unquoted name.
    Word(String),
    /// A `` `quoted` `` identifier.
    Quoted(String),
    /// A `'string'` or `"string"` (host names, passwords: never needed).
    Str,
    Punct(char),
}

const PUNCT: &[char] = &[',', '(', ')', '.', '@', ';', '*', '='];

fn tokenize(line: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '`' {
            chars.next();
            let mut name = String::new();
            while let Some(c) = chars.next() {
                if c == '`' {
                    if chars.peek() == Some(&'`') {
                        chars.next();
                        name.push('`');
                    } else {
                        break;
                    }
                } else {
                    name.push(c);
                }
            }
            tokens.push(Token::Quoted(name));
        } else if c == '\'' || c == '"' {
            chars.next();
            while let Some(d) = chars.next() {
                if d == '\\' {
                    chars.next();
                } else if d == c {
                    if chars.peek() == Some(&c) {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            tokens.push(Token::Str);
        } else if PUNCT.contains(&c) {
            chars.next();
            tokens.push(Token::Punct(c));
        } else {
            let mut word = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() || PUNCT.contains(&d) || d == '`' || d == '\'' || d == '"' {
                    break;
                }
                word.push(d);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    tokens
}

/// SQL `LIKE` without regard to ASCII case: `%` any run, `_` one character,
/// `\x` the character `x`.
pub fn like(pattern: &str, name: &str) -> bool {
    #[derive(Clone, Copy)]
    enum P {
        Any,
        One,
        Char(char),
    }
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        parts.push(match c {
            '%' => P::Any,
            '_' => P::One,
            '\\' => P::Char(chars.next().unwrap_or('\\')),
            c => P::Char(c),
        });
    }
    let name: Vec<char> = name.chars().collect();
    // matches[j]: the pattern so far matches name[..j].
    let mut matches = vec![false; name.len() + 1];
    matches[0] = true;
    for part in parts {
        let mut next = vec![false; name.len() + 1];
        match part {
            P::Any => {
                let mut any = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    any |= matches[j];
                    *slot = any;
                }
            }
            P::One | P::Char(_) => {
                for j in 1..=name.len() {
                    let ok = match part {
                        P::Char(c) => c.eq_ignore_ascii_case(&name[j - 1]),
                        _ => true,
                    };
                    next[j] = matches[j - 1] && ok;
                }
            }
        }
        matches = next;
    }
    matches[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn grant_lines_parse() {
        type Case<'a> = (&'a str, Option<(&'a [&'a str], Object)>);
        let cases: &[Case<'_>] = &[
            (
                "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION",
                Some((&["ALL"], Object::Global)),
            ),
            (
                "GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION",
                Some((&["ALL"], Object::Global)),
            ),
            (
                "GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `dm`@`%` IDENTIFIED BY PASSWORD '*ABC'",
                Some((
                    &["SELECT", "RELOAD", "REPLICATION SLAVE", "REPLICATION CLIENT"],
                    Object::Global,
                )),
            ),
            (
                "GRANT RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `dm`@`%`",
                Some((
                    &["RELOAD", "BINLOG MONITOR", "REPLICATION SLAVE"],
                    Object::Global,
                )),
            ),
            (
                "GRANT SELECT ON `app`.* TO `dm`@`%`",
                Some((&["SELECT"], Object::Schema("app".into()))),
            ),
            (
                "GRANT SELECT, INSERT ON `app`.`orders` TO 'dm'@'%'",
                Some((
                    &["SELECT", "INSERT"],
                    Object::Table("app".into(), "orders".into()),
                )),
            ),
            (
                "GRANT SELECT (`id`, `on`), INSERT ON TABLE `app`.`t` TO `dm`@`%`",
                Some((&["INSERT"], Object::Table("app".into(), "t".into()))),
            ),
            (
                "GRANT APPLICATION_PASSWORD_ADMIN,AUDIT_ADMIN,BACKUP_ADMIN ON *.* TO `root`@`localhost`",
                Some((
                    &["APPLICATION_PASSWORD_ADMIN", "AUDIT_ADMIN", "BACKUP_ADMIN"],
                    Object::Global,
                )),
            ),
            (
                "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
                Some((&["PROXY"], Object::Other)),
            ),
            (
                "GRANT EXECUTE ON PROCEDURE `app`.`p` TO `dm`@`%`",
                Some((&["EXECUTE"], Object::Other)),
            ),
            ("GRANT `reader`@`%` TO `dm`@`%`", None),
            ("SET DEFAULT ROLE `reader` FOR `dm`@`%`", None),
            ("", None),
        ];
        for (line, want) in cases {
            let got = parse(line);
            let want = want.as_ref().map(|(privileges, object)| Grant {
                privileges: privileges.iter().map(|p| p.to_string()).collect(),
                object: object.clone(),
            });
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn like_patterns() {
        for (pattern, name, want) in [
            ("app", "app", true),
            ("app", "APP", true),
            ("app", "apps", false),
            ("app%", "apps", true),
            ("app%", "app", true),
            ("a_p", "abp", true),
            ("a\\_p", "abp", false),
            ("a\\_p", "a_p", true),
            ("%", "", true),
            ("", "x", false),
        ] {
            assert_eq!(like(pattern, name), want, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn replication_privileges() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (
                &["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket WITH GRANT OPTION"],
                None,
            ),
            (
                &["GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'dm'@'%'"],
                None,
            ),
            // MariaDB >= 10.5 shows REPLICATION CLIENT as BINLOG MONITOR.
            (&["GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `dm`@`%`"], None),
            (
                &["GRANT USAGE ON *.* TO `dm`@`%`"],
                Some("replication_privilege: 'dm'@'%' lacks REPLICATION SLAVE, REPLICATION CLIENT; the sync unit needs them to read the binlog: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'dm'@'%'"),
            ),
            (
                &["GRANT REPLICATION SLAVE ON *.* TO `dm`@`%`"],
                Some("replication_privilege: 'dm'@'%' lacks REPLICATION CLIENT; the sync unit needs it to read the binlog: GRANT REPLICATION CLIENT ON *.* TO 'dm'@'%'"),
            ),
            // ALL on one schema is not a global privilege.
            (
                &["GRANT USAGE ON *.* TO `dm`@`%`", "GRANT ALL PRIVILEGES ON `app`.* TO `dm`@`%`"],
                Some("replication_privilege: 'dm'@'%' lacks REPLICATION SLAVE, REPLICATION CLIENT; the sync unit needs them to read the binlog: GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'dm'@'%'"),
            ),
        ];
        for (grants, want) in cases {
            assert_eq!(
                replication_privilege(&lines(grants), "dm@%").as_deref(),
                *want,
                "{grants:?}"
            );
        }
    }

    #[test]
    fn dump_privileges() {
        let tables = vec![
            ("app".to_string(), "t1".to_string()),
            ("app".to_string(), "t2".to_string()),
            ("crm".to_string(), "c".to_string()),
        ];
        let some = Some(tables.as_slice());
        // Grants, MariaDB?, selected tables, failure.
        type Case<'a> = (
            &'a [&'a str],
            bool,
            Option<&'a [(String, String)]>,
            Option<&'a str>,
        );
        let cases: &[Case<'_>] = &[
            (&["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`"], false, some, None),
            (&["GRANT SELECT, RELOAD ON *.* TO `dm`@`%`"], false, some, None),
            (&["GRANT SELECT, RELOAD ON *.* TO `dm`@`%`"], false, None, None),
            // MariaDB: the snapshot needs no RELOAD.
            (&["GRANT SELECT ON *.* TO `dm`@`%`"], true, some, None),
            (
                &["GRANT SELECT ON *.* TO `dm`@`%`"],
                false,
                some,
                Some("dump_privilege: 'dm'@'%' lacks RELOAD; the dump unit needs it to copy the selected tables consistently: GRANT RELOAD ON *.* TO 'dm'@'%'"),
            ),
            (
                &["GRANT RELOAD ON *.* TO `dm`@`%`", "GRANT SELECT ON `app`.* TO `dm`@`%`", "GRANT SELECT ON `crm`.`c` TO `dm`@`%`"],
                false,
                some,
                None,
            ),
            (
                &["GRANT RELOAD ON *.* TO `dm`@`%`", "GRANT SELECT ON `app`.`t1` TO `dm`@`%`"],
                false,
                some,
                Some("dump_privilege: 'dm'@'%' lacks SELECT on `app`.`t2`, `crm`.`c`; the dump unit needs it to copy the selected tables consistently: GRANT SELECT ON `app`.* TO 'dm'@'%'; GRANT SELECT ON `crm`.* TO 'dm'@'%'"),
            ),
            (
                &["GRANT USAGE ON *.* TO `dm`@`%`"],
                false,
                None,
                Some("dump_privilege: 'dm'@'%' lacks RELOAD, SELECT; the dump unit needs them to copy the selected tables consistently: GRANT RELOAD, SELECT ON *.* TO 'dm'@'%'"),
            ),
            (&["GRANT USAGE ON *.* TO `dm`@`%`"], true, Some(&[]), None),
        ];
        for (grants, mariadb, tables, want) in cases {
            assert_eq!(
                dump_privilege(&lines(grants), "dm@%", *mariadb, *tables).as_deref(),
                *want,
                "{grants:?} mariadb={mariadb} tables={tables:?}"
            );
        }
    }

    #[test]
    fn grantees() {
        assert_eq!(grantee("root@localhost"), "'root'@'localhost'");
        assert_eq!(grantee("a@b@%"), "'a@b'@'%'");
        assert_eq!(grantee(""), "the source's user");
    }
}
