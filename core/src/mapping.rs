//! The mapping: a CSV that says which photo belongs to whom.
//!
//! Schools produce it with Excel, a SIS export or a script, so the reader is forgiving about
//! form (UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252, CRLF, quoted fields, comma,
//! semicolon or tab) and strict about meaning: a row without a photo file, without the key a
//! target needs, or naming a person twice with different photos is reported with its file and
//! line and left out, and the rest of the mapping is used.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Origin, Person};

/// Column names accepted for the photo path, in order of preference.
pub const PATH_COLUMNS: &[&str] = &["path", "photo", "file", "image"];

/// The people of a mapping and the rows that had to be left out.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub people: Vec<Person>,
    pub problems: Vec<RowProblem>,
    /// Notes about the file as a whole (encoding guessed, rows deduplicated...).
    pub notes: Vec<String>,
}

/// A row left out of the run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    pub origin: Origin,
    /// Who the row is about, as far as it can be told.
    pub person: String,
    pub message: String,
    /// What to do about it.
    pub advice: String,
}

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

/// Reads the people of a configuration's `[source]`, whatever its format.
pub fn load(config: &crate::config::Config, key_fields: &KeyFields) -> Result<Mapping> {
    match config.source.format {
        crate::config::SourceFormat::Csv => read_csv(&config.mapping_path(), key_fields),
        crate::config::SourceFormat::Pspa => crate::pspa::load(config, key_fields),
    }
}

/// Reads a CSV mapping. `key_fields` are the columns that enabled targets use as keys: they
/// must be in the header, a row where all are blank is reported, and two rows with the same
/// key value but different photos are both left out.
pub fn read_csv(path: &Path, key_fields: &KeyFields) -> Result<Mapping> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(path, e).prefixed("cannot read the mapping"))?;
    let mut notes = Vec::new();
    let text = decode_text(&bytes, &mut notes);
    parse_csv(path, &text, key_fields, notes)
}

/// Decodes a text file: UTF-8 (BOM stripped), UTF-16 with a BOM, else Windows-1252.
pub fn decode_text(bytes: &[u8], notes: &mut Vec<String>) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            notes.push(
                "the file is not UTF-8; read it as Windows-1252 (save it as \"CSV UTF-8\" to be sure)"
                    .to_string(),
            );
            bytes.iter().map(|&b| windows_1252(b)).collect()
        }
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Picks the delimiter that splits the header line into the most fields.
pub fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t'] {
        let mut in_quotes = false;
        let mut count = 0;
        for c in header.bytes() {
            match c {
                b'"' => in_quotes = !in_quotes,
                c if c == d && !in_quotes => count += 1,
                _ => {}
            }
        }
        if count > best.1 {
            best = (d, count);
        }
    }
    best.0
}

/// A CSV reader over `text` (a file at `path`, for messages) with its delimiter detected, rows
/// of any length and fields trimmed, and the header row's names, trimmed and lower-cased: how
/// picday reads every table a school hands it (mappings and rosters).
pub(crate) fn csv_with_header<'a>(
    path: &Path,
    text: &'a str,
) -> Result<(csv::Reader<&'a [u8]>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(text))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            Error::input(format!(
                "{}: cannot read the header row: {e}",
                path.display()
            ))
        })?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    Ok((reader, headers))
}

