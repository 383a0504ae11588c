//! The functions expression filters support: one table ([`FUNCTIONS`],
//! which README lists), and what each computes, as the server does.
//!
//! Every function but the NULL-handling ones (`IF`, `IFNULL`,
//! `COALESCE`, `NULLIF`, `CONCAT_WS`) is NULL when an argument is NULL.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::error::ExprError;
use super::value::{collate_key, Num, Value};

/// A supported function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    If,
    IfNull,
    Coalesce,
    NullIf,
    Concat,
    ConcatWs,
    Length,
    CharLength,
    Upper,
    Lower,
    Substring,
    Left,
    Right,
    LTrim,
    RTrim,
    Replace,
    Reverse,
    Locate,
    Instr,
    Abs,
    Sign,
    Round,
    Truncate,
    Floor,
    Ceil,
    Mod,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Date,
    DayOfWeek,
    Weekday,
    DayOfYear,
    Quarter,
    ToDays,
    DateDiff,
}

/// One entry of the table: the SQL name, the function, its argument
/// counts (`None`: any number above the minimum).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub func: Func,
    pub min_args: usize,
    pub max_args: Option<usize>,
}

const fn f(name: &'static str, func: Func, min_args: usize, max_args: Option<usize>) -> Entry {
    Entry {
        name,
        func,
        min_args,
        max_args,
    }
}

/// Every supported function, by its SQL name (aliases included).
pub const FUNCTIONS: &[Entry] = &[
    f("IF", Func::If, 3, Some(3)),
    f("IFNULL", Func::IfNull, 2, Some(2)),
    f("COALESCE", Func::Coalesce, 1, None),
    f("NULLIF", Func::NullIf, 2, Some(2)),
    f("CONCAT", Func::Concat, 1, None),
    f("CONCAT_WS", Func::ConcatWs, 2, None),
    f("LENGTH", Func::Length, 1, Some(1)),
    f("OCTET_LENGTH", Func::Length, 1, Some(1)),
    f("CHAR_LENGTH", Func::CharLength, 1, Some(1)),
    f("CHARACTER_LENGTH", Func::CharLength, 1, Some(1)),
    f("UPPER", Func::Upper, 1, Some(1)),
    f("UCASE", Func::Upper, 1, Some(1)),
    f("LOWER", Func::Lower, 1, Some(1)),
    f("LCASE", Func::Lower, 1, Some(1)),
    f("SUBSTRING", Func::Substring, 2, Some(3)),
    f("SUBSTR", Func::Substring, 2, Some(3)),
    f("MID", Func::Substring, 3, Some(3)),
    f("LEFT", Func::Left, 2, Some(2)),
    f("RIGHT", Func::Right, 2, Some(2)),
    f("LTRIM", Func::LTrim, 1, Some(1)),
    f("RTRIM", Func::RTrim, 1, Some(1)),
    f("REPLACE", Func::Replace, 3, Some(3)),
    f("REVERSE", Func::Reverse, 1, Some(1)),
    f("LOCATE", Func::Locate, 2, Some(3)),
    f("INSTR", Func::Instr, 2, Some(2)),
    f("ABS", Func::Abs, 1, Some(1)),
    f("SIGN", Func::Sign, 1, Some(1)),
    f("ROUND", Func::Round, 1, Some(2)),
    f("TRUNCATE", Func::Truncate, 2, Some(2)),
    f("FLOOR", Func::Floor, 1, Some(1)),
    f("CEIL", Func::Ceil, 1, Some(1)),
    f("CEILING", Func::Ceil, 1, Some(1)),
    f("MOD", Func::Mod, 2, Some(2)),
    f("YEAR", Func::Year, 1, Some(1)),
    f("MONTH", Func::Month, 1, Some(1)),
    f("DAY", Func::Day, 1, Some(1)),
    f("DAYOFMONTH", Func::Day, 1, Some(1)),
    f("HOUR", Func::Hour, 1, Some(1)),
    f("MINUTE", Func::Minute, 1, Some(1)),
    f("SECOND", Func::Second, 1, Some(1)),
    f("DATE", Func::Date, 1, Some(1)),
    f("DAYOFWEEK", Func::DayOfWeek, 1, Some(1)),
    f("WEEKDAY", Func::Weekday, 1, Some(1)),
    f("DAYOFYEAR", Func::DayOfYear, 1, Some(1)),
    f("QUARTER", Func::Quarter, 1, Some(1)),
    f("TO_DAYS", Func::ToDays, 1, Some(1)),
    f("DATEDIFF", Func::DateDiff, 2, Some(2)),
];

/// The entry of `name` (upper case).
pub fn lookup(name: &str) -> Option<&'static Entry> {
    FUNCTIONS.iter().find(|e| e.name == name)
}

