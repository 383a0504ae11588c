//! From text to the evaluator's tree.
//!
//! sqlparser (MySQL dialect) parses the text; its tree is then lowered to
//! [`Node`], the few constructs the evaluator has. Anything else (a
//! function not in [`super::functions::FUNCTIONS`], a subquery, `CAST`,
//! ...) is refused here, so that a task naming it fails when it is
//! checked, not when the first row arrives.

use std::str::FromStr;

use rust_decimal::Decimal;
use sqlparser::ast::{
    self, BinaryOperator, CeilFloorKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    TrimWhereField, UnaryOperator,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::error::ExprError;
use super::functions::{self, Func};
use super::value::Value;

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    IntDiv,
    Mod,
    Eq,
    NullSafeEq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Xor,
}

/// Which side(s) `TRIM` strips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// The evaluator's tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A column of the row, by name.
    Column(String),
    Literal(Value),
    Not(Box<Node>),
    Neg(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `IS [NOT] NULL` (`negated` for NOT).
    IsNull(Box<Node>, bool),
    /// `IS [NOT] TRUE` / `IS [NOT] FALSE`: the truth tested, and NOT.
    IsBool(Box<Node>, bool, bool),
    In {
        expr: Box<Node>,
        list: Vec<Node>,
        negated: bool,
    },
    Between {
        expr: Box<Node>,
        low: Box<Node>,
        high: Box<Node>,
        negated: bool,
    },
    Like {
        expr: Box<Node>,
        pattern: Box<Node>,
        escape: char,
        negated: bool,
    },
    Case {
        operand: Option<Box<Node>>,
        branches: Vec<(Node, Node)>,
        otherwise: Option<Box<Node>>,
    },
    Trim {
        side: TrimSide,
        what: Option<Box<Node>>,
        expr: Box<Node>,
    },
    Call(Func, Vec<Node>),
}

impl Node {
    /// Appends the names of the columns this tree reads to `out`.
    pub fn columns<'a>(&'a self, out: &mut Vec<&'a str>) {
        let mut all = |nodes: &mut dyn Iterator<Item = &'a Node>| {
            for n in nodes {
                n.columns(out);
            }
        };
        match self {
            Node::Column(name) => out.push(name),
            Node::Literal(_) => {}
            Node::Not(x) | Node::Neg(x) | Node::IsNull(x, _) | Node::IsBool(x, _, _) => {
                x.columns(out)
            }
            Node::Binary(_, l, r) => all(&mut [&**l, &**r].into_iter()),
            Node::In { expr, list, .. } => all(&mut std::iter::once(&**expr).chain(list)),
            Node::Between {
                expr, low, high, ..
            } => all(&mut [&**expr, &**low, &**high].into_iter()),
            Node::Like { expr, pattern, .. } => all(&mut [&**expr, &**pattern].into_iter()),
            Node::Case {
                operand,
                branches,
                otherwise,
            } => all(&mut operand
                .as_deref()
                .into_iter()
                .chain(branches.iter().flat_map(|(w, t)| [w, t]))
                .chain(otherwise.as_deref())),
            Node::Trim { what, expr, .. } => all(&mut what.as_deref().into_iter().chain([&**expr])),
            Node::Call(_, args) => all(&mut args.iter()),
        }
    }
}

/// Parses `text` into the evaluator's tree, refusing what it cannot do.
pub fn parse(text: &str) -> Result<Node, ExprError> {
    let syntax = |reason: String| ExprError::Syntax {
        text: text.to_string(),
        reason,
    };
    let mut parser = Parser::new(&MySqlDialect {})
        .try_with_sql(text)
        .map_err(|e| syntax(e.to_string()))?;
    let expr = parser.parse_expr().map_err(|e| syntax(e.to_string()))?;
    if parser.peek_token().token != sqlparser::tokenizer::Token::EOF {
        return Err(syntax(format!(
            "unexpected {} after the expression",
            parser.peek_token().token
        )));
    }
    lower(&expr)
}

fn unsupported(what: impl Into<String>) -> ExprError {
    ExprError::Unsupported { what: what.into() }
}

fn boxed(e: &Expr) -> Result<Box<Node>, ExprError> {
    Ok(Box::new(lower(e)?))
}

