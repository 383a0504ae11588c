//! Column mappings (`column-mappings`): rewriting one column of every row of
//! matching tables, mainly `partition id` to keep auto-increment keys of
//! merged shards apart.
//!
//! Follows tidb-tools `pkg/column-mapping/column.go` (915b22e4) as DM 2.0.7
//! uses it; the reference's section 6 has the details this pins down.
//!
//! **Selecting the rule.** Rules are selected by `(schema-pattern,
//! table-pattern)` (see [`super::pattern`]; duplicates refused). For a table,
//! if table-level rules match, exactly one must; otherwise exactly one
//! schema-level rule must. Anything else is DM's error ``"`s`.`t` matches N
//! table column mapping rules which should be one. It's not supported"``
//! (names as folded). No matching rule at all: the row is left alone.
//!
//! **`partition id`** takes `[instance id, schema prefix, table prefix,
//! (separator)]`; the separator defaults to `""`. The bit sizes are DM's
//! fixed defaults (instance 4, schema 7, table 8; DM never changes them), and
//! the original id must be in `[0, 2^44)` however many fields are used. The
//! layout is computed from the top: `shift = 63`; a non-empty instance
//! argument takes the next 4 bits (`id << 59`), a non-empty schema prefix the
//! next 7, a non-empty table prefix the next 8. Empty arguments reserve no
//! bits, so later fields move up: with no instance, the schema id sits at
//! bits 62..56. The value is `instance | schema | table | origin`.
//!
//! A schema/table id comes from its name ([`compute_id`]): a name equal to
//! the prefix is id 0; otherwise the name must be `prefix + separator +
//! digits`, the digits fitting the field (schema ≤ 127, table ≤ 255). Names
//! are folded (lower-cased unless case-sensitive) before this, as DM does,
//! but the prefixes are compared as written.
//!
//! Values: signed and unsigned integers map to a signed integer (an unsigned
//! value above `i64::MAX` wraps negative and is refused, as Go's `int64()`
//! conversion makes it); a string must hold a decimal integer and maps to the
//! decimal string of the result; anything else is refused.
//!
//! **`add prefix` / `add suffix`** take one argument and prepend/append it to
//! a string value; other values are refused.
//!
//! Errors repeat DM's texts (see [`RuleError`]). One difference in timing:
//! DM parses the instance id only when the first row of a table is mapped;
//! [`ColumnMapper::new`] parses it at once (same message), since it does not
//! depend on the table.

use std::fmt;

use dm_proto::config::task::{ColumnMappingRule, MappingExpression};

use super::error::{go_string_slice, RuleError};
use super::pattern::{fold, TableSelector};

/// Bits of the instance id.
pub const INSTANCE_ID_BITS: u32 = 4;
/// Bits of the schema id.
pub const SCHEMA_ID_BITS: u32 = 7;
/// Bits of the table id.
pub const TABLE_ID_BITS: u32 = 8;
/// Original ids must be below this (2^44), whichever fields are used.
pub const MAX_ORIGIN_ID: i64 = 1 << 44;

/// A column value as the mapper sees it (the Go types DM's mapper gets).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValue {
    Null,
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
}

impl ColumnValue {
    /// Go's `%T` of the value.
    fn go_type(&self) -> &'static str {
        match self {
            ColumnValue::Null => "<nil>",
            ColumnValue::Int(_) => "int64",
            ColumnValue::UInt(_) => "uint64",
            ColumnValue::Float(_) => "float64",
            ColumnValue::Str(_) => "string",
            ColumnValue::Bytes(_) => "[]uint8",
        }
    }
}

/// Go's `%v` of the value.
impl fmt::Display for ColumnValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnValue::Null => f.write_str("<nil>"),
            ColumnValue::Int(v) => write!(f, "{v}"),
            ColumnValue::UInt(v) => write!(f, "{v}"),
            ColumnValue::Float(v) => write!(f, "{v}"),
            ColumnValue::Str(v) => f.write_str(v),
            ColumnValue::Bytes(v) => {
                let parts: Vec<String> = v.iter().map(u8::to_string).collect();
                write!(f, "[{}]", parts.join(" "))
            }
        }
    }
}

