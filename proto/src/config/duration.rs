//! Duration strings as DM's files write them (Go style: `300ms`, `5s`, `5m`,
//! `1h30m`), parsed with humantime.

use std::time::Duration;

use super::error::ValueError;

/// Parses a duration; the error says what is valid.
pub fn parse(text: &str) -> Result<Duration, ValueError> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|_| ValueError::NotDuration(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_numbers_without_unit_and_unknown_units() {
        for bad in ["", "5", "5x", "m"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
