//! Placeholder photos: the photographer's "no photo" silhouette delivered as several people's
//! photo. Whatever the source, sending it would replace real photos, so `push` holds such
//! people back and `check` and `preview` flag them.

use std::collections::HashMap;
use std::path::Path;

use super::{Mapping, RowProblem};
use crate::model::Person;

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

/// How many other members of a group a report names before it says how many more there are.
const NAMED_OTHERS: usize = 5;

/// The members of a group other than `names[me]`, for that one's report: the first
/// [`NAMED_OTHERS`], then "and N more". Bounded, so that a group of thousands (one placeholder
/// file for a whole school) costs as little to report as it is to read, not the square of it.
pub fn name_others(names: &[String], me: usize) -> String {
    let shown: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != me)
        .take(NAMED_OTHERS)
        .map(|(_, n)| n.as_str())
        .collect();
    let more = names.len().saturating_sub(1 + shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
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
        for (me, &i) in group.iter().enumerate() {
            held[i] = true;
            mapping.problems.push(RowProblem::about(
                &mapping.people[i],
                format!(
                    "placeholder? the same photo file as line {} (a \"no photo\" image delivered for several people)",
                    name_others(&lines, me)
                ),
                "replace it with the person's own photo, or pass --allow-shared-photos to send it anyway",
            ));
        }
    }
    mapping.leave_out(&held);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::KeyFields;
    use crate::source::csv::read_csv;

    #[test]
    fn shared_photos_are_held_back_for_review() {
        let d = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("a.jpg", "silhouette"),
            ("b.jpg", "silhouette"),
            ("c.jpg", "silhouettf"),
            ("d.jpg", "own photo of d"),
            (
                "m.csv",
                "path,mail\na.jpg,a@s\nb.jpg,b@s\nc.jpg,c@s\nd.jpg,d@s\n",
            ),
        ] {
            std::fs::write(d.path().join(name), bytes).unwrap();
        }
        let mut map = read_csv(&d.path().join("m.csv"), &KeyFields::each(&["mail"])).unwrap();
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

#[cfg(test)]
mod name_tests {
    use super::name_others;

    #[test]
    fn a_large_group_names_five_others_and_counts_the_rest() {
        let names: Vec<String> = (2..10_002).map(|n| n.to_string()).collect();
        assert_eq!(name_others(&names, 0), "3, 4, 5, 6, 7 and 9994 more");
        assert_eq!(name_others(&names, 2), "2, 3, 5, 6, 7 and 9994 more");
        assert_eq!(name_others(&names[..2], 1), "2");
    }
}
