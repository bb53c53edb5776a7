//! Reading a photographer's PSPA/PSPI delivery as picday's input.
//!
//! School photographers deliver portraits as a "PSPA CD": a volume folder with `INDEX.TXT` (or
//! `MASTER.TXT`, which also holds retakes) and image folders. The index is loosely specified in
//! practice: tab- or comma-delimited, with or without a header row, the 13 standard columns or
//! the 7- and 8-column variants of some yearbook tools, and extra columns after them. It also
//! has **no student id**, so this module joins it to a roster exported from the SIS, on
//! configurable fields (name and grade by default) compared without case, accents or leading
//! zeros. A row that matches no one, or more than one person, is reported for review with its
//! file and line, and never guessed: a photo on the wrong student is worse than no photo.
//!
//! The result is an ordinary [`Mapping`], so the engine and the targets do not care where the
//! people came from; [`MatchStats`] says how the join went, for `picday check`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::config::{Config, SourceConfig};
use crate::error::{Error, Result};
use crate::mapping::{
    KeyFields, Mapping, RowProblem, csv_with_header, decode_text, detect_delimiter,
};
use crate::model::{Origin, Person};

/// The 13 standard columns (A-M), as picday names the fields.
pub const STANDARD_COLUMNS: [&str; 13] = [
    "volume",
    "image_folder",
    "image_file_name",
    "grade",
    "last_name",
    "first_name",
    "home_room",
    "period",
    "teacher_name",
    "track",
    "department",
    "title",
    "image_size",
];

/// Creator Studio's 8 columns: teacher and home room are swapped compared with the standard.
const CREATOR_STUDIO_COLUMNS: [&str; 8] = [
    "volume",
    "image_folder",
    "image_file_name",
    "grade",
    "last_name",
    "first_name",
    "teacher_name",
    "home_room",
];

/// Pictavo's 7 columns; the last one is "Teacher/Homeroom" and fills both fields.
const PICTAVO_COLUMNS: [&str; 7] = [
    "volume",
    "image_folder",
    "image_file_name",
    "grade",
    "last_name",
    "first_name",
    "teacher_name",
];

/// The index fields compared with the roster by default.
pub const DEFAULT_MATCH_ON: [&str; 3] = ["last_name", "first_name", "grade"];

/// Image extensions that tell a data row from a header row (column C).
const IMAGE_EXTENSIONS: [&str; 5] = [".jpg", ".jpeg", ".png", ".tif", ".tiff"];

/// The column layout of an index without a header row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Decided from the number of columns: 7 Pictavo, 8 Creator Studio, else standard.
    #[default]
    Auto,
    /// The 13 standard columns, then extra columns.
    #[serde(alias = "13")]
    Standard,
    /// Volume, folder, file, grade, last, first, teacher, home room.
    #[serde(alias = "8")]
    CreatorStudio,
    /// Volume, folder, file, grade, last, first, teacher/home room.
    #[serde(alias = "7")]
    Pictavo,
    /// The index had a header row: columns are named by it (detected, not configured).
    #[serde(skip_deserializing)]
    Header,
}

impl Layout {
    fn columns(self) -> &'static [&'static str] {
        match self {
            Layout::CreatorStudio => &CREATOR_STUDIO_COLUMNS,
            Layout::Pictavo => &PICTAVO_COLUMNS,
            Layout::Auto | Layout::Standard | Layout::Header => &STANDARD_COLUMNS,
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Auto => "auto",
            Layout::Standard => "standard (13 columns)",
            Layout::CreatorStudio => "Creator Studio (8 columns)",
            Layout::Pictavo => "Pictavo (7 columns)",
            Layout::Header => "named by the header row",
        })
    }
}

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
        PspaOptions {
            roster: source.roster.as_ref().map(|r| base_dir.join(r)),
            match_on: source
                .match_on
                .as_ref()
                .map(|m| m.iter().map(|f| field_name(f)).collect())
                .unwrap_or(defaults.match_on),
            roster_columns: source
                .roster_columns
                .as_ref()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (field_name(k), v.trim().to_lowercase()))
                        .collect()
                })
                .unwrap_or_default(),
            layout: source.layout.unwrap_or_default(),
            extra_columns: source
                .extra_columns
                .as_ref()
                .map(|c| c.iter().map(|f| field_name(f)).collect())
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

