//! `--start-time` of `start-task` and `check-task`: the time a task's sync
//! begins at, in DM's six forms.
//!
//! `2006-01-02 15:04:05` or `2006-01-02T15:04:05`, each optionally followed
//! by an offset, `+08:00` or `+0800`. dmctl checks the form; the text goes
//! to the worker as written, because a time without an offset means the
//! upstream's time zone, which only the upstream knows (the worker asks
//! it). A time with an offset is an instant already.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// What DM prints when the text has none of the forms.
pub const FORMAT_HINT: &str = "'2006-01-02 15:04:05', '2006-01-02T15:04:05', '2006-01-02 15:04:05+08:00', '2006-01-02T15:04:05+08:00', '2006-01-02 15:04:05+0800', or '2006-01-02T15:04:05+0800'";

/// A parsed `--start-time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartTime {
    /// A wall-clock time in the upstream's time zone.
    Local(NaiveDateTime),
    /// An instant.
    Instant(DateTime<FixedOffset>),
}

/// The text has none of DM's forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error while parse start-time, expected in the format like {FORMAT_HINT}: unsupported start-time format {0:?}")]
pub struct StartTimeError(pub String);

impl StartTime {
    pub fn parse(text: &str) -> Result<Self, StartTimeError> {
        let trimmed = text.trim().trim_matches(|c| c == '\'' || c == '"');
        for form in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
            if let Ok(local) = NaiveDateTime::parse_from_str(trimmed, form) {
                return Ok(Self::Local(local));
            }
            for offset in ["%:z", "%z"] {
                let with_offset = format!("{form}{offset}");
                if let Ok(instant) = DateTime::parse_from_str(trimmed, &with_offset) {
                    return Ok(Self::Instant(instant));
                }
            }
        }
        Err(StartTimeError(text.to_string()))
    }

    /// Unix seconds, when the time names an instant.
    pub fn unix_seconds(&self) -> Option<i64> {
        match self {
            Self::Local(_) => None,
            Self::Instant(t) => Some(t.timestamp()),
        }
    }

    /// Unix seconds, a wall-clock time taken as UTC.
    pub fn unix_seconds_taking_utc(&self) -> i64 {
        match self {
            Self::Local(t) => t.and_utc().timestamp(),
            Self::Instant(t) => t.timestamp(),
        }
    }

    /// The wall-clock part as `YYYY-MM-DD HH:MM:SS` (what the upstream is
    /// asked to place in its time zone).
    pub fn local_text(&self) -> String {
        match self {
            Self::Local(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Self::Instant(t) => t.naive_local().format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dms_six_forms_parse() {
        let local = StartTime::parse("2021-10-21 00:01:00").expect("space");
        assert_eq!(local, StartTime::parse("2021-10-21T00:01:00").expect("T"));
        assert_eq!(local.unix_seconds(), None);
        assert_eq!(local.local_text(), "2021-10-21 00:01:00");
        let utc_of_0801 = 1_634_774_460; // 2021-10-21 00:01:00 UTC
        for text in [
            "2021-10-21 08:01:00+08:00",
            "2021-10-21T08:01:00+08:00",
            "2021-10-21 08:01:00+0800",
            "'2021-10-21T08:01:00+0800'",
        ] {
            let t = StartTime::parse(text).expect(text);
            assert_eq!(t.unix_seconds(), Some(utc_of_0801), "{text}");
        }
    }

    #[test]
    fn other_forms_are_refused_with_the_hint() {
        for text in [
            "2021-10-21",
            "yesterday",
            "2021-10-21 25:00:00",
            "1634774460",
        ] {
            let err = StartTime::parse(text).expect_err(text).to_string();
            assert!(err.contains("'2006-01-02 15:04:05'"), "{err}");
            assert!(err.contains(text), "{err}");
        }
    }
}
