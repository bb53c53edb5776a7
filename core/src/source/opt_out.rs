//! Opt-outs: people who must have no photo in any directory.
//!
//! Under FERPA a student's photo is directory information that parents may withhold, and staff
//! may decline too. The mapping (or a PSPA delivery's roster) carries the answer in a column,
//! named by `[source] opt_out = "{photo_opt_out}"` (a template, so that a school can combine
//! columns). `push` sends opted-out people nothing and reports them, `remove --opted-out` takes
//! their photos down. A value picday cannot read as yes or no is never guessed: the row is left
//! out with advice, and nothing is sent for it.

use super::{Mapping, RowProblem};
use crate::model::{Person, Template};

/// Values that mean "opted out", compared without case.
pub const YES: &[&str] = &["yes", "y", "true", "1", "x"];
/// Values that mean "not opted out", besides a blank cell.
pub const NO: &[&str] = &["no", "n", "false", "0", "-"];

/// The `[source] opt_out` template and what its values mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOut {
    template: Template,
}

impl OptOut {
    pub fn new(template: Template) -> Self {
        OptOut { template }
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    /// What the person's row says: `Ok(true)` opted out, `Ok(false)` not (a blank or missing
    /// value included), `Err(value)` for a value that is neither.
    pub fn answer(&self, person: &Person) -> Result<bool, String> {
        // A blank column fails to render: that is "no".
        let Ok(value) = self.template.render(person) else {
            return Ok(false);
        };
        let value = value.trim();
        if value.is_empty() || NO.iter().any(|n| value.eq_ignore_ascii_case(n)) {
            Ok(false)
        } else if YES.iter().any(|y| value.eq_ignore_ascii_case(y)) {
            Ok(true)
        } else {
            Err(value.to_string())
        }
    }

    /// Whether nothing may be sent for the person: opted out, or a value that is neither yes
    /// nor no (never guessed).
    pub fn applies(&self, person: &Person) -> bool {
        self.answer(person) != Ok(false)
    }

    /// Leaves out the people whose value is neither yes nor no, with advice, so that nothing
    /// is sent for them and the user hears of it.
    pub fn screen(&self, mapping: &mut Mapping) {
        let mut marked = Vec::with_capacity(mapping.people.len());
        for person in &mapping.people {
            let bad = match self.answer(person) {
                Err(value) => {
                    mapping.problems.push(RowProblem::about(
                        person,
                        format!(
                            "the opt-out value {value:?} (from `{}`) is neither yes nor no; \
                             nothing is sent for this person",
                            self.template.as_str()
                        ),
                        format!(
                            "write one of {} for an opt-out, or one of {} or nothing for none",
                            YES.join(", "),
                            NO.join(", ")
                        ),
                    ));
                    true
                }
                Ok(_) => false,
            };
            marked.push(bad);
        }
        mapping.leave_out(&marked);
    }

    /// The columns the template reads, none of which the mapping has: a misspelt column name
    /// would otherwise make nobody opted out.
    pub fn missing_columns<'a>(&'a self, people: &[Person]) -> Vec<&'a str> {
        if people.is_empty() {
            return Vec::new();
        }
        self.template
            .fields()
            .filter(|f| !people.iter().any(|p| p.fields.contains_key(*f)))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn person(value: &str) -> Person {
        Person::new("a.jpg", [("mail", "a@s"), ("photo_opt_out", value)])
    }

    #[test]
    fn yes_values_in_any_case_opt_out_and_no_values_or_blanks_do_not() {
        let o = OptOut::new(Template::parse("{photo_opt_out}").unwrap());
        for v in ["yes", "Y", "TRUE", "1", "x", " X "] {
            assert_eq!(o.answer(&person(v)), Ok(true), "{v}");
        }
        for v in ["", " ", "no", "N", "false", "0", "-"] {
            assert_eq!(o.answer(&person(v)), Ok(false), "{v:?}");
        }
        assert_eq!(o.answer(&person("maybe")), Err("maybe".into()));
        assert!(
            o.applies(&person("maybe")),
            "an unreadable value is never a yes to send"
        );
        let none = Person::new("a.jpg", [("mail", "a@s")]);
        assert_eq!(o.answer(&none), Ok(false));
    }

    #[test]
    fn unreadable_values_are_left_out_with_advice_and_a_misspelt_column_is_found() {
        let o = OptOut::new(Template::parse("{photo_opt_out}").unwrap());
        let mut mapping = Mapping {
            people: vec![person("yes"), person("perhaps"), person("")],
            ..Mapping::default()
        };
        o.screen(&mut mapping);
        assert_eq!(mapping.people.len(), 2);
        assert_eq!(mapping.problems.len(), 1);
        assert!(mapping.problems[0].message.contains("perhaps"));
        assert!(o.missing_columns(&mapping.people).is_empty());
        let typo = OptOut::new(Template::parse("{photo_optout}").unwrap());
        assert_eq!(typo.missing_columns(&mapping.people), vec!["photo_optout"]);
    }
}
