//! The upstream as the sync unit sees it: a binlog to read from a
//! position, the tables it has, and where its binlog ends now. One trait,
//! two adapters: a MySQL / MariaDB server (`mysql::MySqlSource`) and the
//! simulation's in-memory server (`dm_worker_testkit::upstream`); both
//! pass the upstream conformance suite (`dm_worker_testkit::conformance`).

use std::fmt;

use futures::future::BoxFuture;

use super::event::Located;
use super::seed::SchemaSeed;
use super::UpstreamError;
use crate::position::Position;
use dm_rules::TaskRules;

/// A call's future.
pub type Call<'a, T> = BoxFuture<'a, Result<T, UpstreamError>>;

/// Decoded binlog events from a position on.
pub trait Events: Send {
    /// The next event; `None` when the upstream closed the stream.
    fn next(&mut self) -> Call<'_, Option<Located>>;
}

/// What the sync unit reads from a source.
pub trait BinlogSource: Send + Sync + fmt::Debug {
    /// The binlog after `from`, read as replica `server_id`.
    fn open<'a>(&'a self, server_id: u32, from: &'a Position) -> Call<'a, Box<dyn Events>>;

    /// The base tables `rules` select (schema, table).
    fn tables<'a>(&'a self, rules: &'a TaskRules) -> Call<'a, Vec<(String, String)>>;

    /// The definitions of the tables `rules` select, as they are now: the
    /// schema tracker's start when no full copy read them in its snapshot.
    fn schema_seed<'a>(&'a self, rules: &'a TaskRules) -> Call<'a, SchemaSeed>;

    /// The end of the binlog now.
    fn position(&self) -> Call<'_, Position>;

    /// The binlog files the upstream has, oldest first.
    fn files(&self) -> Call<'_, Vec<String>>;

    /// The Unix time (seconds) of the wall-clock time `local`
    /// (`YYYY-MM-DD HH:MM:SS`) in the upstream's time zone, which only the
    /// upstream knows (`start-task --start-time` without an offset).
    fn unix_time<'a>(&'a self, local: &'a str) -> Call<'a, i64>;
}

/// Whether `name` is a binlog file the server had and purged: the same
/// base name and width of number as the files it lists, numbered before
/// the first of them.
pub fn purged(name: &str, files: &[String]) -> bool {
    let split = |f: &str| {
        let (base, number) = f.rsplit_once('.')?;
        let n: u64 = number.parse().ok()?;
        Some((base.to_string(), number.len(), n))
    };
    match (split(name), files.first().and_then(|f| split(f))) {
        (Some((base, width, n)), Some((first_base, first_width, first))) => {
            base == first_base && width == first_width && n < first
        }
        _ => false,
    }
}

/// The upstream's files, for messages.
pub fn describe(files: &[String]) -> String {
    match (files.first(), files.last()) {
        (Some(first), Some(last)) if first != last => format!("files {first} to {last}"),
        (Some(only), _) => format!("only file {only}"),
        _ => "no binlog files".to_string(),
    }
}
