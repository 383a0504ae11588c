//! A column type's text in one form, shared by the schema tracker and
//! the sync's comparison of `CREATE TABLE` statements: lowercase, MySQL's
//! synonyms resolved (`integer` is `int`, `numeric` is `decimal`, ...),
//! integer display widths dropped, implied lengths written out
//! (`decimal` is `decimal(10,0)`, `char` is `char(1)`), and the
//! `unsigned` / `zerofill` attributes taken apart from the name.

use sqlparser::ast::DataType;

/// A type's parts in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeWords {
    /// The type's name (`int`, `varchar`, `double`).
    pub base: String,
    /// What stands in its parentheses, without spaces (`10,2`).
    pub args: Option<String>,
    pub unsigned: bool,
    pub zerofill: bool,
}

impl TypeWords {
    /// `base(args)`, without the attributes.
    pub fn name(&self) -> String {
        match &self.args {
            Some(a) => format!("{}({a})", self.base),
            None => self.base.clone(),
        }
    }
}

/// Reads `data_type` (as sqlparser prints it) into [`TypeWords`].
pub(crate) fn type_words(data_type: &DataType) -> TypeWords {
    let text = data_type.to_string();
    let (before, args, after) = match (text.find('('), text.rfind(')')) {
        (Some(open), Some(close)) if open < close => (
            text.get(..open).unwrap_or_default(),
            text.get(open + 1..close),
            text.get(close + 1..).unwrap_or_default(),
        ),
        _ => (text.as_str(), None, ""),
    };
    let mut unsigned = false;
    let mut zerofill = false;
    let mut words = Vec::new();
    for w in before.split_whitespace().chain(after.split_whitespace()) {
        match w.to_ascii_lowercase().as_str() {
            "unsigned" => unsigned = true,
            "zerofill" => zerofill = true,
            "signed" => {}
            other => words.push(other.to_string()),
        }
    }
    let base = match words.join(" ").as_str() {
        "integer" | "int4" => "int".to_string(),
        "bool" | "boolean" | "int1" => "tinyint".to_string(),
        "int2" => "smallint".to_string(),
        "int3" | "middleint" => "mediumint".to_string(),
        "int8" => "bigint".to_string(),
        "serial" => {
            unsigned = true;
            "bigint".to_string()
        }
        "dec" | "numeric" | "fixed" => "decimal".to_string(),
        "real" | "double precision" | "float8" => "double".to_string(),
        "float4" => "float".to_string(),
        "character varying" | "char varying" => "varchar".to_string(),
        "character" => "char".to_string(),
        other => other.to_string(),
    };
    let args = match base.as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" | "year" => None,
        "decimal" => Some(match args.map(|a| a.replace(' ', "")) {
            None => "10,0".to_string(),
            Some(p) if !p.contains(',') => format!("{p},0"),
            Some(a) => a,
        }),
        "char" | "binary" | "bit" => Some(args.unwrap_or("1").replace(' ', "")),
        _ => args.map(|a| a.replace(' ', "")),
    };
    TypeWords {
        base,
        args,
        unsigned,
        zerofill,
    }
}
