//! Expression filters (`expression-filter`): SQL expressions over a row's
//! values that drop the row change when they are true, as DM's.
//!
//! - [`parse`]: the text, parsed by sqlparser (MySQL dialect), lowered to
//!   the evaluator's small tree; anything the evaluator does not have is
//!   refused here, naming the function or construct.
//! - [`eval`]: the tree evaluated over one row with MySQL's semantics.
//! - [`value`]: values and MySQL's conversions and comparisons.
//! - [`functions`]: the supported functions, one table.
//! - [`time`]: calendar arithmetic and the task's timezone.
//! - [`filter`]: the rules of a task, by table and kind of change.
//!
//! Pure: no IO, no clock. The evaluator is table-tested against MariaDB
//! (`tests/tests/expression_eval.rs`).

pub mod error;
pub mod eval;
pub mod filter;
pub mod functions;
pub mod parse;
pub mod time;
pub mod value;

pub use error::ExprError;
pub use eval::Row;
pub use filter::{ExpressionFilters, TableFilters};
pub use time::{DateTime, TimeZone};
pub use value::Value;

/// One compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    text: String,
    node: parse::Node,
}

impl Expression {
    /// Parses `text`, refusing functions and constructs the evaluator does
    /// not have.
    pub fn compile(text: &str) -> Result<Self, ExprError> {
        Ok(Expression {
            text: text.to_string(),
            node: parse::parse(text)?,
        })
    }

    /// The text it was compiled from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The columns it reads, by name as written.
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.node.columns(&mut out);
        out
    }

    /// Its value over `row`.
    pub fn eval(&self, row: &Row<'_>) -> Result<Value, ExprError> {
        eval::eval(&self.node, row)
    }

    /// Its truth over `row`: `None` when NULL.
    pub fn truth(&self, row: &Row<'_>) -> Result<Option<bool>, ExprError> {
        Ok(self.eval(row)?.truth())
    }

    /// Whether it is TRUE over `row` (NULL and FALSE are not).
    pub fn is_true(&self, row: &Row<'_>) -> Result<bool, ExprError> {
        Ok(self.truth(row)? == Some(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(text: &str, names: &[&str], values: Vec<Value>) -> Option<bool> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        Expression::compile(text)
            .unwrap()
            .truth(&Row {
                names: &names,
                values: &values,
            })
            .unwrap()
    }

    #[test]
    fn mysql_semantics() {
        let t = |e: &str| truth(e, &[], vec![]);
        assert_eq!(t("'10' = 10"), Some(true));
        assert_eq!(t("'abc' = 0"), Some(true));
        assert_eq!(t("'ABC ' = 'abc'"), Some(true));
        assert_eq!(t("NULL = NULL"), None);
        assert_eq!(t("NULL <=> NULL"), Some(true));
        assert_eq!(t("NULL AND 0"), Some(false));
        assert_eq!(t("NULL OR 1"), Some(true));
        assert_eq!(t("1 XOR 1"), Some(false));
        assert_eq!(t("1 / 3 = 0.3333"), Some(true));
        // A quotient keeps 9 digits inside, compared at its scale by `=`,
        // with every digit by BETWEEN and truth, as MariaDB.
        assert_eq!(t("1 / 3 * 3 = 1 AND CONCAT(2 / 3) = '0.6667'"), Some(true));
        assert_eq!(t("1 / 730484 > 0"), Some(false));
        assert_eq!(t("(1 / 730484) IS TRUE"), Some(true));
        assert_eq!(t("1 / 3 BETWEEN 0.3333 AND 0.3333"), Some(false));
        assert_eq!(t("MOD(-3.000, 1) = 0 OR MOD(-3, -0.001) = 0"), Some(false));
        assert_eq!(t("-0.000 = 0 AND MOD(3.000, 1) = 0"), Some(true));
        assert_eq!(t("'x' = MOD(-3, -0.001) OR '0.5x' <> 0.50"), Some(false));
        assert_eq!(t("7 DIV 2 = 3 AND -7 % 3 = -1"), Some(true));
        assert_eq!(t("1 / 0"), None);
        assert_eq!(t("2 IN (1, NULL)"), None);
        assert_eq!(t("2 NOT IN (1, 3)"), Some(true));
        assert_eq!(t("'Hello' LIKE 'h_l%'"), Some(true));
        assert_eq!(t("'a%' LIKE 'a|%' ESCAPE '|'"), Some(true));
        assert_eq!(t("5 BETWEEN 1 AND 5"), Some(true));
        assert_eq!(t("CASE 2 WHEN 1 THEN 0 WHEN 2 THEN 1 END"), Some(true));
        assert_eq!(
            t("IF(NULL, 0, 1) AND IFNULL(NULL, 1) AND COALESCE(NULL, 2)"),
            Some(true)
        );
        assert_eq!(t("NULLIF(1, 1) IS NULL"), Some(true));
        assert_eq!(t("SUBSTRING('abcdef', -3, 2) = 'de'"), Some(true));
        assert_eq!(t("TRIM(LEADING 'x' FROM 'xxay') = 'ay'"), Some(true));
        assert_eq!(t("ROUND(2.5) = 3 AND ROUND(-1.25, 1) = -1.3"), Some(true));
        assert_eq!(
            t("YEAR('2024-02-29 10:00:00') = 2024 AND DAYOFWEEK('2024-02-29') = 5"),
            Some(true)
        );
        assert_eq!(t("DATEDIFF('2024-03-01', '2024-02-28') = 2"), Some(true));
        assert!(Expression::compile("9223372036854775807 + 1")
            .unwrap()
            .eval(&Row {
                names: &[],
                values: &[]
            })
            .is_err());
    }

    #[test]
    fn columns_by_name() {
        let d = DateTime::parse("2024-05-06 07:08:09").unwrap();
        assert_eq!(
            truth(
                "C % 2 = 0 AND dt > '2024-05-01' AND name LIKE 'B%'",
                &["c", "dt", "name"],
                vec![Value::Int(4), Value::DateTime(d), Value::Str("bob".into())]
            ),
            Some(true)
        );
        let names = vec!["a".to_string()];
        assert_eq!(
            Expression::compile("b = 1")
                .unwrap()
                .eval(&Row {
                    names: &names,
                    values: &[Value::Int(1)]
                })
                .unwrap_err()
                .to_string(),
            "unknown column `b` in the expression"
        );
    }
}
