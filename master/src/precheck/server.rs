//! Decisions on the server's variables: `version`, `server_id`,
//! `binlog_enable`, `binlog_format` and `binlog_row_image`.
//!
//! Each function takes the variable's value (`None` when the server does not
//! have the variable) and returns the failure text, without the
//! `source <id>: ` prefix, or `None` when the item passes.

/// Oldest MySQL DM supports.
pub const MIN_MYSQL: (u32, u32, u32) = (5, 6, 0);
/// Oldest MariaDB DM supports.
pub const MIN_MARIADB: (u32, u32, u32) = (10, 1, 2);

/// Whether `SELECT VERSION()` / `@@version` names a MariaDB server.
pub fn is_mariadb(version: &str) -> bool {
    version.to_ascii_lowercase().contains("mariadb")
}

/// `major.minor.patch` at the start of a version string
/// (`10.11.6-MariaDB-log`, `8.0.36`, `5.7.44-log`). MariaDB's replication
/// handshake prefix `5.5.5-` is skipped.
pub fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let v = version.trim();
    let v = if is_mariadb(v) {
        v.strip_prefix("5.5.5-").unwrap_or(v)
    } else {
        v
    };
    let mut parts = v.splitn(3, '.');
    let number = |part: Option<&str>| -> Option<u32> {
        let digits: String = part?.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    let patch = number(parts.next()).unwrap_or(0);
    Some((major, minor, patch))
}

/// `version`: MySQL >= 5.6.0 or MariaDB >= 10.1.2. A version string that
/// does not start with a number (a proxy, a fork) is let through: the other
/// items still check what matters.
pub fn version(value: Option<&str>) -> Option<String> {
    let value = value?;
    let parsed = parse_version(value)?;
    let min = if is_mariadb(value) {
        MIN_MARIADB
    } else {
        MIN_MYSQL
    };
    (parsed < min).then(|| {
        format!(
            "version is {value}; DM supports MySQL >= {}.{}.{} and MariaDB >= {}.{}.{}: upgrade the server",
            MIN_MYSQL.0, MIN_MYSQL.1, MIN_MYSQL.2, MIN_MARIADB.0, MIN_MARIADB.1, MIN_MARIADB.2
        )
    })
}

/// `server_id`: a server whose binlog is read must have a non-zero id.
pub fn server_id(value: Option<&str>) -> Option<String> {
    let value = value.unwrap_or("0").trim();
    (value == "0" || value.is_empty()).then(|| {
        format!(
            "server_id is {}; a server whose binlog is replicated needs a non-zero server_id: \
             SET GLOBAL server_id = <an id unique among the servers> (and in the server config)",
            shown(value)
        )
    })
}

/// `binlog_enable`: `log_bin` must be ON.
pub fn binlog_enable(value: Option<&str>) -> Option<String> {
    let on = value.is_some_and(|v| v.eq_ignore_ascii_case("ON") || v.trim() == "1");
    (!on).then(|| {
        format!(
            "binlog_enable: log_bin is {}; the sync unit reads the binlog: \
             start the server with log-bin (it cannot be turned on at runtime)",
            shown(value.unwrap_or(""))
        )
    })
}

/// `binlog_format`: must be ROW (the sync unit decodes row events only).
pub fn binlog_format(value: Option<&str>) -> Option<String> {
    must_be("binlog_format", value.or(Some("")), "ROW")
}

/// `binlog_row_image`: must be FULL where the server has the variable
/// (MySQL >= 5.6.2, MariaDB >= 10.1.6; older servers always log full rows).
pub fn binlog_row_image(value: Option<&str>) -> Option<String> {
    must_be("binlog_row_image", value, "FULL")
}

fn must_be(name: &str, value: Option<&str>, wanted: &str) -> Option<String> {
    let value = value?;
    (!value.trim().eq_ignore_ascii_case(wanted)).then(|| {
        format!(
            "{name} is {}; the sync unit needs {wanted}: SET GLOBAL {name} = {wanted} (and in the server config)",
            shown(value)
        )
    })
}