/// Reads the delivery of a configuration whose `[source]` has `format = "pspa"`.
pub fn read(config: &Config, key_fields: &KeyFields) -> Result<Delivery> {
    let options = PspaOptions::from_source(&config.source, &config.base_dir);
    read_delivery(&config.mapping_path(), &options, key_fields)
}

/// [`read`], keeping only the people: what [`crate::mapping::load`] returns.
pub fn load(config: &Config, key_fields: &KeyFields) -> Result<Mapping> {
    read(config, key_fields).map(|d| d.mapping)
}

/// Reads a delivery: `path` is the index file, its volume folder, or a folder holding volume
/// folders. `key_fields` are the fields the enabled targets key on: a person some target cannot
/// key is reported, and two people with the same value but different photos are both left out.
pub fn read_delivery(
    path: &Path,
    options: &PspaOptions,
    key_fields: &KeyFields,
) -> Result<Delivery> {
    let indexes = find_indexes(path)?;
    let mut notes = Vec::new();
    let roster = match &options.roster {
        Some(r) => Some(Roster::read(r, options, &mut notes)?),
        None => None,
    };
    let mut stats = MatchStats {
        roster: options.roster.clone(),
        roster_rows: roster.as_ref().map_or(0, |r| r.rows.len()),
        match_on: options.match_on.clone(),
        ..MatchStats::default()
    };
    // Every usable row, with the roster row it matched.
    let mut rows: Vec<(Person, Option<usize>)> = Vec::new();
    let mut found_but_left_out = Vec::new();
    for index in &indexes {
        let bytes = std::fs::read(index)
            .map_err(|e| Error::io(index, e).prefixed("cannot read the PSPA index"))?;
        let text = decode_text(&bytes, &mut notes);
        let parsed = parse_index(index, &text, options)?;
        stats.index_files.push(index.clone());
        stats.formats.push(parsed.format.clone());
        let volume_dir = index.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut files = FileCache::default();
        for row in parsed.rows {
            stats.rows += 1;
            match resolve_row(
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
    let people = drop_same_person(rows, key_fields, &mut stats, roster.as_ref());
    if let Some(roster) = &roster {
        let mut used = vec![false; roster.rows.len()];
        for (_, r) in &people {
            if let Some(r) = r {
                used[*r] = true;
            }
        }
        // Rows left out for their photo or key still found their person.
        for r in found_but_left_out {
            used[r] = true;
        }
        stats.roster_without_photo = roster
            .rows
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(r, _)| (r.label(), r.origin.line))
            .collect();
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

/// `Image File Name` -> `image_file_name`.
fn field_name(header: &str) -> String {
    let mut out = String::new();
    for c in header.trim().to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The standard field a header cell names, if it is a known spelling.
fn standard_field(header: &str) -> Option<&'static str> {
    let name = field_name(header);
    Some(match name.as_str() {
        "volume" | "volume_name" | "vol" => "volume",
        "image_folder" | "folder" | "folder_name" | "image_directory" => "image_folder",
        "image_file_name" | "image_file" | "file_name" | "filename" | "image_name" | "file"
        | "image" => "image_file_name",
        "grade" | "grade_level" => "grade",
        "last_name" | "last" | "lastname" | "surname" => "last_name",
        "first_name" | "first" | "firstname" => "first_name",
        "home_room" | "homeroom" => "home_room",
        "period" => "period",
        "teacher_name" | "teacher" => "teacher_name",
        "track" => "track",
        "department" | "dept" => "department",
        "title" => "title",
        "image_size" | "size" => "image_size",
        _ => return None,
    })
}

/// The index files of a delivery, one per volume, sorted.
fn find_indexes(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(Error::input(format!(
            "{}: no such PSPA delivery (give the folder with INDEX.TXT, or the index itself)",
            path.display()
        )));
    }
    if let Some(index) = index_in(path)? {
        return Ok(vec![index]);
    }
    let mut found = Vec::new();
    for sub in sorted_entries(path)? {
        if sub.is_dir()
            && let Some(index) = index_in(&sub)?
        {
            found.push(index);
        }
    }
    if found.is_empty() {
        return Err(Error::input(format!(
            "{}: no INDEX.TXT or MASTER.TXT here or in its folders; is this the photographer's delivery?",
            path.display()
        )));
    }
    Ok(found)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

/// The index of one volume folder: `MASTER.*` (it holds retakes) before `INDEX.*`; names are
/// compared without case, and `.txt`, `.tsv` and `.csv` are accepted.
fn index_in(dir: &Path) -> Result<Option<PathBuf>> {
    let mut best: Option<(u8, PathBuf)> = None;
    for entry in sorted_entries(dir)? {
        if !entry.is_file() {
            continue;
        }
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        if !matches!(ext, "txt" | "tsv" | "csv") {
            continue;
        }
        let rank = match stem {
            "master" | "master index" | "master_index" => 0,
            "index" => 1,
            _ => continue,
        };
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, entry));
        }
    }
    Ok(best.map(|(_, p)| p))
}

/// One index row, named.
struct IndexRow {
    origin: Origin,
    fields: BTreeMap<String, String>,
}

struct ParsedIndex {
    format: String,
    rows: Vec<IndexRow>,
}

/// Splits an index into named rows: delimiter and header row detected, columns named by the
/// header, or by the layout and `extra_columns`.
fn parse_index(path: &Path, text: &str, options: &PspaOptions) -> Result<ParsedIndex> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let tabs = first.matches('\t').count();
    let delimiter = if tabs > 0 && tabs >= first.matches(',').count() {
        b'\t'
    } else {
        detect_delimiter(text)
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        // Tab-delimited indexes are not quoted; a quote in a name is just a character.
        .quoting(delimiter != b'\t')
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) => {
                if r.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                let line = r.position().map_or(0, |p| line_at(text, p.byte()));
                records.push((line, r));
            }
            Err(e) => unreadable.push(e.to_string()),
        }
    }
    if let Some(e) = unreadable.first() {
        return Err(Error::input(format!(
            "{}: unreadable PSPA index: {e}",
            path.display()
        )));
    }
    let header = records.first().is_some_and(|(_, r)| {
        let c = r.get(2).unwrap_or("").trim().to_lowercase();
        !IMAGE_EXTENSIONS.iter().any(|ext| c.ends_with(ext))
    });
    let (names, layout, data) = if header {
        let (_, h) = &records[0];
        let names: Vec<String> = h
            .iter()
            .map(|c| standard_field(c).map_or_else(|| field_name(c), str::to_string))
            .collect();
        for needed in ["image_file_name", "last_name", "first_name"] {
            if !names.iter().any(|n| n == needed) {
                return Err(Error::input(format!(
                    "{}: the first row looks like a header (its third column is not an image file) but has no `{needed}` column; found: {}",
                    path.display(),
                    names.join(", ")
                )));
            }
        }
        (names, Layout::Header, &records[1..])
    } else {
        let layout = match options.layout {
            Layout::Auto | Layout::Header => {
                let mut widths: BTreeMap<usize, usize> = BTreeMap::new();
                for (_, r) in &records {
                    *widths.entry(r.len()).or_insert(0) += 1;
                }
                let width = widths
                    .iter()
                    .max_by_key(|(w, n)| (**n, **w))
                    .map_or(13, |(w, _)| *w);
                match width {
                    7 => Layout::Pictavo,
                    8 => Layout::CreatorStudio,
                    _ => Layout::Standard,
                }
            }
            other => other,
        };
        let mut names: Vec<String> = layout.columns().iter().map(|s| s.to_string()).collect();
        names.extend(options.extra_columns.iter().cloned());
        (names, layout, &records[..])
    };
    let width = data.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
    let format = format!(
        "{}, {}, {}, {} columns",
        if delimiter == b'\t' {
            "tab-delimited"
        } else {
            "comma-delimited"
        },
        if header {
            "header row"
        } else {
            "no header row"
        },
        layout,
        width
    );
    let rows = data
        .iter()
        .map(|(line, r)| {
            let mut fields = BTreeMap::new();
            for (i, value) in r.iter().enumerate() {
                let name = names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("extra_{}", i + 1 - names.len().min(i + 1)));
                fields.insert(name, value.trim().to_string());
            }
            if layout == Layout::Pictavo
                && let Some(t) = fields.get("teacher_name").cloned()
            {
                fields.entry("home_room".into()).or_insert(t);
            }
            IndexRow {
                origin: Origin {
                    file: path.to_path_buf(),
                    line: *line,
                },
                fields,
            }
        })
        .collect();
    Ok(ParsedIndex { format, rows })
}