/// The arguments of a `partition id` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionArgs {
    pub instance_id: String,
    pub schema_prefix: String,
    pub table_prefix: String,
    pub separator: String,
}

impl PartitionArgs {
    /// Reads `[instance id, schema prefix, table prefix, (separator)]`.
    pub fn from_arguments(args: &[String]) -> Result<Self, RuleError> {
        match args {
            [instance, schema, table] => Ok(Self::new(instance, schema, table, "")),
            [instance, schema, table, sep] => Ok(Self::new(instance, schema, table, sep)),
            _ => Err(RuleError::InvalidRule(format!(
                "arguments {} for patition id not valid",
                go_string_slice(args)
            ))),
        }
    }

    /// Arguments from their parts.
    pub fn new(
        instance_id: &str,
        schema_prefix: &str,
        table_prefix: &str,
        separator: &str,
    ) -> Self {
        PartitionArgs {
            instance_id: instance_id.to_string(),
            schema_prefix: schema_prefix.to_string(),
            table_prefix: table_prefix.to_string(),
            separator: separator.to_string(),
        }
    }

    /// The shifted instance id, 0 when the argument is empty.
    fn instance_bits(&self) -> Result<i64, RuleError> {
        if self.instance_id.is_empty() {
            return Ok(0);
        }
        let id = go_parse_uint(&self.instance_id, INSTANCE_ID_BITS).map_err(|out_of_range| {
            RuleError::InstanceId {
                argument: self.instance_id.clone(),
                out_of_range,
            }
        })?;
        // At most 15 << 59 < 2^63.
        Ok((id << (63 - INSTANCE_ID_BITS)) as i64)
    }

    /// The high bits for `schema`.`table` (DM's `computePartitionID`); the
    /// names are used as given.
    pub fn partition(&self, schema: &str, table: &str) -> Result<Partition, RuleError> {
        let instance_id = self.instance_bits()?;
        self.partition_with(instance_id, schema, table)
    }

    fn partition_with(
        &self,
        instance_id: i64,
        schema: &str,
        table: &str,
    ) -> Result<Partition, RuleError> {
        let mut shift = 63;
        if !self.instance_id.is_empty() {
            shift -= INSTANCE_ID_BITS;
        }
        let mut schema_id = 0;
        if !self.schema_prefix.is_empty() {
            shift -= SCHEMA_ID_BITS;
            schema_id = compute_id(
                schema,
                &self.schema_prefix,
                &self.separator,
                SCHEMA_ID_BITS,
                shift,
            )?;
        }
        let mut table_id = 0;
        if !self.table_prefix.is_empty() {
            shift -= TABLE_ID_BITS;
            table_id = compute_id(
                table,
                &self.table_prefix,
                &self.separator,
                TABLE_ID_BITS,
                shift,
            )?;
        }
        Ok(Partition {
            instance_id,
            schema_id,
            table_id,
        })
    }
}

/// The shifted ids of one table (DM's `mappingInfo` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub instance_id: i64,
    pub schema_id: i64,
    pub table_id: i64,
}

impl Partition {
    /// Maps an original id: `instance | schema | table | origin`.
    pub fn apply(&self, origin: i64) -> Result<i64, RuleError> {
        if !(0..MAX_ORIGIN_ID).contains(&origin) {
            return Err(RuleError::OriginOutOfRange {
                max: MAX_ORIGIN_ID,
                value: origin,
            });
        }
        Ok(self.instance_id | self.schema_id | self.table_id | origin)
    }
}

/// The mapped value of `origin` for `schema`.`table` under `args`.
pub fn partition_id(
    args: &PartitionArgs,
    schema: &str,
    table: &str,
    origin: i64,
) -> Result<i64, RuleError> {
    args.partition(schema, table)?.apply(origin)
}

