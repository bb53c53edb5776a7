//! Packages built from the shipped PSPA delivery (`tests/fixtures/pspa-delivery`) through the
//! real engine, then opened: file names, the map file's exact bytes, photo sizes, zip parts
//! and the manifest.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use picday_core::engine::{Engine, Quiet, RunSummary, RunTarget};
use picday_core::layers::{StackOptions, stack};
use picday_core::source::KeyFields;
use picday_core::source::pspa::{PspaOptions, read_delivery};
use picday_core::{Person, Registry, Status, Target, TargetSpec};
use picday_target_sis::Manifest;
use tokio_util::sync::CancellationToken;

fn delivery() -> PathBuf {
    picday_testkit::fixtures::dir().join("pspa-delivery")
}

/// The people of the shipped delivery, joined to its roster.
fn people() -> Vec<Person> {
    let root = delivery();
    let options = PspaOptions {
        roster: Some(root.join("roster.csv")),
        ..PspaOptions::default()
    };
    let d = read_delivery(&root, &options, &KeyFields::default()).unwrap();
    assert_eq!(d.mapping.people.len(), 5, "{:?}", d.stats);
    d.mapping.people
}

fn build(type_name: &str, name: &str, options: &str, base: &Path) -> Arc<dyn Target> {
    let mut registry = Registry::new();
    picday_target_sis::register(&mut registry);
    let table: toml::Table = toml::from_str(options).unwrap();
    registry
        .build(&TargetSpec::new(name, type_name, table, base))
        .unwrap()
}

async fn run(people: Vec<Person>, targets: &[(&str, Arc<dyn Target>)]) -> RunSummary {
    let targets = targets
        .iter()
        .map(|(name, target)| RunTarget {
            name: name.to_string(),
            target: target.clone(),
        })
        .collect();
    Engine::default()
        .run(people, targets, Arc::new(Quiet), CancellationToken::new())
        .await
}

/// Every entry of a zip: name -> bytes; and checks entries are stored with the fixed time.
fn open_zip(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        assert_eq!(f.compression(), zip::CompressionMethod::Stored);
        assert_eq!(f.last_modified(), Some(zip::DateTime::DEFAULT));
        let name = f.name().unwrap().to_string();
        assert!(!name.contains('/'), "flat zip: {name}");
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        out.insert(name, bytes);
    }
    out
}

fn manifest(path: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn dimensions(jpeg: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).unwrap();
    (img.width(), img.height())
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn powerschool_package_has_flat_zip_exact_map_and_separate_staff_package() {
    let d = tempfile::tempdir().unwrap();
    let ps = build(
        "powerschool",
        "ps",
        "dir = \"out\"\nstaff_id = \"{student_id}\"",
        d.path(),
    );
    let summary = run(people(), &[("ps", ps.clone())]).await;
    assert_eq!(summary.count(Status::Sent), 5, "{:?}", summary.outcomes);
    assert!(
        summary.notes[0].contains("5 photos, 0 left out"),
        "{:?}",
        summary.notes
    );
    drop(ps);
    let out = d.path().join("out");
    assert_eq!(
        files_in(&out),
        [
            "ps-staff.txt",
            "ps-staff.zip",
            "ps.manifest.json",
            "ps.txt",
            "ps.zip"
        ],
        "no staging or temporary file is left"
    );
    assert_eq!(
        std::fs::read(out.join("ps.txt")).unwrap(),
        b"0100200\t0100200.jpg\r\n0100201\t0100201.jpg\r\n0100202\t0100202.jpg\r\n0100203\t0100203.jpg\r\n"
    );
    assert_eq!(
        std::fs::read(out.join("ps-staff.txt")).unwrap(),
        b"T0042\tT0042.jpg\r\n"
    );
    let students = open_zip(&out.join("ps.zip"));
    assert_eq!(
        students.keys().collect::<Vec<_>>(),
        ["0100200.jpg", "0100201.jpg", "0100202.jpg", "0100203.jpg"]
    );
    for bytes in students.values() {
        assert_eq!(dimensions(bytes), (240, 300));
    }
    let staff = open_zip(&out.join("ps-staff.zip"));
    assert_eq!(staff.keys().collect::<Vec<_>>(), ["T0042.jpg"]);

    let m = manifest(&out.join("ps.manifest.json"));
    assert_eq!(m.type_name, "powerschool");
    assert_eq!(
        m.files,
        ["ps.zip", "ps.txt", "ps-staff.zip", "ps-staff.txt"]
    );
    assert_eq!(m.included.len(), 5);
    assert!(m.left_out.is_empty(), "{:?}", m.left_out);
    let ana = &m.included[0];
    assert_eq!(
        (ana.id.as_str(), ana.person.as_str()),
        ("0100200", "Ana Rivera")
    );
    assert!(ana.source.ends_with("INDEX.TXT:1"), "{}", ana.source);
    assert_eq!(ana.bytes, students["0100200.jpg"].len());
    let park = m.included.iter().find(|e| e.id == "T0042").unwrap();
    assert_eq!(
        (park.group.as_str(), park.package.as_str()),
        ("staff", "ps-staff.zip")
    );
}

#[tokio::test]
async fn powerschool_staff_without_teacher_number_are_left_out_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let ps = build("powerschool", "ps", "dir = \".\"", d.path());
    let summary = run(people(), &[("ps", ps)]).await;
    let park = summary
        .outcomes
        .iter()
        .find(|o| o.person.field("last_name") == Some("Park"))
        .unwrap();
    assert_ne!(park.status, Status::Sent);
    let m = manifest(&d.path().join("ps.manifest.json"));
    assert_eq!(m.included.len(), 4);
    assert_eq!(m.left_out.len(), 1);
    assert_eq!(m.left_out[0].person, "Minji Park");
    assert!(
        m.left_out[0].reason.contains("{teacher_number}"),
        "{:?}",
        m.left_out
    );
    assert!(!d.path().join("ps-staff.zip").exists());
}

