//! Dates and times of expressions: the calendar arithmetic the date
//! functions need, text in the server's formats, and the task's timezone
//! (a TIMESTAMP is an instant; an expression sees it as the date-time it
//! is in the task's `timezone`, as the task's sessions do).

use super::error::ExprError;

/// A calendar date and time of day, as DATE and DATETIME hold them
/// (fields in order, so the derived order is chronological).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

impl DateTime {
    pub fn date(year: u16, month: u8, day: u8) -> Self {
        DateTime {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
        }
    }

    /// The date alone, at midnight.
    pub fn date_only(self) -> Self {
        DateTime::date(self.year, self.month, self.day)
    }

    /// `YYYYMMDD`.
    pub fn date_number(&self) -> i64 {
        i64::from(self.year) * 10_000 + i64::from(self.month) * 100 + i64::from(self.day)
    }

    /// `hhmmss`.
    pub fn time_number(&self) -> i64 {
        i64::from(self.hour) * 10_000 + i64::from(self.minute) * 100 + i64::from(self.second)
    }

    pub fn date_text(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    pub fn datetime_text(&self) -> String {
        let mut s = format!(
            "{} {:02}:{:02}:{:02}",
            self.date_text(),
            self.hour,
            self.minute,
            self.second
        );
        if self.micros != 0 {
            s.push_str(&format!(".{:06}", self.micros));
        }
        s
    }

    /// `YYYY-MM-DD[ hh:mm:ss[.ffffff]]` (also `T` between, and `/` as a
    /// date separator); `None` when the text is no valid date.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let (date, time) = match t.find([' ', 'T']) {
            Some(i) => (&t[..i], Some(t[i + 1..].trim())),
            None => (t, None),
        };
        let mut parts = date.split(['-', '/']);
        let year: u16 = parts.next()?.parse().ok()?;
        let month: u8 = parts.next()?.parse().ok()?;
        let day: u8 = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        let mut out = DateTime::date(year, month, day);
        if let Some(time) = time {
            let (hms, frac) = match time.split_once('.') {
                Some((hms, frac)) => (hms, Some(frac)),
                None => (time, None),
            };
            let mut p = hms.split(':');
            out.hour = p.next()?.parse().ok()?;
            out.minute = p.next().unwrap_or("0").parse().ok()?;
            out.second = p.next().unwrap_or("0").parse().ok()?;
            if let Some(frac) = frac {
                let digits: String = frac.chars().take(6).collect();
                if !digits.chars().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                out.micros = format!("{digits:0<6}").parse().ok()?;
            }
        }
        out.valid().then_some(out)
    }

    /// A number `YYYYMMDD` or `YYYYMMDDhhmmss` as a date-time.
    pub fn from_number(n: f64) -> Option<Self> {
        if n < 0.0 {
            return None;
        }
        let whole = n.trunc() as u64;
        let (date, time) = if whole >= 10_000_000_000 {
            (whole / 1_000_000, whole % 1_000_000)
        } else {
            (whole, 0)
        };
        let out = DateTime {
            year: u16::try_from(date / 10_000).ok()?,
            month: u8::try_from(date / 100 % 100).ok()?,
            day: u8::try_from(date % 100).ok()?,
            hour: u8::try_from(time / 10_000).ok()?,
            minute: u8::try_from(time / 100 % 100).ok()?,
            second: u8::try_from(time % 100).ok()?,
            micros: 0,
        };
        out.valid().then_some(out)
    }

    fn valid(&self) -> bool {
        self.month >= 1
            && self.month <= 12
            && self.day >= 1
            && self.day <= days_in_month(i64::from(self.year), self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// Days since 0000-00-00 as the server's `TO_DAYS` counts them.
    pub fn to_days(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        ) + 719_528
    }

    /// 0 = Monday .. 6 = Sunday (`WEEKDAY`).
    pub fn weekday(&self) -> i64 {
        // 1970-01-01 was a Thursday.
        (days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        ) + 3)
            .rem_euclid(7)
    }

    /// 1 .. 366 (`DAYOFYEAR`).
    pub fn day_of_year(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            u32::from(self.month),
            u32::from(self.day),
        ) - days_from_civil(i64::from(self.year), 1, 1)
            + 1
    }

    /// The date-time `seconds` (and `micros`) after the epoch, at UTC
    /// offset `offset_seconds`.
    pub fn from_epoch(seconds: i64, micros: u32, offset_seconds: i32) -> Option<Self> {
        let local = seconds.checked_add(i64::from(offset_seconds))?;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Some(DateTime {
            year: u16::try_from(y).ok()?,
            month: u8::try_from(m).ok()?,
            day: u8::try_from(d).ok()?,
            hour: u8::try_from(secs / 3600).ok()?,
            minute: u8::try_from(secs / 60 % 60).ok()?,
            second: u8::try_from(secs % 60).ok()?,
            micros,
        })
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `[-]hh:mm[:ss[.ffffff]]` as signed microseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (hms, frac) = match t.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (t, None),
    };
    let mut p = hms.split(':');
    let h: i64 = p.next()?.parse().ok()?;
    let m: i64 = p.next()?.parse().ok()?;
    let s: i64 = p.next().unwrap_or("0").parse().ok()?;
    if m >= 60 || s >= 60 {
        return None;
    }
    let us: i64 = match frac {
        Some(f) => format!("{:0<6}", f.chars().take(6).collect::<String>())
            .parse()
            .ok()?,
        None => 0,
    };
    let total = ((h * 60 + m) * 60 + s) * 1_000_000 + us;
    Some(if negative { -total } else { total })
}