/// The 1-based line of a record starting at `byte` (csv reports CRLF records one byte early).
fn line_at(text: &str, byte: u64) -> u64 {
    let end = usize::try_from(byte)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
        .min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

/// The roster, indexed by the normalised match fields.
struct Roster {
    path: PathBuf,
    rows: Vec<Person>,
    by_key: HashMap<Vec<String>, Vec<usize>>,
    /// Per left-out match field: the key without it, for "why did it not match".
    partial: Vec<HashMap<Vec<String>, Vec<usize>>>,
    columns: Vec<String>,
}

impl Roster {
    fn read(path: &Path, options: &PspaOptions, notes: &mut Vec<String>) -> Result<Roster> {
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
        for record in reader.records() {
            let record = record.map_err(|e| {
                Error::input(format!("{}: unreadable roster row: {e}", path.display()))
            })?;
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            let line = record.position().map_or(0, |p| line_at(&text, p.byte()));
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
}

fn without(key: &[String], skip: usize) -> Vec<String> {
    key.iter()
        .enumerate()
        .filter(|(i, _)| *i != skip)
        .map(|(_, v)| v.clone())
        .collect()
}

/// Folder listings, for finding image files whose name differs only by case (deliveries are
/// made on Windows, where that does not matter).
#[derive(Default)]
struct FileCache {
    dirs: HashMap<PathBuf, Vec<std::ffi::OsString>>,
}

impl FileCache {
    fn find(&mut self, path: &Path) -> Option<PathBuf> {
        if path.is_file() {
            return Some(path.to_path_buf());
        }
        let dir = path.parent()?;
        let want = path.file_name()?.to_string_lossy().to_lowercase();
        let names = self.dirs.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_dir(dir)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
                .unwrap_or_default()
        });
        names
            .iter()
            .find(|n| n.to_string_lossy().to_lowercase() == want)
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
    }
}

fn left_out(row: &IndexRow, reason: Reason, message: String, advice: &str) -> Box<Unmatched> {
    let person = Person {
        fields: row.fields.clone(),
        photo: PathBuf::new(),
        origin: row.origin.clone(),
    };
    Box::new(Unmatched {
        reason,
        problem: RowProblem {
            origin: row.origin.clone(),
            person: person.label(),
            message,
            advice: advice.to_string(),
        },
    })
}

/// A relative path inside the volume, from the index's folder and file columns.
fn relative_photo(folder: &str, file: &str) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for part in folder
        .split(['/', '\\'])
        .chain(std::iter::once(file))
        .filter(|p| !p.is_empty())
    {
        let p = Path::new(part);
        if part.contains(':') || !p.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        rel.push(p);
    }
    Some(rel)
}

