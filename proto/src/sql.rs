//! SQL text that masters and workers both write: quoted identifiers and
//! the `SET SESSION` statements of a task's sessions.
//!
//! Everything here is text in, text out. Value literals, which depend on a
//! column's type, belong to the worker's SQL module, which builds on these.

/// Backtick-quotes an identifier (a backtick inside is doubled).
pub fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

/// `schema`.`table`, both quoted.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote(schema), quote(table))
}

/// A quoted string literal with MySQL's backslash escapes (sessions run
/// without `NO_BACKSLASH_ESCAPES`).
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `SET SESSION name = value`: `value` unquoted when it is a plain number
/// or `DEFAULT`, a string literal otherwise.
pub fn set_session(name: &str, value: &str) -> String {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let plain_number = digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits.matches('.').count() <= 1;
    let literal = if plain_number || value.eq_ignore_ascii_case("DEFAULT") {
        value.to_string()
    } else {
        string_literal(value)
    };
    format!("SET SESSION {name} = {literal}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_double_their_backticks() {
        assert_eq!(quote("a`b"), "`a``b`");
        assert_eq!(qualified("s", "t"), "`s`.`t`");
    }

    #[test]
    fn session_values_are_literals_unless_numbers() {
        assert_eq!(set_session("a", "10"), "SET SESSION a = 10");
        assert_eq!(set_session("a", "-1.5"), "SET SESSION a = -1.5");
        assert_eq!(set_session("a", "default"), "SET SESSION a = default");
        assert_eq!(set_session("a", "+08:00"), "SET SESSION a = '+08:00'");
        assert_eq!(set_session("a", "it's"), "SET SESSION a = 'it\\'s'");
        assert_eq!(set_session("a", "."), "SET SESSION a = '.'");
    }
}