/// The task's `timezone` as the evaluator uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeZone {
    /// UTC or a fixed offset, in seconds east of UTC.
    Offset(i32),
    /// An IANA zone (`Asia/Shanghai`): its offset depends on the instant
    /// (daylight saving, historical changes), looked up in the zone
    /// database built into the program.
    Named(chrono_tz::Tz),
    /// A name the zone database does not have: TIMESTAMP values cannot
    /// be converted (an error naming it when one is read).
    Unknown(String),
}

impl TimeZone {
    /// From the task's `timezone` (empty: UTC; `+08:00`, `-05:30`,
    /// `UTC`, or an IANA name).
    pub fn parse(zone: &str) -> TimeZone {
        let z = zone.trim();
        if z.is_empty() || z.eq_ignore_ascii_case("UTC") || z.eq_ignore_ascii_case("GMT") {
            return TimeZone::Offset(0);
        }
        let named = || match z.parse::<chrono_tz::Tz>() {
            Ok(tz) => TimeZone::Named(tz),
            Err(_) => TimeZone::Unknown(z.to_string()),
        };
        let sign = match z.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return named(),
        };
        let Some((h, m)) = z.get(1..).and_then(|rest| rest.split_once(':')) else {
            return named();
        };
        match (h.parse::<i32>(), m.parse::<i32>()) {
            (Ok(h), Ok(m)) if h <= 14 && m < 60 => TimeZone::Offset(sign * (h * 3600 + m * 60)),
            _ => named(),
        }
    }

    /// The date-time of epoch `seconds` (and `micros`) in this zone.
    pub fn local(&self, seconds: i64, micros: u32) -> Result<Option<DateTime>, ExprError> {
        match self {
            TimeZone::Offset(offset) => Ok(DateTime::from_epoch(seconds, micros, *offset)),
            TimeZone::Named(tz) => {
                use chrono::{Offset, TimeZone as _};
                let Some(utc) = chrono::DateTime::from_timestamp(seconds, 0) else {
                    return Ok(None);
                };
                let offset = tz
                    .offset_from_utc_datetime(&utc.naive_utc())
                    .fix()
                    .local_minus_utc();
                Ok(DateTime::from_epoch(seconds, micros, offset))
            }
            TimeZone::Unknown(name) => Err(ExprError::UnknownTimeZone(name.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_calendar() {
        let d = DateTime::from_epoch(1_700_000_000, 5, 8 * 3600).unwrap();
        assert_eq!(d.datetime_text(), "2023-11-15 06:13:20.000005");
        assert_eq!(DateTime::date(2024, 2, 29).weekday(), 3);
        assert_eq!(DateTime::date(2024, 12, 31).day_of_year(), 366);
        assert_eq!(DateTime::date(2007, 10, 7).to_days(), 733_321);
        assert_eq!(DateTime::parse("2023-02-29"), None);
        assert_eq!(
            DateTime::parse("2024-02-29 1:02:03.5")
                .unwrap()
                .datetime_text(),
            "2024-02-29 01:02:03.500000"
        );
        assert_eq!(parse_time("-01:02:03"), Some(-3_723_000_000));
        assert_eq!(TimeZone::parse("+05:30"), TimeZone::Offset(19_800));
        assert_eq!(
            TimeZone::parse("Asia/Shanghai"),
            TimeZone::Named(chrono_tz::Tz::Asia__Shanghai)
        );
        assert_eq!(
            TimeZone::parse("Mars/Olympus"),
            TimeZone::Unknown("Mars/Olympus".into())
        );
    }

    #[test]
    fn named_zones_follow_daylight_saving() {
        let berlin = TimeZone::parse("Europe/Berlin");
        // 2024-01-15 12:00:00 UTC: winter, +01:00.
        let winter = berlin.local(1_705_320_000, 0).unwrap().unwrap();
        assert_eq!(winter.datetime_text(), "2024-01-15 13:00:00");
        // 2024-07-15 12:00:00 UTC: summer, +02:00.
        let summer = berlin.local(1_721_044_800, 0).unwrap().unwrap();
        assert_eq!(summer.datetime_text(), "2024-07-15 14:00:00");
        assert!(TimeZone::parse("Nowhere/Else").local(0, 0).is_err());
    }
}
