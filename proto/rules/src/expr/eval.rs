//! Evaluating the tree over one row, with MySQL's semantics: NULL
//! propagates through operators and functions, `AND`/`OR`/`XOR`/`NOT` are
//! three-valued, `AND` and `OR` stop at the operand that decides, integer
//! arithmetic that leaves BIGINT's range fails as the server's does,
//! division by zero is NULL, `/` of exact numbers is a DECIMAL with four
//! more digits than the dividend (`div_precision_increment`).

use std::cmp::Ordering;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::error::ExprError;
use super::functions::{self, Func};
use super::parse::{BinOp, Node, TrimSide};
use super::value::{compare, compare_exact, Num, Value};

/// A row: its column names and values, in the same order. Names are
/// matched case-insensitively, as MySQL's column names are.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub names: &'a [String],
    pub values: &'a [Value],
}

impl Row<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        let i = self
            .names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))?;
        self.values.get(i)
    }
}

/// Evaluates `node` over `row`.
pub fn eval(node: &Node, row: &Row<'_>) -> Result<Value, ExprError> {
    Ok(match node {
        Node::Column(name) => row
            .get(name)
            .cloned()
            .ok_or_else(|| ExprError::UnknownColumn(name.clone()))?,
        Node::Literal(v) => v.clone(),
        Node::Not(x) => truth_value(eval(x, row)?.truth().map(|t| !t)),
        Node::Neg(x) => negate(&eval(x, row)?)?,
        Node::Binary(op, l, r) => binary(*op, l, r, row)?,
        Node::IsNull(x, negated) => Value::from_bool(eval(x, row)?.is_null() != *negated),
        Node::IsBool(x, want, negated) => {
            Value::from_bool((eval(x, row)?.truth() == Some(*want)) != *negated)
        }
        Node::In {
            expr,
            list,
            negated,
        } => {
            let v = eval(expr, row)?;
            if v.is_null() {
                return Ok(Value::Null);
            }
            let mut saw_null = false;
            let mut found = false;
            for item in list {
                match compare(&v, &eval(item, row)?) {
                    Some(Ordering::Equal) => {
                        found = true;
                        break;
                    }
                    Some(_) => {}
                    None => saw_null = true,
                }
            }
            let t = if found {
                Some(true)
            } else if saw_null {
                None
            } else {
                Some(false)
            };
            truth_value(t.map(|t| t != *negated))
        }
        Node::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let v = eval(expr, row)?;
            let lo = compare_exact(&v, &eval(low, row)?).map(|o| o != Ordering::Less);
            let hi = compare_exact(&v, &eval(high, row)?).map(|o| o != Ordering::Greater);
            truth_value(and(lo, hi).map(|t| t != *negated))
        }
        Node::Like {
            expr,
            pattern,
            escape,
            negated,
        } => {
            let (Some(text), Some(pattern)) =
                (eval(expr, row)?.to_text(), eval(pattern, row)?.to_text())
            else {
                return Ok(Value::Null);
            };
            Value::from_bool(like(&text, &pattern, *escape) != *negated)
        }
        Node::Case {
            operand,
            branches,
            otherwise,
        } => {
            let subject = operand.as_deref().map(|o| eval(o, row)).transpose()?;
            for (when, then) in branches {
                let w = eval(when, row)?;
                let hit = match &subject {
                    Some(s) => compare_exact(s, &w) == Some(Ordering::Equal),
                    None => w.truth() == Some(true),
                };
                if hit {
                    return eval(then, row);
                }
            }
            match otherwise {
                Some(e) => eval(e, row)?,
                None => Value::Null,
            }
        }
        Node::Trim { side, what, expr } => {
            let Some(text) = eval(expr, row)?.to_text() else {
                return Ok(Value::Null);
            };
            let what = match what {
                Some(w) => match eval(w, row)?.to_text() {
                    Some(w) => w,
                    None => return Ok(Value::Null),
                },
                None => " ".to_string(),
            };
            Value::Str(trim(&text, &what, *side))
        }
        Node::Call(func, args) => call(*func, args, row)?,
    })
}

fn truth_value(t: Option<bool>) -> Value {
    t.map_or(Value::Null, Value::from_bool)
}

fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn call(func: Func, args: &[Node], row: &Row<'_>) -> Result<Value, ExprError> {
    let arg = |i: usize| args.get(i).map_or(Ok(Value::Null), |a| eval(a, row));
    match func {
        Func::If => {
            if arg(0)?.truth() == Some(true) {
                arg(1)
            } else {
                arg(2)
            }
        }
        Func::IfNull => {
            let v = arg(0)?;
            if v.is_null() {
                arg(1)
            } else {
                Ok(v)
            }
        }
        Func::Coalesce => {
            for a in args {
                let v = eval(a, row)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Ok(Value::Null)
        }
        _ => {
            let values = args
                .iter()
                .map(|a| eval(a, row))
                .collect::<Result<Vec<_>, _>>()?;
            functions::call(func, &values)
        }
    }
}

fn binary(op: BinOp, l: &Node, r: &Node, row: &Row<'_>) -> Result<Value, ExprError> {
    match op {
        BinOp::And => {
            let a = eval(l, row)?.truth();
            if a == Some(false) {
                return Ok(Value::Int(0));
            }
            Ok(truth_value(and(a, eval(r, row)?.truth())))
        }
        BinOp::Or => {
            let a = eval(l, row)?.truth();
            if a == Some(true) {
                return Ok(Value::Int(1));
            }
            let b = eval(r, row)?.truth();
            Ok(truth_value(match (a, b) {
                (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }))
        }
        BinOp::Xor => {
            let (a, b) = (eval(l, row)?.truth(), eval(r, row)?.truth());
            Ok(truth_value(a.zip(b).map(|(a, b)| a != b)))
        }
        _ => {
            let (a, b) = (eval(l, row)?, eval(r, row)?);
            match op {
                BinOp::NullSafeEq => Ok(Value::from_bool(match (a.is_null(), b.is_null()) {
                    (true, true) => true,
                    (false, false) => compare(&a, &b) == Some(Ordering::Equal),
                    _ => false,
                })),
                BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                    Ok(truth_value(compare(&a, &b).map(|o| match op {
                        BinOp::Eq => o == Ordering::Equal,
                        BinOp::NotEq => o != Ordering::Equal,
                        BinOp::Lt => o == Ordering::Less,
                        BinOp::LtEq => o != Ordering::Greater,
                        BinOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    })))
                }
                _ => arithmetic(op, &a, &b),
            }
        }
    }
}

fn out_of_range(unsigned: bool, what: String) -> ExprError {
    let kind = if unsigned {
        "BIGINT UNSIGNED"
    } else {
        "BIGINT"
    };
    ExprError::OutOfRange(format!("{kind} value is out of range in '{what}'"))
}

/// An integer result, checked against BIGINT (UNSIGNED when an operand
/// was).
fn int_result(value: i128, unsigned: bool, what: impl Fn() -> String) -> Result<Value, ExprError> {
    let fits = if unsigned {
        u64::try_from(value).is_ok()
    } else {
        i64::try_from(value).is_ok()
    };
    if !fits {
        return Err(out_of_range(unsigned, what()));
    }
    Ok(Num::Int { value, unsigned }.into_value())
}

/// `+ - * / DIV %` of two values.
pub fn arithmetic(op: BinOp, a: &Value, b: &Value) -> Result<Value, ExprError> {
    let (Some(x), Some(y)) = (a.to_num(), b.to_num()) else {
        return Ok(Value::Null);
    };
    let what = || format!("{a} {op:?} {b}");
    let double = matches!(x, Num::Double(_)) || matches!(y, Num::Double(_));
    if double {
        let (p, q) = (x.to_f64(), y.to_f64());
        return Ok(match op {
            BinOp::Add => Value::Double(p + q),
            BinOp::Sub => Value::Double(p - q),
            BinOp::Mul => Value::Double(p * q),
            BinOp::Div if q == 0.0 => Value::Null,
            BinOp::Div => Value::Double(p / q),
            BinOp::IntDiv if q == 0.0 => Value::Null,
            BinOp::IntDiv => {
                let r = (p / q).trunc();
                if r.abs() >= 9.223_372_036_854_776e18 {
                    return Err(out_of_range(false, what()));
                }
                Value::Int(r as i64)
            }
            BinOp::Mod if q == 0.0 => Value::Null,
            BinOp::Mod => Value::Double(p % q),
            _ => Value::Null,
        });
    }
    if let (
        Num::Int {
            value: p,
            unsigned: pu,
        },
        Num::Int {
            value: q,
            unsigned: qu,
        },
    ) = (x, y)
    {
        let unsigned = pu || qu;
        match op {
            BinOp::Add => return int_result(p + q, unsigned, what),
            BinOp::Sub => return int_result(p - q, unsigned, what),
            BinOp::Mul => return int_result(p * q, unsigned, what),
            BinOp::IntDiv if q == 0 => return Ok(Value::Null),
            BinOp::IntDiv => return int_result(p / q, unsigned, what),
            BinOp::Mod if q == 0 => return Ok(Value::Null),
            BinOp::Mod => return int_result(p % q, pu, what),
            _ => {}
        }
    }
    let (p, q) = (x.to_decimal(), y.to_decimal());
    let scale = |n: Num| match n {
        Num::Decimal(_, s) => s,
        _ => 0,
    };
    let (sp, sq) = (scale(x), scale(y));
    let too_big =
        || ExprError::OutOfRange(format!("DECIMAL value is out of range in '{}'", what()));
    let dec = |d: Decimal, s: u32| Num::Decimal(d, s.min(28)).into_value();
    Ok(match op {
        BinOp::Add => dec(p.checked_add(q).ok_or_else(too_big)?, sp.max(sq)),
        BinOp::Sub => dec(p.checked_sub(q).ok_or_else(too_big)?, sp.max(sq)),
        BinOp::Mul => dec(p.checked_mul(q).ok_or_else(too_big)?, sp + sq),
        BinOp::Div if q.is_zero() => Value::Null,
        BinOp::Div => {
            // Declared: the dividend's scale + div_precision_increment;
            // computed: to whole 9-digit words, truncated, as the server.
            let declared = sp + DIV_PRECISION_INCREMENT;
            let digits = declared.div_ceil(9) * 9;
            let r = p.checked_div(q).ok_or_else(too_big)?;
            dec(
                r.round_dp_with_strategy(digits.min(28), RoundingStrategy::ToZero),
                declared,
            )
        }
        BinOp::IntDiv if q.is_zero() => Value::Null,
        BinOp::IntDiv => {
            let r = p.checked_div(q).ok_or_else(too_big)?.trunc();
            match r.to_i64() {
                Some(i) => Value::Int(i),
                None => return Err(out_of_range(false, what())),
            }
        }
        BinOp::Mod if q.is_zero() => Value::Null,
        BinOp::Mod => {
            let mut r = p.checked_rem(q).ok_or_else(too_big)?;
            // The remainder has the dividend's sign, a zero one too.
            r.set_sign_negative(p.is_sign_negative());
            dec(r, sp.max(sq))
        }
        _ => Value::Null,
    })
}

/// The server's default `div_precision_increment`.
const DIV_PRECISION_INCREMENT: u32 = 4;

fn negate(v: &Value) -> Result<Value, ExprError> {
    Ok(match v.to_num() {
        None => Value::Null,
        Some(Num::Int { value, .. }) => {
            if value > i128::from(i64::MAX) + 1 {
                return Err(out_of_range(false, format!("-{v}")));
            }
            Num::Int {
                value: -value,
                unsigned: false,
            }
            .into_value()
        }
        Some(Num::Decimal(d, s)) => {
            let mut n = -d;
            if n.is_zero() {
                // -0.000 is 0: only a remainder keeps a zero's sign.
                n.set_sign_positive(true);
            }
            Num::Decimal(n, s).into_value()
        }
        Some(Num::Double(f)) => Value::Double(-f),
    })
}

/// `text LIKE pattern ESCAPE escape`, case-insensitively: `%` any run,
/// `_` one character.
pub fn like(text: &str, pattern: &str, escape: char) -> bool {
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let escape = escape.to_lowercase().next().unwrap_or(escape);
    like_at(&t, &p, escape)
}

fn like_at(t: &[char], p: &[char], escape: char) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('%') => {
            let rest = &p[1..];
            (0..=t.len()).any(|i| like_at(&t[i..], rest, escape))
        }
        Some('_') => !t.is_empty() && like_at(&t[1..], &p[1..], escape),
        Some(&c) if c == escape && p.len() > 1 => {
            t.first() == p.get(1) && like_at(&t[1..], &p[2..], escape)
        }
        Some(c) => t.first() == Some(c) && like_at(&t[1..], &p[1..], escape),
    }
}

fn trim(text: &str, what: &str, side: TrimSide) -> String {
    if what.is_empty() {
        return text.to_string();
    }
    let mut s = text;
    if side != TrimSide::Trailing {
        while let Some(rest) = s.strip_prefix(what) {
            s = rest;
        }
    }
    if side != TrimSide::Leading {
        while let Some(rest) = s.strip_suffix(what) {
            s = rest;
        }
    }
    s.to_string()
}

/// A decimal as the evaluator's value (used by tests).
pub fn decimal(text: &str) -> Option<Value> {
    text.parse::<Decimal>().ok().map(Value::Decimal)
}
