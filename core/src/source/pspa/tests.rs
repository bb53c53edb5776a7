//! Whole deliveries read and joined: the shipped fixture and small ones written per test.

use super::*;
use crate::source::config::Duplicates;

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
    // Since issue 21 the later row (a retake) is used by default; `duplicates = "error"`
    // keeps the earlier rule.
    let opts = PspaOptions {
        duplicates: Duplicates::Error,
        ..with_roster(&d.path().join("roster.csv"))
    };
    let m = read_delivery(d.path(), &opts, &KeyFields::default()).unwrap();
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

/// A PowerSchool export: kindergarten is grade 0, pre-K -1, as PowerSchool stores them.
const POWERSCHOOL_ROSTER: &str = "Student_Number,First_Name,Last_Name,Grade_Level,Email\n\
    1001,Ava,Kim,0,ava@s.example\n\
    1002,Ben,Ortiz,-1,ben@s.example\n\
    1003,Cleo,Diaz,3,cleo@s.example\n\
    1004,Dev,Shah,-2,dev@s.example\n";

fn powerschool_options(d: &tempfile::TempDir) -> PspaOptions {
    PspaOptions {
        roster_columns: BTreeMap::from([("grade".to_string(), "grade_level".to_string())]),
        ..with_roster(&d.path().join("roster.csv"))
    }
}

#[test]
fn kindergarten_and_pre_k_join_a_powerschool_roster() {
    let d = delivery(
        "MASTER.TXT",
        "VOL\tIMAGES\ta.jpg\tK\tKim\tAva\n\
         VOL\tIMAGES\tb.jpg\tPK\tOrtiz\tBen\n\
         VOL\tIMAGES\tc.jpg\t03\tDiaz\tCleo\n\
         VOL\tIMAGES\td.jpg\tPre-K\tShah\tDev\n",
        POWERSCHOOL_ROSTER,
        &["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
    );
    let m = read_delivery(
        d.path(),
        &powerschool_options(&d),
        &keys(&["student_number"]),
    )
    .unwrap();
    assert_eq!(m.stats.matched, 4, "{:?}", m.stats.unmatched);
    let ids: Vec<&str> = m
        .mapping
        .people
        .iter()
        .map(|p| p.field("student_number").unwrap())
        .collect();
    assert_eq!(ids, ["1001", "1002", "1003", "1004"]);
    let used = &m.stats.grade_equivalences;
    assert_eq!(used.get("K = 0 (kindergarten)"), Some(&1), "{used:?}");
    assert_eq!(used.get("PK = -1 (pre-K)"), Some(&1), "{used:?}");
    assert_eq!(used.get("Pre-K = -2 (pre-K)"), Some(&1), "{used:?}");
    assert!(
        !used.keys().any(|k| k.starts_with("03")),
        "leading zeros are no equivalence worth showing: {used:?}"
    );
    let text = m.stats.to_string();
    assert!(
        text.contains("grades compared by meaning: K = 0 (kindergarten): 1 rows"),
        "{text}"
    );
}

#[test]
fn kindergarten_is_not_pre_k_and_a_districts_codes_are_read() {
    let d = delivery(
        "INDEX.TXT",
        "VOL\tIMAGES\ta.jpg\tPK\tKim\tAva\n\
         VOL\tIMAGES\tc.jpg\tTHIRD\tDiaz\tCleo\n",
        POWERSCHOOL_ROSTER,
        &["a.jpg", "c.jpg"],
    );
    let m = read_delivery(d.path(), &powerschool_options(&d), &KeyFields::default()).unwrap();
    assert_eq!(m.stats.matched, 0);
    assert!(
        m.stats.unmatched[0]
            .problem
            .message
            .contains("only `grade` differs"),
        "{:?}",
        m.stats.unmatched
    );
    let opts = PspaOptions {
        grades: Grades::new(&BTreeMap::from([("third".to_string(), "3".to_string())])),
        ..powerschool_options(&d)
    };
    let m = read_delivery(d.path(), &opts, &KeyFields::default()).unwrap();
    assert_eq!(m.stats.matched, 1, "{:?}", m.stats.unmatched);
    assert_eq!(m.mapping.people[0].field("student_number"), Some("1003"));
    assert_eq!(m.stats.grade_equivalences.get("THIRD = 3"), Some(&1));
}

/// A MASTER.TXT as photographers write it: the retake listed after the original, and one
/// portrait delivered as a SMALL and a LARGE image (the LARGE row first).
const MASTER_WITH_RETAKES: &str = "VOL\tIMAGES\ta1.jpg\t9\tRivera\tAna\t\t\t\t\t\t\tLARGE\n\
    VOL\tIMAGES\tj-large.jpg\t10\tNunez\tJose\t\t\t\t\t\t\tLARGE\n\
    VOL\tIMAGES\tj-small.jpg\t10\tNunez\tJose\t\t\t\t\t\t\tSMALL\n\
    VOL\tIMAGES\ta2.jpg\t9\tRivera\tAna\t\t\t\t\t\t\tLARGE\n";

fn retakes(duplicates: Duplicates) -> (tempfile::TempDir, Delivery) {
    let d = delivery(
        "MASTER.TXT",
        MASTER_WITH_RETAKES,
        ROSTER,
        &["a1.jpg", "a2.jpg", "j-large.jpg", "j-small.jpg"],
    );
    let opts = PspaOptions {
        duplicates,
        ..with_roster(&d.path().join("roster.csv"))
    };
    let m = read_delivery(d.path(), &opts, &keys(&["student_id"])).unwrap();
    (d, m)
}

fn photo_of<'a>(m: &'a Delivery, first: &str) -> Option<&'a str> {
    m.mapping
        .people
        .iter()
        .find(|p| p.field("first_name") == Some(first))
        .and_then(|p| p.photo.file_name())
        .and_then(|n| n.to_str())
}

