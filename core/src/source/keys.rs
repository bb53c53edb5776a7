//! The keys the enabled targets give people, as every source needs them: a source checks
//! that each person can be keyed by some target and leaves out two people with one key.
//!
//! Two rows are the same person for a target when the target renders the same key for both
//! (`{grade}/{mail}.jpg` gives `9/a@s.jpg` and `9/b@s.jpg`: two people, though both are in
//! grade 9), compared without case where the target's keys ignore case. A column that only
//! takes part in a key is not an identity of its own.

use std::collections::BTreeSet;

use crate::model::{Person, Template};
use crate::target::TargetInfo;

/// One target's keys: its templates, the main one first, and whether keys ignore case.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TargetKeys {
    templates: Vec<Template>,
    case_insensitive: bool,
}

/// The keys the enabled targets give people.
///
/// Each target keys a person with its key template, and some targets key some people with
/// another (PowerSchool: staff by teacher number, students by student id). A target can key a
/// person when every field of one of its templates is filled in, and keys them with the first
/// such template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFields {
    targets: Vec<TargetKeys>,
}

/// A template made of fields alone, for keys given as field lists.
fn of_fields(fields: &[String]) -> Option<Template> {
    let source: Vec<String> = fields.iter().map(|f| format!("{{{f}}}")).collect();
    Template::parse(&source.join("\u{1f}")).ok()
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

    /// Adds a target keyed on the fields `main`, or on one of the sets `others`, compared
    /// without case.
    pub fn add(&mut self, main: Vec<String>, others: Vec<Vec<String>>) {
        let templates: Vec<Template> = std::iter::once(main)
            .chain(others)
            .filter(|set| !set.is_empty())
            .filter_map(|set| of_fields(&set))
            .collect();
        self.push(templates, true);
    }

    /// Adds a target as it keys people: its templates and whether its keys ignore case.
    pub fn add_target(&mut self, info: &TargetInfo) {
        let templates = info
            .key_templates()
            .filter(|t| t.fields().next().is_some())
            .cloned()
            .collect();
        self.push(templates, info.capabilities.keys_case_insensitive);
    }

    fn push(&mut self, templates: Vec<Template>, case_insensitive: bool) {
        if !templates.is_empty() {
            self.targets.push(TargetKeys {
                templates,
                case_insensitive,
            });
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
            .filter_map(|t| t.templates.first())
            .flat_map(|t| t.fields())
            .collect()
    }

    /// Every field some target keys some people on.
    pub fn fields(&self) -> BTreeSet<&str> {
        self.targets
            .iter()
            .flat_map(|t| &t.templates)
            .flat_map(|t| t.fields())
            .collect()
    }

    /// If a target cannot key `person`, the first field of that target's main key that is not
    /// filled in.
    pub fn missing(&self, person: &Person) -> Option<&str> {
        let has = |t: &Template| t.fields().all(|f| person.field(f).is_some());
        let target = self.targets.iter().find(|t| !t.templates.iter().any(has))?;
        target
            .templates
            .first()?
            .fields()
            .find(|f| person.field(f).is_none())
    }

    /// The keys the targets give `person`, one per target that can key them (targets keying
    /// alike give one). Two people with an equal [`Key::compared`] are the same person to
    /// some target.
    pub fn keys(&self, person: &Person) -> Vec<Key> {
        let mut keys: Vec<Key> = Vec::new();
        for target in &self.targets {
            let Some((template, value)) = target
                .templates
                .iter()
                .find_map(|t| Some((t, t.render(person).ok()?)))
            else {
                continue;
            };
            let fields: Vec<String> = template.fields().map(|f| format!("`{f}`")).collect();
            let (what, value) = if template.as_str().contains('\u{1f}')
                || fields.len() == 1
                    && template.as_str() == format!("{{{}}}", &fields[0][1..fields[0].len() - 1])
            {
                (fields.join(" + "), value.replace('\u{1f}', " + "))
            } else {
                (format!("`{template}`"), value)
            };
            let folded = if target.case_insensitive {
                value.to_lowercase()
            } else {
                value.clone()
            };
            let compared = format!("{template}\n{folded}");
            if !keys.iter().any(|k| k.compared == compared) {
                keys.push(Key {
                    what,
                    value,
                    compared,
                });
            }
        }
        keys
    }
}

/// A person's key for a target, as [`KeyFields::keys`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// What the key is made of: `` `mail` `` for one column, else the template.
    pub what: String,
    /// The key as the target renders it.
    pub value: String,
    /// The key as the target compares it (with its template; case-folded where keys ignore
    /// case).
    pub compared: String,
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
