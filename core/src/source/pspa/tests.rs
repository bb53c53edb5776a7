//! Whole deliveries read and joined: the shipped fixture and small ones written per test.

use super::*;

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

/// Reads the delivery at `at` inside `d` (`""`: `d` itself), joined to `d`'s roster.
fn joined(d: &tempfile::TempDir, at: &str, keys: &KeyFields) -> Result<Delivery> {
    let path = if at.is_empty() {
        d.path().to_path_buf()
    } else {
        d.path().join(at)
    };
    read_delivery(&path, &with_roster(&d.path().join("roster.csv")), keys)
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
    let m = joined(&d, "VOL", &keys(&["email"])).unwrap();
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
    let keys = crate::source::keys::students_and_staff();
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
    let m = joined(&d, "", &keys).unwrap();
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
    let m = joined(&seven, "VOL/INDEX.TXT", &KeyFields::default()).unwrap();
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
    let m = joined(&eight, "VOL", &KeyFields::default()).unwrap();
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
    let m = joined(&d, "", &KeyFields::default()).unwrap();
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
        ..with_roster(&d.path().join("roster.csv"))
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
    let m = joined(&d, "", &KeyFields::default()).unwrap();
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
    let m = joined(&d, "", &KeyFields::default()).unwrap();
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
    let m = joined(&d, "", &KeyFields::default()).unwrap();
    assert!(m.stats.index_files[0].ends_with("VOL/Master.txt"));
    assert_eq!(m.mapping.people[0].photo, d.path().join("VOL/IMAGES/A.JPG"));
}

#[test]
fn missing_roster_column_is_a_config_error() {
    let d = delivery("INDEX.TXT", "", "id,name\n1,x\n", &[]);
    let e = joined(&d, "", &KeyFields::default()).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Config);
    assert!(e.message().contains("`last_name`"), "{e}");
}