/// A row left out, with the roster row it matched (if it got that far).
type LeftOut = (Box<Unmatched>, Option<usize>);

/// Joins one index row to the roster and finds its photo.
fn resolve_row(
    row: IndexRow,
    volume_dir: &Path,
    roster: Option<&Roster>,
    options: &PspaOptions,
    key_fields: &KeyFields,
    files: &mut FileCache,
) -> std::result::Result<(Person, Option<usize>), LeftOut> {
    let get = |f: &str| row.fields.get(f).map(String::as_str).unwrap_or("").trim();
    let file = get("image_file_name");
    if file.is_empty() {
        return Err((
            left_out(
                &row,
                Reason::Unusable,
                "no image file name (column C)".into(),
                "fill in the file name or remove the row",
            ),
            None,
        ));
    }
    let Some(rel) = relative_photo(get("image_folder"), file) else {
        return Err((
            left_out(
                &row,
                Reason::Unusable,
                format!(
                    "image path {}/{file} leaves the delivery",
                    get("image_folder")
                ),
                "image folder and file must be plain names inside the volume folder",
            ),
            None,
        ));
    };
    let mut fields = row.fields.clone();
    let mut matched = None;
    if let Some(roster) = roster {
        let key: Vec<String> = options.match_on.iter().map(|f| normalize(get(f))).collect();
        let shown = options
            .match_on
            .iter()
            .map(|f| format!("{f}={}", get(f)))
            .collect::<Vec<_>>()
            .join(", ");
        match roster.by_key.get(&key).map(Vec::as_slice) {
            None | Some([]) => {
                let hint = roster
                    .partial
                    .iter()
                    .enumerate()
                    .find_map(|(skip, partial)| {
                        let near = partial.get(&without(&key, skip))?;
                        let column = &roster.columns[skip];
                        let values: Vec<String> = near
                            .iter()
                            .take(3)
                            .map(|&i| {
                                let r = &roster.rows[i];
                                format!(
                                    "line {} has {column}={}",
                                    r.origin.line,
                                    r.fields.get(column).map_or("", String::as_str)
                                )
                            })
                            .collect();
                        Some(format!(
                            "; only `{}` differs: roster {}",
                            options.match_on[skip],
                            values.join(", ")
                        ))
                    })
                    .unwrap_or_default();
                return Err((
                    left_out(
                        &row,
                        Reason::NoMatch,
                        format!("no one in the roster has {shown}{hint}"),
                        "check the spelling in the index and the roster, or add the person to the roster",
                    ),
                    None,
                ));
            }
            Some([one]) => {
                let person = &roster.rows[*one];
                // The roster is the SIS's truth: its values win for fields both have.
                fields.extend(person.fields.clone());
                matched = Some(*one);
            }
            Some(many) => {
                let lines: Vec<String> = many
                    .iter()
                    .map(|&i| roster.rows[i].origin.line.to_string())
                    .collect();
                return Err((
                    left_out(
                        &row,
                        Reason::Ambiguous,
                        format!(
                            "{} roster people have {shown} (roster lines {}); not guessed",
                            many.len(),
                            lines.join(", ")
                        ),
                        "add a field that tells them apart to [source] match_on (e.g. home_room), or give this person's photo by id in a CSV mapping",
                    ),
                    None,
                ));
            }
        }
    }
    let person = Person {
        fields,
        photo: volume_dir.join(&rel),
        origin: row.origin.clone(),
    };
    let matched_note = matched
        .and_then(|i| roster.map(|r| format!(" (matched roster line {})", r.rows[i].origin.line)))
        .unwrap_or_default();
    if let Some(missing) = key_fields.missing(&person) {
        let mut u = left_out(
            &row,
            Reason::Unusable,
            format!("no `{missing}`{matched_note}"),
            &format!("fill in `{missing}` in the roster for this person"),
        );
        u.problem.person = person.label();
        return Err((u, matched));
    }
    match files.find(&person.photo) {
        Some(found) => Ok((
            Person {
                photo: found,
                ..person
            },
            matched,
        )),
        None => {
            let mut u = left_out(
                &row,
                Reason::PhotoMissing,
                format!(
                    "photo file not found: {}{matched_note}",
                    person.photo.display()
                ),
                "ask the photographer for the missing file, or fix the file name in the index",
            );
            u.problem.person = person.label();
            Err((u, matched))
        }
    }
}