#[tokio::test]
async fn infinite_campus_splits_into_parts_below_the_limit_and_removes_stale_parts() {
    let d = tempfile::tempdir().unwrap();
    let limit = 40_000u64;
    let ic = build(
        "infinite-campus",
        "ic",
        &format!("dir = \".\"\nmax_zip_bytes = {limit}\nmax_bytes = 15000"),
        d.path(),
    );
    let summary = run(people(), &[("ic", ic)]).await;
    assert_eq!(summary.count(Status::Sent), 5, "{:?}", summary.outcomes);
    let m = manifest(&d.path().join("ic.manifest.json"));
    assert!(m.files.len() >= 2, "{:?}", m.files);
    let mut all = Vec::new();
    for (n, part) in m.files.iter().enumerate() {
        assert_eq!(part, &format!("ic-part{}.zip", n + 1));
        let path = d.path().join(part);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= limit, "{part} is {size} bytes");
        for (name, bytes) in open_zip(&path) {
            assert!(bytes.len() <= 15_000, "{name} is {} bytes", bytes.len());
            // Infinite Campus's default is 2:3 since issue 21 (it shows photos at 175x263).
            assert_eq!(dimensions(&bytes), (200, 300));
            all.push(name);
        }
    }
    all.sort();
    assert_eq!(
        all,
        [
            "0100200.jpg",
            "0100201.jpg",
            "0100202.jpg",
            "0100203.jpg",
            "T0042.jpg"
        ]
    );

    // A second run with the default limit writes one zip and removes the old parts.
    let ic = build(
        "infinite-campus",
        "ic",
        "dir = \".\"\nwidth = 200\nheight = 300",
        d.path(),
    );
    run(people(), &[("ic", ic)]).await;
    assert_eq!(files_in(d.path()), ["ic.manifest.json", "ic.zip"]);
    let zip = open_zip(&d.path().join("ic.zip"));
    assert_eq!(zip.len(), 5);
    assert_eq!(dimensions(&zip["0100200.jpg"]), (200, 300));
}

#[tokio::test]
async fn aeries_package_names_photos_by_permanent_id() {
    let d = tempfile::tempdir().unwrap();
    let mut people = people();
    for (n, p) in people.iter_mut().enumerate() {
        p.fields
            .insert("permanent_id".into(), format!("{}", 5000 + n));
    }
    let ae = build(
        "aeries",
        "aeries",
        "dir = \"sis\"\nid = \"{permanent_id}\"\npackage = \"aeries-2026\"",
        d.path(),
    );
    run(people, &[("aeries", ae)]).await;
    let zip = open_zip(&d.path().join("sis/aeries-2026.zip"));
    assert_eq!(
        zip.keys().collect::<Vec<_>>(),
        ["5000.jpg", "5001.jpg", "5002.jpg", "5003.jpg", "5004.jpg"]
    );
    let m = manifest(&d.path().join("sis/aeries-2026.manifest.json"));
    assert_eq!(m.files, ["aeries-2026.zip"]);
}

