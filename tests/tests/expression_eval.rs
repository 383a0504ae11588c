//! The expression filters' evaluator (`dm_rules::expr`) against MariaDB
//! itself: for generated rows of many column types (integers signed and
//! unsigned, DECIMAL, DOUBLE, mixed-case text, DATE, DATETIME, TIMESTAMP
//! in a +08:00 session, NULLs) and a few hundred generated expressions
//! (a fixed seed), the evaluator's verdict (TRUE, FALSE or NULL) equals
//! the server's `(expr) IS TRUE` / `(expr) IS NULL` over the same row,
//! row by row. An expression the server refuses to compute (a BIGINT out
//! of range) must fail in the evaluator too.

use std::fmt::Write as _;
use std::str::FromStr;

use dm_rules::expr::{DateTime, Expression, Row, Value};
use dm_tests::{MariaDb, MariaDbOptions};
use mysql_async::prelude::Queryable;
use rust_decimal::Decimal;

const EXPRESSIONS: usize = 1000;
const SEED: u64 = 0x5eed_0fd4;

/// xorshift64*: deterministic, no dependency.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const COLUMNS: &str = "id, i, u, d, f, s, dt, dtm, ts";

const INTS: &[&str] = &["0", "1", "-7", "42", "NULL", "3", "-50", "17"];
const UNSIGNED: &[&str] = &["0", "5", "1000", "18446744073709551000", "NULL", "77"];
const DECIMALS: &[&str] = &[
    "0.000", "12.500", "-3.125", "99.999", "NULL", "10.000", "-0.001",
];
const DOUBLES: &[&str] = &["0", "2.5", "-0.75", "1000", "NULL", "1.125", "-3"];
const STRINGS: &[&str] = &[
    "'Apple'",
    "'apple '",
    "'BANANA'",
    "'b_n%'",
    "'10'",
    "'10abc'",
    "''",
    "' 12'",
    "'abc'",
    "'x-1'",
    "NULL",
    "'Zebra'",
    "'2024-02-29'",
];
const DATES: &[&str] = &[
    "'2024-02-29'",
    "'1999-12-31'",
    "'2024-06-01'",
    "NULL",
    "'2000-01-01'",
];
const DATETIMES: &[&str] = &[
    "'2024-05-31 23:59:59.500000'",
    "'2024-06-01 00:00:00'",
    "'1999-12-31 12:30:00'",
    "NULL",
    "'2024-02-29 08:00:01'",
];

/// The literal, unquoted, as the evaluator's value of a column of `kind`.
fn value(kind: char, literal: &str) -> Value {
    if literal == "NULL" {
        return Value::Null;
    }
    let text = literal.trim_matches('\'');
    match kind {
        'i' => Value::Int(text.parse().expect("int")),
        'u' => Value::UInt(text.parse().expect("uint")),
        'd' => Value::Decimal(Decimal::from_str(text).expect("decimal")),
        'f' => Value::Double(text.parse().expect("double")),
        's' => Value::Str(text.to_string()),
        'D' => Value::Date(DateTime::parse(text).expect("date")),
        _ => Value::DateTime(DateTime::parse(text).expect("datetime")),
    }
}

/// One generated row: its SQL values and the evaluator's.
fn row(g: &mut Gen, id: usize) -> (String, Vec<Value>) {
    let picks = [
        ('i', g.pick(INTS)),
        ('u', g.pick(UNSIGNED)),
        ('d', g.pick(DECIMALS)),
        ('f', g.pick(DOUBLES)),
        ('s', g.pick(STRINGS)),
        ('D', g.pick(DATES)),
        ('T', g.pick(DATETIMES)),
        ('T', g.pick(DATETIMES)),
    ];
    let mut sql = format!("({id}");
    let mut values = vec![Value::Int(id as i64)];
    for (kind, literal) in picks {
        let _ = write!(sql, ", {literal}");
        values.push(value(kind, literal));
    }
    sql.push(')');
    (sql, values)
}

fn num_leaf(g: &mut Gen) -> String {
    g.pick(&[
        "i", "u", "d", "f", "i", "d", "3", "-2", "0", "2.5", "0.125", "7", "1e1", "NULL", "id",
    ])
    .to_string()
}

fn str_leaf(g: &mut Gen) -> String {
    g.pick(&[
        "s", "s", "s", "'apple'", "'APPLE'", "'b%'", "'10'", "'abc'", "' x '", "''", "NULL",
    ])
    .to_string()
}

fn date_leaf(g: &mut Gen) -> String {
    g.pick(&[
        "dt",
        "dtm",
        "ts",
        "'2024-02-29'",
        "'2024-06-01 00:00:00'",
        "'1999-12-31 12:30:00'",
        "DATE(dtm)",
    ])
    .to_string()
}

