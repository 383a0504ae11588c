//! How a task's database sessions are set up: the `SET SESSION` statements
//! for `target-database.session` (and a source's `time_zone`), and the
//! session time zone.
//!
//! ## Time zones
//!
//! Every session of a task, on the upstream and on the downstream, runs in
//! the task's `timezone` (UTC when unset; see
//! `TaskConfig::session_time_zone`), so:
//!
//! - a downstream column the upstream does not have, such as `dt DATETIME
//!   DEFAULT CURRENT_TIMESTAMP`, gets the task's local time, as DM's
//!   sessions give it;
//! - TIMESTAMP values stay the same instants: the copy reads them as text
//!   in the zone and writes that text back in the same zone, and the sync
//!   writes the binlog's epoch seconds as `FROM_UNIXTIME(...)`, which gives
//!   the local time in the session's zone that the server turns back into
//!   the same instant. Only in the hour a zone with daylight saving time
//!   repeats (clocks going back) is a local time ambiguous; a fixed offset
//!   such as `+08:00` has no such hour.

use std::collections::BTreeMap;

use dm_proto::sql::set_session;

use crate::sql::DOWNSTREAM_SQL_MODE;

/// The session time zone when a task sets none.
pub const DEFAULT_TIME_ZONE: &str = "+00:00";

/// The statements that set up a downstream session: utf8mb4 and the fixed
/// `sql_mode` the copy's and the sync's SQL text relies on; the time zone
/// and `foreign_key_checks` (off by default, as in DM) unless `session`
/// sets them; then every other variable of `session`. Each variable is
/// set once, so the order the driver runs them in (mysql_async runs a
/// setup list last first) does not matter.
pub fn setup(session: &BTreeMap<String, String>) -> Vec<String> {
    let set = |name: &str| session.keys().any(|k| k.eq_ignore_ascii_case(name));
    let fixed = |name: &str| {
        ["names", "sql_mode"]
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f))
    };
    let mut setup = vec![
        "SET NAMES utf8mb4".to_string(),
        set_session("sql_mode", DOWNSTREAM_SQL_MODE),
    ];
    if !set("time_zone") {
        setup.push(set_session("time_zone", DEFAULT_TIME_ZONE));
    }
    if !set("foreign_key_checks") {
        setup.push(set_session("foreign_key_checks", "0"));
    }
    setup.extend(
        session
            .iter()
            .filter(|(k, _)| !fixed(k))
            .map(|(k, v)| set_session(k, v)),
    );
    setup
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_set_once() {
        let session: BTreeMap<String, String> = [
            ("time_zone", "+04:00"),
            ("SQL_MODE", "ANSI_QUOTES"),
            ("sql_select_limit", "10"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            setup(&session),
            [
                "SET NAMES utf8mb4".to_string(),
                format!("SET SESSION sql_mode = '{DOWNSTREAM_SQL_MODE}'"),
                "SET SESSION foreign_key_checks = 0".to_string(),
                "SET SESSION sql_select_limit = 10".to_string(),
                "SET SESSION time_zone = '+04:00'".to_string(),
            ]
        );
        assert_eq!(
            setup(&BTreeMap::new())[2..],
            [
                "SET SESSION time_zone = '+00:00'".to_string(),
                "SET SESSION foreign_key_checks = 0".to_string(),
            ]
        );
    }

    #[test]
    fn values_are_quoted_unless_numbers() {
        for (name, value, want) in [
            ("time_zone", "+08:00", "SET SESSION time_zone = '+08:00'"),
            (
                "time_zone",
                "Asia/Shanghai",
                "SET SESSION time_zone = 'Asia/Shanghai'",
            ),
            (
                "sql_select_limit",
                "10",
                "SET SESSION sql_select_limit = 10",
            ),
            (
                "long_query_time",
                "1.5",
                "SET SESSION long_query_time = 1.5",
            ),
            (
                "foreign_key_checks",
                "OFF",
                "SET SESSION foreign_key_checks = 'OFF'",
            ),
            ("sql_mode", "DEFAULT", "SET SESSION sql_mode = DEFAULT"),
            ("x", "it's", "SET SESSION x = 'it\\'s'"),
            ("x", "-1", "SET SESSION x = -1"),
            ("x", "1.2.3", "SET SESSION x = '1.2.3'"),
            ("x", "", "SET SESSION x = ''"),
        ] {
            assert_eq!(set_session(name, value), want);
        }
    }
}