fn lower(e: &Expr) -> Result<Node, ExprError> {
    Ok(match e {
        Expr::Identifier(id) => Node::Column(id.value.clone()),
        Expr::CompoundIdentifier(ids) => match ids.last() {
            Some(id) => Node::Column(id.value.clone()),
            None => return Err(unsupported("an empty name")),
        },
        Expr::Nested(inner) => lower(inner)?,
        Expr::Value(v) => Node::Literal(literal(&v.value)?),
        Expr::UnaryOp { op, expr } => match op {
            UnaryOperator::Not | UnaryOperator::BangNot => Node::Not(boxed(expr)?),
            UnaryOperator::Minus => Node::Neg(boxed(expr)?),
            UnaryOperator::Plus => lower(expr)?,
            other => return Err(unsupported(format!("operator {other}"))),
        },
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Plus => BinOp::Add,
                BinaryOperator::Minus => BinOp::Sub,
                BinaryOperator::Multiply => BinOp::Mul,
                BinaryOperator::Divide => BinOp::Div,
                BinaryOperator::MyIntegerDivide => BinOp::IntDiv,
                BinaryOperator::Modulo => BinOp::Mod,
                BinaryOperator::Eq => BinOp::Eq,
                BinaryOperator::Spaceship => BinOp::NullSafeEq,
                BinaryOperator::NotEq => BinOp::NotEq,
                BinaryOperator::Lt => BinOp::Lt,
                BinaryOperator::LtEq => BinOp::LtEq,
                BinaryOperator::Gt => BinOp::Gt,
                BinaryOperator::GtEq => BinOp::GtEq,
                BinaryOperator::And => BinOp::And,
                BinaryOperator::Or => BinOp::Or,
                BinaryOperator::Xor => BinOp::Xor,
                other => return Err(unsupported(format!("operator {other}"))),
            };
            Node::Binary(op, boxed(left)?, boxed(right)?)
        }
        Expr::IsNull(x) => Node::IsNull(boxed(x)?, false),
        Expr::IsNotNull(x) => Node::IsNull(boxed(x)?, true),
        Expr::IsTrue(x) => Node::IsBool(boxed(x)?, true, false),
        Expr::IsNotTrue(x) => Node::IsBool(boxed(x)?, true, true),
        Expr::IsFalse(x) => Node::IsBool(boxed(x)?, false, false),
        Expr::IsNotFalse(x) => Node::IsBool(boxed(x)?, false, true),
        Expr::IsUnknown(x) => Node::IsNull(boxed(x)?, false),
        Expr::IsNotUnknown(x) => Node::IsNull(boxed(x)?, true),
        Expr::InList {
            expr,
            list,
            negated,
        } => Node::In {
            expr: boxed(expr)?,
            list: list.iter().map(lower).collect::<Result<_, _>>()?,
            negated: *negated,
        },
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Node::Between {
            expr: boxed(expr)?,
            low: boxed(low)?,
            high: boxed(high)?,
            negated: *negated,
        },
        Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char,
        } => Node::Like {
            expr: boxed(expr)?,
            pattern: boxed(pattern)?,
            escape: match escape_char.as_deref() {
                None => '\\',
                Some(Expr::Value(v)) => match &v.value {
                    ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => c,
                            _ => return Err(unsupported(format!("ESCAPE '{s}'"))),
                        }
                    }
                    other => return Err(unsupported(format!("ESCAPE {other}"))),
                },
                Some(other) => return Err(unsupported(format!("ESCAPE {other}"))),
            },
            negated: *negated,
        },
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => Node::Case {
            operand: operand.as_deref().map(boxed).transpose()?,
            branches: conditions
                .iter()
                .map(|w| Ok((lower(&w.condition)?, lower(&w.result)?)))
                .collect::<Result<_, ExprError>>()?,
            otherwise: else_result.as_deref().map(boxed).transpose()?,
        },
        Expr::Ceil {
            expr,
            field: CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
        } => Node::Call(Func::Ceil, vec![lower(expr)?]),
        Expr::Floor {
            expr,
            field: CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
        } => Node::Call(Func::Floor, vec![lower(expr)?]),
        Expr::Position { expr, r#in } => Node::Call(Func::Locate, vec![lower(expr)?, lower(r#in)?]),
        Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![lower(expr)?];
            if let Some(from) = substring_from {
                args.push(lower(from)?);
            } else {
                return Err(unsupported("SUBSTRING without a position"));
            }
            if let Some(len) = substring_for {
                args.push(lower(len)?);
            }
            Node::Call(Func::Substring, args)
        }
        Expr::Trim {
            trim_where,
            trim_what,
            expr,
            trim_characters,
        } => {
            if trim_characters.is_some() {
                return Err(unsupported("TRIM with a list of characters"));
            }
            Node::Trim {
                side: match trim_where {
                    None | Some(TrimWhereField::Both) => TrimSide::Both,
                    Some(TrimWhereField::Leading) => TrimSide::Leading,
                    Some(TrimWhereField::Trailing) => TrimSide::Trailing,
                },
                what: trim_what.as_deref().map(boxed).transpose()?,
                expr: boxed(expr)?,
            }
        }
        Expr::Function(f) => call(f)?,
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
            return Err(unsupported("a subquery"))
        }
        other => {
            let text = other.to_string();
            let head: String = text.chars().take(40).collect();
            return Err(unsupported(format!("`{head}`")));
        }
    })
}

