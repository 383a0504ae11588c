//! The upstream's current binlog position: `SHOW MASTER STATUS`, renamed
//! `SHOW BINARY LOG STATUS` in MySQL 8.4 (which rejects the old name).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

/// MySQL's "you have an error in your SQL syntax".
const ER_PARSE_ERROR: u16 = 1064;

/// The status row (file, position, do/ignore lists, and on MySQL the
/// executed GTID set), or `None` when the binary log is off.
pub async fn binlog_status(conn: &mut Conn) -> Result<Option<Row>, mysql_async::Error> {
    match conn.query_first("SHOW MASTER STATUS").await {
        Err(mysql_async::Error::Server(e)) if e.code == ER_PARSE_ERROR => {
            conn.query_first("SHOW BINARY LOG STATUS").await
        }
        other => other,
    }
}
