//! End-to-end tests of the `picday` binary, as a school would run it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn picday(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_picday"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PICDAY_CONFIG")
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

fn portraits() -> PathBuf {
    picday_testkit::fixtures::portraits()
}

/// A config over the shared fixture portraits (with their broken rows), writing into `dir`.
fn fixture_config(dir: &Path, extra: &str) -> PathBuf {
    let mapping = portraits().join("photos.csv");
    let config = dir.join("picday.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nmapping = {mapping:?}\n\n[targets.entra]\ntype = \"folder\"\ndir = \"out\"\nfile_name = \"{{mail}}.jpg\"\n{extra}"
        ),
    )
    .unwrap();
    config
}

fn jpeg_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (img.width(), img.height())
}

#[test]
fn bad_rows_are_reported_and_the_rest_is_sent_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(dir.path(), "");
    let out = picday(&config, &["push"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");

    // Each broken row gets its own clear message, with its line.
    for (needle, line) in [
        ("0700001-truncated.jpg", "photos.csv:17"),
        ("0700002-empty.jpg", "photos.csv:18"),
        ("0700003-notimage.jpg", "photos.csv:19"),
        ("0700004-missing.jpg", "photos.csv:20"),
    ] {
        let l = all
            .lines()
            .find(|l| l.contains(needle) || (needle.contains("missing") && l.contains("0700004")))
            .unwrap_or_else(|| panic!("no line for {needle} in:\n{all}"));
        assert!(l.contains(line), "{l}");
    }
    assert!(all.contains("truncated"), "{all}");
    assert!(all.contains("the file is empty"), "{all}");
    assert!(all.contains("HTML"), "{all}");
    assert!(all.contains("photo file not found"), "{all}");
    // The two students who got the photographer's "no photo" silhouette are held back.
    for line in ["photos.csv:15", "photos.csv:16"] {
        let l = all
            .lines()
            .find(|l| l.contains(line))
            .unwrap_or_else(|| panic!("{line}:\n{all}"));
        assert!(
            l.contains("placeholder") && l.contains("--allow-shared-photos"),
            "{l}"
        );
    }

    // Every valid row was delivered as a 648x648 JPEG.
    let sent: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(sent.len(), 13, "13 valid photos: {all}");
    for f in &sent {
        assert_eq!(jpeg_size(&f.path()), (648, 648));
    }

    // The report has one line per person and target, plus the left-out row.
    let reports: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(reports.len(), 1);
    let csv = std::fs::read_to_string(reports[0].path().join("report.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 3 + 16,
        "header, 3 rows left out, 16 deliveries:\n{csv}"
    );
    assert!(
        csv.lines().nth(1).unwrap().contains("failed"),
        "failures first:\n{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports[0].path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["totals"]["entra"]["sent"], 13);
    assert_eq!(json["totals"]["entra"]["failed"], 3);
    assert_eq!(json["problems"].as_array().unwrap().len(), 3);
}

#[test]
fn dry_run_writes_no_photo_but_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(dir.path(), "");
    let out = picday(&config, &["push", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!dir.path().join("out").exists(), "dry run wrote photos");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["totals"]["entra"]["sent"], 13);
    assert!(
        Path::new(summary["report_dir"].as_str().unwrap())
            .join("report.json")
            .exists()
    );
}

#[test]
fn only_and_target_select_people_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "\n[targets.sis]\ntype = \"folder\"\ndir = \"sis\"\nfile_name = \"{student_id}.jpg\"\nwidth = 240\nheight = 300\n";
    let config = fixture_config(dir.path(), extra);
    let out = picday(
        &config,
        &[
            "push",
            "--target",
            "sis",
            "--only",
            "0100200",
            "--only",
            "student100201@school.example",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!dir.path().join("out").exists());
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("sis"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["0100200.jpg", "0100201.jpg"]);
    assert_eq!(jpeg_size(&dir.path().join("sis/0100200.jpg")), (240, 300));

    let out = picday(&config, &["push", "--target", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("configured: entra, sis"),
        "{}",
        text(&out)
    );
}

#[test]
fn configuration_errors_exit_2_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(dir.path(), "colour = \"blue\"\n");
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out);
    assert!(
        all.contains("colour") && all.contains("picday.toml:8"),
        "{all}"
    );
    assert!(!dir.path().join("out").exists());

    std::fs::write(
        &config,
        "[source]\nmapping = \"x.csv\"\n[targets.a]\ntype = \"carrier-pigeon\"\n",
    )
    .unwrap();
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("known types: "), "{}", text(&out));

    let out = picday(&dir.path().join("absent.toml"), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("picday init"), "{}", text(&out));

    // An option out of range: the file, the line, the key and what is allowed.
    let config = fixture_config(dir.path(), "quality = 150\n");
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(2));
    let all = text(&out);
    assert!(
        all.contains("picday.toml:8: [targets.entra]: `quality` 150 must be between 1 and 100"),
        "{all}"
    );
    assert!(!dir.path().join("out").exists());

    // With --json, a script reading stdout gets the error as JSON, not nothing.
    for command in ["check", "push"] {
        let out = picday(&config, &["--json", command]);
        assert_eq!(out.status.code(), Some(2));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command}: stdout is not JSON ({e}): {}", text(&out)));
        assert_eq!(json["error"]["kind"], "config", "{json}");
        assert_eq!(json["error"]["exit_code"], 2, "{json}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains("`quality` 150"), "{message}");
    }
}