fn call(f: &ast::Function) -> Result<Node, ExprError> {
    let name = f.name.to_string().to_uppercase();
    let Some(entry) = functions::lookup(&name) else {
        return Err(ExprError::UnsupportedFunction {
            name,
            supported: functions::names().join(", "),
        });
    };
    let args: Vec<Node> = match &f.args {
        FunctionArguments::None => Vec::new(),
        FunctionArguments::Subquery(_) => return Err(unsupported("a subquery")),
        FunctionArguments::List(list) => {
            if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                return Err(unsupported(format!("the arguments of {name}")));
            }
            list.args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => lower(e),
                    _ => Err(unsupported(format!("the arguments of {name}"))),
                })
                .collect::<Result<_, _>>()?
        }
    };
    if f.filter.is_some() || f.over.is_some() || !f.within_group.is_empty() {
        return Err(unsupported(format!("{name} with a window or filter")));
    }
    if args.len() < entry.min_args || entry.max_args.is_some_and(|max| args.len() > max) {
        return Err(ExprError::Arity {
            name,
            expected: match entry.max_args {
                Some(max) if max == entry.min_args => max.to_string(),
                Some(max) => format!("{} to {max}", entry.min_args),
                None => format!("at least {}", entry.min_args),
            },
            got: args.len(),
        });
    }
    Ok(Node::Call(entry.func, args))
}

/// A literal: integers as `Int`/`UInt`, numbers with a point as exact
/// decimals, with an exponent as doubles, quoted text as strings.
fn literal(v: &ast::Value) -> Result<Value, ExprError> {
    Ok(match v {
        ast::Value::Null => Value::Null,
        ast::Value::Boolean(b) => Value::from_bool(*b),
        ast::Value::Number(n, _) => {
            if let Ok(i) = n.parse::<i64>() {
                Value::Int(i)
            } else if let Ok(u) = n.parse::<u64>() {
                Value::UInt(u)
            } else if n.contains(['e', 'E']) {
                Value::Double(n.parse().map_err(|_| unsupported(format!("number {n}")))?)
            } else {
                match Decimal::from_str(n) {
                    Ok(d) => Value::Decimal(d),
                    Err(_) => {
                        Value::Double(n.parse().map_err(|_| unsupported(format!("number {n}")))?)
                    }
                }
            }
        }
        ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
            Value::Str(s.clone())
        }
        other => return Err(unsupported(format!("literal {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_cannot_evaluate_by_name() {
        let e = parse("sleep(1) = 0").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("function SLEEP is not supported by expression filters"),
            "{e}"
        );
        assert_eq!(
            parse("a IN (SELECT 1)").unwrap_err().to_string(),
            "a subquery is not supported by expression filters"
        );
        assert!(matches!(parse("a = "), Err(ExprError::Syntax { .. })));
        assert!(matches!(parse("a = 1 b"), Err(ExprError::Syntax { .. })));
        assert_eq!(
            parse("abs(1, 2)").unwrap_err().to_string(),
            "function ABS takes 1 arguments, got 2"
        );
    }
}