fn parse_csv(
    path: &Path,
    text: &str,
    key_fields: &KeyFields,
    notes: Vec<String>,
) -> Result<Mapping> {
    let base = path.parent().unwrap_or(Path::new(""));
    let (mut reader, headers) = csv_with_header(path, text)?;
    let Some(path_col) = PATH_COLUMNS
        .iter()
        .find_map(|c| headers.iter().position(|h| h == c))
    else {
        return Err(Error::input(format!(
            "{}: no photo column; the header row must have one of {} (found: {})",
            path.display(),
            PATH_COLUMNS.join(", "),
            headers.join(", ")
        )));
    };
    for key in key_fields.columns() {
        if !headers.iter().any(|h| h == key) {
            return Err(Error::input(format!(
                "{}: a target's key uses the column `{key}`, but the header row has only: {}",
                path.display(),
                headers.join(", ")
            )));
        }
    }

    let mut mapping = Mapping {
        notes,
        ..Mapping::default()
    };
    let any_key = key_fields.fields();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(text, p.byte()));
                mapping.problems.push(RowProblem {
                    origin: Origin {
                        file: path.to_path_buf(),
                        line,
                    },
                    person: String::new(),
                    message: format!("unreadable row: {e}"),
                    advice: "fix the row's quoting or encoding".into(),
                });
                continue;
            }
        };
        // csv's own line count is off by one on CRLF files; count from the byte offset.
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let origin = Origin {
            file: path.to_path_buf(),
            line,
        };
        let fields: BTreeMap<String, String> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.clone(), v.to_string()))
            .collect();
        let raw_path = record.get(path_col).unwrap_or("").trim();
        let mut person = Person {
            fields,
            photo: PathBuf::new(),
            origin: origin.clone(),
        };
        if raw_path.is_empty() {
            mapping.problems.push(problem(
                &person,
                "no photo path",
                "fill in the photo column or remove the row",
            ));
            continue;
        }
        person.photo = base.join(native_path(raw_path));
        // A row no target can key is a row problem; a row only some targets can key goes on,
        // and those targets report it as skipped.
        if !any_key.is_empty() && any_key.iter().all(|k| person.field(k).is_none()) {
            let names: Vec<String> = any_key.iter().map(|k| format!("`{k}`")).collect();
            mapping.problems.push(problem(
                &person,
                &format!("empty {}", names.join(" and ")),
                &format!("fill in {} for this person", names.join(" or ")),
            ));
            continue;
        }
        if !person.photo.is_file() {
            let shown = person.photo.display().to_string();
            mapping.problems.push(problem(
                &person,
                &format!("photo file not found: {shown}"),
                "check the file name (paths are relative to the mapping file)",
            ));
            continue;
        }
        mapping.people.push(person);
    }
    drop_conflicting_duplicates(&mut mapping, key_fields);
    Ok(mapping)
}

/// The line of a record that starts at `byte`. On CRLF files csv reports the position of the
/// `\n` that ends the previous line, hence the `+ 1` that counts it.
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

fn problem(person: &Person, message: &str, advice: &str) -> RowProblem {
    RowProblem {
        origin: person.origin.clone(),
        person: person.label(),
        message: message.to_string(),
        advice: advice.to_string(),
    }
}

/// Paths written on Windows (`photos\a.jpg`) work everywhere.
fn native_path(raw: &str) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(raw)
    } else {
        PathBuf::from(raw.replace('\\', "/"))
    }
}

/// Same key value, same photo: keep the first and note it. Different photos: leave out every
/// row of that person, since picday cannot know which photo is right.
fn drop_conflicting_duplicates(mapping: &mut Mapping, key_fields: &KeyFields) {
    let mut drop = vec![false; mapping.people.len()];
    for key in key_fields.fields() {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, p) in mapping.people.iter().enumerate() {
            let Some(value) = p.field(key) else { continue };
            let value = value.to_lowercase();
            match seen.get(&value) {
                None => {
                    seen.insert(value, i);
                }
                Some(&first) => {
                    let other = &mapping.people[first];
                    if other.photo == p.photo {
                        if !drop[i] {
                            mapping.notes.push(format!(
                                "{}: same person and photo as line {}; used once",
                                p.origin, other.origin.line
                            ));
                        }
                        drop[i] = true;
                    } else {
                        for (idx, that) in [(first, i), (i, first)] {
                            if !drop[idx] {
                                let this = &mapping.people[idx];
                                mapping.problems.push(problem(
                                    this,
                                    &format!(
                                        "`{key}` {value} also appears on line {} with a different photo",
                                        mapping.people[that].origin.line
                                    ),
                                    "keep one row per person, with the right photo",
                                ));
                            }
                            drop[idx] = true;
                        }
                    }
                }
            }
        }
    }
    let mut i = 0;
    mapping.people.retain(|_| {
        let keep = !drop[i];
        i += 1;
        keep
    });
    mapping.problems.sort_by_key(|p| p.origin.line);
}

