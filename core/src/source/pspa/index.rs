//! The index side of a delivery: finding `INDEX.TXT`/`MASTER.TXT` in the volume folders and
//! splitting it into named rows, whatever its delimiter, header row or column layout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::PspaOptions;
use crate::error::{Error, Result};
use crate::model::{Origin, Person};
use crate::source::config::Layout;
use crate::source::table::{self, detect_delimiter};

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

/// Image extensions that tell a data row from a header row (column C).
const IMAGE_EXTENSIONS: [&str; 5] = [".jpg", ".jpeg", ".png", ".tif", ".tiff"];

impl Layout {
    /// The names of the layout's columns. Every layout starts with the standard's first six
    /// (volume to first name); Creator Studio then has teacher and home room (swapped compared
    /// with the standard), Pictavo one "Teacher/Homeroom" column that fills both fields.
    fn columns(self) -> Vec<String> {
        let (first, then): (&[&str], &[&str]) = match self {
            Layout::CreatorStudio => (&STANDARD_COLUMNS[..6], &["teacher_name", "home_room"]),
            Layout::Pictavo => (&STANDARD_COLUMNS[..6], &["teacher_name"]),
            Layout::Auto | Layout::Standard | Layout::Header => (&STANDARD_COLUMNS, &[]),
        };
        first.iter().chain(then).map(|s| s.to_string()).collect()
    }
}

/// `Image File Name` -> `image_file_name`.
pub(super) fn field_name(header: &str) -> String {
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
pub(super) fn find_indexes(path: &Path) -> Result<Vec<PathBuf>> {
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

pub(super) struct ParsedIndex {
    /// Delimiter, header row and layout, for `picday check`.
    pub(super) format: String,
    /// The rows, named: people without a photo yet.
    pub(super) rows: Vec<Person>,
    /// Set when the layout was guessed from narrow rows.
    pub(super) warning: Option<String>,
}

/// Splits an index into named rows: delimiter and header row detected, columns named by the
/// header, or by the layout and `extra_columns`.
pub(super) fn parse_index(path: &Path, text: &str, options: &PspaOptions) -> Result<ParsedIndex> {
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
    let records = table::records(&mut reader, text)
        .map(|(line, record)| record.map(|r| (line, r)))
        .collect::<csv::Result<Vec<_>>>()
        .map_err(|e| Error::input(format!("{}: unreadable PSPA index: {e}", path.display())))?;
    let header = records.first().is_some_and(|(_, r)| {
        let c = r.get(2).unwrap_or("").trim().to_lowercase();
        !IMAGE_EXTENSIONS.iter().any(|ext| c.ends_with(ext))
    });
    let mut guessed = None;
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
        let (layout, why) = match options.layout {
            Layout::Auto | Layout::Header => guess_layout(&records),
            other => (other, None),
        };
        guessed = why;
        let mut names = layout.columns();
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
            Person {
                fields,
                photo: PathBuf::new(),
                origin: Origin {
                    file: path.to_path_buf(),
                    line: *line,
                },
            }
        })
        .collect();
    let warning = guessed.map(|why| {
        format!(
            "{}: layout guessed as {layout} from rows of at most {width} fields ({why}); if the producer dropped a standard file's trailing empty fields, set [source] layout = \"standard\"",
            path.display()
        )
    });
    Ok(ParsedIndex {
        format,
        rows,
        warning,
    })
}

/// The layout of an index without a header row, and why, when it was guessed from narrow
/// rows. A standard file whose producer dropped the trailing empty fields has rows of 7 or 8
/// fields too: any row of 9 or more fields, or a numeric period column (the 8th), says it is
/// standard; else the most common width decides (7 Pictavo, 8 Creator Studio).
fn guess_layout(records: &[(u64, csv::StringRecord)]) -> (Layout, Option<String>) {
    let widest = records.iter().map(|(_, r)| r.len()).max().unwrap_or(13);
    if widest >= 9 {
        let why = (widest < 13).then(|| "a row has 9 or more fields".to_string());
        return (Layout::Standard, why);
    }
    let numeric_period = records.iter().any(|(_, r)| {
        r.get(7)
            .map(str::trim)
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
    });
    if numeric_period {
        return (
            Layout::Standard,
            Some("the 8th column, the period, is a number".into()),
        );
    }
    let mut widths: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, r) in records {
        *widths.entry(r.len()).or_insert(0) += 1;
    }
    let width = widths
        .iter()
        .max_by_key(|(w, n)| (**n, **w))
        .map_or(13, |(w, _)| *w);
    match width {
        7 => (Layout::Pictavo, Some("most rows have 7 fields".into())),
        8 => (
            Layout::CreatorStudio,
            Some("most rows have 8 fields".into()),
        ),
        _ => (Layout::Standard, Some("rows of 6 fields or fewer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_map_to_standard_fields() {
        assert_eq!(standard_field("Image File Name"), Some("image_file_name"));
        assert_eq!(standard_field("Home Room"), Some("home_room"));
        assert_eq!(standard_field("LAST"), Some("last_name"));
        assert_eq!(standard_field("Student ID"), None);
        assert_eq!(field_name(" Student ID "), "student_id");
    }
}