#[test]
fn check_reports_unreadable_photos_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(dir.path(), "");
    let out = picday(&config, &["check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["people"], 18);
    assert_eq!(report["rows_left_out"].as_array().unwrap().len(), 1);
    assert_eq!(report["photos_unreadable"].as_array().unwrap().len(), 3);
    let flagged = report["photos_flagged"].as_array().unwrap();
    assert_eq!(
        flagged
            .iter()
            .filter(|f| f.as_str().unwrap().contains("placeholder"))
            .count(),
        2
    );
    assert_eq!(report["targets"][0]["error"], serde_json::Value::Null);
    assert!(!dir.path().join("out").exists());
}

#[test]
fn init_writes_a_config_that_check_understands() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_picday"))
        .args(["init"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The sample mapping names a photo that is not there yet: check says so, exit 1.
    let out = picday(&dir.path().join("picday.toml"), &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("photo file not found"),
        "{}",
        text(&out)
    );
    // And init never overwrites.
    let again = Command::new(env!("CARGO_BIN_EXE_picday"))
        .args(["init"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn the_bundled_demo_runs_clean() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo");
    let dir = tempfile::tempdir().unwrap();
    // Run a copy of the demo config so the test does not write into the repository.
    let config = dir.path().join("picday.toml");
    let text_cfg = std::fs::read_to_string(demo.join("picday.toml"))
        .unwrap()
        .replace(
            "mapping = \"photos.csv\"",
            &format!("mapping = {:?}", demo.join("photos.csv")),
        );
    std::fs::write(&config, text_cfg).unwrap();
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (sub, size) in [("out/directory", (648, 648)), ("out/yearbook", (240, 300))] {
        let files: Vec<_> = std::fs::read_dir(dir.path().join(sub))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(files.len(), 13, "{sub}");
        for f in files {
            assert_eq!(jpeg_size(&f.path()), size);
        }
    }
}

#[test]
fn targets_lists_the_builtin_types() {
    let out = Command::new(env!("CARGO_BIN_EXE_picday"))
        .args(["targets", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let types: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"folder"), "{names:?}");
}

#[test]
fn shared_photos_are_sent_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(dir.path(), "");
    let out = picday(&config, &["push", "--only", "0600001", "--only", "0600002"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!dir.path().join("out").exists(), "a placeholder was sent");
    let out = picday(
        &config,
        &[
            "push",
            "--only",
            "0600001",
            "--only",
            "0600002",
            "--allow-shared-photos",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        2
    );
}

#[test]
fn preview_writes_a_contact_sheet_with_flags_first() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "\n[targets.sis]\ntype = \"folder\"\ndir = \"sis\"\nfile_name = \"{student_id}.jpg\"\nwidth = 240\nheight = 300\n";
    let config = fixture_config(dir.path(), extra);
    let out = picday(&config, &["preview", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "3 unreadable photos: {}",
        text(&out)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["people"], 18);
    assert_eq!(summary["unreadable"], 3);
    let html = std::fs::read_to_string(dir.path().join("preview/index.html")).unwrap();
    // Two shapes per readable person, each an image file that exists.
    let imgs: Vec<&str> = html
        .split("<img src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(imgs.len(), 15 * 2);
    for src in &imgs {
        assert!(dir.path().join("preview").join(src).is_file(), "{src}");
    }
    // Problems come first: the unreadable ones, then the flagged placeholders.
    let first_ok = html.find("<div class=\"card\">").unwrap();
    assert!(html.find("placeholder?").unwrap() < first_ok);
    assert!(html.find("truncated").unwrap() < first_ok);
    assert!(
        !dir.path().join("out").exists() && !dir.path().join("sis").exists(),
        "preview sent photos"
    );
}

#[test]
fn preview_shows_each_key_as_the_target_uses_it() {
    // An LDAP target escapes mapping values inside its search filter (RFC 4515): the contact
    // sheet must show that filter, not the bare template filled in.
    let dir = tempfile::tempdir().unwrap();
    let photo = portraits().join("0100200.jpg");
    std::fs::write(
        dir.path().join("photos.csv"),
        format!("path,mail\n{},a(b)*@school.example\n", photo.display()),
    )
    .unwrap();
    std::fs::write(dir.path().join("pw.txt"), "not-used-by-preview").unwrap();
    let config = dir.path().join("picday.toml");
    std::fs::write(
        &config,
        "[source]\nmapping = \"photos.csv\"\n\n[targets.ad]\ntype = \"ldap\"\n\
         url = \"ldaps://127.0.0.1:1\"\nbind_dn = \"cn=svc\"\npassword = { file = \"pw.txt\" }\n\
         base = \"dc=school,dc=example\"\nfilter = \"(mail={mail})\"\n",
    )
    .unwrap();
    let out = picday(&config, &["preview", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let html = std::fs::read_to_string(dir.path().join("preview/index.html")).unwrap();
    assert!(
        html.contains("ad: (mail=a\\28b\\29\\2a@school.example)"),
        "{html}"
    );
}

#[test]
fn powerschool_staff_without_a_student_id_are_sent_as_staff() {
    // PowerSchool keys students by student id and staff by teacher number: a staff row has no
    // student id, and must not be left out for it.
    let dir = tempfile::tempdir().unwrap();
    for f in ["0100200.jpg", "0100201.jpg", "0100202.jpg"] {
        std::fs::copy(portraits().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("people.csv"),
        "path,student_id,teacher_number,grade\n\
         0100200.jpg,100200,,9\n\
         0100201.jpg,,T42,STAFF\n\
         0100202.jpg,,,10\n",
    )
    .unwrap();
    let config = dir.path().join("picday.toml");
    std::fs::write(
        &config,
        "[source]\nmapping = \"people.csv\"\n\n[targets.ps]\ntype = \"powerschool\"\ndir = \"out\"\n",
    )
    .unwrap();
    let out = picday(&config, &["push"]);
    let all = text(&out);
    // Only the row with neither id is left out (exit 1), with both ids named.
    assert_eq!(out.status.code(), Some(1), "{all}");
    let left_out: Vec<&str> = all.lines().filter(|l| l.contains("people.csv:")).collect();
    assert_eq!(left_out.len(), 1, "{all}");
    assert!(
        left_out[0].contains("people.csv:4")
            && left_out[0].contains("`student_id`")
            && left_out[0].contains("`teacher_number`"),
        "{all}"
    );
    let students = std::fs::read_to_string(dir.path().join("out/ps.txt")).unwrap();
    let staff = std::fs::read_to_string(dir.path().join("out/ps-staff.txt")).unwrap();
    assert!(
        students.contains("100200") && !students.contains("T42"),
        "{students}"
    );
    assert!(
        staff.contains("T42") && !staff.contains("100200"),
        "{staff}"
    );
    assert!(dir.path().join("out/ps-staff.zip").is_file());
}

/// A name or key that a spreadsheet would run as a formula is written as text in report.csv
/// (CSV injection: a mapping row `=HYPERLINK(...)` must not become a live link in Excel).
#[test]
fn report_csv_cells_never_start_a_formula() {
    let dir = tempfile::tempdir().unwrap();
    let photo = portraits().join(
        std::fs::read_dir(portraits())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(".jpg") && !n.starts_with("07"))
            .unwrap(),
    );
    let mapping = dir.path().join("photos.csv");
    std::fs::write(
        &mapping,
        format!(
            "path,mail,first_name,last_name\n{},@SUM(A1),=HYPERLINK(A1),-2+3\n",
            photo.display()
        ),
    )
    .unwrap();
    let config = dir.path().join("picday.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nmapping = {mapping:?}\n\n[targets.share]\ntype = \"folder\"\ndir = \"out\"\nfile_name = \"{{mail}}.jpg\"\n"
        ),
    )
    .unwrap();
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("report.csv");
    let mut rows = csv::Reader::from_path(&report).unwrap();
    let mut cells = 0;
    for row in rows.records() {
        for cell in row.unwrap().iter() {
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} in {}",
                report.display()
            );
        }
    }
    assert!(cells > 0);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(text.contains("'@SUM(A1).jpg"), "{text}");
}

/// `picday targets --json | head -1`: the reader closes the pipe early. picday stops printing
/// and ends quietly; it used to panic (exit code 101, "failed printing to stdout").
#[test]
fn a_closed_pipe_on_standard_output_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture_config(dir.path(), "");
    for args in [&["targets", "--json"][..], &["targets"], &["status"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_picday"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env_remove("PICDAY_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before picday writes its first line.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// A name with an escape sequence (a mapping edited by hand, a hostile row) is shown escaped,
/// never sent raw to the terminal where it could clear the screen or retitle the window.
#[test]
fn control_characters_in_names_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("photos.csv");
    std::fs::write(
        &mapping,
        "path,mail,first_name,last_name\nmissing.jpg,eve@school.example,\u{1b}[2J\u{1b}]0;pwned\u{7},Eve\n",
    )
    .unwrap();
    let config = dir.path().join("picday.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nmapping = {mapping:?}\n\n[targets.share]\ntype = \"folder\"\ndir = \"out\"\n"
        ),
    )
    .unwrap();
    for args in [&["push"][..], &["check"]] {
        let out = picday(&config, args);
        let all = text(&out);
        assert!(all.contains("Eve"), "{args:?}: {all}");
        assert!(
            !all.contains('\u{1b}') && !all.contains('\u{7}'),
            "{args:?}: {all:?}"
        );
        assert!(all.contains("\\u{1b}[2J"), "{args:?}: {all}");
    }
}

/// `picday.toml` in `dir`, reading [`named_people`], with the given target tables.
fn named_config(dir: &Path, targets: &str) -> PathBuf {
    let mapping = named_people(dir);
    let config = dir.join("picday.toml");
    std::fs::write(
        &config,
        format!("[source]\nmapping = {mapping:?}\n\n{targets}"),
    )
    .unwrap();
    config
}

/// A mapping of four fixture portraits with names and grades, in `dir`.
fn named_people(dir: &Path) -> PathBuf {
    let p = portraits();
    let mapping = dir.join("people.csv");
    std::fs::write(
        &mapping,
        format!(
            "path,mail,first_name,last_name,grade\n\
             {a},ana@school.example,ab,c,9\n\
             {b},bo@school.example,a,bc,9\n\
             {c},cy@school.example,Cy,Lee,9\n\
             {d},di@school.example,Cy,Kim,10\n",
            a = p.join("0100200.jpg").display(),
            b = p.join("0100201.jpg").display(),
            c = p.join("0100202.jpg").display(),
            d = p.join("0100203.jpg").display(),
        ),
    )
    .unwrap();
    mapping
}

/// Issue 24, item 2: two people whose file names render the same (`ab`+`c`, `a`+`bc`) are
/// both reported, each naming the other's line, nothing of theirs is written and the exit code
/// says so; a configuration where two targets write one folder is refused by `check` and
/// `push`. (Failed before: both "sent", exit 0, one file for two people; the two targets
/// were accepted.)
#[test]
fn colliding_keys_and_targets_sharing_a_folder_are_refused_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let config = named_config(
        dir.path(),
        "[targets.names]\ntype = \"folder\"\ndir = \"out\"\nfile_name = \"{first_name}{last_name}.jpg\"\n",
    );
    let out = picday(&config, &["push"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for (me, other) in [("people.csv:2", "line 3"), ("people.csv:3", "line 2")] {
        let l = all
            .lines()
            .find(|l| l.contains(me))
            .unwrap_or_else(|| panic!("{me}:\n{all}"));
        assert!(l.contains(other) && l.contains("abc.jpg"), "{l}");
    }
    let out_dir = dir.path().join("out");
    assert!(
        !out_dir.join("abc.jpg").exists(),
        "nothing of theirs is written"
    );
    assert!(out_dir.join("CyLee.jpg").exists() && out_dir.join("CyKim.jpg").exists());

    let config = named_config(
        dir.path(),
        "[targets.a]\ntype = \"folder\"\ndir = \"out\"\nfile_name = \"{mail}.jpg\"\n\n[targets.b]\ntype = \"folder\"\ndir = \"./sub/../out/\"\nfile_name = \"{mail}.jpg\"\n",
    );
    for command in ["check", "push"] {
        let out = picday(&config, &[command]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {all}");
        assert!(
            all.contains("[targets.a] and [targets.b] both write to"),
            "{command}: {all}"
        );
    }

    // One folder inside the other's: `{grade}/{mail}.jpg` in `out` reaches `out/9`.
    let config = named_config(
        dir.path(),
        "[targets.a]\ntype = \"folder\"\ndir = \"out\"\nfile_name = \"{grade}/{mail}.jpg\"\n\n[targets.b]\ntype = \"folder\"\ndir = \"out/9\"\nfile_name = \"{mail}.jpg\"\n",
    );
    let out = picday(&config, &["check"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("(inside folder "), "{all}");
}

/// Issue 24, item 3: `file_name = "{grade}/{mail}.jpg"` sends every student of a grade and
/// `{first_name}` in a key does not make people who share a first name one person. (Failed
/// before: "`grade` 9 also appears on line 3" left out every student who shared a grade.)
#[test]
fn a_column_that_is_only_part_of_a_key_is_not_an_identity() {
    let dir = tempfile::tempdir().unwrap();
    let config = named_config(
        dir.path(),
        "[targets.year]\ntype = \"folder\"\ndir = \"year\"\nfile_name = \"{grade}/{mail}.jpg\"\n\n[targets.badges]\ntype = \"folder\"\ndir = \"badges\"\nfile_name = \"{first_name}.{last_name}@school.example.jpg\"\n",
    );
    let out = picday(&config, &["push"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for f in [
        "year/9/ana@school.example.jpg",
        "year/9/bo@school.example.jpg",
        "year/9/cy@school.example.jpg",
        "year/10/di@school.example.jpg",
        "badges/Cy.Lee@school.example.jpg",
        "badges/Cy.Kim@school.example.jpg",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}:\n{all}");
    }
}