fn num(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.chance(30) {
        return num_leaf(g);
    }
    let d = depth - 1;
    match g.below(17) {
        0..=3 => {
            let op = g.pick(&["+", "-", "*", "/", "DIV", "%"]);
            format!("({} {op} {})", num(g, d), num(g, d))
        }
        4 => format!("ABS({})", num(g, d)),
        5 => format!("ROUND({}, {})", num(g, d), g.pick(&["0", "1", "2", "-1"])),
        6 => format!(
            "{}({})",
            g.pick(&["FLOOR", "CEIL", "SIGN", "ROUND"]),
            num(g, d)
        ),
        7 => format!("MOD({}, {})", num(g, d), num(g, d)),
        8 => format!("{}({})", g.pick(&["LENGTH", "CHAR_LENGTH"]), str_expr(g, d)),
        9 => format!(
            "{}({})",
            g.pick(&[
                "YEAR",
                "MONTH",
                "DAY",
                "DAYOFWEEK",
                "WEEKDAY",
                "DAYOFYEAR",
                "QUARTER",
                "TO_DAYS"
            ]),
            date_leaf(g)
        ),
        // Not of a date-only string, which MariaDB reads as a time
        // ('2024-02-29' is 00:20:24).
        15 => format!(
            "{}({})",
            g.pick(&["HOUR", "MINUTE", "SECOND"]),
            g.pick(&[
                "dt",
                "dtm",
                "ts",
                "'2024-06-01 00:00:00'",
                "'1999-12-31 12:30:00'"
            ])
        ),
        10 => format!("DATEDIFF({}, {})", date_leaf(g), date_leaf(g)),
        11 => format!(
            "CASE WHEN {} THEN {} ELSE {} END",
            boolean(g, d),
            num(g, d),
            num(g, d)
        ),
        12 => format!("IF({}, {}, {})", boolean(g, d), num(g, d), num(g, d)),
        13 => format!(
            "{}({}, {})",
            g.pick(&["IFNULL", "COALESCE", "NULLIF"]),
            num(g, d),
            num(g, d)
        ),
        14 => format!("-{}", num(g, d)),
        _ => format!("TRUNCATE({}, {})", num(g, d), g.pick(&["0", "1", "-1"])),
    }
}

fn str_expr(g: &mut Gen, depth: usize) -> String {
    if depth == 0 || g.chance(35) {
        return str_leaf(g);
    }
    let d = depth - 1;
    match g.below(11) {
        0 => format!("CONCAT({}, {})", str_expr(g, d), str_expr(g, d)),
        1 => format!(
            "{}({})",
            g.pick(&["UPPER", "LOWER", "REVERSE", "LTRIM", "RTRIM", "TRIM"]),
            str_expr(g, d)
        ),
        2 => format!(
            "SUBSTRING({}, {})",
            str_expr(g, d),
            g.pick(&["1", "2", "-2", "0"])
        ),
        3 => format!(
            "SUBSTRING({}, {}, {})",
            str_expr(g, d),
            g.pick(&["1", "2", "-3"]),
            g.pick(&["0", "1", "3"])
        ),
        4 => format!(
            "{}({}, {})",
            g.pick(&["LEFT", "RIGHT"]),
            str_expr(g, d),
            g.pick(&["0", "2", "5"])
        ),
        5 => format!("REPLACE({}, 'p', 'Q')", str_expr(g, d)),
        6 => format!("CONCAT_WS('-', {}, {})", str_expr(g, d), str_expr(g, d)),
        7 => format!(
            "IF({}, {}, {})",
            boolean(g, d),
            str_expr(g, d),
            str_expr(g, d)
        ),
        8 => format!("COALESCE({}, 'z')", str_expr(g, d)),
        9 => format!(
            "CONCAT({}, {})",
            str_expr(g, d),
            g.pick(&["i", "d", "id", "u"])
        ),
        _ => format!("TRIM(LEADING 'a' FROM {})", str_expr(g, d)),
    }
}