/// DM's `computeID`: the id in `name` after `prefix + sep`, shifted left by
/// `shift`; `name == prefix` is id 0.
pub fn compute_id(
    name: &str,
    prefix: &str,
    sep: &str,
    bit_size: u32,
    shift: u32,
) -> Result<i64, RuleError> {
    if name == prefix {
        return Ok(0);
    }
    let full = format!("{prefix}{sep}");
    let suffix = match name.strip_prefix(full.as_str()) {
        Some(rest) if !rest.is_empty() => rest,
        _ => {
            return Err(RuleError::NotPrefix {
                prefix: full,
                name: name.to_string(),
            })
        }
    };
    let id =
        go_parse_uint(suffix, bit_size).map_err(|_| RuleError::SuffixNotInt(suffix.to_string()))?;
    // bit_size + shift <= 63 for every caller, so this stays positive.
    Ok((id << shift) as i64)
}

/// Go's `strconv.ParseUint(s, 10, bits)`: decimal digits only, read left to
/// right, failing at the first bad digit (`Err(false)`, syntax) or the first
/// prefix exceeding `bits` (`Err(true)`, range).
fn go_parse_uint(s: &str, bits: u32) -> Result<u64, bool> {
    if s.is_empty() {
        return Err(false);
    }
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(false);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .filter(|&v| v <= max)
            .ok_or(true)?;
    }
    Ok(n)
}

#[derive(Debug, Clone)]
enum Expression {
    PartitionId {
        args: PartitionArgs,
        instance_id: i64,
    },
    AddPrefix(String),
    AddSuffix(String),
}

/// One compiled column-mapping rule.
#[derive(Debug, Clone)]
pub struct ColumnMapper {
    rule: ColumnMappingRule,
    case_sensitive: bool,
    expression: Expression,
}

impl ColumnMapper {
    /// Checks and compiles a rule (DM's `Rule.Valid`, plus the instance id).
    pub fn new(rule: &ColumnMappingRule, case_sensitive: bool) -> Result<Self, RuleError> {
        if rule.target_column.is_empty() {
            return Err(RuleError::InvalidRule(
                "rule need to be applied a target column not valid".into(),
            ));
        }
        let expression = match rule.expression {
            MappingExpression::PartitionId => {
                let args = PartitionArgs::from_arguments(&rule.arguments)?;
                let instance_id = args.instance_bits()?;
                Expression::PartitionId { args, instance_id }
            }
            MappingExpression::AddPrefix | MappingExpression::AddSuffix => {
                let [arg] = rule.arguments.as_slice() else {
                    return Err(RuleError::InvalidRule(format!(
                        "arguments {} for add prefix/suffix not valid",
                        go_string_slice(&rule.arguments)
                    )));
                };
                if rule.expression == MappingExpression::AddPrefix {
                    Expression::AddPrefix(arg.clone())
                } else {
                    Expression::AddSuffix(arg.clone())
                }
            }
        };
        Ok(ColumnMapper {
            rule: rule.clone(),
            case_sensitive,
            expression,
        })
    }

    /// The rule as configured.
    pub fn rule(&self) -> &ColumnMappingRule {
        &self.rule
    }

    /// The column the rule rewrites.
    pub fn target_column(&self) -> &str {
        &self.rule.target_column
    }

    /// The `partition id` arguments, if that is the expression.
    pub fn partition_args(&self) -> Option<&PartitionArgs> {
        match &self.expression {
            Expression::PartitionId { args, .. } => Some(args),
            _ => None,
        }
    }

    /// The new value of the target column (at `position` among the row's
    /// columns, used in messages) of a row of upstream `schema`.`table`.
    pub fn map_value(
        &self,
        schema: &str,
        table: &str,
        position: usize,
        value: &ColumnValue,
    ) -> Result<ColumnValue, RuleError> {
        match &self.expression {
            Expression::PartitionId { args, instance_id } => {
                let partition = args.partition_with(
                    *instance_id,
                    &fold(schema, self.case_sensitive),
                    &fold(table, self.case_sensitive),
                )?;
                let (origin, is_string) = match value {
                    ColumnValue::Int(v) => (*v, false),
                    // Go's int64(uint64) conversion wraps.
                    ColumnValue::UInt(v) => (*v as i64, false),
                    ColumnValue::Str(s) => match s.parse::<i64>() {
                        Ok(v) => (v, true),
                        Err(_) => {
                            return Err(RuleError::NotInt {
                                position,
                                value: value.to_string(),
                            })
                        }
                    },
                    other => {
                        return Err(RuleError::UnsupportedType {
                            type_name: other.go_type().to_string(),
                            value: other.to_string(),
                        })
                    }
                };
                let mapped = partition.apply(origin)?;
                Ok(if is_string {
                    ColumnValue::Str(mapped.to_string())
                } else {
                    ColumnValue::Int(mapped)
                })
            }
            Expression::AddPrefix(prefix) => match value {
                ColumnValue::Str(s) => Ok(ColumnValue::Str(format!("{prefix}{s}"))),
                other => Err(RuleError::NotString {
                    position,
                    value: other.to_string(),
                }),
            },
            Expression::AddSuffix(suffix) => match value {
                ColumnValue::Str(s) => Ok(ColumnValue::Str(format!("{s}{suffix}"))),
                other => Err(RuleError::NotString {
                    position,
                    value: other.to_string(),
                }),
            },
        }
    }