/// Every supported name, in the table's order.
pub fn names() -> Vec<&'static str> {
    FUNCTIONS.iter().map(|e| e.name).collect()
}

/// Calls `func` on evaluated arguments. The lazy ones (`IF`, `IFNULL`,
/// `COALESCE`) are evaluated by the evaluator itself and never come here.
pub fn call(func: Func, args: &[Value]) -> Result<Value, ExprError> {
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
    if !matches!(func, Func::ConcatWs | Func::NullIf) && args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let text = |i: usize| arg(i).to_text().unwrap_or_default();
    let int = |i: usize| -> i64 {
        match arg(i).to_num() {
            Some(Num::Int { value, .. }) => {
                value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            }
            Some(n) => {
                let r = n
                    .to_decimal()
                    .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
                r.to_i64().unwrap_or(0)
            }
            None => 0,
        }
    };
    let date = |i: usize| arg(i).to_datetime();
    let from_date = |f: &dyn Fn(&super::time::DateTime) -> i64| -> Value {
        date(0).map_or(Value::Null, |d| Value::Int(f(&d)))
    };
    Ok(match func {
        Func::If | Func::IfNull | Func::Coalesce => Value::Null,
        Func::NullIf => match super::value::compare(arg(0), arg(1)) {
            Some(std::cmp::Ordering::Equal) => Value::Null,
            _ => arg(0).clone(),
        },
        Func::Concat => Value::Str((0..args.len()).map(text).collect()),
        Func::ConcatWs => match arg(0).to_text() {
            None => Value::Null,
            Some(sep) => Value::Str(
                args[1..]
                    .iter()
                    .filter_map(Value::to_text)
                    .collect::<Vec<_>>()
                    .join(&sep),
            ),
        },
        Func::Length => Value::Int(text(0).len() as i64),
        Func::CharLength => Value::Int(text(0).chars().count() as i64),
        Func::Upper => Value::Str(text(0).to_uppercase()),
        Func::Lower => Value::Str(text(0).to_lowercase()),
        Func::Substring => {
            let chars: Vec<char> = text(0).chars().collect();
            let n = chars.len() as i64;
            let pos = int(1);
            let start = if pos > 0 {
                pos - 1
            } else if pos < 0 {
                n + pos
            } else {
                return Ok(Value::Str(String::new()));
            };
            if start < 0 || start >= n {
                return Ok(Value::Str(String::new()));
            }
            let len = if args.len() > 2 { int(2) } else { n };
            if len <= 0 {
                return Ok(Value::Str(String::new()));
            }
            let end = (start.saturating_add(len)).min(n);
            Value::Str(chars[start as usize..end as usize].iter().collect())
        }
        Func::Left => {
            let n = int(1).max(0) as usize;
            Value::Str(text(0).chars().take(n).collect())
        }
        Func::Right => {
            let chars: Vec<char> = text(0).chars().collect();
            let n = (int(1).max(0) as usize).min(chars.len());
            Value::Str(chars[chars.len() - n..].iter().collect())
        }
        Func::LTrim => Value::Str(text(0).trim_start_matches(' ').to_string()),
        Func::RTrim => Value::Str(text(0).trim_end_matches(' ').to_string()),
        Func::Replace => {
            let from = text(1);
            if from.is_empty() {
                Value::Str(text(0))
            } else {
                Value::Str(text(0).replace(&from, &text(2)))
            }
        }
        Func::Reverse => Value::Str(text(0).chars().rev().collect()),
        Func::Locate => {
            let start = if args.len() > 2 { int(2) } else { 1 };
            locate(&text(0), &text(1), start)
        }
        Func::Instr => locate(&text(1), &text(0), 1),
        Func::Abs => match arg(0).to_num() {
            Some(Num::Int { value, unsigned }) => Num::Int {
                value: value.abs(),
                unsigned,
            }
            .into_value(),
            Some(Num::Decimal(d, s)) => Num::Decimal(d.abs(), s).into_value(),
            Some(Num::Double(v)) => Value::Double(v.abs()),
            None => Value::Null,
        },
        Func::Sign => match arg(0).to_num() {
            Some(n) => {
                let v = n.to_f64();
                Value::Int(if v > 0.0 {
                    1
                } else if v < 0.0 {
                    -1
                } else {
                    0
                })
            }
            None => Value::Null,
        },
        Func::Round | Func::Truncate => {
            let places = if args.len() > 1 { int(1) } else { 0 };
            round(func == Func::Truncate, arg(0), places)
        }
        Func::Floor | Func::Ceil => match arg(0).to_num() {
            Some(Num::Int { value, unsigned }) => Num::Int { value, unsigned }.into_value(),
            Some(Num::Decimal(d, _)) => {
                let r = if func == Func::Floor {
                    d.floor()
                } else {
                    d.ceil()
                };
                match r.to_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Decimal(r),
                }
            }
            Some(Num::Double(v)) => Value::Double(if func == Func::Floor {
                v.floor()
            } else {
                v.ceil()
            }),
            None => Value::Null,
        },
        Func::Mod => super::eval::arithmetic(super::parse::BinOp::Mod, arg(0), arg(1))?,
        Func::Year => from_date(&|d| i64::from(d.year)),
        Func::Month => from_date(&|d| i64::from(d.month)),
        Func::Day => from_date(&|d| i64::from(d.day)),
        Func::Hour | Func::Minute | Func::Second => {
            let of_time = |us: i64| {
                let secs = us.unsigned_abs() / 1_000_000;
                match func {
                    Func::Hour => secs / 3600,
                    Func::Minute => secs / 60 % 60,
                    _ => secs % 60,
                }
            };
            match arg(0) {
                Value::Time(us) => Value::Int(of_time(*us) as i64),
                Value::Str(s) if !s.contains('-') => match super::time::parse_time(s) {
                    Some(us) => Value::Int(of_time(us) as i64),
                    None => Value::Null,
                },
                _ => from_date(&|d| {
                    i64::from(match func {
                        Func::Hour => d.hour,
                        Func::Minute => d.minute,
                        _ => d.second,
                    })
                }),
            }
        }
        Func::Date => date(0).map_or(Value::Null, |d| Value::Date(d.date_only())),
        Func::DayOfWeek => from_date(&|d| (d.weekday() + 1) % 7 + 1),
        Func::Weekday => from_date(&|d| d.weekday()),
        Func::DayOfYear => from_date(&|d| d.day_of_year()),
        Func::Quarter => from_date(&|d| (i64::from(d.month) + 2) / 3),
        Func::ToDays => from_date(&|d| d.to_days()),
        Func::DateDiff => match (date(0), date(1)) {
            (Some(a), Some(b)) => Value::Int(a.to_days() - b.to_days()),
            _ => Value::Null,
        },
    })
}