fn boolean(g: &mut Gen, depth: usize) -> String {
    let d = depth.saturating_sub(1);
    let cmp = |g: &mut Gen| g.pick(&["=", "<>", "<", "<=", ">", ">=", "<=>"]);
    match g.below(if depth == 0 { 6 } else { 12 }) {
        0 => format!("{} {} {}", num(g, d), cmp(g), num(g, d)),
        1 => format!("{} {} {}", str_expr(g, d), cmp(g), str_expr(g, d)),
        2 => format!("{} {} {}", str_expr(g, d), cmp(g), num(g, d)),
        3 => format!("{} {} {}", date_leaf(g), cmp(g), date_leaf(g)),
        4 => format!(
            "{} IS {}NULL",
            g.pick(&["i", "u", "d", "f", "s", "dt", "dtm", "ts"]),
            g.pick(&["", "NOT "])
        ),
        5 => format!(
            "{} {}LIKE {}",
            str_expr(g, d),
            g.pick(&["", "NOT "]),
            g.pick(&[
                "'a%'",
                "'%E%'",
                "'_pple%'",
                "'b\\_n\\%'",
                "'%1%'",
                "''",
                "s"
            ])
        ),
        6 => format!(
            "{} {}IN ({}, {}, {})",
            num(g, d),
            g.pick(&["", "NOT "]),
            num_leaf(g),
            num_leaf(g),
            num_leaf(g)
        ),
        7 => format!(
            "{} {}BETWEEN {} AND {}",
            num(g, d),
            g.pick(&["", "NOT "]),
            num_leaf(g),
            num_leaf(g)
        ),
        8 => format!(
            "({}) {} ({})",
            boolean(g, d),
            g.pick(&["AND", "OR", "XOR"]),
            boolean(g, d)
        ),
        9 => format!("NOT ({})", boolean(g, d)),
        10 => format!("s IN ({}, {})", str_leaf(g), str_leaf(g)),
        _ => format!("ts {} '2024-06-01'", cmp(g)),
    }
}

/// The server's verdict on one row: TRUE, FALSE or NULL.
fn verdict(is_true: i64, is_null: i64) -> Option<bool> {
    if is_null == 1 {
        None
    } else {
        Some(is_true == 1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evaluator_agrees_with_mariadb_row_by_row() {
    let server = MariaDb::start(MariaDbOptions::new(1))
        .await
        .expect("server");
    let mut conn = server.conn().await.expect("conn");
    conn.query_drop("SET NAMES utf8mb4, time_zone = '+08:00'")
        .await
        .expect("session");
    conn.query_drop("CREATE DATABASE e").await.expect("db");
    conn.query_drop(
        "CREATE TABLE e.t (id INT PRIMARY KEY, i INT, u BIGINT UNSIGNED, d DECIMAL(12,3), \
         f DOUBLE, s VARCHAR(30), dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL) \
         DEFAULT CHARSET=utf8mb4",
    )
    .await
    .expect("table");
    let mut g = Gen(SEED);
    let mut sql_rows = Vec::new();
    let mut rows = Vec::new();
    for id in 1..=30 {
        let (sql, values) = row(&mut g, id);
        sql_rows.push(sql);
        rows.push(values);
    }
    conn.query_drop(format!(
        "INSERT INTO e.t ({COLUMNS}) VALUES {}",
        sql_rows.join(", ")
    ))
    .await
    .expect("rows");
    let names: Vec<String> = COLUMNS.split(", ").map(str::to_string).collect();

    let (mut compared, mut refused) = (0usize, 0usize);
    let mut mismatches = Vec::new();
    for n in 0..EXPRESSIONS {
        let text = if n % 5 == 4 {
            if g.chance(50) {
                num(&mut g, 3)
            } else {
                str_expr(&mut g, 3)
            }
        } else {
            boolean(&mut g, 3)
        };
        let expr = match Expression::compile(&text) {
            Ok(expr) => expr,
            Err(e) => panic!("`{text}` does not compile: {e}"),
        };
        let ours: Vec<_> = rows
            .iter()
            .map(|values| {
                expr.truth(&Row {
                    names: &names,
                    values,
                })
            })
            .collect();
        let sql = format!("SELECT id, ({text}) IS TRUE, ({text}) IS NULL FROM e.t ORDER BY id");
        let answer: Result<Vec<(i64, i64, i64)>, _> = conn.query(&sql).await;
        match answer {
            Err(e) => {
                // The server refuses the computation (out of range): so
                // must the evaluator, on some row.
                refused += 1;
                if !ours.iter().any(Result::is_err) {
                    mismatches.push(format!("`{text}`: the server refuses ({e}), we do not"));
                }
            }
            Ok(theirs) => {
                for ((id, t, null), ours) in theirs.into_iter().zip(&ours) {
                    compared += 1;
                    let theirs = verdict(t, null);
                    match ours {
                        Ok(v) if *v == theirs => {}
                        other => mismatches.push(format!(
                            "`{text}` on row {id} ({}): server {theirs:?}, ours {other:?}",
                            sql_rows[id as usize - 1]
                        )),
                    }
                }
            }
        }
    }
    println!(
        "{compared} (expression, row) pairs compared over {EXPRESSIONS} expressions and {} rows; {refused} expressions refused by the server and by us; {} mismatches",
        rows.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(compared > 10_000, "{compared} pairs compared");
}
