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

/// The roster, indexed by the normalised match fields.
pub(super) struct Roster {
    pub(super) path: PathBuf,
    pub(super) rows: Vec<Person>,
    by_key: HashMap<Vec<String>, Vec<usize>>,
    /// Per left-out match field: the key without it, for "why did it not match".
    partial: Vec<HashMap<Vec<String>, Vec<usize>>>,
    columns: Vec<String>,
}

impl Roster {
    pub(super) fn read(
        path: &Path,
        options: &PspaOptions,
        notes: &mut Vec<String>,
    ) -> Result<Roster> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(path, e).prefixed("cannot read the roster"))?;
        let text = decode_text(&bytes, notes);
        let (mut reader, headers) = csv_with_header(path, &text)?;
        let columns: Vec<String> = options
            .match_on
            .iter()
            .map(|f| options.roster_column(f).to_string())
            .collect();
        for c in &columns {
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
        let mut roster = Roster {
            path: path.to_path_buf(),
            rows,
            by_key: HashMap::new(),
            partial: vec![HashMap::new(); columns.len()],
            columns,
        };
        for i in 0..roster.rows.len() {
            let key: Vec<String> = roster
                .columns
                .iter()
                .map(|c| normalize(roster.rows[i].fields.get(c).map_or("", String::as_str)))
                .collect();
            for (skip, partial) in roster.partial.iter_mut().enumerate() {
                partial.entry(without(&key, skip)).or_default().push(i);
            }
            roster.by_key.entry(key).or_default().push(i);
        }
        Ok(roster)
    }

    /// The roster rows whose normalised match fields are `key`.
    pub(super) fn matches(&self, key: &[String]) -> &[usize] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// Why `key` matched no one, when it is one field away from some rows: "; only `grade`
    /// differs: roster line 2 has grade=9" (`match_on` names the fields as the index does).
    pub(super) fn near_miss(&self, key: &[String], match_on: &[String]) -> String {
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
                        let r = &self.rows[i];
                        format!(
                            "line {} has {column}={}",
                            r.origin.line,
                            r.fields.get(column).map_or("", String::as_str)
                        )
                    })
                    .collect();
                Some(format!(
                    "; only `{}` differs: roster {}",
                    match_on[skip],
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
