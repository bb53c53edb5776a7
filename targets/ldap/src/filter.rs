//! Search filters built from a template and a mapping row, with every value escaped.
//!
//! The filter template (`(mail={mail})`) is written by the administrator, but the values come
//! from a CSV that a school secretary or a photographer produced. A value such as `*` or
//! `a)(objectClass=*` must match that literal text, never widen the search (LDAP filter
//! injection would let one row overwrite somebody else's photo), so values are escaped as
//! RFC 4515 section 3 requires before they are put into the filter.

use std::sync::Arc;

use picday_core::{Error, Person, Result, Template};

/// Escapes a value for use inside an LDAP search filter (RFC 4515 section 3): `*`, `(`, `)`,
/// `\` and NUL become `\2a`, `\28`, `\29`, `\5c` and `\00`. Other characters, including
/// non-ASCII letters, stay as they are (filters are UTF-8). `ldap3`'s own escaping, kept
/// behind one name so the tests below pin what picday relies on.
pub fn escape_value(value: &str) -> String {
    ldap3::ldap_escape(value).into_owned()
}

/// Checks a filter template when the configuration is read: parenthesised, balanced, with at
/// least one placeholder (a filter without one would match the same entry for everybody).
pub fn validate_template(template: &Template) -> Result<()> {
    let text = template.as_str().trim();
    if !(text.starts_with('(') && text.ends_with(')')) {
        return Err(Error::config(format!(
            "filter `{text}` must be enclosed in parentheses, e.g. `(mail={{mail}})`"
        )));
    }
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(Error::config(format!(
            "filter `{text}` has unbalanced parentheses"
        )));
    }
    if template.fields().next().is_none() {
        return Err(Error::config(format!(
            "filter `{text}` has no placeholder: it would find the same entry for everyone; \
             use e.g. `(mail={{mail}})` or `(sAMAccountName={{username}})`"
        )));
    }
    // The literal parts must form a valid filter once values are in: try with a harmless one.
    let sample = Person::new(
        "sample.jpg",
        template.fields().map(|f| (f.to_string(), "x".to_string())),
    );
    let rendered = template.render(&sample)?;
    ldap3::parse_filter(&rendered).map_err(|_| {
        Error::config(format!(
            "filter `{text}` is not a valid LDAP filter (RFC 4515)"
        ))
    })?;
    Ok(())
}

/// Renders the filter for a person, escaping every substituted value.
pub fn render(template: &Template, person: &Arc<Person>) -> Result<String> {
    let mut escaped = Person::clone(person);
    for value in escaped.fields.values_mut() {
        *value = escape_value(value.trim());
    }
    template.render(&escaped)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escape_value_escapes_the_rfc4515_specials() {
        assert_eq!(escape_value("a*b"), "a\\2ab");
        assert_eq!(escape_value("(x)"), "\\28x\\29");
        assert_eq!(escape_value("c:\\dir"), "c:\\5cdir");
        assert_eq!(escape_value("nul\0"), "nul\\00");
        assert_eq!(escape_value("Zoë O'Brien"), "Zoë O'Brien");
    }

    #[test]
    fn filter_injection_is_neutralised() {
        let t = Template::parse("(mail={mail})").unwrap();
        let p = Arc::new(Person::new("p.jpg", [("mail", "*)(objectClass=*")]));
        let f = render(&t, &p).unwrap();
        assert_eq!(f, "(mail=\\2a\\29\\28objectClass=\\2a)");
        // Still one equality filter, not a presence filter or a compound one.
        assert!(ldap3::parse_filter(&f).is_ok());
    }

    #[test]
    fn templates_are_validated() {
        for bad in ["mail={mail}", "(mail={mail}", "(mail=x)", "(&(mail={mail})"] {
            let t = Template::parse(bad).unwrap();
            let e = validate_template(&t).unwrap_err();
            assert_eq!(e.kind(), picday_core::ErrorKind::Config, "{bad}: {e}");
        }
        for good in [
            "(mail={mail})",
            "(&(objectClass=user)(sAMAccountName={username}))",
            "(|(mail={mail})(proxyAddresses=smtp:{mail}))",
        ] {
            validate_template(&Template::parse(good).unwrap()).unwrap();
        }
    }
}
