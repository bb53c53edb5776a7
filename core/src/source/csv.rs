//! The CSV mapping: a table that says which photo belongs to whom.
//!
//! Schools produce it with Excel, a SIS export or a script, so the reader is forgiving about
//! form (UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252, CRLF, quoted fields, comma,
//! semicolon or tab) and strict about meaning: a row without a photo file, without the key a
//! target needs, or naming a person twice with different photos is reported with its file and
//! line and left out, and the rest of the mapping is used.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::table::{csv_with_header, decode_text, records};
use super::{KeyFields, Mapping, RowProblem};
use crate::error::{Error, Result};
use crate::model::{Origin, Person};

/// Column names accepted for the photo path, in order of preference.
pub const PATH_COLUMNS: &[&str] = &["path", "photo", "file", "image"];

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
    for (line, record) in records(&mut reader, text) {
        let Some((origin, record)) = readable(path, line, record, &mut mapping.problems) else {
            continue;
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
            origin,
        };
        if raw_path.is_empty() {
            mapping.problems.push(RowProblem::about(
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
            mapping.problems.push(RowProblem::about(
                &person,
                format!("empty {}", names.join(" and ")),
                format!("fill in {} for this person", names.join(" or ")),
            ));
            continue;
        }
        if !person.photo.is_file() {
            let shown = person.photo.display().to_string();
            // A link to a folder, a pipe or a device is there, but it is not a photo: say what
            // it is rather than "not found".
            let (message, advice) = match std::fs::metadata(&person.photo) {
                Ok(meta) => (
                    format!(
                        "photo path is {}, not a photo file: {shown}",
                        crate::files::describe(&meta)
                    ),
                    "point the row at the photo file itself",
                ),
                Err(_) => (
                    format!("photo file not found: {shown}"),
                    "check the file name (paths are relative to the mapping file)",
                ),
            };
            mapping
                .problems
                .push(RowProblem::about(&person, message, advice));
            continue;
        }
        mapping.people.push(person);
    }
    drop_conflicting_duplicates(&mut mapping, key_fields);
    Ok(mapping)
}

/// Reads a list of people without photos (`picday remove --from FILE`: the year's leavers): a
/// CSV with a header row and the columns the targets key people on (a SIS export, the last
/// mapping). At least one of those columns must be in the header; a row with none of them
/// filled in is reported and left out. A photo column, if any, is ignored.
pub fn read_list(path: &Path, key_fields: &KeyFields) -> Result<Mapping> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(path, e).prefixed("cannot read the list"))?;
    let mut mapping = Mapping::default();
    let text = decode_text(&bytes, &mut mapping.notes);
    let (mut reader, headers) = csv_with_header(path, &text)?;
    let any_key = key_fields.fields();
    if !any_key.is_empty() && !any_key.iter().any(|k| headers.iter().any(|h| h == k)) {
        return Err(Error::input(format!(
            "{}: no key column; the header row must have one of {} (found: {})",
            path.display(),
            any_key.iter().copied().collect::<Vec<_>>().join(", "),
            headers.join(", ")
        )));
    }
    for (line, record) in records(&mut reader, &text) {
        let Some((origin, record)) = readable(path, line, record, &mut mapping.problems) else {
            continue;
        };
        let person = Person {
            fields: headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.clone(), v.to_string()))
                .collect(),
            photo: PathBuf::new(),
            origin,
        };
        if !any_key.is_empty() && any_key.iter().all(|k| person.field(k).is_none()) {
            mapping.problems.push(RowProblem::about(
                &person,
                "no key value in this row",
                "fill in the person's key column or remove the row",
            ));
            continue;
        }
        mapping.people.push(person);
    }
    Ok(mapping)
}

