//! A folder of photos, and no CSV: the people are read from the file names.
//!
//! Many schools have nothing but a folder whose files are named by student number or e-mail
//! (what CodeTwo's "automatch" and GAM's `#email#.jpg` idiom rely on). `[source] folder` with
//! a `file_name` template (`{student_id}.jpg`, `{mail}.jpg`,
//! `{last_name}_{first_name}_{student_id}.jpg`) turns each file into a person whose fields are
//! the template's fields, compared without case, in sub-folders too. An optional roster adds
//! the other columns, joined on those fields. A file that does not fit the template, or fits
//! it in more than one way, is listed and never guessed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::table::{csv_with_header, decode_text, records};
use super::{KeyFields, Mapping, RowProblem};
use crate::error::{Error, Result};
use crate::model::{Origin, Person};

/// One piece of a `file_name` template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text that must be there, lower-cased (ASCII).
    Literal(String),
    /// A field: one or more characters.
    Field(String),
}

/// A `file_name` template as a pattern over file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    source: String,
    pieces: Vec<Piece>,
}

impl FilePattern {
    /// Parses `{student_id}.jpg`: fields in braces, the rest literal. Two fields side by side
    /// could split a name any way, so they are refused.
    pub fn parse(source: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::config(format!(
                "[source] file_name = {source:?}: {why} (e.g. \"{{student_id}}.jpg\")"
            ))
        };
        let mut pieces = Vec::new();
        let mut rest = source;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let end = after.find('}').ok_or_else(|| bad("a `{` is not closed"))?;
                let name = after[..end].trim().to_lowercase();
                if name.is_empty() {
                    return Err(bad("an empty `{}`"));
                }
                if matches!(pieces.last(), Some(Piece::Field(_))) {
                    return Err(bad("two fields need something between them"));
                }
                pieces.push(Piece::Field(name));
                rest = &after[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                if rest[..end].contains('}') || rest[..end].contains(['/', '\\']) {
                    return Err(bad("a stray `}` or a folder separator"));
                }
                pieces.push(Piece::Literal(rest[..end].to_ascii_lowercase()));
                rest = &rest[end..];
            }
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
            return Err(bad("it names no field"));
        }
        Ok(FilePattern {
            source: source.to_string(),
            pieces,
        })
    }

    /// The fields of the template, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(f.as_str()),
            Piece::Literal(_) => None,
        })
    }

    /// Every way `name` fits the template (up to two: more than one is already ambiguous),
    /// literals compared without ASCII case; field values keep the file's spelling.
    pub fn captures(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let mut found = Vec::new();
        let lower = name.to_ascii_lowercase();
        fit(&self.pieces, name, &lower, 0, &mut Vec::new(), &mut found);
        found
    }
}

fn fit(
    pieces: &[Piece],
    name: &str,
    lower: &str,
    at: usize,
    taken: &mut Vec<(String, String)>,
    found: &mut Vec<BTreeMap<String, String>>,
) {
    if found.len() >= 2 {
        return;
    }
    let Some((piece, rest)) = pieces.split_first() else {
        if at == name.len() {
            found.push(taken.iter().cloned().collect());
        }
        return;
    };
    match piece {
        Piece::Literal(l) => {
            if lower[at..].starts_with(l.as_str()) {
                fit(rest, name, lower, at + l.len(), taken, found);
            }
        }
        Piece::Field(f) => {
            for (end, _) in name[at..]
                .char_indices()
                .skip(1)
                .chain([(name.len() - at, ' ')])
            {
                let value = &name[at..at + end];
                // One field read twice must say the same both times.
                if taken
                    .iter()
                    .any(|(k, v)| k == f && !v.eq_ignore_ascii_case(value))
                {
                    continue;
                }
                taken.push((f.clone(), value.to_string()));
                fit(rest, name, lower, at + end, taken, found);
                taken.pop();
            }
        }
    }
}

/// How a folder was read: what `picday check` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FolderStats {
    pub folder: PathBuf,
    pub file_name: String,
    /// Files found (hidden files not counted).
    pub files: usize,
    /// Files that became people.
    pub matched: usize,
    /// Files that do not fit the template, and why.
    pub not_matching: Vec<(PathBuf, String)>,
    /// The roster, when there is one, and its people no file was found for.
    pub roster: Option<PathBuf>,
    pub roster_without_photo: Vec<(String, u64)>,
}

impl fmt::Display for FolderStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "photo folder {} named {:?}: {} files, {} people, {} files do not fit",
            self.folder.display(),
            self.file_name,
            self.files,
            self.matched,
            self.not_matching.len()
        )?;
        for (file, why) in &self.not_matching {
            writeln!(f, "    {}: {why}", file.display())?;
        }
        if let Some(r) = &self.roster {
            writeln!(
                f,
                "roster {}: {} roster people have no photo in the folder",
                r.display(),
                self.roster_without_photo.len()
            )?;
            for (who, line) in self.roster_without_photo.iter().take(20) {
                writeln!(f, "    roster line {line}: {who}")?;
            }
        }
        Ok(())
    }
}

