//! Row values as expression filters see them (`dm_rules::expr::Value`):
//! the edge between the upstream's representations and the pure
//! evaluator, for row images of the binlog ([`binlog_value`]) and rows
//! the full copy reads as text ([`text_value`]).
//!
//! A TIMESTAMP is an instant in a row image (epoch seconds): it becomes
//! the date-time it is in the task's timezone, which is what a snapshot
//! read already returns (the task's upstream sessions run in that zone).
//! ENUM and SET values are their member index / bit set in row images
//! (numbers, not the values an expression compares them with: the sync
//! refuses expressions that read such a column, see `sync::rows`).

use std::str::FromStr;

use dm_rules::expr::time::parse_time;
use dm_rules::expr::{DateTime, ExprError, TimeZone, Value as ExprValue};
use rust_decimal::Decimal;

use super::{Column, ColumnType, Value};

/// Big-endian bytes as a number (BIT).
fn bits(bytes: &[u8]) -> ExprValue {
    ExprValue::UInt(bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn decimal(text: &str) -> ExprValue {
    match Decimal::from_str(text.trim()) {
        Ok(d) => ExprValue::Decimal(d),
        Err(_) => ExprValue::Double(dm_rules::expr::value::str_to_f64(text)),
    }
}

/// The zero date-time (`0000-00-00 00:00:00`).
fn zero() -> ExprValue {
    ExprValue::DateTime(DateTime {
        year: 0,
        month: 0,
        day: 0,
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
    })
}

/// One value of a binlog row image of `column`; `zone` is the task's.
pub fn binlog_value(
    value: &Value,
    column: &Column,
    zone: &TimeZone,
) -> Result<ExprValue, ExprError> {
    Ok(match value {
        Value::Null => ExprValue::Null,
        Value::Int(v) => ExprValue::Int(*v),
        Value::UInt(v) => ExprValue::UInt(*v),
        Value::Float(v) => ExprValue::Double(f64::from(*v)),
        Value::Double(v) => ExprValue::Double(*v),
        Value::Date(y, m, d, h, mi, s, us) => {
            let dt = DateTime {
                year: *y,
                month: *m,
                day: *d,
                hour: *h,
                minute: *mi,
                second: *s,
                micros: *us,
            };
            if column.kind == ColumnType::Date {
                ExprValue::Date(dt)
            } else {
                ExprValue::DateTime(dt)
            }
        }
        Value::Time(negative, days, h, m, s, us) => {
            let total =
                ((i64::from(*days) * 24 + i64::from(*h)) * 60 + i64::from(*m)) * 60 + i64::from(*s);
            let micros = total * 1_000_000 + i64::from(*us);
            ExprValue::Time(if *negative { -micros } else { micros })
        }
        Value::Bytes(bytes) => match column.kind {
            ColumnType::Decimal => decimal(&text(bytes)),
            ColumnType::Timestamp => {
                let t = text(bytes);
                let (secs, frac) = t.split_once('.').unwrap_or((&t, ""));
                let secs: i64 = secs.parse().unwrap_or(0);
                if secs == 0 && frac.chars().all(|c| c == '0') {
                    zero()
                } else {
                    let micros: u32 = format!("{:0<6}", &frac[..frac.len().min(6)])
                        .parse()
                        .unwrap_or(0);
                    zone.local(secs, micros)?
                        .map_or(ExprValue::Null, ExprValue::DateTime)
                }
            }
            ColumnType::Enum | ColumnType::Set => ExprValue::UInt(
                bytes
                    .iter()
                    .rev()
                    .fold(0u64, |n, b| (n << 8) | u64::from(*b)),
            ),
            ColumnType::Bit => bits(bytes),
            ColumnType::Integer | ColumnType::Year => {
                ExprValue::Double(dm_rules::expr::value::str_to_f64(&text(bytes)))
            }
            ColumnType::Float => ExprValue::Double(dm_rules::expr::value::str_to_f64(&text(bytes))),
            _ => ExprValue::Str(text(bytes)),
        },
    })
}

/// One value of `column` as a snapshot read returns it (text, in the
/// task's timezone).
pub fn text_value(raw: Option<&[u8]>, column: &Column) -> ExprValue {
    let Some(bytes) = raw else {
        return ExprValue::Null;
    };
    let t = text(bytes);
    match column.kind {
        ColumnType::Integer | ColumnType::Year => {
            if let Ok(v) = t.parse::<i64>() {
                ExprValue::Int(v)
            } else if let Ok(v) = t.parse::<u64>() {
                ExprValue::UInt(v)
            } else {
                ExprValue::Double(dm_rules::expr::value::str_to_f64(&t))
            }
        }
        ColumnType::Float => ExprValue::Double(dm_rules::expr::value::str_to_f64(&t)),
        ColumnType::Decimal => decimal(&t),
        ColumnType::Date => DateTime::parse(&t).map_or_else(
            || {
                if t.starts_with("0000") {
                    zero()
                } else {
                    ExprValue::Str(t.clone())
                }
            },
            ExprValue::Date,
        ),
        ColumnType::DateTime | ColumnType::Timestamp => DateTime::parse(&t).map_or_else(
            || {
                if t.starts_with("0000") {
                    zero()
                } else {
                    ExprValue::Str(t.clone())
                }
            },
            ExprValue::DateTime,
        ),
        ColumnType::Time => parse_time(&t).map_or(ExprValue::Str(t), ExprValue::Time),
        ColumnType::Bit => bits(bytes),
        _ => ExprValue::Str(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_seen_in_the_task_zone() {
        let ts = Column::new("ts", ColumnType::Timestamp);
        let v = binlog_value(
            &Value::Bytes(b"1717171200.5".to_vec()),
            &ts,
            &TimeZone::Offset(8 * 3600),
        )
        .unwrap();
        assert_eq!(v.to_string(), "2024-06-01 00:00:00.500000");
        let shanghai = TimeZone::parse("Asia/Shanghai");
        let v = binlog_value(&Value::Bytes(b"1717171200".to_vec()), &ts, &shanghai).unwrap();
        assert_eq!(v.to_string(), "2024-06-01 00:00:00");
        assert!(binlog_value(
            &Value::Bytes(b"1717171200".to_vec()),
            &ts,
            &TimeZone::parse("Nowhere/Else")
        )
        .is_err());
        let d = Column::new("d", ColumnType::Decimal);
        assert_eq!(
            binlog_value(&Value::Bytes(b"-12.50".to_vec()), &d, &TimeZone::Offset(0)).unwrap(),
            ExprValue::Decimal(Decimal::new(-1250, 2))
        );
        assert_eq!(
            text_value(Some(b"2024-05-31 23:00:00"), &ts).to_string(),
            "2024-05-31 23:00:00"
        );
    }
}