#[tokio::test]
async fn unsafe_and_duplicate_ids_are_refused_and_listed_in_the_manifest() {
    let d = tempfile::tempdir().unwrap();
    let mut people = people();
    people[0]
        .fields
        .insert("student_id".into(), "../escape".into());
    people[1].fields.insert("student_id".into(), "a b".into());
    people[3]
        .fields
        .insert("student_id".into(), "0100202".into());
    let ae = build("aeries", "ae", "dir = \"out\"", d.path());
    let summary = run(people, &[("ae", ae)]).await;
    // The two people given one id are refused by the engine before either is staged (none is
    // reported sent), each naming the other's line.
    assert_eq!(summary.count(Status::Sent), 1, "{:?}", summary.outcomes);
    for (me, other) in [(2, ":4,"), (3, ":3,")] {
        let o = summary
            .outcomes
            .iter()
            .find(|o| o.person.origin.line == me + 1)
            .unwrap();
        assert_eq!(o.status, Status::Failed, "{o:?}");
        assert!(o.reason.contains(other), "{}", o.reason);
    }
    let out = d.path().join("out");
    let zip = open_zip(&out.join("ae.zip"));
    assert_eq!(
        zip.keys().collect::<Vec<_>>(),
        ["T0042.jpg"],
        "the duplicate id is in neither"
    );
    let m = manifest(&out.join("ae.manifest.json"));
    let reasons: Vec<(&str, &str)> = m
        .left_out
        .iter()
        .map(|l| (l.person.as_str(), l.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|(p, r)| *p == "Ana Rivera" && r.contains("\"../escape\""))
    );
    assert!(
        reasons
            .iter()
            .any(|(p, r)| *p == "Wei Chen" && r.contains("' '"))
    );
    assert!(!d.path().join("escape.jpg").exists());
}

#[tokio::test]
async fn packages_are_byte_identical_across_runs() {
    let mut zips = Vec::new();
    for _ in 0..2 {
        let d = tempfile::tempdir().unwrap();
        let ps = build("powerschool", "ps", "dir = \".\"", d.path());
        run(people(), &[("ps", ps)]).await;
        zips.push((
            std::fs::read(d.path().join("ps.zip")).unwrap(),
            std::fs::read(d.path().join("ps.manifest.json")).unwrap(),
        ));
    }
    assert!(zips[0] == zips[1], "two runs wrote different packages");
}

#[tokio::test]
async fn dry_run_writes_no_package() {
    let d = tempfile::tempdir().unwrap();
    let ps = build("powerschool", "ps", "dir = \"out\"", d.path());
    let options = StackOptions {
        dry_run: true,
        ..StackOptions::default()
    };
    let dry: Arc<dyn Target> = stack(ps, &options);
    let summary = run(people(), &[("ps", dry)]).await;
    assert!(summary.outcomes.iter().all(|o| o.status != Status::Failed));
    assert!(!d.path().join("out").exists(), "{:?}", files_in(d.path()));
}

#[tokio::test]
async fn unknown_keys_are_config_errors_naming_the_key() {
    let mut registry = Registry::new();
    picday_target_sis::register(&mut registry);
    let table: toml::Table = toml::from_str("dir = \".\"\nmax_zip_bytes = 5").unwrap();
    let e = registry
        .build(&TargetSpec::new("ae", "aeries", table, Path::new(".")))
        .unwrap_err();
    assert!(e.message().contains("max_zip_bytes"), "{e}");
    let table: toml::Table = toml::from_str("dir = \".\"\npackage = \"../x\"").unwrap();
    let e = registry
        .build(&TargetSpec::new("ae", "aeries", table, Path::new(".")))
        .unwrap_err();
    assert!(
        e.message()
            .contains("`package` \"../x\" is not a safe file name"),
        "{e}"
    );
}

/// A push through the engine with a run state, as `picday push` makes it.
async fn push_with_state(
    state: &Arc<picday_core::state::State>,
    run_id: &str,
    people: Vec<Person>,
    target: &Arc<dyn Target>,
    force: bool,
) -> RunSummary {
    use picday_core::state::{JournalOptions, NewRun};
    state
        .begin_run(&NewRun {
            id: run_id,
            command: "push",
            started: run_id,
            config: Path::new("picday.toml"),
            forced: force,
            people: people.len(),
            restored_from: None,
        })
        .unwrap();
    let options = JournalOptions {
        force,
        ..JournalOptions::default()
    };
    let engine = Engine {
        journal: Some(Arc::new(state.journal(run_id, options))),
        ..Engine::default()
    };
    let targets = vec![RunTarget {
        name: "ae".into(),
        target: target.clone(),
    }];
    engine
        .run(people, targets, Arc::new(Quiet), CancellationToken::new())
        .await
}

fn ids_in(zip: &Path) -> Vec<String> {
    open_zip(zip).into_keys().collect()
}