/// People whose source files are byte-for-byte the same photo: the photographer's "no photo"
/// silhouette delivered for every absent student. Sending it would replace real photos, so such
/// people are held back for review unless the user allows shared photos.
///
/// Files are grouped by size first and hashed only when sizes collide, so a delivery of
/// thousands of photos is not read twice.
pub fn shared_photos(people: &[Person]) -> Vec<Vec<usize>> {
    let mut by_size: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        if let Ok(meta) = std::fs::metadata(&p.photo) {
            by_size.entry(meta.len()).or_default().push(i);
        }
    }
    let mut groups = Vec::new();
    for (_, same_size) in by_size.into_iter().filter(|(_, v)| v.len() > 1) {
        let mut by_hash: HashMap<blake3::Hash, Vec<usize>> = HashMap::new();
        let mut paths: HashMap<&Path, blake3::Hash> = HashMap::new();
        for i in same_size {
            let path = people[i].photo.as_path();
            let hash = match paths.get(path) {
                Some(h) => *h,
                None => match std::fs::read(path) {
                    Ok(bytes) => *paths.entry(path).or_insert(blake3::hash(&bytes)),
                    Err(_) => continue,
                },
            };
            by_hash.entry(hash).or_default().push(i);
        }
        groups.extend(by_hash.into_values().filter(|g| g.len() > 1));
    }
    for g in &mut groups {
        g.sort_unstable();
    }
    groups.sort();
    groups
}

