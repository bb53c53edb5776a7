//! Reading a photographer's PSPA/PSPI delivery as picday's input.
//!
//! School photographers deliver portraits as a "PSPA CD": a volume folder with `INDEX.TXT` (or
//! `MASTER.TXT`, which also holds retakes) and image folders. The index is loosely specified in
//! practice: tab- or comma-delimited, with or without a header row, the 13 standard columns or
//! the 7- and 8-column variants of some yearbook tools, and extra columns after them
//! (`index`). It also has **no student id**, so the delivery is joined to a roster exported
//! from the SIS (`roster`), on configurable fields (name and grade by default) compared
//! without case, accents or leading zeros (`join`). A row that matches no one, or more than
//! one person, is reported for review with its file and line, and never guessed: a photo on
//! the wrong student is worse than no photo.
//!
//! The result is an ordinary [`Mapping`], so the engine and the targets do not care where the
//! people came from; [`MatchStats`] says how the join went, for `picday check`.

mod index;
mod join;
mod roster;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use index::STANDARD_COLUMNS;
pub use roster::normalize;

use crate::error::{Error, Result};
pub use crate::source::config::Layout;
use crate::source::config::SourceConfig;
use crate::source::table::decode_text;
use crate::source::{KeyFields, Mapping, RowProblem};

/// The index fields compared with the roster by default.
pub const DEFAULT_MATCH_ON: [&str; 3] = ["last_name", "first_name", "grade"];

/// How to read a delivery: the `[source]` keys of `format = "pspa"`, paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PspaOptions {
    /// The roster CSV; without one, people only have the index's fields.
    pub roster: Option<PathBuf>,
    /// Index fields compared with the roster.
    pub match_on: Vec<String>,
    /// Index field -> roster column, where the names differ.
    pub roster_columns: BTreeMap<String, String>,
    pub layout: Layout,
    /// Names for the columns after the layout's, when there is no header row.
    pub extra_columns: Vec<String>,
}

impl Default for PspaOptions {
    fn default() -> Self {
        PspaOptions {
            roster: None,
            match_on: DEFAULT_MATCH_ON.iter().map(|s| s.to_string()).collect(),
            roster_columns: BTreeMap::new(),
            layout: Layout::Auto,
            extra_columns: Vec::new(),
        }
    }
}

impl PspaOptions {
    /// The options of a `[source]` section; relative paths are resolved against `base_dir`.
    pub fn from_source(source: &SourceConfig, base_dir: &Path) -> Self {
        let defaults = PspaOptions::default();
        let field_names =
            |fields: &Vec<String>| fields.iter().map(|f| index::field_name(f)).collect();
        PspaOptions {
            roster: source.roster.as_ref().map(|r| base_dir.join(r)),
            match_on: source
                .match_on
                .as_ref()
                .map(field_names)
                .unwrap_or(defaults.match_on),
            roster_columns: source
                .roster_columns
                .as_ref()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (index::field_name(k), v.trim().to_lowercase()))
                        .collect()
                })
                .unwrap_or_default(),
            layout: source.layout.unwrap_or_default(),
            extra_columns: source
                .extra_columns
                .as_ref()
                .map(field_names)
                .unwrap_or_default(),
        }
    }

    /// The roster column compared with an index field.
    fn roster_column<'a>(&'a self, field: &'a str) -> &'a str {
        self.roster_columns
            .get(field)
            .map(String::as_str)
            .unwrap_or(field)
    }
}

/// Why an index row is not in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The row could not be read, or lacks the image file name or a key.
    Unusable,
    /// No roster person has the row's match fields.
    NoMatch,
    /// Several roster people have the row's match fields.
    Ambiguous,
    /// Another row is matched to the same person (or key) with a different photo.
    SamePerson,
    /// The image file is not in the delivery.
    PhotoMissing,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unusable => "unusable row",
            Reason::NoMatch => "no roster match",
            Reason::Ambiguous => "several roster matches",
            Reason::SamePerson => "same person on several rows",
            Reason::PhotoMissing => "photo file missing",
        }
    }
}

/// An index row left out of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmatched {
    pub reason: Reason,
    pub problem: RowProblem,
}

/// How a delivery was read and joined: what `picday check` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MatchStats {
    /// The index files read (one per volume).
    pub index_files: Vec<PathBuf>,
    /// Per index file: delimiter, header row, layout.
    pub formats: Vec<String>,
    /// The roster, when there is one.
    pub roster: Option<PathBuf>,
    /// People in the roster.
    pub roster_rows: usize,
    /// The index fields compared with the roster.
    pub match_on: Vec<String>,
    /// Index rows read (blank rows not counted).
    pub rows: usize,
    /// Rows that became people of the run.
    pub matched: usize,
    /// Rows left out, with why.
    pub unmatched: Vec<Unmatched>,
    /// Roster people no index row was matched to (label and roster line).
    pub roster_without_photo: Vec<(String, u64)>,
}

