//! "Does the upstream answer?" — checked before a source is stored, so a
//! typo in a host or password is reported by `operate-source create` and not
//! discovered later by a worker.

use std::time::Duration;

use dm_proto::config::SourceConfig;
use dm_proto::db_conn::ConnectError;
use mysql_async::prelude::Queryable;

use crate::databases::DatabaseError;

/// How long the check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects as the source's user and asks for the server's version.
pub async fn check(source: &SourceConfig) -> Result<String, DatabaseError> {
    let from = &source.from;
    let where_ = format!("{}@{}:{}", from.user, from.host, from.port);
    let attempt = async {
        let mut conn = crate::db_opts::connect(from, crate::db_opts::FROM).await?;
        let version: Option<String> = conn
            .query_first("SELECT VERSION()")
            .await
            .map_err(ConnectError::Db)?;
        conn.disconnect().await.map_err(ConnectError::Db)?;
        Ok::<_, ConnectError>(version.unwrap_or_default())
    };
    match tokio::time::timeout(CHECK_TIMEOUT, attempt).await {
        Ok(Ok(version)) => Ok(version),
        Ok(Err(error)) => Err(DatabaseError::UpstreamFailed { at: where_, error }),
        Err(_) => Err(DatabaseError::UpstreamTimeout {
            at: where_,
            secs: CHECK_TIMEOUT.as_secs(),
        }),
    }
}
