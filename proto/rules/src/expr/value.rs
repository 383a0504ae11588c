//! The values an expression computes with, and MySQL's conversions
//! between them.
//!
//! A row's columns arrive as [`Value`]s (the worker converts its own row
//! images at its edge). Conversions follow the server: a string read as a
//! number takes its longest numeric prefix (`'10abc'` is 10, `'abc'` 0);
//! a date read as a number is `YYYYMMDD`, a date-time `YYYYMMDDhhmmss`;
//! text compares case-insensitively and without trailing spaces, as the
//! `_ci` (PAD SPACE) collations tasks' tables use by default.
//!
//! A DECIMAL quotient has a declared scale (the dividend's + 4,
//! `div_precision_increment`) and more digits inside (the server's
//! 9-digit words, truncated): see [`Value::Quotient`].

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rust_decimal::Decimal;

use super::time::DateTime;

/// One value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    UInt(u64),
    /// DECIMAL, exact; its scale is the declared one.
    Decimal(Decimal),
    /// A DECIMAL computed with more digits than its declared scale (a
    /// quotient, and what is computed from one): the server uses every
    /// digit in arithmetic, truth, `BETWEEN` and `CASE`, and the value
    /// rounded to the scale in `=`, `<`, `IN` and text.
    Quotient(Decimal, u32),
    /// FLOAT, DOUBLE.
    Double(f64),
    /// Text (character strings, ENUM/SET members, JSON).
    Str(String),
    /// DATE.
    Date(DateTime),
    /// DATETIME and TIMESTAMP (in the task's timezone).
    DateTime(DateTime),
    /// TIME, as signed microseconds.
    Time(i64),
}

/// A number as arithmetic and numeric comparison see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// Integers, signed or not (`unsigned` when the value came from an
    /// unsigned operand).
    Int {
        value: i128,
        unsigned: bool,
    },
    /// The value with every digit, and its declared scale.
    Decimal(Decimal, u32),
    Double(f64),
}

impl Num {
    pub fn to_f64(self) -> f64 {
        match self {
            Num::Int { value, .. } => value as f64,
            Num::Decimal(d, _) => d.to_f64().unwrap_or(0.0),
            Num::Double(f) => f,
        }
    }

    /// As a decimal (doubles that do not fit become 0).
    pub fn to_decimal(self) -> Decimal {
        match self {
            Num::Int { value, .. } => Decimal::from_i128(value).unwrap_or_default(),
            Num::Decimal(d, _) => d,
            Num::Double(f) => Decimal::from_f64(f).unwrap_or_default(),
        }
    }

    /// As a decimal at its declared scale (rounded half up).
    pub fn declared(self) -> Decimal {
        match self {
            Num::Decimal(d, scale) => rounded(d, scale),
            other => other.to_decimal(),
        }
    }

    pub fn is_zero(self) -> bool {
        match self {
            Num::Int { value, .. } => value == 0,
            Num::Decimal(d, _) => d.is_zero(),
            Num::Double(f) => f == 0.0,
        }
    }

