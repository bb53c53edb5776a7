//! A photo's whole life, end to end through the `picday` binary: opted-out people never
//! receive a photo, `remove` takes down exactly theirs (and `restore` brings them back byte for
//! byte), `export` writes exactly what the target holds and lists who has none, and
//! `push --missing-only` writes only to people without a photo. Against a folder, the fake
//! Graph the Entra tests use (`targets/entra/tests/support`), the fake Directory API of the
//! Google tests (`targets/google/tests/common/fake.rs`) and a real slapd
//! (`targets/ldap/tests/common`, skipped when slapd is not installed).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "../../targets/entra/tests/support/fake_graph.rs"]
mod fake_graph;
#[allow(unused_imports)]
#[path = "../../targets/google/tests/common/mod.rs"]
mod google;
#[allow(unused_imports)]
#[path = "../../targets/ldap/tests/common/mod.rs"]
mod slapd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use fake_graph::{FakeGraph, User};

const PEOPLE: usize = 6;
/// student1 and student4 opted out ("yes" and "X").
const OPTED: [usize; 2] = [1, 4];

fn picday(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_picday"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PICDAY_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run picday")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: &Output) -> String {
    let all = text(out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    all
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn mail(n: usize) -> String {
    format!("student{n}@school.example")
}

/// Six people with distinct portraits, and a mapping with an opt-out column.
fn school(dir: &Path) -> PathBuf {
    let portraits = picday_testkit::fixtures::portraits();
    let mut csv = String::from("path,mail,photo_opt_out\n");
    for n in 0..PEOPLE {
        let name = format!("p{n}.jpg");
        std::fs::copy(portraits.join(format!("010020{n}.jpg")), dir.join(&name)).unwrap();
        let opt = match n {
            1 => "yes",
            4 => "X",
            2 => "no",
            _ => "",
        };
        csv.push_str(&format!("{name},{},{opt}\n", mail(n)));
    }
    std::fs::write(dir.join("photos.csv"), csv).unwrap();
    dir.join("picday.toml")
}

/// Writes the configuration: `[source]` (with the opt-out column when `opt_out`) and `target`.
fn configure(config: &Path, opt_out: bool, target: &str) {
    let opt = if opt_out {
        "opt_out = \"{photo_opt_out}\"\n"
    } else {
        ""
    };
    std::fs::write(
        config,
        format!("[source]\nmapping = \"photos.csv\"\n{opt}\n{target}"),
    )
    .unwrap();
}

/// The files of a folder, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .filter(|(name, _)| !name.starts_with('.'))
            .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

/// The photo a target holds for person `n`, seen without picday.
type Held<'a> = &'a dyn Fn(usize) -> Option<Vec<u8>>;

/// The life every target goes through; `held` looks at what the service stores.
fn whole_life(dir: &Path, config: &Path, target: &str, held: Held<'_>) {
    // Before opt-outs are known, everyone is pushed.
    configure(config, false, target);
    ok(&picday(config, &["push"]));
    let before: Vec<Vec<u8>> = (0..PEOPLE).map(|n| held(n).expect("pushed")).collect();

    // The opt-outs arrive: nothing is sent to them, and the report says the target still
    // holds their photos, with the command that takes them down.
    configure(config, true, target);
    let push = ok(&picday(config, &["push", "--force"]));
    assert!(push.contains("opted out: 2 people"), "{push}");
    for n in OPTED {
        assert!(push.contains(&mail(n)), "{push}");
    }
    assert!(push.contains("picday remove --opted-out"), "{push}");

    // Without a terminal and without --yes nothing is removed (usage error).
    let refused = picday(config, &["remove", "--opted-out"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("--yes"), "{}", text(&refused));
    // A dry run removes nothing.
    ok(&picday(config, &["remove", "--opted-out", "--dry-run"]));
    for n in OPTED {
        assert_eq!(held(n).as_deref(), Some(&*before[n]), "dry run removed {n}");
    }

    // remove --opted-out takes exactly theirs down.
    let removed = json(&picday(
        config,
        &["--json", "remove", "--opted-out", "--yes"],
    ));
    let removal = removed["run_id"].as_str().unwrap().to_string();
    for (n, photo) in before.iter().enumerate() {
        if OPTED.contains(&n) {
            assert_eq!(held(n), None, "{} still has a photo", mail(n));
        } else {
            assert_eq!(held(n).as_deref(), Some(&**photo), "{} lost it", mail(n));
        }
    }
    // Again: nobody has one any more, which is "nothing to remove", not an error.
    let again = ok(&picday(config, &["remove", "--opted-out", "--yes"]));
    assert!(again.contains("nothing to remove     2"), "{again}");

    // Opted-out people never receive a photo, even with --force.
    ok(&picday(config, &["push", "--force"]));
    for n in OPTED {
        assert_eq!(held(n), None, "{} received a photo", mail(n));
    }

    // export writes exactly what the target holds and lists who has none.
    let out = dir.join("export");
    let exported = json(&picday(
        config,
        &[
            "--json",
            "export",
            "--target",
            "t",
            "--dir",
            out.to_str().unwrap(),
        ],
    ));
    let mut none: Vec<String> = exported["no_photo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    none.sort();
    let keys: Vec<String> = OPTED.iter().map(|&n| key_of(target, n)).collect();
    assert_eq!(none, keys, "{exported}");
    let written = files(&out);
    assert_eq!(written.len(), PEOPLE - OPTED.len(), "{written:?}");
    for n in (0..PEOPLE).filter(|n| !OPTED.contains(n)) {
        let (_, bytes) = written
            .iter()
            .find(|(name, _)| name.contains(&format!("student{n}@")))
            .unwrap_or_else(|| panic!("student{n} not exported"));
        assert_eq!(
            Some(bytes),
            held(n).as_ref(),
            "export of student{n} differs"
        );
    }

    // restore brings the removed photos back, byte for byte.
    ok(&picday(config, &["restore", "--run", &removal]));
    for n in OPTED {
        assert_eq!(
            held(n).as_deref(),
            Some(&*before[n]),
            "{} not restored",
            mail(n)
        );
    }

    // --missing-only: student3 loses the photo, student0's is left as it is.
    let leavers = dir.join("leavers.csv");
    std::fs::write(&leavers, format!("mail\n{}\n", mail(3))).unwrap();
    ok(&picday(
        config,
        &["remove", "--from", leavers.to_str().unwrap(), "--yes"],
    ));
    assert_eq!(held(3), None, "--from did not remove student3");
    assert!(held(0).is_some());
    let add = json(&picday(
        config,
        &["--json", "push", "--missing-only", "--force"],
    ));
    assert_eq!(add["totals"]["t"]["sent"], 1, "{add}");
    assert!(held(3).is_some(), "--missing-only did not fill the gap");
    for n in [0, 2, 5] {
        assert_eq!(
            held(n).as_deref(),
            Some(&*before[n]),
            "student{n} was rewritten"
        );
    }
}

/// The key the target knows person `n` by, as the reports show it.
fn key_of(target: &str, n: usize) -> String {
    if target.contains("type = \"ldap\"") {
        format!("(mail={})", mail(n))
    } else if target.contains("type = \"folder\"") {
        format!("{}.jpg", mail(n))
    } else {
        mail(n)
    }
}

#[test]
fn a_folder_lives_through_opt_outs_removal_export_and_add_only() {
    let d = tempfile::tempdir().unwrap();
    let config = school(d.path());
    let out = d.path().join("out");
    let target = "[targets.t]\ntype = \"folder\"\ndir = \"out\"\nfile_name = \"{mail}.jpg\"\n";
    let held = |n: usize| std::fs::read(out.join(format!("{}.jpg", mail(n)))).ok();
    whole_life(d.path(), &config, target, &held);
}

#[test]
fn an_opt_out_value_that_is_neither_yes_nor_no_sends_nothing_and_a_misspelt_column_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let config = school(d.path());
    let csv = std::fs::read_to_string(d.path().join("photos.csv")).unwrap();
    std::fs::write(
        d.path().join("photos.csv"),
        csv.replace(
            "p2.jpg,student2@school.example,no",
            "p2.jpg,student2@school.example,perhaps",
        ),
    )
    .unwrap();
    let target = "[targets.t]\ntype = \"folder\"\ndir = \"out\"\nfile_name = \"{mail}.jpg\"\n";
    configure(&config, true, target);
    let push = picday(&config, &["push"]);
    assert_eq!(push.status.code(), Some(1), "{}", text(&push));
    assert!(text(&push).contains("\"perhaps\""), "{}", text(&push));
    assert!(!d.path().join("out/student2@school.example.jpg").exists());
    std::fs::write(
        &config,
        format!("[source]\nmapping = \"photos.csv\"\nopt_out = \"{{photo_optout}}\"\n\n{target}"),
    )
    .unwrap();
    let typo = picday(&config, &["push"]);
    assert_eq!(typo.status.code(), Some(2), "{}", text(&typo));
    assert!(text(&typo).contains("photo_optout"), "{}", text(&typo));
    assert!(!d.path().join("out/student2@school.example.jpg").exists());
}

#[test]
fn entra_lives_through_opt_outs_removal_export_and_add_only() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let users = (0..PEOPLE)
        .map(|n| User::new(format!("00000000-0000-0000-0000-{n:012}"), mail(n), mail(n)))
        .collect();
    let fake = rt.block_on(FakeGraph::start(users, Duration::ZERO, None));
    let d = tempfile::tempdir().unwrap();
    let config = school(d.path());
    let target = format!(
        "[targets.t]\ntype = \"entra\"\ntenant_id = \"contoso\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"\nclient_secret = \"s3cret\"\nlogin_url = \"{0}\"\ngraph_url = \"{0}\"\n",
        fake.url
    );
    let held = |n: usize| fake.photo_of(&mail(n));
    whole_life(d.path(), &config, &target, &held);
    // `--missing-only` asked for metadata, never for every photo's bytes.
    assert!(fake.stats.photo_requests.load(Ordering::SeqCst) > 0);
}

#[test]
fn ldap_lives_through_opt_outs_removal_export_and_add_only() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(server) = rt.block_on(slapd::start()) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let config = school(d.path());
    let pw = server.secret_file(slapd::SERVICE_PW);
    let target = format!(
        "[targets.t]\ntype = \"ldap\"\nurl = \"{}\"\ninsecure = true\nbind_dn = \"{}\"\npassword = {{ file = \"{}\" }}\nbase = \"{}\"\n",
        server.url(),
        slapd::SERVICE_DN,
        pw.display(),
        slapd::PEOPLE
    );
    let held = |n: usize| {
        let filter = format!("(mail={})", mail(n));
        rt.block_on(server.values(&filter, "thumbnailPhoto"))
            .into_iter()
            .next()
    };
    whole_life(d.path(), &config, &target, &held);
}

#[test]
fn google_lives_through_opt_outs_removal_export_and_add_only() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(google::fake::FakeGoogle::start());
    let server = &fake.server;
    let d = tempfile::tempdir().unwrap();
    let config = school(d.path());
    google::key_file(d.path(), &format!("{}/token", server.url()));
    let target = format!(
        "[targets.t]\ntype = \"google\"\nservice_account_key = \"sa.json\"\napi_url = \"{}\"\nadmin = \"{}\"\n",
        server.url(),
        google::ADMIN
    );
    let held = |n: usize| fake.stored(&mail(n));
    whole_life(d.path(), &config, &target, &held);
}
