//! Which MySQL-compatible server the downstream is, from its `VERSION()`
//! text, and the SQL that differs between them.
//!
//! Only one statement differs today: the fence's lookup of the
//! transactions that block a claim (see `MySqlDownstream::kill_blockers`).
//! A worker claims a source by locking its fence row; a stale owner (a
//! paused or cut-off worker whose transaction never finished) may hold the
//! row, and the claimant kills it after waiting a while. Finding it needs
//! the server's lock-wait tables, which moved between versions:
//!
//! | downstream     | lock waits                              | holder's session          | kill        |
//! |----------------|-----------------------------------------|---------------------------|-------------|
//! | MariaDB        | `information_schema.INNODB_LOCK_WAITS`  | `INNODB_TRX.trx_mysql_thread_id` | `KILL n` |
//! | MySQL 5.7      | `information_schema.INNODB_LOCK_WAITS`  | `INNODB_TRX.trx_mysql_thread_id` | `KILL n` |
//! | MySQL 8.0+     | `performance_schema.data_lock_waits`    | `INNODB_TRX.trx_mysql_thread_id` | `KILL n` |
//! | TiDB           | `information_schema.DATA_LOCK_WAITS`    | `CLUSTER_TIDB_TRX.SESSION_ID`    | `KILL n` (global kill, TiDB 6.1+) |
//!
//! The choice is pure and unit-tested here; the tests run MariaDB only.
//! Without the privilege to read those tables or to kill, a claim simply
//! waits for the stale transaction to end, so a wrong guess never
//! breaks the fence: the row lock, not the kill, is what fences.

/// A downstream server's kind, with the version parts the SQL depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    MariaDb,
    /// MySQL (and compatible forks that keep its version text), with its
    /// major and minor version.
    MySql {
        major: u32,
        minor: u32,
    },
    TiDb,
}

impl ServerKind {
    /// Reads `SELECT VERSION()`'s answer: `10.11.6-MariaDB-0+deb12u1`,
    /// `8.0.35`, `5.7.44-log`, `8.0.11-TiDB-v7.5.0`. Text it cannot read
    /// is taken as MySQL 5.7 (the oldest kind with the same SQL as
    /// MariaDB).
    pub fn from_version(version: &str) -> Self {
        let lower = version.to_ascii_lowercase();
        if lower.contains("tidb") {
            return ServerKind::TiDb;
        }
        if lower.contains("mariadb") {
            return ServerKind::MariaDb;
        }
        let mut parts = version
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(major), Some(minor)) => ServerKind::MySql { major, minor },
            _ => ServerKind::MySql { major: 5, minor: 7 },
        }
    }

    /// The query that lists the sessions holding what session `?` (a
    /// `CONNECTION_ID()`) waits for.
    pub fn blockers_sql(self) -> &'static str {
        match self {
            ServerKind::MariaDb | ServerKind::MySql { major: ..=7, .. } => {
                "SELECT DISTINCT b.trx_mysql_thread_id \
                 FROM information_schema.INNODB_LOCK_WAITS w \
                 JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
                 JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
                 WHERE r.trx_mysql_thread_id = ?"
            }
            ServerKind::MySql { .. } => {
                "SELECT DISTINCT b.trx_mysql_thread_id \
                 FROM performance_schema.data_lock_waits w \
                 JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID \
                 JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID \
                 WHERE r.trx_mysql_thread_id = ?"
            }
            ServerKind::TiDb => {
                "SELECT DISTINCT b.SESSION_ID \
                 FROM information_schema.DATA_LOCK_WAITS w \
                 JOIN information_schema.CLUSTER_TIDB_TRX b ON b.ID = w.CURRENT_HOLDING_TRX_ID \
                 JOIN information_schema.CLUSTER_TIDB_TRX r ON r.ID = w.TRX_ID \
                 WHERE r.SESSION_ID = ?"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServerKind;

    #[test]
    fn version_texts_name_their_server() {
        let cases = [
            ("10.11.6-MariaDB-0+deb12u1", ServerKind::MariaDb),
            ("5.5.5-10.6.16-MariaDB-log", ServerKind::MariaDb),
            ("8.0.35", ServerKind::MySql { major: 8, minor: 0 }),
            ("8.4.0-commercial", ServerKind::MySql { major: 8, minor: 4 }),
            ("5.7.44-log", ServerKind::MySql { major: 5, minor: 7 }),
            ("8.0.11-TiDB-v7.5.0", ServerKind::TiDb),
            ("5.7.25-TiDB-v6.5.1", ServerKind::TiDb),
            ("", ServerKind::MySql { major: 5, minor: 7 }),
            ("garbage", ServerKind::MySql { major: 5, minor: 7 }),
        ];
        for (text, kind) in cases {
            assert_eq!(ServerKind::from_version(text), kind, "{text}");
        }
    }

    #[test]
    fn each_server_reads_its_own_lock_wait_table() {
        let cases = [
            ("10.11.6-MariaDB", "information_schema.INNODB_LOCK_WAITS"),
            ("5.7.44-log", "information_schema.INNODB_LOCK_WAITS"),
            ("8.0.35", "performance_schema.data_lock_waits"),
            ("9.1.0", "performance_schema.data_lock_waits"),
            ("8.0.11-TiDB-v7.5.0", "information_schema.DATA_LOCK_WAITS"),
        ];
        for (text, table) in cases {
            let sql = ServerKind::from_version(text).blockers_sql();
            assert!(sql.contains(table), "{text}: {sql}");
            assert_eq!(sql.matches('?').count(), 1, "{text}: {sql}");
        }
    }
}
