//! Where the binlog reaches a time: the start of the first transaction
//! written at or after it (`start-task --start-time`).
//!
//! Built on the binlog port alone (`open`, `files`, `position`), so it is
//! the same over every adapter:
//!
//! 1. **Which file.** From the newest file back, the first event of each
//!    file (its format description) tells when the server began the file;
//!    the scan starts in the newest file begun at or before the time.
//!    When even the oldest began after it, the answer is the start of the
//!    oldest file, and the caller is told ([`AtTime::BeforeOldest`]):
//!    transactions before it may have been purged.
//! 2. **Which transaction.** From there, events are read in order. The
//!    start of a transaction (a *boundary*) is where the scan opened, or
//!    the end of a commit or of a DDL. The first event after a boundary
//!    whose timestamp is at or after the time decides: the answer is that
//!    boundary. Events with no timestamp (a rotate the stream makes up)
//!    and heartbeats decide nothing.
//! 3. **Too late.** Reaching where the binlog ended when the search began
//!    (or a heartbeat: the stream is idle at its end) without deciding
//!    means nothing was written at or after the time yet.
//!
//! [`Scan`] is the pure part of step 2.

use std::time::Duration;

use super::{BinlogSource, Event, Events, Located, UpstreamError};
use crate::position::Position;

/// How long one event may take to arrive before the stream counts as
/// ended (an idle upstream sends heartbeats every second).
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// Where a time falls in the binlog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtTime {
    /// The start of the first transaction written at or after the time.
    Found(Position),
    /// The oldest file began after the time: its start.
    BeforeOldest(Position),
    /// Nothing was written at or after the time yet.
    TooLate,
}

/// Finds `at_unix_s` in `source`'s binlog, reading as replica `server_id`.
pub async fn position_at(
    source: &dyn BinlogSource,
    server_id: u32,
    at_unix_s: i64,
) -> Result<AtTime, UpstreamError> {
    let files = source.files().await?;
    let end = source.position().await?;
    let mut start = None;
    for file in files.iter().rev() {
        let began = file_began(source, server_id, file).await?;
        if began.is_some_and(|t| i64::from(t) <= at_unix_s) {
            start = Some(file.clone());
            break;
        }
    }
    let Some(file) = start else {
        return Ok(match files.first() {
            Some(oldest) => AtTime::BeforeOldest(file_start(oldest)),
            None => AtTime::TooLate,
        });
    };
    let mut scan = Scan::new(file_start(&file), at_unix_s);
    let mut events = source.open(server_id, &scan.boundary).await?;
    loop {
        let Some(located) = next_within(&mut *events).await? else {
            return Ok(AtTime::TooLate);
        };
        if let Some(found) = scan.step(&located, &end) {
            return Ok(found);
        }
    }
}

/// The next event, or `None` when the stream ended or stayed silent for
/// [`EVENT_WAIT`].
async fn next_within(events: &mut dyn Events) -> Result<Option<Located>, UpstreamError> {
    match tokio::time::timeout(EVENT_WAIT, events.next()).await {
        Ok(next) => next,
        Err(_) => Ok(None),
    }
}

fn file_start(file: &str) -> Position {
    Position {
        binlog_name: file.to_string(),
        binlog_pos: 4,
        binlog_gtid: String::new(),
    }
}

/// When the server began `file`: the timestamp of its first timed event.
async fn file_began(
    source: &dyn BinlogSource,
    server_id: u32,
    file: &str,
) -> Result<Option<u32>, UpstreamError> {
    let mut events = source.open(server_id, &file_start(file)).await?;
    loop {
        let Some(located) = next_within(&mut *events).await? else {
            return Ok(None);
        };
        if matches!(located.event, Event::Heartbeat) || located.end.binlog_name != file {
            return Ok(None);
        }
        if located.timestamp != 0 {
            return Ok(Some(located.timestamp));
        }
    }
}

/// The transaction search of step 2, one event at a time.
#[derive(Debug)]
pub struct Scan {
    /// Where the latest transaction seen so far starts.
    pub boundary: Position,
    at_unix_s: i64,
}

impl Scan {
    pub fn new(from: Position, at_unix_s: i64) -> Self {
        Self {
            boundary: from,
            at_unix_s,
        }
    }

    /// Takes the next event; `Some` once decided. `end` is where the
    /// binlog ended when the search began.
    pub fn step(&mut self, located: &Located, end: &Position) -> Option<AtTime> {
        if matches!(located.event, Event::Heartbeat) {
            return Some(AtTime::TooLate);
        }
        if located.timestamp != 0 && i64::from(located.timestamp) >= self.at_unix_s {
            return Some(AtTime::Found(self.boundary.clone()));
        }
        if matches!(located.event, Event::Commit | Event::Query { .. }) {
            self.boundary = located.end.clone();
        }
        if !located.end.binlog_cmp(end).is_lt() {
            return Some(AtTime::TooLate);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pos: u32) -> Position {
        Position {
            binlog_name: "bin.000002".into(),
            binlog_pos: pos,
            binlog_gtid: String::new(),
        }
    }

    fn event(event: Event, end: u32, timestamp: u32) -> Located {
        Located {
            event,
            end: at(end),
            timestamp,
        }
    }

    fn scan(events: &[Located], at_unix_s: i64) -> Option<AtTime> {
        let mut scan = Scan::new(at(4), at_unix_s);
        events.iter().find_map(|e| scan.step(e, &at(1000)))
    }

    fn transactions() -> Vec<Located> {
        vec![
            event(Event::Other, 256, 100), // format description
            event(Event::Gtid("0-1-1".into()), 300, 110),
            event(Event::Other, 350, 110), // table map
            event(Event::Commit, 400, 110),
            event(
                Event::Query {
                    schema: "db".into(),
                    sql: "ALTER TABLE t ADD c INT".into(),
                },
                500,
                120,
            ),
            event(Event::Gtid("0-1-3".into()), 550, 130),
            event(Event::Commit, 600, 130),
        ]
    }

    #[test]
    fn the_first_transaction_at_or_after_the_time_is_found_at_its_start() {
        let events = transactions();
        assert_eq!(scan(&events, 50), Some(AtTime::Found(at(4))));
        // The file's format description is not a transaction: the scan
        // starts before it.
        assert_eq!(scan(&events, 105), Some(AtTime::Found(at(4))));
        assert_eq!(scan(&events, 110), Some(AtTime::Found(at(4))));
        assert_eq!(scan(&events, 111), Some(AtTime::Found(at(400))));
        assert_eq!(scan(&events, 125), Some(AtTime::Found(at(500))));
    }

    #[test]
    fn a_time_after_everything_is_too_late() {
        let mut events = transactions();
        assert_eq!(scan(&events, 131), None, "not decided before the end");
        events.push(event(Event::Heartbeat, 600, 0));
        assert_eq!(scan(&events, 131), Some(AtTime::TooLate));
        let mut ending = transactions();
        ending.push(event(Event::Commit, 1000, 130));
        assert_eq!(scan(&ending, 131), Some(AtTime::TooLate));
    }

    #[test]
    fn events_without_a_time_decide_nothing() {
        let events = vec![
            event(Event::Other, 4, 0), // a made-up rotate
            event(Event::Gtid("0-1-1".into()), 300, 110),
        ];
        assert_eq!(scan(&events, 105), Some(AtTime::Found(at(4))));
    }
}