/// Moves the people of [`shared_photos`] groups to the mapping's problems, with advice.
pub fn hold_back_shared_photos(mapping: &mut Mapping) {
    let groups = shared_photos(&mapping.people);
    if groups.is_empty() {
        return;
    }
    let mut held = vec![false; mapping.people.len()];
    for group in &groups {
        let lines: Vec<String> = group
            .iter()
            .map(|&i| mapping.people[i].origin.line.to_string())
            .collect();
        for &i in group {
            held[i] = true;
            let others: Vec<&str> = group
                .iter()
                .zip(&lines)
                .filter(|(j, _)| **j != i)
                .map(|(_, l)| l.as_str())
                .collect();
            mapping.problems.push(problem(
                &mapping.people[i],
                &format!(
                    "placeholder? the same photo file as line {} (a \"no photo\" image delivered for several people)",
                    others.join(", ")
                ),
                "replace it with the person's own photo, or pass --allow-shared-photos to send it anyway",
            ));
        }
    }
    let mut i = 0;
    mapping.people.retain(|_| {
        let keep = !held[i];
        i += 1;
        keep
    });
    mapping.problems.sort_by_key(|p| p.origin.line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn keys(k: &[&str]) -> KeyFields {
        KeyFields::each(k)
    }

    #[test]
    fn classic_two_columns_with_bom_and_crlf() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.jpg", b"x");
        let m = write(
            d.path(),
            "m.csv",
            b"\xEF\xBB\xBFpath,mail\r\na.jpg,a@s.example\r\nmissing.jpg,b@s.example\r\n",
        );
        let map = read_csv(&m, &keys(&["mail"])).unwrap();
        assert_eq!(map.people.len(), 1);
        assert_eq!(map.people[0].field("mail"), Some("a@s.example"));
        assert_eq!(map.people[0].photo, d.path().join("a.jpg"));
        assert_eq!(map.problems.len(), 1);
        assert_eq!(map.problems[0].origin.line, 3);
        assert!(map.problems[0].message.contains("not found"));
    }

    #[test]
    fn semicolon_tab_and_quotes_are_detected() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a b.jpg", b"x");
        let m = write(
            d.path(),
            "m.csv",
            b"Path;Mail;Name\n\"a b.jpg\";a@s;\"Doe; Jane\"\n",
        );
        let map = read_csv(&m, &keys(&["mail"])).unwrap();
        assert_eq!(map.people[0].field("name"), Some("Doe; Jane"));
        let m = write(d.path(), "t.csv", b"path\tmail\na b.jpg\ta@s\n");
        assert_eq!(read_csv(&m, &keys(&["mail"])).unwrap().people.len(), 1);
    }

    #[test]
    fn windows_1252_and_utf16_are_decoded() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.jpg", b"x");
        let m = write(d.path(), "m.csv", b"path,mail,name\na.jpg,a@s,Jos\xe9\n");
        let map = read_csv(&m, &keys(&["mail"])).unwrap();
        assert_eq!(map.people[0].field("name"), Some("José"));
        assert_eq!(map.notes.len(), 1);
        let utf16: Vec<u8> = "\u{feff}path\tmail\na.jpg\ta@s\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let m = write(d.path(), "u.csv", &utf16);
        assert_eq!(read_csv(&m, &keys(&["mail"])).unwrap().people.len(), 1);
    }

    #[test]
    fn empty_key_and_conflicting_duplicates_are_reported() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.jpg", b"x");
        write(d.path(), "b.jpg", b"x");
        let m = write(
            d.path(),
            "m.csv",
            b"path,mail\na.jpg,\na.jpg,x@s\nb.jpg,X@s\nb.jpg,y@s\nb.jpg,y@s\n",
        );
        let map = read_csv(&m, &keys(&["mail"])).unwrap();
        let lines: Vec<u64> = map.problems.iter().map(|p| p.origin.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(map.problems[0].message.contains("empty `mail`"));
        assert!(map.problems[1].message.contains("line 4"));
        assert_eq!(map.people.len(), 1, "y@s kept once");
        assert_eq!(map.people[0].origin.line, 5);
    }

    /// A PowerSchool-like target: students by `student_id`, staff by `teacher_number`.
    fn students_and_staff() -> KeyFields {
        let mut k = KeyFields::default();
        k.add(
            vec!["student_id".into()],
            vec![vec!["teacher_number".into()]],
        );
        k
    }

    #[test]
    fn a_person_keyed_by_a_targets_other_template_is_kept() {
        let d = tempfile::tempdir().unwrap();
        for f in ["a.jpg", "b.jpg", "c.jpg"] {
            write(d.path(), f, f.as_bytes());
        }
        let m = write(
            d.path(),
            "m.csv",
            b"path,student_id,teacher_number,grade\na.jpg,100200,,9\nb.jpg,,T42,STAFF\nc.jpg,,,10\n",
        );
        let map = read_csv(&m, &students_and_staff()).unwrap();
        let kept: Vec<_> = map.people.iter().map(|p| p.origin.line).collect();
        assert_eq!(kept, vec![2, 3], "{:?}", map.problems);
        assert_eq!(map.problems.len(), 1);
        assert_eq!(map.problems[0].origin.line, 4);
        assert!(
            map.problems[0].message.contains("`student_id`")
                && map.problems[0].message.contains("`teacher_number`"),
            "{}",
            map.problems[0].message
        );
        // Only the main key's column must be in the header: a mapping without staff has no
        // teacher_number column.
        let m = write(d.path(), "n.csv", b"path,student_id\na.jpg,100200\n");
        assert_eq!(read_csv(&m, &students_and_staff()).unwrap().people.len(), 1);
        let m = write(d.path(), "o.csv", b"path,teacher_number\nb.jpg,T42\n");
        assert!(
            read_csv(&m, &students_and_staff())
                .unwrap_err()
                .message()
                .contains("student_id")
        );
    }

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

    #[test]
    fn missing_path_column_or_key_column_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let m = write(d.path(), "m.csv", b"file_name,mail\n");
        assert!(
            read_csv(&m, &KeyFields::default())
                .unwrap_err()
                .message()
                .contains("no photo column")
        );
        let m = write(d.path(), "n.csv", b"path,mail\n");
        let e = read_csv(&m, &keys(&["student_id"])).unwrap_err();
        assert!(e.message().contains("student_id"));
    }

    #[test]
    fn shared_photos_are_held_back_for_review() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.jpg", b"silhouette");
        write(d.path(), "b.jpg", b"silhouette");
        write(d.path(), "c.jpg", b"silhouettf");
        write(d.path(), "d.jpg", b"own photo of d");
        let m = write(
            d.path(),
            "m.csv",
            b"path,mail\na.jpg,a@s\nb.jpg,b@s\nc.jpg,c@s\nd.jpg,d@s\n",
        );
        let mut map = read_csv(&m, &keys(&["mail"])).unwrap();
        assert_eq!(shared_photos(&map.people), vec![vec![0, 1]]);
        hold_back_shared_photos(&mut map);
        let kept: Vec<&str> = map.people.iter().filter_map(|p| p.field("mail")).collect();
        assert_eq!(
            kept,
            ["c@s", "d@s"],
            "same size but different bytes is not shared"
        );
        assert_eq!(map.problems.len(), 2);
        assert!(
            map.problems[0].message.contains("line 3"),
            "{}",
            map.problems[0].message
        );
        assert!(map.problems[1].message.contains("line 2"));
        assert!(map.problems[0].advice.contains("--allow-shared-photos"));
    }
}