/// Two rows for the same roster person (or the same key value) with different photos: both
/// are left out, since picday cannot know which photo is right. Same photo twice: used once.
fn drop_same_person(
    rows: Vec<(Person, Option<usize>)>,
    key_fields: &KeyFields,
    stats: &mut MatchStats,
    roster: Option<&Roster>,
) -> Vec<(Person, Option<usize>)> {
    let mut drop = vec![false; rows.len()];
    let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
    let fields = key_fields.fields();
    for (i, (p, r)) in rows.iter().enumerate() {
        if let (Some(r), Some(roster)) = (r, roster) {
            groups
                .entry((
                    "roster".into(),
                    roster.path.display().to_string() + &r.to_string(),
                ))
                .or_default()
                .push(i);
        }
        for &k in &fields {
            if let Some(v) = p.field(k) {
                groups
                    .entry((k.to_string(), v.to_lowercase()))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut groups: Vec<_> = groups.into_iter().filter(|(_, g)| g.len() > 1).collect();
    groups.sort();
    for ((what, _), group) in groups {
        let first = &rows[group[0]].0;
        if group.iter().all(|&i| rows[i].0.photo == first.photo) {
            for &i in &group[1..] {
                drop[i] = true;
            }
            continue;
        }
        let lines: Vec<String> = group
            .iter()
            .map(|&i| rows[i].0.origin.line.to_string())
            .collect();
        for &i in &group {
            if drop[i] {
                continue;
            }
            drop[i] = true;
            let p = &rows[i].0;
            let same = if what == "roster" {
                "the same roster person".to_string()
            } else {
                format!("the same `{what}`")
            };
            stats.unmatched.push(Unmatched {
                reason: Reason::SamePerson,
                problem: RowProblem {
                    origin: p.origin.clone(),
                    person: p.label(),
                    message: format!(
                        "index lines {} are {same} with different photos; none is used",
                        lines.join(", ")
                    ),
                    advice: "keep one row per person (the retake, if there is one)".into(),
                },
            });
        }
    }
    rows.into_iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(r, _)| r)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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

    #[test]
    fn header_names_map_to_standard_fields() {
        assert_eq!(standard_field("Image File Name"), Some("image_file_name"));
        assert_eq!(standard_field("Home Room"), Some("home_room"));
        assert_eq!(standard_field("LAST"), Some("last_name"));
        assert_eq!(standard_field("Student ID"), None);
        assert_eq!(field_name(" Student ID "), "student_id");
    }

    #[test]
    fn photo_paths_that_leave_the_delivery_are_refused() {
        assert_eq!(
            relative_photo("IMAGES01\\SUB", "A.JPG"),
            Some(PathBuf::from("IMAGES01/SUB/A.JPG"))
        );
        assert_eq!(relative_photo("..", "A.JPG"), None);
        assert_eq!(relative_photo("IMAGES01", "C:evil.jpg"), None);
        assert_eq!(
            relative_photo("/etc", "passwd"),
            Some(PathBuf::from("etc/passwd"))
        );
    }

    fn fixture() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/pspa-delivery")
    }

    fn with_roster(roster: &Path) -> PspaOptions {
        PspaOptions {
            roster: Some(roster.to_path_buf()),
            ..PspaOptions::default()
        }
    }

    fn keys(k: &[&str]) -> KeyFields {
        KeyFields::each(k)
    }

    /// A delivery in a temporary folder: `VOL/IMAGES/<file>` for each file, the index and a
    /// roster.
    fn delivery(index_name: &str, index: &str, roster: &str, files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("VOL/IMAGES")).unwrap();
        for f in files {
            std::fs::write(d.path().join("VOL/IMAGES").join(f), b"jpeg").unwrap();
        }
        std::fs::write(d.path().join("VOL").join(index_name), index).unwrap();
        std::fs::write(d.path().join("roster.csv"), roster).unwrap();
        d
    }

    const ROSTER: &str = "student_id,first_name,last_name,grade,email,home_room\n\
        0100200,Ana,Rivera,9,ana@s.example,R100\n\
        0100201,José,Núñez,10,jose@s.example,R101\n";

    #[test]
    fn shipped_delivery_joins_to_the_roster_and_reports_the_missing_photo() {
        let root = fixture();
        let d = read_delivery(
            &root,
            &with_roster(&root.join("roster.csv")),
            &keys(&["student_id"]),
        )
        .unwrap();
        let s = &d.stats;
        assert_eq!(s.index_files, vec![root.join("PSPA2026/INDEX.TXT")]);
        assert!(
            s.formats[0].starts_with("tab-delimited, no header row, standard"),
            "{s:?}"
        );
        assert_eq!((s.rows, s.matched, s.unmatched.len()), (6, 5, 1));
        let ids: Vec<&str> = d
            .mapping
            .people
            .iter()
            .map(|p| p.field("student_id").unwrap())
            .collect();
        assert_eq!(ids, ["0100200", "0100201", "0100202", "0100203", "T0042"]);
        let ana = &d.mapping.people[0];
        assert_eq!(ana.field("email"), Some("ana.rivera@school.example"));
        assert_eq!(ana.field("home_room"), Some("R100"));
        assert_eq!(ana.field("teacher_name"), Some("Ms. Park"));
        assert_eq!(ana.photo, root.join("PSPA2026/IMAGES01/IMG1001.JPG"));
        assert_eq!(ana.origin.line, 1);
        let u = &s.unmatched[0];
        assert_eq!(u.reason, Reason::PhotoMissing);
        assert_eq!(u.problem.origin.line, 6, "CRLF lines are counted right");
        assert_eq!(u.problem.person, "Sami Haddad");
        assert!(u.problem.message.contains("IMG1099.JPG"), "{u:?}");
        assert!(u.problem.message.contains("roster line 6"), "{u:?}");
        assert!(
            s.roster_without_photo.is_empty(),
            "Haddad was found, only the photo is missing"
        );
        assert_eq!(d.mapping.problems.len(), 1);
        let text = s.to_string();
        assert!(
            text.contains("6 index rows: 5 matched, 1 left out"),
            "{text}"
        );
        assert!(text.contains("photo file missing: 1"), "{text}");
        assert!(text.contains("INDEX.TXT:6 Sami Haddad"), "{text}");
    }

    #[test]
    fn comma_index_with_header_and_extra_column_is_read_by_name() {
        let d = delivery(
            "index.csv",
            "Volume,Image Folder,Image File Name,Grade,Last Name,First Name,Home Room,Student ID\n\
             VOL,IMAGES,a.jpg,09,\"RIVERA\",ana,R100,0100200\n\
             VOL,IMAGES,b.jpg,10,Nunez,Jose,\"R1,01\",0100201\n",
            ROSTER,
            &["a.jpg", "b.jpg"],
        );
        let m = read_delivery(
            &d.path().join("VOL"),
            &with_roster(&d.path().join("roster.csv")),
            &keys(&["email"]),
        )
        .unwrap();
        assert!(
            m.stats.formats[0].starts_with("comma-delimited, header row"),
            "{:?}",
            m.stats
        );
        assert_eq!(m.stats.matched, 2, "{:?}", m.stats.unmatched);
        let jose = &m.mapping.people[1];
        assert_eq!(
            jose.field("email"),
            Some("jose@s.example"),
            "accents and case ignored"
        );
        // The roster's spelling wins; the index's extra column is kept.
        assert_eq!(jose.field("last_name"), Some("Núñez"));
        assert_eq!(jose.field("home_room"), Some("R101"));
        assert_eq!(m.mapping.people[0].field("student_id"), Some("0100200"));
        assert_eq!(m.mapping.people[0].origin.line, 2);
    }

    #[test]
    fn staff_keyed_by_a_targets_other_template_are_kept() {
        // A PowerSchool target keys students by student_id and staff by teacher_number.
        let mut keys = KeyFields::default();
        keys.add(
            vec!["student_id".into()],
            vec![vec!["teacher_number".into()]],
        );
        let d = delivery(
            "index.csv",
            "Volume,Image Folder,Image File Name,Grade,Last Name,First Name\n\
             VOL,IMAGES,a.jpg,9,Rivera,Ana\n\
             VOL,IMAGES,p.jpg,STAFF,Lee,Pat\n\
             VOL,IMAGES,k.jpg,10,Doe,Kim\n",
            "student_id,teacher_number,first_name,last_name,grade\n\
             0100200,,Ana,Rivera,9\n\
             ,T42,Pat,Lee,STAFF\n\
             ,,Kim,Doe,10\n",
            &["a.jpg", "p.jpg", "k.jpg"],
        );
        let opts = with_roster(&d.path().join("roster.csv"));
        let m = read_delivery(d.path(), &opts, &keys).unwrap();
        let kept: Vec<_> = m
            .mapping
            .people
            .iter()
            .map(|p| p.field("first_name").unwrap_or_default())
            .collect();
        assert_eq!(kept, ["Ana", "Pat"], "{:?}", m.stats.unmatched);
        assert_eq!(m.stats.unmatched.len(), 1);
        let u = &m.stats.unmatched[0];
        assert_eq!(u.reason, Reason::Unusable);
        assert!(u.problem.message.contains("no `student_id`"), "{u:?}");
    }

    #[test]
    fn seven_and_eight_column_variants_are_detected() {
        let seven = delivery(
            "INDEX.TXT",
            "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tMs. Park\n",
            ROSTER,
            &["a.jpg"],
        );
        let m = read_delivery(
            &seven.path().join("VOL/INDEX.TXT"),
            &with_roster(&seven.path().join("roster.csv")),
            &KeyFields::default(),
        )
        .unwrap();
        assert!(m.stats.formats[0].contains("Pictavo"), "{:?}", m.stats);
        let p = &m.mapping.people[0];
        assert_eq!(p.field("teacher_name"), Some("Ms. Park"));
        assert_eq!(p.field("student_id"), Some("0100200"));

        let eight = delivery(
            "INDEX.TXT",
            "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tMs. Park\tR100\n",
            "student_id,first_name,last_name,grade\n0100200,Ana,Rivera,9\n",
            &["a.jpg"],
        );
        let m = read_delivery(
            &eight.path().join("VOL"),
            &with_roster(&eight.path().join("roster.csv")),
            &KeyFields::default(),
        )
        .unwrap();
        assert!(
            m.stats.formats[0].contains("Creator Studio"),
            "{:?}",
            m.stats
        );
        let p = &m.mapping.people[0];
        assert_eq!(p.field("teacher_name"), Some("Ms. Park"));
        assert_eq!(p.field("home_room"), Some("R100"));
    }

    #[test]
    fn ambiguous_name_is_reported_never_guessed() {
        let roster = "student_id,first_name,last_name,grade,home_room\n\
            0100200,Ana,Rivera,9,R100\n\
            0100299,Ana,Rivera,09,R200\n";
        let d = delivery(
            "INDEX.TXT",
            "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tR200\t\tMs. Park\t\t\t\tLARGE\n",
            roster,
            &["a.jpg"],
        );
        let opts = with_roster(&d.path().join("roster.csv"));
        let m = read_delivery(d.path(), &opts, &KeyFields::default()).unwrap();
        assert!(m.mapping.people.is_empty());
        let u = &m.stats.unmatched[0];
        assert_eq!(u.reason, Reason::Ambiguous);
        assert!(u.problem.message.contains("roster lines 2, 3"), "{u:?}");
        assert!(u.problem.advice.contains("match_on"), "{u:?}");
        assert_eq!(m.stats.roster_without_photo.len(), 2);
        // Adding the home room tells them apart.
        let opts = PspaOptions {
            match_on: ["last_name", "first_name", "grade", "home_room"]
                .map(String::from)
                .to_vec(),
            ..opts
        };
        let m = read_delivery(d.path(), &opts, &KeyFields::default()).unwrap();
        assert_eq!(m.mapping.people[0].field("student_id"), Some("0100299"));
    }

    #[test]
    fn no_match_says_which_field_differs() {
        let d = delivery(
            "INDEX.TXT",
            "VOL\tIMAGES\ta.jpg\t11\tRivera\tAna\tR100\n",
            ROSTER,
            &["a.jpg"],
        );
        let m = read_delivery(
            d.path(),
            &with_roster(&d.path().join("roster.csv")),
            &KeyFields::default(),
        )
        .unwrap();
        let u = &m.stats.unmatched[0];
        assert_eq!(u.reason, Reason::NoMatch);
        assert!(u.problem.message.contains("only `grade` differs"), "{u:?}");
        assert!(u.problem.message.contains("line 2 has grade=9"), "{u:?}");
    }

    #[test]
    fn same_person_twice_with_different_photos_is_left_out() {
        let d = delivery(
            "INDEX.TXT",
            "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tR100\n\
             VOL\tIMAGES\tb.jpg\t9\trivera\tANA\tR100\n",
            ROSTER,
            &["a.jpg", "b.jpg"],
        );
        let m = read_delivery(
            d.path(),
            &with_roster(&d.path().join("roster.csv")),
            &KeyFields::default(),
        )
        .unwrap();
        assert!(m.mapping.people.is_empty());
        assert_eq!(m.stats.unmatched.len(), 2);
        assert!(
            m.stats
                .unmatched
                .iter()
                .all(|u| u.reason == Reason::SamePerson)
        );
    }

    #[test]
    fn master_is_preferred_and_file_case_is_forgiven() {
        let d = delivery("INDEX.TXT", "", ROSTER, &["A.JPG"]);
        std::fs::write(
            d.path().join("VOL/Master.txt"),
            "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tR100\n",
        )
        .unwrap();
        let m = read_delivery(
            d.path(),
            &with_roster(&d.path().join("roster.csv")),
            &KeyFields::default(),
        )
        .unwrap();
        assert!(m.stats.index_files[0].ends_with("VOL/Master.txt"));
        assert_eq!(m.mapping.people[0].photo, d.path().join("VOL/IMAGES/A.JPG"));
    }

    #[test]
    fn missing_roster_column_is_a_config_error() {
        let d = delivery("INDEX.TXT", "", "id,name\n1,x\n", &[]);
        let e = read_delivery(
            d.path(),
            &with_roster(&d.path().join("roster.csv")),
            &KeyFields::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.message().contains("`last_name`"), "{e}");
    }

    #[test]
    fn config_with_format_pspa_loads_through_mapping_load() {
        let root = fixture();
        let text = format!(
            "[source]\nformat = \"pspa\"\nmapping = \"{}\"\nroster = \"{}\"\n",
            root.display(),
            root.join("roster.csv").display()
        );
        let config = Config::parse(Path::new("picday.toml"), text).unwrap();
        let m = crate::mapping::load(&config, &keys(&["email"])).unwrap();
        assert_eq!(m.people.len(), 5);
        assert_eq!(m.problems.len(), 1);
    }
}