/// A row and where it is, or `None` with the problem added when the CSV reader could not read
/// it.
fn readable(
    path: &Path,
    line: u64,
    record: ::csv::Result<::csv::StringRecord>,
    problems: &mut Vec<RowProblem>,
) -> Option<(Origin, ::csv::StringRecord)> {
    let origin = Origin {
        file: path.to_path_buf(),
        line,
    };
    match record {
        Ok(r) => Some((origin, r)),
        Err(e) => {
            problems.push(RowProblem {
                origin,
                person: String::new(),
                message: format!("unreadable row: {e}"),
                advice: "fix the row's quoting or encoding".into(),
            });
            None
        }
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

/// Same key, same photo: keep the first and note it. Different photos: leave out every row
/// of that person, since picday cannot know which photo is right. Keys are compared as the
/// targets render them (see [`KeyFields::keys`]), never column by column.
fn drop_conflicting_duplicates(mapping: &mut Mapping, key_fields: &KeyFields) {
    let mut drop = vec![false; mapping.people.len()];
    let mut seen: HashMap<String, usize> = HashMap::new();
    for i in 0..mapping.people.len() {
        for key in key_fields.keys(&mapping.people[i]) {
            let Some(&first) = seen.get(&key.compared) else {
                seen.insert(key.compared, i);
                continue;
            };
            let (p, other) = (&mapping.people[i], &mapping.people[first]);
            if other.photo == p.photo {
                if !drop[i] {
                    mapping.notes.push(format!(
                        "{}: same person and photo as line {}; used once",
                        p.origin, other.origin.line
                    ));
                }
                drop[i] = true;
                continue;
            }
            for (idx, that) in [(first, i), (i, first)] {
                if !drop[idx] {
                    // The key as this row renders it (`C@S` and `c@s` are one key).
                    let value = key_fields
                        .keys(&mapping.people[idx])
                        .into_iter()
                        .find(|k| k.compared == key.compared)
                        .map_or(key.value.clone(), |k| k.value);
                    mapping.problems.push(RowProblem::about(
                        &mapping.people[idx],
                        format!(
                            "{} {value} also appears on line {} with a different photo",
                            key.what, mapping.people[that].origin.line
                        ),
                        "keep one row per person, with the right photo",
                    ));
                }
                drop[idx] = true;
            }
        }
    }
    mapping.leave_out(&drop);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::keys::students_and_staff;

    /// A folder holding `files` (name, contents).
    fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(d.path().join(name), bytes).unwrap();
        }
        d
    }

    /// Writes the mapping `name` into `d` and reads it keyed on `keys`.
    fn read_new(
        d: &tempfile::TempDir,
        name: &str,
        text: &[u8],
        keys: &KeyFields,
    ) -> Result<Mapping> {
        let path = d.path().join(name);
        std::fs::write(&path, text).unwrap();
        read_csv(&path, keys)
    }

    fn mail() -> KeyFields {
        KeyFields::each(&["mail"])
    }

    #[test]
    fn classic_two_columns_with_bom_and_crlf() {
        let d = folder(&[("a.jpg", b"x")]);
        let map = read_new(
            &d,
            "m.csv",
            b"\xEF\xBB\xBFpath,mail\r\na.jpg,a@s.example\r\nmissing.jpg,b@s.example\r\n",
            &mail(),
        )
        .unwrap();
        assert_eq!(map.people.len(), 1);
        assert_eq!(map.people[0].field("mail"), Some("a@s.example"));
        assert_eq!(map.people[0].photo, d.path().join("a.jpg"));
        assert_eq!(map.problems.len(), 1);
        assert_eq!(map.problems[0].origin.line, 3);
        assert!(map.problems[0].message.contains("not found"));
    }

    #[cfg(unix)]
    #[test]
    fn a_photo_path_that_is_a_folder_or_a_pipe_says_what_it_is() {
        let d = folder(&[]);
        std::fs::create_dir(d.path().join("grade9")).unwrap();
        std::os::unix::fs::symlink(d.path().join("grade9"), d.path().join("b.jpg")).unwrap();
        let fifo = d.path().join("c.jpg");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let csv = b"path,mail\ngrade9,a@s\nb.jpg,b@s\nc.jpg,c@s\nnone.jpg,d@s\n";
        let map = read_new(&d, "m.csv", csv, &mail()).unwrap();
        let messages: Vec<&str> = map.problems.iter().map(|p| p.message.as_str()).collect();
        assert!(
            messages[0].starts_with("photo path is a folder"),
            "{messages:?}"
        );
        // A link is followed to say what it leads to.
        assert!(
            messages[1].starts_with("photo path is a folder"),
            "{messages:?}"
        );
        if made.is_ok_and(|s| s.success()) {
            assert!(messages[2].contains("named pipe"), "{messages:?}");
        }
        assert!(
            messages[3].starts_with("photo file not found"),
            "{messages:?}"
        );
    }

    #[test]
    fn semicolon_tab_and_quotes_are_detected() {
        let d = folder(&[("a b.jpg", b"x")]);
        let csv = b"Path;Mail;Name\n\"a b.jpg\";a@s;\"Doe; Jane\"\n";
        let map = read_new(&d, "m.csv", csv, &mail()).unwrap();
        assert_eq!(map.people[0].field("name"), Some("Doe; Jane"));
        let tsv = b"path\tmail\na b.jpg\ta@s\n";
        assert_eq!(read_new(&d, "t.csv", tsv, &mail()).unwrap().people.len(), 1);
    }

    #[test]
    fn windows_1252_and_utf16_are_decoded() {
        let d = folder(&[("a.jpg", b"x")]);
        let map = read_new(&d, "m.csv", b"path,mail,name\na.jpg,a@s,Jos\xe9\n", &mail()).unwrap();
        assert_eq!(map.people[0].field("name"), Some("José"));
        assert_eq!(map.notes.len(), 1);
        let utf16: Vec<u8> = "\u{feff}path\tmail\na.jpg\ta@s\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(
            read_new(&d, "u.csv", &utf16, &mail()).unwrap().people.len(),
            1
        );
    }

    #[test]
    fn empty_key_and_conflicting_duplicates_are_reported() {
        let d = folder(&[("a.jpg", b"x"), ("b.jpg", b"x")]);
        let csv = b"path,mail\na.jpg,\na.jpg,x@s\nb.jpg,X@s\nb.jpg,y@s\nb.jpg,y@s\n";
        let map = read_new(&d, "m.csv", csv, &mail()).unwrap();
        let lines: Vec<u64> = map.problems.iter().map(|p| p.origin.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(map.problems[0].message.contains("empty `mail`"));
        assert!(map.problems[1].message.contains("line 4"));
        assert_eq!(map.people.len(), 1, "y@s kept once");
        assert_eq!(map.people[0].origin.line, 5);
    }

    /// Issue 24, item 3: a column that is only part of a key template is no identity. With
    /// `{grade}/{mail}.jpg` and `{first_name}.{last_name}@school.example`, people who share a
    /// grade or a first name are all kept; two rows whose rendered keys are equal (compared
    /// without case) are the same person. (Failed before: "`grade` 9 also appears on line 3"
    /// left out every student who shared a grade.)
    #[test]
    fn duplicates_are_found_on_rendered_keys_not_on_each_column() {
        use crate::model::{Profile, Template};
        use crate::target::TargetInfo;
        let target = |name: &str, key: &str| {
            TargetInfo::new(
                name,
                "x",
                Template::parse(key).unwrap(),
                Profile::square(64),
            )
        };
        let mut keys = KeyFields::default();
        keys.add_target(&target("folder", "{grade}/{mail}.jpg"));
        keys.add_target(&target("dir", "{first_name}.{last_name}@school.example"));
        let d = folder(&[
            ("a.jpg", b"a"),
            ("b.jpg", b"b"),
            ("c.jpg", b"c"),
            ("e.jpg", b"e"),
        ]);
        let csv = b"path,grade,mail,first_name,last_name\n\
            a.jpg,9,a@s,Ana,Lee\n\
            b.jpg,9,b@s,Ana,Kim\n\
            c.jpg,10,c@s,Bo,Kim\n\
            e.jpg,10,C@S,Eve,Ng\n\
            a.jpg,9,a@s,Ana,Lee\n";
        let map = read_new(&d, "m.csv", csv, &keys).unwrap();
        let kept: Vec<u64> = map.people.iter().map(|p| p.origin.line).collect();
        assert_eq!(kept, [2, 3], "{:?}", map.problems);
        let problems: Vec<(u64, &str)> = map
            .problems
            .iter()
            .map(|p| (p.origin.line, p.message.as_str()))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, 4);
        assert!(
            problems[0].1.contains("`{grade}/{mail}.jpg` 10/c@s")
                && problems[0].1.contains("line 5"),
            "{problems:?}"
        );
        assert_eq!(problems[1].0, 5);
        assert!(problems[1].1.contains("line 4"), "{problems:?}");
        assert_eq!(map.notes.len(), 1, "line 6 repeats line 2: used once");
    }

    #[test]
    fn a_person_keyed_by_a_targets_other_template_is_kept() {
        let d = folder(&[
            ("a.jpg", b"a.jpg"),
            ("b.jpg", b"b.jpg"),
            ("c.jpg", b"c.jpg"),
        ]);
        let csv =
            b"path,student_id,teacher_number,grade\na.jpg,100200,,9\nb.jpg,,T42,STAFF\nc.jpg,,,10\n";
        let map = read_new(&d, "m.csv", csv, &students_and_staff()).unwrap();
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
        let students = b"path,student_id\na.jpg,100200\n";
        let map = read_new(&d, "n.csv", students, &students_and_staff()).unwrap();
        assert_eq!(map.people.len(), 1);
        let staff = b"path,teacher_number\nb.jpg,T42\n";
        let e = read_new(&d, "o.csv", staff, &students_and_staff()).unwrap_err();
        assert!(e.message().contains("student_id"));
    }

    #[test]
    fn missing_path_column_or_key_column_is_an_error() {
        let d = folder(&[]);
        let e = read_new(&d, "m.csv", b"file_name,mail\n", &KeyFields::default()).unwrap_err();
        assert!(e.message().contains("no photo column"));
        let e = read_new(
            &d,
            "n.csv",
            b"path,mail\n",
            &KeyFields::each(&["student_id"]),
        )
        .unwrap_err();
        assert!(e.message().contains("student_id"));
    }

    #[test]
    fn blank_rows_are_skipped_but_counted() {
        let d = folder(&[("a.jpg", b"x"), ("b.jpg", b"y")]);
        let csv = b"path,mail\na.jpg,a@s\n , \n\nb.jpg,b@s\n";
        let map = read_new(&d, "m.csv", csv, &mail()).unwrap();
        assert!(map.problems.is_empty(), "{:?}", map.problems);
        let lines: Vec<u64> = map.people.iter().map(|p| p.origin.line).collect();
        assert_eq!(lines, [2, 5]);
    }
}