/// Every file under `dir`, sorted, hidden files and folders left out.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e).prefixed("cannot read the photo folder"))?
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads the people of a photo folder: each file whose name fits `pattern` (in sub-folders
/// too), joined to `roster` on the template's fields if there is one.
pub fn read_folder(
    folder: &Path,
    pattern: &FilePattern,
    roster: Option<&Path>,
    key_fields: &KeyFields,
) -> Result<(Mapping, FolderStats)> {
    if !folder.is_dir() {
        return Err(Error::config(format!(
            "[source] folder: {} is not a folder",
            folder.display()
        )));
    }
    let mut files = Vec::new();
    walk(folder, &mut files)?;
    let mut stats = FolderStats {
        folder: folder.to_path_buf(),
        file_name: pattern.source.clone(),
        files: files.len(),
        roster: roster.map(Path::to_path_buf),
        ..FolderStats::default()
    };
    let mut mapping = Mapping::default();
    let roster = roster
        .map(|r| Roster::read(r, pattern, &mut mapping.notes))
        .transpose()?;
    let mut used = vec![false; roster.as_ref().map_or(0, |r| r.rows.len())];
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fits = pattern.captures(&name);
        let fields = match fits.as_slice() {
            [one] => one.clone(),
            [] => {
                stats
                    .not_matching
                    .push((file, format!("does not fit {:?}", pattern.source)));
                continue;
            }
            _ => {
                stats.not_matching.push((
                    file,
                    format!(
                        "fits {:?} in more than one way; not guessed",
                        pattern.source
                    ),
                ));
                continue;
            }
        };
        let mut person = Person {
            fields,
            photo: file.clone(),
            origin: Origin { file, line: 0 },
        };
        if let Some(roster) = &roster {
            let key = roster.key_of(&person.fields);
            match roster.by_key.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
                [] => {
                    mapping.problems.push(RowProblem::about(
                        &person,
                        format!("no roster row has {}", roster.shown(&person.fields)),
                        "check the file name, or add the person to the roster",
                    ));
                    continue;
                }
                [i] => {
                    used[*i] = true;
                    person.fields.extend(roster.rows[*i].fields.clone());
                }
                many => {
                    let lines: Vec<String> = many
                        .iter()
                        .map(|&i| roster.rows[i].origin.line.to_string())
                        .collect();
                    mapping.problems.push(RowProblem::about(
                        &person,
                        format!(
                            "roster lines {} all have {}; not guessed",
                            lines.join(", "),
                            roster.shown(&person.fields)
                        ),
                        "name the file by a field that tells them apart (an id)",
                    ));
                    continue;
                }
            }
        }
        if let Some(missing) = key_fields.missing(&person) {
            mapping.problems.push(RowProblem::about(
                &person,
                format!("no `{missing}` for this file"),
                format!("name files by `{missing}`, or give it in a roster"),
            ));
            continue;
        }
        mapping.people.push(person);
    }
    one_file_per_key(&mut mapping, key_fields);
    if let Some(roster) = &roster {
        stats.roster_without_photo = roster
            .rows
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(r, _)| (r.label(), r.origin.line))
            .collect();
    }
    stats.matched = mapping.people.len();
    Ok((mapping, stats))
}

/// Two files that key one person (`0100200.jpg` and `sub/0100200.JPG`): neither is used,
/// since picday cannot know which photo is right.
fn one_file_per_key(mapping: &mut Mapping, key_fields: &KeyFields) {
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in mapping.people.iter().enumerate() {
        for key in key_fields.keys(p) {
            by_key.entry(key.compared).or_default().push(i);
        }
    }
    let mut drop = vec![false; mapping.people.len()];
    let mut clashes: Vec<Vec<usize>> = by_key.into_values().filter(|g| g.len() > 1).collect();
    clashes.sort();
    for group in clashes {
        let files: Vec<String> = group
            .iter()
            .map(|&j| mapping.people[j].photo.display().to_string())
            .collect();
        for (me, &i) in group.iter().enumerate() {
            if drop[i] {
                continue;
            }
            drop[i] = true;
            mapping.problems.push(RowProblem::about(
                &mapping.people[i],
                format!(
                    "the same person as {}; neither photo is used",
                    super::shared::name_others(&files, me)
                ),
                "keep one photo per person in the folder",
            ));
        }
    }
    mapping.leave_out(&drop);
}

/// The roster of a folder, indexed by the template's fields it has (compared without case).
struct Roster {
    rows: Vec<Person>,
    fields: Vec<String>,
    by_key: HashMap<Vec<String>, Vec<usize>>,
}

