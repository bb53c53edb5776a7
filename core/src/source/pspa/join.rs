//! Joining index rows to the roster: each row finds its one roster person and its photo file,
//! or is left out with the reason; then rows that name one person twice are settled. Never a
//! guess: a photo on the wrong student is worse than no photo.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use super::roster::{Roster, normalize};
use super::{MatchStats, PspaOptions, Reason, Unmatched};
use crate::model::Person;
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
    let matched = match roster {
        None => None,
        Some(roster) => {
            let key: Vec<String> = options.match_on.iter().map(|f| normalize(get(f))).collect();
            let shown = options
                .match_on
                .iter()
                .map(|f| format!("{f}={}", get(f)))
                .collect::<Vec<_>>()
                .join(", ");
            match roster.matches(&key) {
                [] => {
                    let hint = roster.near_miss(&key, &options.match_on);
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
                [one] => Some(*one),
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

/// Two rows for the same roster person (or the same key value) with different photos: both
/// are left out, since picday cannot know which photo is right. Same photo twice: used once.
pub(super) fn drop_same_person(
    rows: Vec<(Person, Option<usize>)>,
    key_fields: &KeyFields,
    stats: &mut MatchStats,
    roster: Option<&Roster>,
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
            let same = if what == "roster" {
                "the same roster person".to_string()
            } else {
                format!("the same {what}")
            };
            stats.unmatched.push(*left_out(
                &rows[i].0,
                Reason::SamePerson,
                format!(
                    "index lines {} are {same} with different photos; none is used",
                    lines.join(", ")
                ),
                "keep one row per person (the retake, if there is one)",
            ));
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
