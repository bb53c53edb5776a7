//! Joining index rows to the roster: each row finds its one roster person and its photo file,
//! or is left out with the reason; then rows that name one person twice are settled. Never a
//! guess: a photo on the wrong student is worse than no photo.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use super::grades::Grades;
use super::roster::{Roster, normalize};
use super::{MatchStats, PspaOptions, ROLE_FIELD, Reason, Retake, Unmatched};
use crate::model::Person;
use crate::source::config::Duplicates;
use crate::source::{KeyFields, RowProblem};

/// Folder listings, for finding image files whose name differs only by case (deliveries are
/// made on Windows, where that does not matter).
#[derive(Default)]
pub(super) struct FileCache {
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

/// The row `person` was read from, left out for `reason`.
fn left_out(
    person: &Person,
    reason: Reason,
    message: impl Into<String>,
    advice: impl Into<String>,
) -> Box<Unmatched> {
    Box::new(Unmatched {
        reason,
        problem: RowProblem::about(person, message, advice),
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
pub(super) type LeftOut = (Box<Unmatched>, Option<usize>);

/// Joins one index row (a person without a photo yet) to the roster and finds its photo.
pub(super) fn resolve_row(
    row: Person,
    volume_dir: &Path,
    roster: Option<&Roster>,
    options: &PspaOptions,
    key_fields: &KeyFields,
    files: &mut FileCache,
    equivalences: &mut BTreeMap<String, usize>,
) -> std::result::Result<(Person, Option<usize>), LeftOut> {
    let get = |f: &str| row.fields.get(f).map(String::as_str).unwrap_or("").trim();
    let file = get("image_file_name");
    if file.is_empty() {
        return Err((
            left_out(
                &row,
                Reason::Unusable,
                "no image file name (column C)",
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
    let staff = options.is_staff(&row, |f| f);
    let matched = match roster {
        None => None,
        Some(roster) => {
            let index = roster.index(staff);
            let key: Vec<String> = index
                .fields
                .iter()
                .map(|f| options.match_value(f, get(f)))
                .collect();
            let shown = index
                .fields
                .iter()
                .map(|f| format!("{f}={}", get(f)))
                .collect::<Vec<_>>()
                .join(", ");
            let whom = if staff { "staff " } else { "" };
            match index.matches(&key) {
                [] => {
                    let hint = index.near_miss(&key, &roster.rows);
                    return Err((
                        left_out(
                            &row,
                            Reason::NoMatch,
                            format!("no one in the {whom}roster has {shown}{hint}"),
                            if staff {
                                "a staff row (its grade or title says so) is matched with staff only, without grade: check the spelling, or give the staff in [source] staff_roster"
                            } else {
                                "check the spelling in the index and the roster, or add the person to the roster"
                            },
                        ),
                        None,
                    ));
                }
                [one] => {
                    if let Some(column) = index.column_of("grade") {
                        let ours = get("grade");
                        let theirs = roster.rows[*one]
                            .fields
                            .get(column)
                            .map_or("", String::as_str);
                        if normalize(ours) != normalize(theirs) {
                            let meaning = Grades::meaning(&options.grades.canonical(ours))
                                .map_or(String::new(), |m| format!(" ({m})"));
                            *equivalences
                                .entry(format!("{} = {}{meaning}", ours, theirs.trim()))
                                .or_insert(0) += 1;
                        }
                    }
                    Some(*one)
                }
                many => {
                    let lines: Vec<String> = many
                        .iter()
                        .map(|&i| roster.rows[i].origin.line.to_string())
                        .collect();
                    return Err((
                        left_out(
                            &row,
                            Reason::Ambiguous,
                            format!(
                                "{} {whom}roster people have {shown} (roster lines {}); not guessed",
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
    };
    let mut person = row;
    person.photo = volume_dir.join(&rel);
    let mut matched_note = String::new();
    if let (Some(i), Some(roster)) = (matched, roster) {
        let found = &roster.rows[i];
        // The roster is the SIS's truth: its values win for fields both have.
        person.fields.extend(found.fields.clone());
        matched_note = format!(" (matched roster line {})", found.origin.line);
    }
    if staff {
        person
            .fields
            .entry(ROLE_FIELD.to_string())
            .or_insert_with(|| "staff".to_string());
    }
    if let Some(missing) = key_fields.missing(&person) {
        let u = left_out(
            &person,
            Reason::Unusable,
            format!("no `{missing}`{matched_note}"),
            format!("fill in `{missing}` in the roster for this person"),
        );
        return Err((u, matched));
    }
    match files.find(&person.photo) {
        Some(found) => {
            person.photo = found;
            Ok((person, matched))
        }
        None => {
            let u = left_out(
                &person,
                Reason::PhotoMissing,
                format!(
                    "photo file not found: {}{matched_note}",
                    person.photo.display()
                ),
                "ask the photographer for the missing file, or fix the file name in the index",
            );
            Err((u, matched))
        }
    }
}

/// How an image row's size ranks when one person has several rows: `LARGE` is the portrait,
/// `SMALL` its thumbnail.
fn size_rank(person: &Person) -> u8 {
    match person
        .field("image_size")
        .map(|s| s.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("LARGE") => 2,
        Some("SMALL") => 0,
        _ => 1,
    }
}

/// Whether the rows of a group are one person: all matched to one roster row, or, without a
/// roster, all with the same name.
fn one_person(rows: &[(Person, Option<usize>)], group: &[usize]) -> bool {
    let first = &rows[group[0]];
    match first.1 {
        Some(r) => group.iter().all(|&i| rows[i].1 == Some(r)),
        None => {
            let name = |p: &Person| {
                ["last_name", "first_name"]
                    .map(|f| normalize(p.field(f).unwrap_or("")))
                    .to_vec()
            };
            let n = name(&first.0);
            !n.iter().all(String::is_empty) && group.iter().all(|&i| name(&rows[i].0) == n)
        }
    }
}

/// Rows that name one person (the same roster person, or the same key) with different
/// photos. Rows of one person are a retake (or the `SMALL` and `LARGE` images of one
/// portrait): `LARGE` wins over `SMALL`, then the later row (or the earlier, or none, as
/// `duplicates` says), and [`Retake`] records which row was used and why. Rows of different
/// people with one key are all left out: picday cannot know whose photo is right. The same
/// photo twice is used once.
pub(super) fn drop_same_person(
    rows: Vec<(Person, Option<usize>)>,
    key_fields: &KeyFields,
    stats: &mut MatchStats,
    roster: Option<&Roster>,
    duplicates: Duplicates,
) -> Vec<(Person, Option<usize>)> {
    let mut drop = vec![false; rows.len()];
    let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
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
        // Keys as the targets render them: a column that is only part of a key (`grade` in
        // `{grade}/{mail}.jpg`) is no identity of its own.
        for key in key_fields.keys(p) {
            let group = groups.entry((key.what, key.compared)).or_default();
            if !group.contains(&i) {
                group.push(i);
            }
        }
    }
    let mut groups: Vec<_> = groups.into_iter().filter(|(_, g)| g.len() > 1).collect();
    groups.sort();
    for ((what, _), group) in groups {
        let group: Vec<usize> = group.into_iter().filter(|&i| !drop[i]).collect();
        if group.len() < 2 {
            continue;
        }
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
        let same = if what == "roster" {
            "the same roster person".to_string()
        } else {
            format!("the same {what}")
        };
        let one = one_person(&rows, &group);
        if one {
            let best = group
                .iter()
                .map(|&i| size_rank(&rows[i].0))
                .max()
                .unwrap_or(1);
            let candidates: Vec<usize> = group
                .iter()
                .copied()
                .filter(|&i| size_rank(&rows[i].0) == best)
                .collect();
            let by_size = candidates.len() < group.len();
            let chosen = match duplicates {
                _ if candidates.len() == 1 => candidates.first().copied(),
                Duplicates::Last => candidates.last().copied(),
                Duplicates::First => candidates.first().copied(),
                Duplicates::Error => None,
            };
            if let Some(used) = chosen {
                let why = if by_size && candidates.len() == 1 {
                    "the LARGE image, not the SMALL one".to_string()
                } else {
                    match duplicates {
                        Duplicates::First => {
                            "the first row ([source] duplicates = \"first\")".to_string()
                        }
                        _ => "the later row, a retake ([source] duplicates = \"last\")".to_string(),
                    }
                };
                for &i in &group {
                    drop[i] = i != used;
                }
                stats.retakes.push(Retake {
                    person: rows[used].0.label(),
                    used: rows[used].0.origin.clone(),
                    not_used: group
                        .iter()
                        .filter(|&&i| i != used)
                        .map(|&i| rows[i].0.origin.line)
                        .collect(),
                    why,
                });
                continue;
            }
        }
        for &i in &group {
            drop[i] = true;
            let (message, advice) = if one {
                (
                    format!(
                        "index lines {} are {same} with different photos; none is used ([source] duplicates = \"error\")",
                        lines.join(", ")
                    ),
                    "keep one row per person, or set [source] duplicates = \"last\" to use the retake",
                )
            } else {
                (
                    format!(
                        "index lines {} are different people with {same}; none is used",
                        lines.join(", ")
                    ),
                    "give each person their own id in the roster, or fix the names in the index",
                )
            };
            stats
                .unmatched
                .push(*left_out(&rows[i].0, Reason::SamePerson, message, advice));
        }
    }
    rows.into_iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(r, _)| r)
        .collect()
}

/// The roster people no index row found: not the people of the run, nor those of rows left
/// out for their photo or key (`found_but_left_out`), who were found all the same.
pub(super) fn roster_without_photo(
    roster: &Roster,
    people: &[(Person, Option<usize>)],
    found_but_left_out: &[usize],
) -> Vec<(String, u64)> {
    let mut used = vec![false; roster.rows.len()];
    for &r in people
        .iter()
        .filter_map(|(_, r)| r.as_ref())
        .chain(found_but_left_out)
    {
        used[r] = true;
    }
    roster
        .rows
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(r, _)| (r.label(), r.origin.line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
