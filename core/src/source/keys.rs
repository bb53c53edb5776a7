//! The fields the enabled targets key people on, as every source needs them: a source checks
//! that each person can be keyed by some target and leaves out two people with one key.

use std::collections::BTreeSet;

use crate::model::Person;

/// The mapping fields the enabled targets key people on.
///
/// Each target keys a person with its key template, and some targets key some people with
/// another (PowerSchool: staff by teacher number, students by student id). So a target's key is
/// a list of field sets, its main template's first: the target can key a person when every
/// field of one of its sets is filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFields {
    targets: Vec<Vec<Vec<String>>>,
}

impl KeyFields {
    /// One target per field, each keyed on that field alone.
    pub fn each<S: AsRef<str>>(fields: &[S]) -> Self {
        let mut keys = KeyFields::default();
        for f in fields {
            keys.add(vec![f.as_ref().to_string()], Vec::new());
        }
        keys
    }

    /// Adds a target keyed on the fields `main`, or on one of the sets `others`.
    pub fn add(&mut self, main: Vec<String>, others: Vec<Vec<String>>) {
        let sets: Vec<Vec<String>> = std::iter::once(main)
            .chain(others)
            .filter(|set| !set.is_empty())
            .collect();
        if !sets.is_empty() {
            self.targets.push(sets);
        }
    }

    /// Whether no target keys on any field.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The columns a CSV mapping must have: the fields of every target's main key.
    pub fn columns(&self) -> BTreeSet<&str> {
        self.targets
            .iter()
            .filter_map(|sets| sets.first())
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// Every field some target keys some people on.
    pub fn fields(&self) -> BTreeSet<&str> {
        self.targets
            .iter()
            .flatten()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// If a target cannot key `person`, the first field of that target's main key that is not
    /// filled in.
    pub fn missing(&self, person: &Person) -> Option<&str> {
        let has = |set: &Vec<String>| set.iter().all(|f| person.field(f).is_some());
        let sets = self.targets.iter().find(|sets| !sets.iter().any(has))?;
        sets.first()?
            .iter()
            .find(|f| person.field(f).is_none())
            .map(String::as_str)
    }
}

/// A PowerSchool-like target: students by `student_id`, staff by `teacher_number`.
#[cfg(test)]
pub(crate) fn students_and_staff() -> KeyFields {
    let mut k = KeyFields::default();
    k.add(
        vec!["student_id".into()],
        vec![vec!["teacher_number".into()]],
    );
    k
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::Origin;

    #[test]
    fn key_fields_say_which_field_a_target_misses() {
        let person = |fields: &[(&str, &str)]| Person {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            photo: PathBuf::new(),
            origin: Origin {
                file: PathBuf::new(),
                line: 0,
            },
        };
        let mut k = students_and_staff();
        k.add(vec!["mail".into()], Vec::new());
        assert_eq!(
            k.columns().into_iter().collect::<Vec<_>>(),
            ["mail", "student_id"]
        );
        assert_eq!(
            k.fields().into_iter().collect::<Vec<_>>(),
            ["mail", "student_id", "teacher_number"]
        );
        let staff = person(&[("teacher_number", "T42"), ("mail", "t@s")]);
        assert_eq!(k.missing(&staff), None);
        let student = person(&[("student_id", "1"), ("mail", "s@s")]);
        assert_eq!(k.missing(&student), None);
        // Neither of the SIS target's keys: its main key's field is named.
        assert_eq!(k.missing(&person(&[("mail", "x@s")])), Some("student_id"));
        assert_eq!(k.missing(&person(&[("student_id", "1")])), Some("mail"));
        assert!(KeyFields::default().missing(&person(&[])).is_none());
    }
}