    /// Rewrites the target column of `row` (values in the order of
    /// `columns`); returns the target column's position.
    pub fn map_row<S: AsRef<str>>(
        &self,
        schema: &str,
        table: &str,
        columns: &[S],
        row: &mut [ColumnValue],
    ) -> Result<usize, RuleError> {
        let position = columns
            .iter()
            .position(|c| c.as_ref() == self.rule.target_column)
            .ok_or_else(|| RuleError::TargetColumnNotFound(self.rule.target_column.clone()))?;
        let values = row.len();
        let slot = row
            .get_mut(position)
            .ok_or(RuleError::RowTooShort { values, position })?;
        *slot = self.map_value(schema, table, position, slot)?;
        Ok(position)
    }
}

/// The column-mapping rules of one source.
#[derive(Debug, Clone)]
pub struct ColumnMappings {
    case_sensitive: bool,
    rules: TableSelector<ColumnMapper>,
}

impl ColumnMappings {
    /// Compiles the rules; fails on an invalid or duplicate rule.
    pub fn new<'a>(
        rules: impl IntoIterator<Item = &'a ColumnMappingRule>,
        case_sensitive: bool,
    ) -> Result<Self, RuleError> {
        let mut selector = TableSelector::new("column mapping");
        for rule in rules {
            let mapper = ColumnMapper::new(rule, case_sensitive)?;
            selector.insert(
                &rule.schema_pattern,
                &rule.table_pattern,
                case_sensitive,
                mapper,
            )?;
        }
        Ok(ColumnMappings {
            case_sensitive,
            rules: selector,
        })
    }

    /// No column mappings.
    pub fn none() -> Self {
        ColumnMappings {
            case_sensitive: false,
            rules: TableSelector::new("column mapping"),
        }
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The one rule for `schema`.`table`, `None` if no rule matches; an error
    /// if the deciding level has no or several rules.
    pub fn mapper_for(
        &self,
        schema: &str,
        table: &str,
    ) -> Result<Option<&ColumnMapper>, RuleError> {
        let schema_l = fold(schema, self.case_sensitive);
        let table_l = fold(table, self.case_sensitive);
        let selected = self.rules.select(&schema_l, &table_l);
        if selected.is_empty() {
            return Ok(None);
        }
        let (level, candidates) = if table.is_empty() || selected.table_level.is_empty() {
            ("schema", &selected.schema_level)
        } else {
            ("table", &selected.table_level)
        };
        match candidates.as_slice() {
            [one] => Ok(Some(*one)),
            _ => Err(RuleError::AmbiguousColumnMapping {
                schema: schema_l.into_owned(),
                table: table_l.into_owned(),
                level,
                count: candidates.len(),
            }),
        }
    }

    /// Maps a row of `schema`.`table` in place; returns the rewritten
    /// column's position, or `None` when no rule applies.
    pub fn map_row<S: AsRef<str>>(
        &self,
        schema: &str,
        table: &str,
        columns: &[S],
        row: &mut [ColumnValue],
    ) -> Result<Option<usize>, RuleError> {
        match self.mapper_for(schema, table)? {
            Some(mapper) => mapper.map_row(schema, table, columns, row).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        schema: &str,
        table: &str,
        expression: MappingExpression,
        args: &[&str],
    ) -> ColumnMappingRule {
        ColumnMappingRule {
            schema_pattern: schema.into(),
            table_pattern: table.into(),
            source_column: "id".into(),
            target_column: "id".into(),
            expression,
            arguments: args.iter().map(|s| s.to_string()).collect(),
            create_table_query: String::new(),
        }
    }

    fn partition_rule(args: &[&str]) -> ColumnMappingRule {
        rule("dmtest2", "t1", MappingExpression::PartitionId, args)
    }

    fn map_int(
        mapper: &ColumnMapper,
        schema: &str,
        table: &str,
        id: i64,
    ) -> Result<i64, RuleError> {
        match mapper.map_value(schema, table, 0, &ColumnValue::Int(id))? {
            ColumnValue::Int(v) => Ok(v),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn tutorial_instance_only_ids() {
        // dmtest2: arguments ["N", "", ""], last upstream id 372.
        for (instance, want) in [
            ("1", 576_460_752_303_423_860_i64),
            ("2", 1_152_921_504_606_847_348),
            ("3", 1_729_382_256_910_270_836),
        ] {
            let mapper = ColumnMapper::new(&partition_rule(&[instance, "", ""]), false).unwrap();
            assert_eq!(
                map_int(&mapper, "dmtest2", "t1", 372).unwrap(),
                want,
                "instance {instance}"
            );
        }
        // The tutorial's shell arithmetic.
        assert_eq!(3_i64 << (64 - 1 - 4) | 372, 1_729_382_256_910_270_836);
        // And its inverse: the low 44 bits are the upstream id.
        assert_eq!(1_729_382_256_910_270_836_i64 & (MAX_ORIGIN_ID - 1), 372);
    }

    #[test]
    fn reference_layout_with_all_fields() {
        let args = PartitionArgs::new("8", "test", "xxx", "_");
        let p = args.partition("test_2", "xxx_1").unwrap();
        assert_eq!(
            p,
            Partition {
                instance_id: 8 << 59,
                schema_id: 2 << 52,
                table_id: 1 << 44,
            }
        );
        assert_eq!(
            partition_id(&args, "test_2", "xxx_1", 42).unwrap(),
            8 << 59 | 2 << 52 | 1 << 44 | 42
        );
        // The same with the separator folded into the prefixes (tidb-tools' own test).
        let args = PartitionArgs::new("8", "test_", "xxx_", "");
        assert_eq!(
            partition_id(&args, "test_2", "xxx_1", 42).unwrap(),
            8 << 59 | 2 << 52 | 1 << 44 | 42
        );
        // Largest ids of every field.
        let args = PartitionArgs::new("15", "s", "t", "_");
        assert_eq!(
            partition_id(&args, "s_127", "t_255", MAX_ORIGIN_ID - 1).unwrap(),
            i64::MAX
        );
    }

    #[test]
    fn empty_arguments_reserve_no_bits() {
        let cases: &[(&[&str], &str, &str, i64)] = &[
            // no instance: schema at 62..56, table at 55..48
            (&["", "test", "t", "_"], "test_1", "t_1", 1 << 56 | 1 << 48),
            // no schema: table right below the instance
            (&["2", "", "t", "_"], "test_1", "t_1", 2 << 59 | 1 << 51),
            // no table
            (&["2", "test", "", "_"], "test_1", "t_1", 2 << 59 | 1 << 52),
            // table only
            (&["", "", "t", "_"], "x", "t_3", 3 << 55),
            // nothing at all: the id is unchanged
            (&["", "", ""], "x", "y", 0),
            // a name equal to its prefix is id 0
            (&["2", "test", "t", "_"], "test", "t_3", 2 << 59 | 3 << 44),
            (&["2", "test", "t", "_"], "test_5", "t", 2 << 59 | 5 << 52),
        ];
        for &(args, schema, table, high) in cases {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let p = PartitionArgs::from_arguments(&args).unwrap();
            assert_eq!(
                partition_id(&p, schema, table, 7).unwrap(),
                high | 7,
                "{args:?} {schema}.{table}"
            );
        }
    }

    #[test]
    fn origin_must_fit_44_bits_even_with_empty_fields() {
        for args in [["1", "", ""], ["", "", ""]] {
            let mapper = ColumnMapper::new(&partition_rule(&args), false).unwrap();
            assert_eq!(
                map_int(&mapper, "dmtest2", "t1", 17_592_186_044_415).unwrap()
                    & (MAX_ORIGIN_ID - 1),
                17_592_186_044_415
            );
            let err = map_int(&mapper, "dmtest2", "t1", 17_592_186_044_416).unwrap_err();
            assert_eq!(
                err.to_string(),
                "id must less than 17592186044416, greater than or equal to 0, but got 17592186044416, which is not valid"
            );
            let err = map_int(&mapper, "dmtest2", "t1", -1).unwrap_err();
            assert_eq!(
                err.to_string(),
                "id must less than 17592186044416, greater than or equal to 0, but got -1, which is not valid"
            );
        }
        // A huge unsigned value wraps negative, as Go's int64() makes it.
        let mapper = ColumnMapper::new(&partition_rule(&["1", "", ""]), false).unwrap();
        let err = mapper
            .map_value("dmtest2", "t1", 0, &ColumnValue::UInt(u64::MAX))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "id must less than 17592186044416, greater than or equal to 0, but got -1, which is not valid"
        );
    }

    #[test]
    fn instance_id_errors() {
        let err = ColumnMapper::new(&partition_rule(&["16", "", ""]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "strconv.ParseUint: parsing \"16\": value out of range"
        );
        let err = ColumnMapper::new(&partition_rule(&["x1", "", ""]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "strconv.ParseUint: parsing \"x1\": invalid syntax"
        );
        let err = ColumnMapper::new(&partition_rule(&["-1", "", ""]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        let err = ColumnMapper::new(&partition_rule(&["+1", "", ""]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "strconv.ParseUint: parsing \"+1\": invalid syntax"
        );
        // Left to right: the range is exceeded before the bad character.
        let err = PartitionArgs::new("16x", "", "", "")
            .partition("a", "b")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "strconv.ParseUint: parsing \"16x\": value out of range"
        );
        assert!(ColumnMapper::new(&partition_rule(&["15", "", ""]), false).is_ok());
        assert!(ColumnMapper::new(&partition_rule(&["0", "", ""]), false).is_ok());
        assert!(ColumnMapper::new(&partition_rule(&["015", "", ""]), false).is_ok());
    }

    #[test]
    fn schema_and_table_id_errors() {
        let args = PartitionArgs::new("2", "test", "t", "_");
        let cases = [
            (
                "unrelated",
                "t_6",
                "test_ is not the prefix of unrelated not valid",
            ),
            ("test", "x", "t_ is not the prefix of x not valid"),
            (
                "test_0",
                "t_0xa",
                "the suffix of 0xa can't be converted to int64 not valid",
            ),
            ("test_0", "t_", "t_ is not the prefix of t_ not valid"),
            ("testx", "t_3", "test_ is not the prefix of testx not valid"),
            (
                "test_128",
                "t_1",
                "the suffix of 128 can't be converted to int64 not valid",
            ),
            (
                "test_1",
                "t_256",
                "the suffix of 256 can't be converted to int64 not valid",
            ),
            (
                "test_a",
                "t_1",
                "the suffix of a can't be converted to int64 not valid",
            ),
            (
                "test_-1",
                "t_1",
                "the suffix of -1 can't be converted to int64 not valid",
            ),
        ];
        for (schema, table, want) in cases {
            let err = args.partition(schema, table).unwrap_err();
            assert_eq!(err.to_string(), want, "{schema}.{table}");
        }
        assert!(args.partition("test_127", "t_255").is_ok());
        // Without a separator, what follows the prefix must be the number.
        let args = PartitionArgs::new("", "test", "", "");
        assert_eq!(
            args.partition("test_1", "t").unwrap_err().to_string(),
            "the suffix of _1 can't be converted to int64 not valid"
        );
        assert_eq!(args.partition("test12", "t").unwrap().schema_id, 12 << 56);
    }

    #[test]
    fn names_are_folded_but_prefixes_are_not() {
        let r = rule(
            "shard_*",
            "t_*",
            MappingExpression::PartitionId,
            &["1", "shard", "t", "_"],
        );
        let mapper = ColumnMapper::new(&r, false).unwrap();
        assert_eq!(
            map_int(&mapper, "SHARD_3", "T_4", 5).unwrap(),
            1 << 59 | 3 << 52 | 4 << 44 | 5
        );
        let r = rule(
            "Shard_*",
            "t_*",
            MappingExpression::PartitionId,
            &["1", "Shard", "t", "_"],
        );
        let mapper = ColumnMapper::new(&r, false).unwrap();
        assert_eq!(
            map_int(&mapper, "Shard_3", "t_4", 5)
                .unwrap_err()
                .to_string(),
            "Shard_ is not the prefix of shard_3 not valid"
        );
        let mapper = ColumnMapper::new(&r, true).unwrap();
        assert_eq!(
            map_int(&mapper, "Shard_3", "t_4", 5).unwrap(),
            1 << 59 | 3 << 52 | 4 << 44 | 5
        );
    }

    #[test]
    fn value_types() {
        let mapper = ColumnMapper::new(&partition_rule(&["2", "", ""]), false).unwrap();
        let map = |v: ColumnValue| mapper.map_value("dmtest2", "t1", 1, &v);
        assert_eq!(
            map(ColumnValue::UInt(372)).unwrap(),
            ColumnValue::Int(1_152_921_504_606_847_348)
        );
        // Strings (the loader's path) stay strings.
        assert_eq!(
            map(ColumnValue::Str("372".into())).unwrap(),
            ColumnValue::Str("1152921504606847348".into())
        );
        assert_eq!(
            map(ColumnValue::Str("ha".into())).unwrap_err().to_string(),
            "column 1 value is not int, but ha, which is not valid"
        );
        assert_eq!(
            map(ColumnValue::Str("-5".into())).unwrap_err().to_string(),
            "id must less than 17592186044416, greater than or equal to 0, but got -5, which is not valid"
        );
        assert_eq!(
            map(ColumnValue::Null).unwrap_err().to_string(),
            "type <nil>(<nil>) not valid"
        );
        assert_eq!(
            map(ColumnValue::Float(1.5)).unwrap_err().to_string(),
            "type float64(1.5) not valid"
        );
        assert_eq!(
            map(ColumnValue::Bytes(vec![49, 50]))
                .unwrap_err()
                .to_string(),
            "type []uint8([49 50]) not valid"
        );
    }

    #[test]
    fn add_prefix_and_suffix() {
        let mut r = rule(
            "test*",
            "xxx*",
            MappingExpression::AddPrefix,
            &["instance_id:"],
        );
        r.target_column = "name".into();
        let prefix = ColumnMapper::new(&r, false).unwrap();
        let mut row = vec![ColumnValue::Int(1), ColumnValue::Str("1".into())];
        assert_eq!(
            prefix
                .map_row("Test", "xxx", &["age", "name"], &mut row)
                .unwrap(),
            1
        );
        assert_eq!(row[1], ColumnValue::Str("instance_id:1".into()));

        r.expression = MappingExpression::AddSuffix;
        r.arguments = vec![":suffix".into()];
        let suffix = ColumnMapper::new(&r, false).unwrap();
        let mut row = vec![ColumnValue::Str("a".into())];
        suffix.map_row("test", "xxx", &["name"], &mut row).unwrap();
        assert_eq!(row[0], ColumnValue::Str("a:suffix".into()));

        let err = suffix
            .map_value("test", "xxx", 3, &ColumnValue::Int(7))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "column 3 value is not string, but 7, which is not valid"
        );
        let err = suffix
            .map_row("test", "xxx", &["age"], &mut [ColumnValue::Int(1)])
            .unwrap_err();
        assert_eq!(err.to_string(), "target column name not found");
        let err = suffix
            .map_row("test", "xxx", &["a", "name"], &mut [ColumnValue::Int(1)])
            .unwrap_err();
        assert!(matches!(
            err,
            RuleError::RowTooShort {
                values: 1,
                position: 1
            }
        ));
    }

    #[test]
    fn rule_validation_messages() {
        let err = ColumnMapper::new(&partition_rule(&["1", ""]), false).unwrap_err();
        assert_eq!(err.to_string(), "arguments [1 ] for patition id not valid");
        let err = ColumnMapper::new(&partition_rule(&["1", "", "", "", ""]), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "arguments [1    ] for patition id not valid"
        );
        let err = ColumnMapper::new(&rule("a", "", MappingExpression::AddPrefix, &[]), false)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "arguments [] for add prefix/suffix not valid"
        );
        let mut r = partition_rule(&["1", "", ""]);
        r.target_column = String::new();
        let err = ColumnMapper::new(&r, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rule need to be applied a target column not valid"
        );
        let args = ColumnMapper::new(&partition_rule(&["1", "s", "t"]), false).unwrap();
        assert_eq!(
            args.partition_args(),
            Some(&PartitionArgs::new("1", "s", "t", ""))
        );
    }

    #[test]
    fn one_rule_per_table() {
        let rules = [
            rule("db*", "", MappingExpression::PartitionId, &["1", "", ""]),
            rule("db1", "", MappingExpression::PartitionId, &["2", "", ""]),
            rule("db*", "t_*", MappingExpression::PartitionId, &["3", "", ""]),
            rule("db*", "t_1", MappingExpression::PartitionId, &["4", "", ""]),
        ];
        let m = ColumnMappings::new(&rules, false).unwrap();
        // One table-level rule decides even though two schema rules match.
        let mapper = m.mapper_for("db1", "t_2").unwrap().unwrap();
        assert_eq!(mapper.partition_args().unwrap().instance_id, "3");
        let err = m.mapper_for("DB1", "T_1").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`db1`.`t_1` matches 2 table column mapping rules which should be one. It's not supported"
        );
        let err = m.mapper_for("db1", "x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`db1`.`x` matches 2 schema column mapping rules which should be one. It's not supported"
        );
        assert_eq!(
            m.mapper_for("db2", "x")
                .unwrap()
                .unwrap()
                .partition_args()
                .unwrap()
                .instance_id,
            "1"
        );
        assert!(m.mapper_for("other", "t_1").unwrap().is_none());

        // Only table-level rules, asked about a schema-level statement where
        // `*` matches the empty table name: zero schema rules is an error too.
        let rules = [rule(
            "db",
            "*",
            MappingExpression::PartitionId,
            &["1", "", ""],
        )];
        let m = ColumnMappings::new(&rules, false).unwrap();
        assert!(matches!(
            m.mapper_for("db", ""),
            Err(RuleError::AmbiguousColumnMapping { count: 0, .. })
        ));
        assert!(m.mapper_for("db", "t").unwrap().is_some());
    }

    #[test]
    fn map_rows_through_the_set() {
        let rules = [rule(
            "dmtest2",
            "t1",
            MappingExpression::PartitionId,
            &["3", "", ""],
        )];
        let m = ColumnMappings::new(&rules, false).unwrap();
        let cols = ["id", "c", "port"];
        let mut row = vec![
            ColumnValue::Int(372),
            ColumnValue::Str("24b16fede9a67c9251d3e7c7161c83ac".into()),
            ColumnValue::Int(3309),
        ];
        assert_eq!(
            m.map_row("dmtest2", "t1", &cols, &mut row).unwrap(),
            Some(0)
        );
        assert_eq!(row[0], ColumnValue::Int(1_729_382_256_910_270_836));
        let mut other = vec![ColumnValue::Int(372)];
        assert_eq!(
            m.map_row("dmtest1", "t1", &["id"], &mut other).unwrap(),
            None
        );
        assert_eq!(other[0], ColumnValue::Int(372));
        assert!(ColumnMappings::none().is_empty());

        let dup = [
            rule("a", "b", MappingExpression::PartitionId, &["1", "", ""]),
            rule("a", "b", MappingExpression::PartitionId, &["2", "", ""]),
        ];
        assert!(matches!(
            ColumnMappings::new(&dup, false),
            Err(RuleError::DuplicatePattern { .. })
        ));
    }
}
