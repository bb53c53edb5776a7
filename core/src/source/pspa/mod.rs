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

mod grades;
mod index;
mod join;
mod roster;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use grades::Grades;
pub use index::STANDARD_COLUMNS;
pub use roster::normalize;

use crate::error::{Error, Result};
use crate::model::{Origin, Person, Template};
pub use crate::source::config::Layout;
use crate::source::config::{Duplicates, SourceConfig};
use crate::source::table::decode_text;
use crate::source::{KeyFields, Mapping, RowProblem};

/// The grade or title values that mark a row as staff by default (compared as [`normalize`]
/// compares them).
pub const DEFAULT_STAFF_VALUES: [&str; 5] = ["Staff", "Faculty", "FAC", "Teacher", "Admin"];

/// The field a source sets to `staff` on staff rows; SIS targets put such people in their
/// staff package, keyed by the staff id.
pub const ROLE_FIELD: &str = "role";

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
    /// Which row is used when one person has several.
    pub duplicates: Duplicates,
    /// Grade or title values that mark staff, normalised.
    pub staff_values: Vec<String>,
    /// A row is also staff when this template renders.
    pub staff_when: Option<Template>,
    /// The staff roster, joined to staff rows.
    pub staff_roster: Option<PathBuf>,
    /// How the `grade` match field is compared.
    pub grades: Grades,
}

impl Default for PspaOptions {
    fn default() -> Self {
        PspaOptions {
            roster: None,
            match_on: DEFAULT_MATCH_ON.iter().map(|s| s.to_string()).collect(),
            roster_columns: BTreeMap::new(),
            layout: Layout::Auto,
            extra_columns: Vec::new(),
            duplicates: Duplicates::Last,
            staff_values: DEFAULT_STAFF_VALUES.iter().map(|v| normalize(v)).collect(),
            staff_when: None,
            staff_roster: None,
            grades: Grades::default(),
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
            duplicates: source.duplicates.unwrap_or_default(),
            staff_values: source
                .staff_values
                .as_ref()
                .map(|v| v.iter().map(|v| normalize(v)).collect())
                .unwrap_or(defaults.staff_values),
            staff_when: source.staff_when.clone(),
            staff_roster: source.staff_roster.as_ref().map(|r| base_dir.join(r)),
            grades: Grades::new(&source.grade_values.clone().unwrap_or_default()),
        }
    }

    /// Whether a row is staff: its grade or title is one of `staff_values`, or `staff_when`
    /// renders on it. `column` names the row's column of an index field.
    fn is_staff<'a>(&'a self, row: &Person, column: impl Fn(&'a str) -> &'a str) -> bool {
        let marked = ["grade", "title"].iter().any(|f| {
            row.field(column(f))
                .is_some_and(|v| self.staff_values.contains(&normalize(v)))
        });
        marked
            || self
                .staff_when
                .as_ref()
                .is_some_and(|t| t.render(row).is_ok_and(|v| !v.trim().is_empty()))
    }

    /// The fields staff rows are matched on: `match_on` without `grade`.
    fn staff_match_on(&self) -> Vec<String> {
        self.match_on
            .iter()
            .filter(|f| *f != "grade")
            .cloned()
            .collect()
    }

    /// A match field's value as the join compares it: grades by what they mean, everything
    /// else by [`normalize`].
    fn match_value(&self, field: &str, value: &str) -> String {
        if field == "grade" {
            self.grades.canonical(value)
        } else {
            normalize(value)
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
    /// Grades written differently on the two sides of a match, and how many rows each
    /// equivalence joined: "K = 0 (kindergarten)" -> 3.
    pub grade_equivalences: BTreeMap<String, usize>,
    /// People with several rows (retakes, SMALL and LARGE images): the row used and why.
    pub retakes: Vec<Retake>,
    /// What `check` warns about the delivery (a layout guessed from narrow rows).
    pub warnings: Vec<String>,
}

/// One person on several index rows, settled: which row was used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retake {
    pub person: String,
    /// The row whose photo is used.
    pub used: Origin,
    /// The lines of the other rows.
    pub not_used: Vec<u64>,
    pub why: String,
}

impl fmt::Display for Retake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let others: Vec<String> = self.not_used.iter().map(u64::to_string).collect();
        write!(
            f,
            "{} {}: this row is used, line {} not: {}",
            self.used,
            self.person,
            others.join(", "),
            self.why
        )
    }
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
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
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
        if !self.grade_equivalences.is_empty() {
            let used: Vec<String> = self
                .grade_equivalences
                .iter()
                .map(|(e, n)| format!("{e}: {n} rows"))
                .collect();
            writeln!(f, "grades compared by meaning: {}", used.join("; "))?;
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
        if !self.retakes.is_empty() {
            writeln!(
                f,
                "{} people on several rows (retakes):",
                self.retakes.len()
            )?;
            for r in &self.retakes {
                writeln!(f, "    {r}")?;
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
        if let Some(w) = parsed.warning {
            notes.push(w.clone());
            stats.warnings.push(w);
        }
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
                &mut stats.grade_equivalences,
            ) {
                Ok(done) => rows.push(done),
                Err((u, matched)) => {
                    stats.unmatched.push(*u);
                    found_but_left_out.extend(matched);
                }
            }
        }
    }
    let people = join::drop_same_person(
        rows,
        key_fields,
        &mut stats,
        roster.as_ref(),
        options.duplicates,
    );
    notes.extend(
        stats
            .retakes
            .iter()
            .map(|r| format!("several rows for one person: {r}")),
    );
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