/// `LOCATE(needle, haystack, start)`: the 1-based character position of
/// the first match at or after `start`, compared case-insensitively; 0
/// when none.
fn locate(needle: &str, haystack: &str, start: i64) -> Value {
    let hay: Vec<char> = collate_fold(haystack);
    let needle: Vec<char> = collate_fold(needle);
    if start < 1 || start as usize > hay.len() + 1 {
        return Value::Int(0);
    }
    let from = start as usize - 1;
    if needle.is_empty() {
        return Value::Int(start);
    }
    for i in from..hay.len() {
        if hay[i..].starts_with(&needle) {
            return Value::Int(i as i64 + 1);
        }
    }
    Value::Int(0)
}

fn collate_fold(s: &str) -> Vec<char> {
    s.chars()
        .map(|c| collate_key(&c.to_string()).chars().next().unwrap_or(c))
        .collect()
}

/// `ROUND(x, places)` (halves away from zero for exact numbers, to even
/// for doubles, as the server) or `TRUNCATE(x, places)`.
fn round(truncate: bool, x: &Value, places: i64) -> Value {
    let Some(n) = x.to_num() else {
        return Value::Null;
    };
    match n {
        Num::Int { value, unsigned } => {
            if places >= 0 {
                return Num::Int { value, unsigned }.into_value();
            }
            let p = 10i128.checked_pow(u32::try_from(-places).unwrap_or(u32::MAX));
            let Some(p) = p else {
                return Value::Int(0);
            };
            let q = value / p;
            let r = value % p;
            let q = if !truncate && r.abs() * 2 >= p {
                q + value.signum()
            } else {
                q
            };
            Num::Int {
                value: q * p,
                unsigned,
            }
            .into_value()
        }
        Num::Decimal(d, _) => {
            let strategy = if truncate {
                RoundingStrategy::ToZero
            } else {
                RoundingStrategy::MidpointAwayFromZero
            };
            if places >= 0 {
                let dp = u32::try_from(places).unwrap_or(28).min(28);
                Value::Decimal(d.round_dp_with_strategy(dp, strategy))
            } else {
                let p = Decimal::from(10i64.pow(u32::try_from(-places).unwrap_or(0).min(18)));
                Value::Decimal((d / p).round_dp_with_strategy(0, strategy) * p)
            }
        }
        Num::Double(v) => {
            let p = 10f64.powi(i32::try_from(places).unwrap_or(0));
            let scaled = v * p;
            let r = if truncate {
                scaled.trunc()
            } else {
                scaled.round_ties_even()
            };
            Value::Double(r / p)
        }
    }
}