impl MatchStats {
    /// Left-out rows counted by reason.
    pub fn by_reason(&self) -> BTreeMap<Reason, usize> {
        let mut counts = BTreeMap::new();
        for u in &self.unmatched {
            *counts.entry(u.reason).or_insert(0) += 1;
        }
        counts
    }
}

/// The report `picday check` prints for a delivery.
impl fmt::Display for MatchStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (file, format) in self.index_files.iter().zip(&self.formats) {
            writeln!(f, "PSPA index {}: {format}", file.display())?;
        }
        match &self.roster {
            Some(r) => writeln!(
                f,
                "roster {}: {} people, matched on {} (ignoring case, accents and leading zeros)",
                r.display(),
                self.roster_rows,
                self.match_on.join(", ")
            )?,
            None => writeln!(f, "no roster: people have only the index's fields")?,
        }
        writeln!(
            f,
            "{} index rows: {} matched, {} left out",
            self.rows,
            self.matched,
            self.unmatched.len()
        )?;
        for (reason, count) in self.by_reason() {
            writeln!(f, "  {}: {count}", reason.as_str())?;
            for u in self.unmatched.iter().filter(|u| u.reason == reason) {
                let p = &u.problem;
                let who = if p.person.is_empty() {
                    String::new()
                } else {
                    format!(" {}", p.person)
                };
                writeln!(f, "    {}{who}: {}", p.origin, p.message)?;
                writeln!(f, "      -> {}", p.advice)?;
            }
        }
        if self.roster.is_some() {
            writeln!(
                f,
                "{} roster people have no photo in the delivery",
                self.roster_without_photo.len()
            )?;
            for (who, line) in self.roster_without_photo.iter().take(20) {
                writeln!(f, "    roster line {line}: {who}")?;
            }
            if self.roster_without_photo.len() > 20 {
                writeln!(
                    f,
                    "    ... and {} more",
                    self.roster_without_photo.len() - 20
                )?;
            }
        }
        Ok(())
    }
}

/// A delivery read and joined: the people of the run and how the join went.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub mapping: Mapping,
    pub stats: MatchStats,
}

/// Reads a delivery: `path` is the index file, its volume folder, or a folder holding volume
/// folders. `key_fields` are the fields the enabled targets key on: a person some target cannot
/// key is reported, and two people with the same value but different photos are both left out.
pub fn read_delivery(
    path: &Path,
    options: &PspaOptions,
    key_fields: &KeyFields,
) -> Result<Delivery> {
    let indexes = index::find_indexes(path)?;
    let mut notes = Vec::new();
    let roster = match &options.roster {
        Some(r) => Some(roster::Roster::read(r, options, &mut notes)?),
        None => None,
    };
    let mut stats = MatchStats {
        roster: options.roster.clone(),
        roster_rows: roster.as_ref().map_or(0, |r| r.rows.len()),
        match_on: options.match_on.clone(),
        ..MatchStats::default()
    };
    // Every usable row, with the roster row it matched.
    let mut rows = Vec::new();
    let mut found_but_left_out = Vec::new();
    for index in &indexes {
        let bytes = std::fs::read(index)
            .map_err(|e| Error::io(index, e).prefixed("cannot read the PSPA index"))?;
        let text = decode_text(&bytes, &mut notes);
        let parsed = index::parse_index(index, &text, options)?;
        stats.index_files.push(index.clone());
        stats.formats.push(parsed.format);
        let volume_dir = index.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut files = join::FileCache::default();
        for row in parsed.rows {
            stats.rows += 1;
            match join::resolve_row(
                row,
                &volume_dir,
                roster.as_ref(),
                options,
                key_fields,
                &mut files,
            ) {
                Ok(done) => rows.push(done),
                Err((u, matched)) => {
                    stats.unmatched.push(*u);
                    found_but_left_out.extend(matched);
                }
            }
        }
    }
    let people = join::drop_same_person(rows, key_fields, &mut stats, roster.as_ref());
    if let Some(roster) = &roster {
        stats.roster_without_photo =
            join::roster_without_photo(roster, &people, &found_but_left_out);
    }
    stats.matched = people.len();
    stats.unmatched.sort_by(|a, b| {
        (&a.problem.origin.file, a.problem.origin.line)
            .cmp(&(&b.problem.origin.file, b.problem.origin.line))
    });
    let mapping = Mapping {
        people: people.into_iter().map(|(p, _)| p).collect(),
        problems: stats.unmatched.iter().map(|u| u.problem.clone()).collect(),
        notes,
    };
    Ok(Delivery { mapping, stats })
}