const ALL: [&str; 5] = [
    "0100200.jpg",
    "0100201.jpg",
    "0100202.jpg",
    "0100203.jpg",
    "T0042.jpg",
];

/// Issue 24, item 1: a package holds everyone the target should have, whatever part of the
/// mapping a run sent; a photo is recorded sent only once its package is committed; what a
/// killed run left is cleaned up. (Failed before: the second run's package held 2 photos, the
/// failed finish was recorded "sent" so the next run sent nothing, and a package that was
/// moved aside was never written again.)
#[tokio::test]
async fn a_package_keeps_everyone_and_a_photo_is_sent_only_once_committed() {
    let d = tempfile::tempdir().unwrap();
    let state = Arc::new(picday_core::state::State::open(d.path(), "push").unwrap());
    let out = d.path().join("out");
    let zip = out.join("ae.zip");
    let ae = || build("aeries", "ae", "dir = \"out\"", d.path());

    // A staging folder a killed run left behind.
    let stale = out.join(".picday-staging-ae-Xy12Z9");
    std::fs::create_dir_all(stale.join("students")).unwrap();
    std::fs::write(stale.join("students/0100200.jpg"), b"half").unwrap();

    let s = push_with_state(&state, "r1", people(), &ae(), false).await;
    assert_eq!(s.count(Status::Sent), 5, "{:?}", s.outcomes);
    assert_eq!(ids_in(&zip), ALL);
    assert!(
        !stale.exists(),
        "the killed run's staging folder is removed"
    );

    // A run that sends only two people (`--only`, or the rest unchanged, or interrupted):
    // the package still holds all five.
    let two: Vec<Person> = people().into_iter().take(2).collect();
    let s = push_with_state(&state, "r2", two, &ae(), true).await;
    assert_eq!(s.count(Status::Sent), 2, "{:?}", s.outcomes);
    assert_eq!(ids_in(&zip), ALL);
    assert_eq!(manifest(&out.join("ae.manifest.json")).included.len(), 5);

    // The package cannot be committed: nothing of the run is recorded as sent, the earlier
    // package is untouched, and the next run sends the photos again.
    let before = std::fs::read(&zip).unwrap();
    // Another quality, so that every photo is sent again (and would be "unchanged" next time
    // if a staged photo were recorded as sent).
    let broken = build("aeries", "ae", "dir = \"out\"\nquality = 70", d.path());
    // Finishing fails: the zip's place is taken by a folder.
    let aside = d.path().join("aside.zip");
    std::fs::rename(&zip, &aside).unwrap();
    std::fs::create_dir_all(&zip).unwrap();
    let s = push_with_state(&state, "r3", people(), &broken, false).await;
    assert_eq!(s.count(Status::Sent), 0, "{:?}", s.outcomes);
    assert_eq!(s.count(Status::Failed), 5, "{:?}", s.outcomes);
    std::fs::remove_dir(&zip).unwrap();
    std::fs::rename(&aside, &zip).unwrap();
    assert_eq!(std::fs::read(&zip).unwrap(), before);
    let s = push_with_state(&state, "r4", people(), &broken, false).await;
    assert_eq!(s.count(Status::Sent), 5, "{:?}", s.outcomes);
    assert_eq!(ids_in(&zip), ALL);

    // Unchanged: nothing is sent and the package stays.
    let s = push_with_state(&state, "r5", people(), &broken, false).await;
    assert_eq!(s.count(Status::Sent), 0, "{:?}", s.outcomes);
    assert_eq!(ids_in(&zip), ALL);

    // The package was moved aside: the state's "unchanged" is not trusted, everyone is sent.
    std::fs::remove_file(&zip).unwrap();
    std::fs::remove_file(out.join("ae.manifest.json")).unwrap();
    let s = push_with_state(&state, "r6", people(), &broken, false).await;
    assert_eq!(s.count(Status::Sent), 5, "{:?}", s.outcomes);
    assert_eq!(ids_in(&zip), ALL);
    let left: Vec<String> = files_in(&out);
    assert_eq!(
        left,
        ["ae.manifest.json", "ae.zip"],
        "no staging folder or temporary file left"
    );
}