    /// The number as a value: integers as `UInt` when unsigned (or above
    /// `i64`), else `Int`.
    pub fn into_value(self) -> Value {
        match self {
            Num::Int {
                value,
                unsigned: true,
            } if value >= 0 => u64::try_from(value).map_or(Value::Null, Value::UInt),
            Num::Int { value, .. } => match i64::try_from(value) {
                Ok(v) => Value::Int(v),
                Err(_) => u64::try_from(value).map_or(Value::Null, Value::UInt),
            },
            Num::Decimal(mut d, scale) => {
                if d.scale() < scale {
                    d.rescale(scale);
                }
                if d.scale() == scale {
                    Value::Decimal(d)
                } else {
                    Value::Quotient(d, scale)
                }
            }
            Num::Double(f) => Value::Double(f),
        }
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_temporal(&self) -> bool {
        matches!(self, Value::Date(_) | Value::DateTime(_) | Value::Time(_))
    }

    /// The value as a number; `None` for NULL.
    pub fn to_num(&self) -> Option<Num> {
        Some(match self {
            Value::Null => return None,
            Value::Int(v) => Num::Int {
                value: i128::from(*v),
                unsigned: false,
            },
            Value::UInt(v) => Num::Int {
                value: i128::from(*v),
                unsigned: true,
            },
            Value::Decimal(d) => Num::Decimal(*d, d.scale()),
            Value::Quotient(d, scale) => Num::Decimal(*d, *scale),
            Value::Double(f) => Num::Double(*f),
            Value::Str(s) => Num::Double(str_to_f64(s)),
            Value::Date(d) => Num::Int {
                value: i128::from(d.date_number()),
                unsigned: false,
            },
            Value::DateTime(d) => {
                let whole = d.date_number() * 1_000_000 + d.time_number();
                if d.micros == 0 {
                    Num::Int {
                        value: i128::from(whole),
                        unsigned: false,
                    }
                } else {
                    Num::Decimal(
                        Decimal::from(whole) + Decimal::new(i64::from(d.micros), 6),
                        6,
                    )
                }
            }
            Value::Time(us) => {
                let sign = if *us < 0 { -1 } else { 1 };
                let a = us.unsigned_abs();
                let secs = a / 1_000_000;
                let hhmmss = (secs / 3600) * 10_000 + (secs / 60 % 60) * 100 + secs % 60;
                let frac = a % 1_000_000;
                let hhmmss = i64::try_from(hhmmss).unwrap_or(i64::MAX);
                if frac == 0 {
                    Num::Int {
                        value: i128::from(sign * hhmmss),
                        unsigned: false,
                    }
                } else {
                    let frac = i64::try_from(frac).unwrap_or(0);
                    Num::Decimal(
                        (Decimal::from(hhmmss) + Decimal::new(frac, 6)) * Decimal::from(sign),
                        6,
                    )
                }
            }
        })
    }

    /// MySQL's truth of a value: `None` for NULL, else whether it is not
    /// zero.
    pub fn truth(&self) -> Option<bool> {
        self.to_num().map(|n| !n.is_zero())
    }

    /// The value as text; `None` for NULL.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// The value as a date-time, for date functions and comparisons with
    /// dates: dates at midnight, text parsed (`None` when it is no date).
    pub fn to_datetime(&self) -> Option<DateTime> {
        match self {
            Value::Date(d) | Value::DateTime(d) => Some(*d),
            Value::Str(s) => DateTime::parse(s),
            Value::Int(_)
            | Value::UInt(_)
            | Value::Decimal(_)
            | Value::Quotient(..)
            | Value::Double(_) => DateTime::from_number(self.to_num()?.to_f64()),
            Value::Null | Value::Time(_) => None,
        }
    }

    pub fn from_bool(b: bool) -> Value {
        Value::Int(i64::from(b))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(v) => write!(f, "{v}"),
            Value::UInt(v) => write!(f, "{v}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::Quotient(d, scale) => write!(f, "{}", rounded(*d, *scale)),
            Value::Double(v) => write!(f, "{}", format_double(*v)),
            Value::Str(s) => f.write_str(s),
            Value::Date(d) => write!(f, "{}", d.date_text()),
            Value::DateTime(d) => write!(f, "{}", d.datetime_text()),
            Value::Time(us) => {
                let sign = if *us < 0 { "-" } else { "" };
                let a = us.unsigned_abs();
                let secs = a / 1_000_000;
                let frac = a % 1_000_000;
                write!(
                    f,
                    "{sign}{:02}:{:02}:{:02}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                )?;
                if frac != 0 {
                    write!(f, ".{frac:06}")?;
                }
                Ok(())
            }
        }
    }
}

/// `d` rounded half away from zero to `scale` digits.
pub fn rounded(d: Decimal, scale: u32) -> Decimal {
    d.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// A double as the server prints it (shortest text that reads back, in
/// exponent notation only when large or small).
pub fn format_double(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 1e15 || (v != 0.0 && v.abs() < 1e-4) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// The longest numeric prefix of `s` (after leading spaces) as a double,
/// as the server reads a string in a numeric context: `'12abc'` is 12,
/// `'abc'` 0, `'1e3'` 1000.
pub fn str_to_f64(s: &str) -> f64 {
    numeric_prefix(s).parse::<f64>().unwrap_or(0.0)
}

/// The longest numeric prefix of `s` as a DECIMAL (MariaDB compares a
/// string with a DECIMAL as DECIMALs).
pub fn str_to_decimal(s: &str) -> Decimal {
    let prefix = numeric_prefix(s);
    Decimal::from_str_exact(prefix)
        .or_else(|_| Decimal::from_scientific(prefix))
        .unwrap_or_else(|_| Decimal::from_f64(str_to_f64(s)).unwrap_or_default())
}

/// The longest prefix of `s` (after leading spaces) that reads as a
/// number; `"0"` when none does.
fn numeric_prefix(s: &str) -> &str {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r']);
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    let mantissa_end = i;
    if mantissa_end == digits_start || &t[digits_start..mantissa_end] == "." {
        return "0";
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_digits = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_digits {
            i = j;
        }
    }
    let end = if i > mantissa_end { i } else { mantissa_end };
    &t[..end]
}

/// Text as a `_ci` PAD SPACE collation (`utf8mb4_general_ci`) compares
/// it: letters by their upper case (so `_` sorts after letters), trailing
/// spaces ignored.
pub fn collate_key(s: &str) -> String {
    s.trim_end_matches(' ').to_uppercase()
}

/// Compares two values as the server's `=`/`<`/`IN` do (a quotient at
/// its declared scale); `None` when either is NULL.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    compare_as(a, b, false)
}

/// Compares two values as the server's `BETWEEN` and `CASE` do (a
/// quotient with every digit); `None` when either is NULL.
pub fn compare_exact(a: &Value, b: &Value) -> Option<Ordering> {
    compare_as(a, b, true)
}

fn compare_as(a: &Value, b: &Value, exact: bool) -> Option<Ordering> {
    use Value::*;
    if a.is_null() || b.is_null() {
        return None;
    }
    match (a, b) {
        (Str(x), Str(y)) => Some(collate_key(x).cmp(&collate_key(y))),
        (Time(x), Time(y)) => Some(x.cmp(y)),
        (Date(_) | DateTime(_), Date(_) | DateTime(_)) => {
            Some(a.to_datetime()?.cmp(&b.to_datetime()?))
        }
        (Date(_) | DateTime(_), Str(s)) | (Str(s), Date(_) | DateTime(_)) => {
            match crate::expr::time::DateTime::parse(s) {
                Some(_) => Some(a.to_datetime()?.cmp(&b.to_datetime()?)),
                None => Some(collate_key(&a.to_text()?).cmp(&collate_key(&b.to_text()?))),
            }
        }
        (Time(_), Str(s)) | (Str(s), Time(_)) => {
            let t = crate::expr::time::parse_time(s)?;
            let (x, y) = match (a, b) {
                (Time(x), _) => (*x, t),
                (_, Time(y)) => (t, *y),
                _ => return None,
            };
            Some(x.cmp(&y))
        }
        _ => compare_numbers(a.to_num()?, b.to_num()?, a, b, exact),
    }
}

fn compare_numbers(x: Num, y: Num, a: &Value, b: &Value, exact: bool) -> Option<Ordering> {
    // A string against a DECIMAL compares as DECIMALs (MariaDB), against
    // another number as doubles.
    let (x, y) = match (a, b, x, y) {
        (Value::Str(s), _, _, Num::Decimal(..)) => {
            let d = str_to_decimal(s);
            (Num::Decimal(d, d.scale()), y)
        }
        (_, Value::Str(s), Num::Decimal(..), _) => {
            let d = str_to_decimal(s);
            (x, Num::Decimal(d, d.scale()))
        }
        _ => (x, y),
    };
    let as_double = matches!((a, x), (Value::Str(_), Num::Double(_)))
        || matches!((b, y), (Value::Str(_), Num::Double(_)));
    match (x, y) {
        (Num::Int { value: p, .. }, Num::Int { value: q, .. }) if !as_double => Some(p.cmp(&q)),
        (Num::Int { .. } | Num::Decimal(..), Num::Int { .. } | Num::Decimal(..)) if !as_double => {
            let (p, q) = if exact {
                (x.to_decimal(), y.to_decimal())
            } else {
                (x.declared(), y.declared())
            };
            // The server's DECIMAL keeps the sign of a zero remainder
            // (`MOD(-3.000, 1)` is -0.000), and -0 is below 0.
            if p.is_zero() && q.is_zero() && p.is_sign_negative() != q.is_sign_negative() {
                return Some(if p.is_sign_negative() {
                    Ordering::Less
                } else {
                    Ordering::Greater
                });
            }
            Some(p.cmp(&q))
        }
        _ => x.to_f64().partial_cmp(&y.to_f64()),
    }
}