impl Roster {
    fn read(path: &Path, pattern: &FilePattern, notes: &mut Vec<String>) -> Result<Roster> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(path, e).prefixed("cannot read the roster"))?;
        let text = decode_text(&bytes, notes);
        let (mut reader, headers) = csv_with_header(path, &text)?;
        let fields: Vec<String> = pattern
            .fields()
            .filter(|f| headers.iter().any(|h| h == f))
            .map(str::to_string)
            .collect();
        if fields.is_empty() {
            return Err(Error::config(format!(
                "{}: the roster has none of the file name's fields ({}) to join on; it has: {}",
                path.display(),
                pattern.fields().collect::<Vec<_>>().join(", "),
                headers.join(", ")
            )));
        }
        let mut roster = Roster {
            rows: Vec::new(),
            fields,
            by_key: HashMap::new(),
        };
        for (line, record) in records(&mut reader, &text) {
            let record = record.map_err(|e| {
                Error::input(format!("{}: unreadable roster row: {e}", path.display()))
            })?;
            let person = Person {
                fields: headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(h, _)| !h.is_empty())
                    .map(|(h, v)| (h.clone(), v.to_string()))
                    .collect(),
                photo: PathBuf::new(),
                origin: Origin {
                    file: path.to_path_buf(),
                    line,
                },
            };
            let key = roster.key_of(&person.fields);
            roster
                .by_key
                .entry(key)
                .or_default()
                .push(roster.rows.len());
            roster.rows.push(person);
        }
        Ok(roster)
    }

    fn key_of(&self, fields: &BTreeMap<String, String>) -> Vec<String> {
        self.fields
            .iter()
            .map(|f| {
                fields
                    .get(f)
                    .map_or("", String::as_str)
                    .trim()
                    .to_lowercase()
            })
            .collect()
    }

    fn shown(&self, fields: &BTreeMap<String, String>) -> String {
        self.fields
            .iter()
            .map(|f| format!("{f}={}", fields.get(f).map_or("", String::as_str)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(d: &Path, names: &[&str]) {
        for n in names {
            let p = d.join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, n.as_bytes()).unwrap();
        }
    }

    #[test]
    fn templates_fit_names_without_case_and_never_two_ways() {
        let p = FilePattern::parse("{student_id}.jpg").unwrap();
        assert_eq!(p.captures("0100200.JPG")[0]["student_id"], "0100200");
        assert!(p.captures("0100200.png").is_empty());
        let p = FilePattern::parse("{last_name}_{first_name}_{student_id}.jpg").unwrap();
        let c = p.captures("Rivera_Ana_0100200.jpg");
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0]["last_name"].as_str(), c[0]["first_name"].as_str()),
            ("Rivera", "Ana")
        );
        assert_eq!(p.captures("De_La_Cruz_Ana_1.jpg").len(), 2, "ambiguous");
        assert!(FilePattern::parse("{a}{b}.jpg").is_err());
        assert!(FilePattern::parse("photo.jpg").is_err());
        assert!(FilePattern::parse("{mail.jpg").is_err());
    }

    #[test]
    fn a_folder_becomes_people_with_a_roster_and_odd_files_are_listed() {
        let d = tempfile::tempdir().unwrap();
        files(
            d.path(),
            &[
                "photos/0100200.jpg",
                "photos/grade9/0100201.JPG",
                "photos/Thumbs.db",
                "photos/0100299.jpg",
                "photos/0100202.jpg",
                "photos/sub/0100202.jpg",
                "photos/.DS_Store",
            ],
        );
        std::fs::write(
            d.path().join("roster.csv"),
            "Student_ID,Email,First_Name\n0100200,ana@s,Ana\n0100201,wei@s,Wei\n0100202,c@s,Chidi\n0100203,l@s,Linh\n",
        )
        .unwrap();
        let pattern = FilePattern::parse("{student_id}.jpg").unwrap();
        let (m, stats) = read_folder(
            &d.path().join("photos"),
            &pattern,
            Some(&d.path().join("roster.csv")),
            &KeyFields::each(&["email"]),
        )
        .unwrap();
        let got: Vec<(&str, &str)> = m
            .people
            .iter()
            .map(|p| (p.field("student_id").unwrap(), p.field("email").unwrap()))
            .collect();
        assert_eq!(got, [("0100200", "ana@s"), ("0100201", "wei@s")]);
        assert_eq!(
            m.people[1].photo,
            d.path().join("photos/grade9/0100201.JPG")
        );
        assert_eq!(stats.files, 6, "hidden files are not counted");
        assert_eq!(stats.not_matching.len(), 1);
        assert!(stats.not_matching[0].0.ends_with("Thumbs.db"));
        let problems: Vec<&str> = m.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no roster row has student_id=0100299"))
        );
        assert_eq!(
            problems
                .iter()
                .filter(|p| p.contains("neither photo"))
                .count(),
            2
        );
        assert_eq!(stats.roster_without_photo, [("l@s".to_string(), 5)]);
        assert!(
            stats.to_string().contains("Thumbs.db: does not fit"),
            "{stats}"
        );
    }

    #[test]
    fn a_folder_named_by_email_needs_no_roster() {
        let d = tempfile::tempdir().unwrap();
        files(d.path(), &["Ana.Rivera@School.example.jpg", "notes.txt"]);
        let pattern = FilePattern::parse("{mail}.jpg").unwrap();
        let (m, stats) =
            read_folder(d.path(), &pattern, None, &KeyFields::each(&["mail"])).unwrap();
        assert_eq!(m.people.len(), 1);
        assert_eq!(m.people[0].field("mail"), Some("Ana.Rivera@School.example"));
        assert_eq!(stats.not_matching.len(), 1);
    }
}