#[test]
fn the_retake_wins_and_the_report_says_which_row_and_why() {
    let (_d, m) = retakes(Duplicates::Last);
    assert!(m.stats.unmatched.is_empty(), "{:?}", m.stats.unmatched);
    assert_eq!(m.stats.matched, 2);
    assert_eq!(
        photo_of(&m, "Ana"),
        Some("a2.jpg"),
        "the later row is the retake"
    );
    assert_eq!(
        photo_of(&m, "José"),
        Some("j-large.jpg"),
        "LARGE wins over SMALL"
    );
    let r = &m.stats.retakes;
    assert_eq!(r.len(), 2, "{r:?}");
    let ana = r.iter().find(|r| r.person == "Ana Rivera").unwrap();
    assert_eq!((ana.used.line, ana.not_used.clone()), (4, vec![1]));
    assert!(ana.why.contains("retake"), "{ana:?}");
    let jose = r.iter().find(|r| r.person != "Ana Rivera").unwrap();
    assert_eq!((jose.used.line, jose.not_used.clone()), (2, vec![3]));
    assert!(jose.why.contains("LARGE"), "{jose:?}");
    let text = m.stats.to_string();
    assert!(
        text.contains("2 people on several rows (retakes)"),
        "{text}"
    );
    assert!(
        text.contains("MASTER.TXT:4 Ana Rivera: this row is used, line 1 not"),
        "{text}"
    );
    assert!(m.mapping.problems.is_empty(), "a retake is no problem");
    assert_eq!(m.mapping.notes.len(), 2, "{:?}", m.mapping.notes);
}

#[test]
fn duplicates_first_and_error_choose_otherwise() {
    let (_d, m) = retakes(Duplicates::First);
    assert_eq!(photo_of(&m, "Ana"), Some("a1.jpg"));
    assert_eq!(
        photo_of(&m, "José"),
        Some("j-large.jpg"),
        "LARGE still wins"
    );
    let (_d, m) = retakes(Duplicates::Error);
    assert_eq!(photo_of(&m, "Ana"), None);
    assert_eq!(
        photo_of(&m, "José"),
        Some("j-large.jpg"),
        "SMALL/LARGE is no retake"
    );
    let u = &m.stats.unmatched;
    assert_eq!(u.len(), 2, "{u:?}");
    assert!(u.iter().all(|u| u.reason == Reason::SamePerson));
    assert!(u[0].problem.advice.contains("duplicates"), "{u:?}");
}