fn shown(value: &str) -> &str {
    if value.trim().is_empty() {
        "not set"
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        for (text, want) in [
            ("10.11.19-MariaDB-0+deb12u1-log", Some((10, 11, 19))),
            ("5.5.5-10.4.7-MariaDB", Some((10, 4, 7))),
            ("8.0.36", Some((8, 0, 36))),
            ("5.7.44-log", Some((5, 7, 44))),
            ("5.6", Some((5, 6, 0))),
            ("TiDB", None),
            ("", None),
        ] {
            assert_eq!(parse_version(text), want, "{text}");
        }
    }

    #[test]
    fn supported_versions() {
        for (text, passes) in [
            ("10.11.19-MariaDB-0+deb12u1-log", true),
            ("10.1.2-MariaDB", true),
            ("10.1.1-MariaDB", false),
            ("10.0.38-MariaDB", false),
            ("5.6.0", true),
            ("5.7.44-log", true),
            ("8.0.36", true),
            ("5.5.62-log", false),
            ("something else", true),
        ] {
            assert_eq!(version(Some(text)).is_none(), passes, "{text}");
        }
        assert_eq!(
            version(Some("5.5.62-log")).as_deref(),
            Some("version is 5.5.62-log; DM supports MySQL >= 5.6.0 and MariaDB >= 10.1.2: upgrade the server")
        );
    }

    #[test]
    fn server_ids() {
        for (value, passes) in [
            (Some("1"), true),
            (Some("4294967295"), true),
            (Some("0"), false),
            (None, false),
        ] {
            assert_eq!(server_id(value).is_none(), passes, "{value:?}");
        }
        assert!(server_id(Some("0")).is_some_and(
            |m| m.starts_with("server_id is 0; ") && m.contains("SET GLOBAL server_id")
        ));
    }

    #[test]
    fn binlog_enabled() {
        for (value, passes) in [
            (Some("ON"), true),
            (Some("on"), true),
            (Some("1"), true),
            (Some("OFF"), false),
            (Some("0"), false),
            (None, false),
        ] {
            assert_eq!(binlog_enable(value).is_none(), passes, "{value:?}");
        }
        assert_eq!(
            binlog_enable(Some("OFF")).as_deref(),
            Some("binlog_enable: log_bin is OFF; the sync unit reads the binlog: start the server with log-bin (it cannot be turned on at runtime)")
        );
    }

    #[test]
    fn binlog_formats() {
        for (value, passes) in [
            (Some("ROW"), true),
            (Some("row"), true),
            (Some("STATEMENT"), false),
            (Some("MIXED"), false),
            (None, false),
        ] {
            assert_eq!(binlog_format(value).is_none(), passes, "{value:?}");
        }
        assert_eq!(
            binlog_format(Some("STATEMENT")).as_deref(),
            Some("binlog_format is STATEMENT; the sync unit needs ROW: SET GLOBAL binlog_format = ROW (and in the server config)")
        );
        assert_eq!(
            binlog_format(None).as_deref(),
            Some("binlog_format is not set; the sync unit needs ROW: SET GLOBAL binlog_format = ROW (and in the server config)")
        );
    }

    #[test]
    fn row_images() {
        for (value, passes) in [
            (Some("FULL"), true),
            (Some("full"), true),
            (Some("MINIMAL"), false),
            (Some("NOBLOB"), false),
            // MySQL < 5.6.2 / MariaDB < 10.1.6: always full.
            (None, true),
        ] {
            assert_eq!(binlog_row_image(value).is_none(), passes, "{value:?}");
        }
        assert_eq!(
            binlog_row_image(Some("MINIMAL")).as_deref(),
            Some("binlog_row_image is MINIMAL; the sync unit needs FULL: SET GLOBAL binlog_row_image = FULL (and in the server config)")
        );
    }
}
