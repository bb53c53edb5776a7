//! The roster side of a delivery: the SIS export that gives index rows their ids and e-mails,
//! indexed by the match fields as people write them (no case, accents or leading zeros), with
//! enough on the side to say why a row matched no one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::PspaOptions;
use crate::error::{Error, Result};
use crate::model::{Origin, Person};
use crate::source::table::{csv_with_header, decode_text, records};

/// Compares values the way people write them: no case, no accents, single spaces, and
/// numbers without leading zeros (grade `09` is grade `9`).
pub fn normalize(value: &str) -> String {
    let folded: String = value
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    let spaced = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    if !spaced.is_empty() && spaced.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = spaced.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        }
    } else {
        spaced
    }
}

/// The roster rows, indexed by the normalised match fields: students on every match field,
/// staff on the match fields without `grade` (a teacher's grade says nothing).
pub(super) struct Roster {
    pub(super) path: PathBuf,
    pub(super) rows: Vec<Person>,
    students: Index,
    staff: Index,
}

/// Roster rows by their match fields.
pub(super) struct Index {
    by_key: HashMap<Vec<String>, Vec<usize>>,
    /// Per left-out match field: the key without it, for "why did it not match".
    partial: Vec<HashMap<Vec<String>, Vec<usize>>>,
    /// The index fields matched on, and the roster column of each.
    pub(super) fields: Vec<String>,
    columns: Vec<String>,
}

impl Roster {
    /// Reads a roster CSV: its rows, each a person without a photo, and its header. Every
    /// match field must have its column.
    pub(super) fn read_rows(
        path: &Path,
        options: &PspaOptions,
        fields: &[String],
        notes: &mut Vec<String>,
    ) -> Result<Vec<Person>> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(path, e).prefixed("cannot read the roster"))?;
        let text = decode_text(&bytes, notes);
        let (mut reader, headers) = csv_with_header(path, &text)?;
        for f in fields {
            let c = options.roster_column(f);
            if !headers.iter().any(|h| h == c) {
                return Err(Error::config(format!(
                    "{}: the roster has no `{c}` column to match on (it has: {}); set [source] match_on or roster_columns",
                    path.display(),
                    headers.join(", ")
                )));
            }
        }
        let mut rows = Vec::new();
        for (line, record) in records(&mut reader, &text) {
            let record = record.map_err(|e| {
                Error::input(format!("{}: unreadable roster row: {e}", path.display()))
            })?;
            let fields = headers
                .iter()
                .zip(record.iter())
                .filter(|(h, _)| !h.is_empty())
                .map(|(h, v)| (h.clone(), v.to_string()))
                .collect();
            rows.push(Person {
                fields,
                photo: PathBuf::new(),
                origin: Origin {
                    file: path.to_path_buf(),
                    line,
                },
            });
        }
        Ok(rows)
    }

    /// Reads the roster, and the staff roster if there is one, and indexes them: staff rows
    /// (every row of the staff roster, and the roster's rows that [`PspaOptions::is_staff`]
    /// says are staff) apart from students.
    pub(super) fn read(
        path: &Path,
        options: &PspaOptions,
        notes: &mut Vec<String>,
    ) -> Result<Roster> {
        let mut rows = Self::read_rows(path, options, &options.match_on, notes)?;
        let staff_fields = options.staff_match_on();
        let mut staff: Vec<bool> = rows
            .iter()
            .map(|r| options.is_staff(r, |f| options.roster_column(f)))
            .collect();
        if let Some(staff_path) = &options.staff_roster {
            let more = Self::read_rows(staff_path, options, &staff_fields, notes)?;
            staff.extend(more.iter().map(|_| true));
            rows.extend(more);
        }
        let students = Index::new(&rows, &options.match_on, options, |i| !staff[i]);
        let staff = Index::new(&rows, &staff_fields, options, |i| staff[i]);
        Ok(Roster {
            path: path.to_path_buf(),
            rows,
            students,
            staff,
        })
    }

    /// The index staff rows (`staff`) or student rows are matched with.
    pub(super) fn index(&self, staff: bool) -> &Index {
        if staff { &self.staff } else { &self.students }
    }
}

impl Index {
    /// Indexes the roster rows that `keep` keeps by the match fields `fields` (index field
    /// names), compared as [`PspaOptions::match_value`] compares them.
    fn new(
        rows: &[Person],
        fields: &[String],
        options: &PspaOptions,
        keep: impl Fn(usize) -> bool,
    ) -> Index {
        let columns: Vec<String> = fields
            .iter()
            .map(|f| options.roster_column(f).to_string())
            .collect();
        let mut index = Index {
            by_key: HashMap::new(),
            partial: vec![HashMap::new(); columns.len()],
            fields: fields.to_vec(),
            columns,
        };
        for (i, row) in rows.iter().enumerate().filter(|(i, _)| keep(*i)) {
            let key: Vec<String> = index
                .fields
                .iter()
                .zip(&index.columns)
                .map(|(f, c)| options.match_value(f, row.fields.get(c).map_or("", String::as_str)))
                .collect();
            for (skip, partial) in index.partial.iter_mut().enumerate() {
                partial.entry(without(&key, skip)).or_default().push(i);
            }
            index.by_key.entry(key).or_default().push(i);
        }
        index
    }

    /// The roster column of a match field.
    pub(super) fn column_of(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .position(|f| f == field)
            .map(|i| self.columns[i].as_str())
    }

    /// The roster rows whose normalised match fields are `key`.
    pub(super) fn matches(&self, key: &[String]) -> &[usize] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// Why `key` matched no one, when it is one field away from some rows: "; only `grade`
    /// differs: roster line 2 has grade=9" (`match_on` names the fields as the index does).
    pub(super) fn near_miss(&self, key: &[String], rows: &[Person]) -> String {
        self.partial
            .iter()
            .enumerate()
            .find_map(|(skip, partial)| {
                let near = partial.get(&without(key, skip))?;
                let column = &self.columns[skip];
                let values: Vec<String> = near
                    .iter()
                    .take(3)
                    .map(|&i| {
                        let r = &rows[i];
                        format!(
                            "line {} has {column}={}",
                            r.origin.line,
                            r.fields.get(column).map_or("", String::as_str)
                        )
                    })
                    .collect();
                Some(format!(
                    "; only `{}` differs: roster {}",
                    self.fields[skip],
                    values.join(", ")
                ))
            })
            .unwrap_or_default()
    }
}

fn without(key: &[String], skip: usize) -> Vec<String> {
    key.iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, v)| v.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_ignores_case_accents_spaces_and_leading_zeros() {
        assert_eq!(normalize(" José  María "), "jose maria");
        assert_eq!(normalize("ÅSA"), "asa");
        assert_eq!(normalize("09"), "9");
        assert_eq!(normalize("000"), "0");
        assert_eq!(normalize("STAFF"), "staff");
        assert_eq!(normalize("0100200"), "100200");
    }
}