#[tokio::test]
async fn powerschool_puts_people_a_source_marked_as_staff_in_the_staff_package() {
    // A PSPA row labelled `Faculty` (not the staff_value `STAFF`) that the source marked
    // `role = staff` after joining the staff roster.
    let portraits = picday_testkit::fixtures::portraits();
    let teacher = Person::new(
        portraits.join("0100200.jpg"),
        [
            ("grade", "Faculty"),
            ("teacher_number", "T0042"),
            (picday_core::source::pspa::ROLE_FIELD, "staff"),
            ("last_name", "Park"),
        ],
    );
    let student = Person::new(
        portraits.join("0100201.jpg"),
        [("grade", "K"), ("student_id", "1001")],
    );
    let d = tempfile::tempdir().unwrap();
    let ps = build("powerschool", "ps", "dir = \".\"", d.path());
    let summary = run(vec![teacher, student], &[("ps", ps)]).await;
    assert_eq!(summary.count(Status::Sent), 2, "{:?}", summary.outcomes);
    let staff = open_zip(&d.path().join("ps-staff.zip"));
    assert_eq!(staff.keys().collect::<Vec<_>>(), ["T0042.jpg"]);
    let students = open_zip(&d.path().join("ps.zip"));
    assert_eq!(students.keys().collect::<Vec<_>>(), ["1001.jpg"]);
}

/// Issue 21: every import screen has an upload limit, so every kind splits; PowerSchool
/// imports one zip with one map at a time, so each part has its own map.
#[tokio::test]
async fn powerschool_splits_into_numbered_parts_each_with_its_own_map() {
    let d = tempfile::tempdir().unwrap();
    let limit = 30_000u64;
    let ps = build(
        "powerschool",
        "ps",
        &format!(
            "dir = \".\"\nmax_zip_bytes = {limit}\nmax_bytes = 12000\nstaff_id = \"{{student_id}}\""
        ),
        d.path(),
    );
    let summary = run(people(), &[("ps", ps)]).await;
    assert_eq!(summary.count(Status::Sent), 5, "{:?}", summary.outcomes);
    let m = manifest(&d.path().join("ps.manifest.json"));
    let zips: Vec<&String> = m
        .files
        .iter()
        .filter(|f| f.starts_with("ps-part"))
        .collect();
    assert!(zips.len() >= 4, "{:?}", m.files);
    let mut mapped = Vec::new();
    for zip in zips.iter().filter(|f| f.ends_with(".zip")) {
        let map = zip.replace(".zip", ".txt");
        assert!(m.files.contains(&map), "{map} beside {zip}: {:?}", m.files);
        let size = std::fs::metadata(d.path().join(zip)).unwrap().len();
        assert!(size <= limit, "{zip} is {size} bytes");
        let names: Vec<String> = open_zip(&d.path().join(zip)).into_keys().collect();
        let text = std::fs::read_to_string(d.path().join(&map)).unwrap();
        let listed: Vec<String> = text
            .lines()
            .map(|l| l.split('\t').nth(1).unwrap().to_string())
            .collect();
        assert_eq!(listed, names, "{map} lists exactly the photos of {zip}");
        mapped.extend(listed);
    }
    mapped.sort();
    assert_eq!(
        mapped.len(),
        4,
        "every student in exactly one part: {mapped:?}"
    );
    assert!(!d.path().join("ps.txt").exists());

    // One zip again: the part files and their maps go.
    let ps = build(
        "powerschool",
        "ps",
        "dir = \".\"\nstaff_id = \"{student_id}\"",
        d.path(),
    );
    run(people(), &[("ps", ps)]).await;
    assert_eq!(
        files_in(d.path()),
        [
            "ps-staff.txt",
            "ps-staff.zip",
            "ps.manifest.json",
            "ps.txt",
            "ps.zip"
        ]
    );
}

#[tokio::test]
async fn aeries_keeps_pictures_within_100_kb_and_check_warns_above() {
    let d = tempfile::tempdir().unwrap();
    let ae = build("aeries", "ae", "dir = \".\"", d.path());
    assert_eq!(ae.info().capabilities.profile.max_bytes, Some(100_000));
    let report = ae.check().await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let big = build("aeries", "ae", "dir = \".\"\nmax_bytes = 250000", d.path());
    let report = big.check().await.unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("100 KB") && w.contains("support.aeries.com")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test]
async fn infinite_campus_defaults_to_its_2_by_3_slot() {
    let d = tempfile::tempdir().unwrap();
    let ic = build("infinite-campus", "ic", "dir = \".\"", d.path());
    let p = ic.info().capabilities.profile;
    assert_eq!(
        (p.width, p.height, p.max_bytes),
        (200, 300, Some(3_000_000))
    );
    let report = ic.check().await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let stretched = build(
        "infinite-campus",
        "ic",
        "dir = \".\"\nwidth = 240\nheight = 300",
        d.path(),
    );
    let report = stretched.check().await.unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("175x263")),
        "{:?}",
        report.warnings
    );
}