#[test]
fn two_different_people_with_one_key_stay_an_error() {
    // Without a roster, the vendor's id column is the key: two names on one id are two
    // people, and neither photo is used, whatever `duplicates` says.
    let d = delivery(
        "INDEX.TXT",
        "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\t\t\t\t\t\t\tLARGE\t0100200\n\
         VOL\tIMAGES\tb.jpg\t9\tChen\tWei\t\t\t\t\t\t\tLARGE\t0100200\n\
         VOL\tIMAGES\tc.jpg\t9\tRIVERA\tana\t\t\t\t\t\t\tLARGE\t0100201\n\
         VOL\tIMAGES\td.jpg\t9\tRivera\tAna\t\t\t\t\t\t\tLARGE\t0100201\n",
        ROSTER,
        &["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
    );
    let opts = PspaOptions {
        extra_columns: vec!["student_id".into()],
        ..PspaOptions::default()
    };
    let m = read_delivery(d.path(), &opts, &keys(&["student_id"])).unwrap();
    let photos: Vec<_> = m.mapping.people.iter().map(|p| p.photo.clone()).collect();
    assert_eq!(
        photos,
        [d.path().join("VOL/IMAGES/d.jpg")],
        "same name: a retake"
    );
    assert_eq!(m.stats.unmatched.len(), 2);
    assert!(
        m.stats.unmatched[0]
            .problem
            .message
            .contains("different people"),
        "{:?}",
        m.stats.unmatched
    );
}

#[test]
fn staff_are_told_by_grade_or_title_and_join_the_staff_roster_without_grade() {
    let d = delivery(
        "MASTER.TXT",
        "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\n\
         VOL\tIMAGES\tp.jpg\tFaculty\tPark\tMinji\n\
         VOL\tIMAGES\tl.jpg\tK\tLee\tPat\t\t\t\t\t\tTeacher\tLARGE\n\
         VOL\tIMAGES\tx.jpg\tFAC\tNobody\tSam\n",
        ROSTER,
        &["a.jpg", "p.jpg", "l.jpg", "x.jpg"],
    );
    std::fs::write(
        d.path().join("staff.csv"),
        "teacher_number,last_name,first_name,email\nT0042,Park,Minji,park@s.example\nT0043,Lee,Pat,lee@s.example\n",
    )
    .unwrap();
    let opts = PspaOptions {
        staff_roster: Some(d.path().join("staff.csv")),
        ..with_roster(&d.path().join("roster.csv"))
    };
    let m = read_delivery(d.path(), &opts, &crate::source::keys::students_and_staff()).unwrap();
    let got: Vec<(&str, Option<&str>, Option<&str>)> = m
        .mapping
        .people
        .iter()
        .map(|p| {
            (
                p.field("first_name").unwrap(),
                p.field("teacher_number"),
                p.field(ROLE_FIELD),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Ana", None, None),
            ("Minji", Some("T0042"), Some("staff")),
            ("Pat", Some("T0043"), Some("staff")),
        ],
        "{:?}",
        m.stats.unmatched
    );
    let u = &m.stats.unmatched;
    assert_eq!(u.len(), 1);
    assert!(u[0].problem.message.contains("staff roster"), "{u:?}");
    assert!(u[0].problem.advice.contains("staff_roster"), "{u:?}");
    assert!(
        m.stats
            .roster_without_photo
            .iter()
            .any(|(w, _)| w.contains("José"))
    );
}

#[test]
fn a_configured_template_and_values_mark_staff_too() {
    // The vendor added a teacher number column; this district labels staff "EMP".
    let d = delivery(
        "INDEX.TXT",
        "VOL\tIMAGES\tp.jpg\t\tPark\tMinji\t\t\t\t\t\t\t\tT0042\n\
         VOL\tIMAGES\tq.jpg\tEMP\tLee\tPat\t\t\t\t\t\t\t\t\n\
         VOL\tIMAGES\tr.jpg\tStaff\tRivera\tAna\t\t\t\t\t\t\t\t\n",
        "student_id,teacher_number,first_name,last_name,grade\n\
         ,T0042,Minji,Park,\n\
         ,T0043,Pat,Lee,EMP\n\
         0100200,,Ana,Rivera,9\n",
        &["p.jpg", "q.jpg", "r.jpg"],
    );
    let opts = PspaOptions {
        extra_columns: vec!["teacher_number".into()],
        staff_values: vec!["emp".into()],
        staff_when: Some(Template::parse("{teacher_number}").unwrap()),
        ..with_roster(&d.path().join("roster.csv"))
    };
    let m = read_delivery(d.path(), &opts, &crate::source::keys::students_and_staff()).unwrap();
    let staff: Vec<_> = m
        .mapping
        .people
        .iter()
        .filter(|p| p.field(ROLE_FIELD) == Some("staff"))
        .map(|p| p.field("teacher_number").unwrap())
        .collect();
    assert_eq!(staff, ["T0042", "T0043"], "{:?}", m.stats.unmatched);
    // "Staff" is not one of this district's values: Ana is a student, matched on grade.
    let u = &m.stats.unmatched;
    assert_eq!(u.len(), 1, "{u:?}");
    assert!(
        u[0].problem.message.contains("only `grade` differs"),
        "{u:?}"
    );
}

#[test]
fn a_standard_file_with_trailing_empty_fields_dropped_is_read_as_standard() {
    // The producer dropped empty trailing fields: most rows have 7 or 8 fields, but one row
    // has a title, and the 8th column is a period.
    let d = delivery(
        "INDEX.TXT",
        "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tR100\n\
         VOL\tIMAGES\tb.jpg\t10\tNunez\tJose\tR101\n\
         VOL\tIMAGES\tc.jpg\t10\tChen\tWei\tR101\t3\n",
        ROSTER,
        &["a.jpg", "b.jpg", "c.jpg"],
    );
    let m = joined(&d, "", &KeyFields::default()).unwrap();
    assert!(m.stats.formats[0].contains("standard"), "{:?}", m.stats);
    let ana = &m.mapping.people[0];
    assert_eq!(
        ana.field("home_room"),
        Some("R100"),
        "not the teacher: standard"
    );
    assert_eq!(ana.field("teacher_name"), None);
    let w = &m.stats.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("the period, is a number"), "{w:?}");
    assert!(m.stats.to_string().contains("warning: "), "check shows it");

    let nine = delivery(
        "INDEX.TXT",
        "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tR100\n\
         VOL\tIMAGES\tb.jpg\t10\tNunez\tJose\tR101\n\
         VOL\tIMAGES\tc.jpg\t10\tChen\tWei\tR101\t\tMr. Lee\n",
        ROSTER,
        &["a.jpg", "b.jpg", "c.jpg"],
    );
    let m = joined(&nine, "", &KeyFields::default()).unwrap();
    assert!(m.stats.formats[0].contains("standard"), "{:?}", m.stats);
    assert!(
        m.stats.warnings[0].contains("9 or more fields"),
        "{:?}",
        m.stats
    );

    // A real Pictavo file is still Pictavo, with the warning that it was a guess.
    let seven = delivery(
        "INDEX.TXT",
        "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tMs. Park\n",
        ROSTER,
        &["a.jpg"],
    );
    let m = joined(&seven, "", &KeyFields::default()).unwrap();
    assert!(m.stats.formats[0].contains("Pictavo"), "{:?}", m.stats);
    assert!(
        m.stats.warnings[0].contains("layout = \"standard\""),
        "{:?}",
        m.stats
    );
    // A full 13-column file is no guess.
    let m = joined(
        &delivery(
            "INDEX.TXT",
            "VOL\tIMAGES\ta.jpg\t9\tRivera\tAna\tR100\t\t\t\t\t\tLARGE\n",
            ROSTER,
            &["a.jpg"],
        ),
        "",
        &KeyFields::default(),
    )
    .unwrap();
    assert!(m.stats.warnings.is_empty(), "{:?}", m.stats.warnings);
}

/// The demo of `docs/input/pspa.md`: an elementary school's MASTER.TXT (K, PK, Faculty, a
/// retake, SMALL and LARGE) joined to a PowerSchool export and a staff export, through the
/// configuration as a user writes it.
#[test]
fn the_elementary_demo_delivery_is_read_as_the_school_means_it() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/pspa");
    let config = crate::Config::load(&dir.join("picday.toml")).unwrap();
    // The demo's PowerSchool target: students by Student_Number, staff by TeacherNumber.
    let mut keys = KeyFields::default();
    keys.add(
        vec!["student_number".into()],
        vec![vec!["teachernumber".into()]],
    );
    let input = crate::source::load(&config.source, &config.base_dir, &keys).unwrap();
    let crate::source::Details::Pspa(stats) = &input.details else {
        panic!("{:?}", input.details)
    };
    let people: Vec<(String, Option<&str>)> = input
        .mapping
        .people
        .iter()
        .map(|p| {
            (
                p.field("student_number")
                    .or(p.field("teachernumber"))
                    .unwrap()
                    .to_string(),
                p.photo.file_name().and_then(|n| n.to_str()),
            )
        })
        .collect();
    assert_eq!(
        people,
        [
            ("2002".to_string(), Some("IMG1002.JPG")),
            ("2003".to_string(), Some("IMG1003.JPG")),
            ("T100".to_string(), Some("IMG1004.JPG")),
            ("2004".to_string(), Some("IMG1005.JPG")),
            ("2001".to_string(), Some("IMG1007.JPG")),
        ],
        "{stats}"
    );
    assert_eq!(stats.retakes.len(), 2);
    assert_eq!(
        stats.unmatched.len(),
        1,
        "only the row whose grade is really wrong"
    );
    assert_eq!(
        input.mapping.people[2].field(ROLE_FIELD),
        Some("staff"),
        "the Faculty row"
    );
}
