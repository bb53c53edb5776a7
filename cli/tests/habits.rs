//! The habits of a command-line tool as a school's IT admin meets them (issue 26): closed pipes,
//! quiet and verbose runs, colour only on a terminal, completions and exit codes, and what the
//! commands print and write for people (check verdicts, the report a person opens, Excel).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn picday_cmd(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_picday"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PICDAY_CONFIG")
        .env_remove("PICDAY_LOG")
        .env_remove("NO_COLOR");
    cmd
}

fn picday(config: &Path, args: &[&str]) -> Output {
    picday_cmd(config, args).output().expect("run picday")
}

fn all(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `n` small distinct JPEGs (`w`x`h`) and a mapping for them; `names` gives first names.
fn people(dir: &Path, n: usize, (w, h): (u32, u32), names: &[&str]) -> PathBuf {
    let mut csv = String::from("path,mail,first_name,last_name\n");
    for i in 0..n {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 3 + i as u32 * 17) as u8, (y * 5) as u8, (i * 29) as u8])
        });
        let file = format!("p{i}.jpg");
        img.save(dir.join(&file)).unwrap();
        let name = names.get(i).copied().unwrap_or("Sam");
        csv.push_str(&format!("{file},p{i}@school.example,{name},Test\n"));
    }
    let mapping = dir.join("photos.csv");
    std::fs::write(&mapping, csv).unwrap();
    mapping
}

fn config(dir: &Path, mapping: &Path, target: &str) -> PathBuf {
    let config = dir.join("picday.toml");
    std::fs::write(
        &config,
        format!("[source]\nmapping = {mapping:?}\n\n[photo]\ncrop = \"top\"\n\n{target}"),
    )
    .unwrap();
    config
}

const FOLDER: &str = "[targets.share]\ntype = \"folder\"\ndir = \"out\"\nsize = 96\n";

fn report_dir(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
}

/// `check --json` said `"status": "sent"` of a healthy target (and `failed`, `skipped`): a
/// check sends nothing. It says `ok`, `warning` or `error`.
#[test]
fn check_json_says_ok_or_error_per_target() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = people(dir.path(), 1, (120, 150), &[]);
    std::fs::write(dir.path().join("a-file"), b"not a folder").unwrap();
    let target = format!("{FOLDER}\n[targets.broken]\ntype = \"folder\"\ndir = \"a-file\"\n");
    let config = config(dir.path(), &mapping, &target);
    let out = picday(&config, &["check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |name: &str| {
        json["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("share"), "ok", "{json}");
    assert_eq!(status("broken"), "error", "{json}");
    assert!(!dir.path().join("out").exists());
}

/// Review lines were sorted as text: line 10 came before line 2. They come in line order.
#[test]
fn check_lists_review_lines_in_line_order() {
    let dir = tempfile::tempdir().unwrap();
    // Twelve thumbnails, each far too small for the 648x648 output: all flagged.
    let mapping = people(dir.path(), 12, (50, 60), &[]);
    let config = config(
        dir.path(),
        &mapping,
        "[targets.share]\ntype = \"folder\"\ndir = \"out\"\n",
    );
    let out = picday(&config, &["check"]);
    let text = all(&out);
    let lines: Vec<u64> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("review:"))
        .map(|l| {
            let at = l.split("photos.csv:").nth(1).unwrap();
            at.split(' ').next().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(lines, (2..=13).collect::<Vec<u64>>(), "{text}");
    let out = picday(&config, &["check", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let flagged = json["photos_flagged"].as_array().unwrap();
    assert!(
        flagged[0].as_str().unwrap().contains("photos.csv:2 "),
        "{json}"
    );
    assert!(
        flagged[11].as_str().unwrap().contains("photos.csv:13 "),
        "{json}"
    );
}

/// A photographer's standard 640x800 delivery for a 648x648 target is not "smaller than the
/// output" (1.25% is invisible); a 50x60 one is.
#[test]
fn a_standard_delivery_is_not_flagged_small() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = people(dir.path(), 1, (640, 800), &[]);
    let config = config(
        dir.path(),
        &mapping,
        "[targets.entra]\ntype = \"folder\"\ndir = \"out\"\nsize = 648\n",
    );
    let out = picday(&config, &["check", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["photos_flagged"], serde_json::json!([]), "{json}");
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
}

/// report.csv opens in Excel with accents intact (UTF-8 with a byte-order mark), and push ends
/// by naming the HTML report a person opens, not the CSV.
#[test]
fn report_csv_has_a_bom_and_push_names_the_html_report() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = people(dir.path(), 2, (120, 150), &["Zoë", "Núñez"]);
    let config = config(dir.path(), &mapping, FOLDER);
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let report = report_dir(dir.path());
    let csv = std::fs::read(report.join("report.csv")).unwrap();
    assert!(
        csv.starts_with(b"\xEF\xBB\xBFfile,line,"),
        "{:?}",
        &csv[..20]
    );
    let text = String::from_utf8(csv).unwrap();
    assert!(text.contains("Zoë") && text.contains("Núñez"), "{text}");
    // Readers that know the mark skip it: the header is `file`.
    let mut reader = csv::Reader::from_path(report.join("report.csv")).unwrap();
    assert_eq!(&reader.headers().unwrap()[0], "file");

    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("report: "), "{stdout}");
    assert!(last.ends_with("report.html"), "{stdout}");
    assert!(
        Path::new(last.trim_start_matches("report: ")).exists(),
        "{last}"
    );
}

/// No command panics when its reader goes away (`| head -1`, a closed console), on standard
/// output or on standard error; the exit code is never 101.
#[test]
fn no_command_panics_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = people(dir.path(), 3, (120, 150), &[]);
    let config = config(dir.path(), &mapping, FOLDER);
    assert_eq!(picday(&config, &["push"]).status.code(), Some(0));
    let run = report_dir(dir.path())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let init_dir = dir.path().join("init");
    let init = init_dir.to_string_lossy().into_owned();
    let commands: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["--version"],
        vec!["push", "--help"],
        vec!["init", &init],
        vec!["check"],
        vec!["check", "--json"],
        vec!["push", "--dry-run"],
        vec!["push", "--force"],
        vec!["push", "--json"],
        vec!["preview"],
        vec!["targets"],
        vec!["targets", "--markdown"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["report", "--run", &run],
        vec!["restore", "--run", &run],
        vec!["completions", "powershell"],
        vec!["completions", "bash"],
        vec!["man"],
    ];
    for args in &commands {
        for closed in ["stdout", "stderr", "both"] {
            let mut cmd = picday_cmd(&config, args);
            cmd.arg("-v").stdout(Stdio::piped()).stderr(Stdio::piped());
            if args.contains(&"--help") || args.contains(&"--version") {
                // `-v` after `--help` would be taken as an argument of nothing.
                cmd = picday_cmd(&config, args);
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
            let mut child = cmd.spawn().unwrap();
            if closed != "stderr" {
                drop(child.stdout.take());
            }
            if closed != "stdout" {
                drop(child.stderr.take());
            }
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !err.contains("panicked"),
                "{args:?}, {closed} closed: {err}"
            );
            assert_ne!(
                out.status.code(),
                Some(101),
                "{args:?}, {closed} closed: a panic"
            );
        }
        let _ = std::fs::remove_dir_all(&init_dir);
    }
}

/// `-v` says what a person watching a run wants to know (people loaded, per-target totals),
/// and a log that is not a terminal carries no colour codes.
#[test]
fn verbose_lines_are_useful_and_plain_when_redirected() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = people(dir.path(), 3, (120, 150), &[]);
    let config = config(dir.path(), &mapping, FOLDER);
    let out = picday(&config, &["-v", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 people loaded"), "{err}");
    assert!(
        err.contains("share: sent 3, unchanged 0, skipped 0, failed 0"),
        "{err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "colour codes in a redirected log: {err:?}"
    );
    // Without -v: no info lines.
    let out = picday(&config, &["push"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("people loaded"));
}

/// `-q`: nothing on standard output, the exit code says how it went; `--json` still prints.
#[test]
fn quiet_prints_nothing_but_the_json_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = people(dir.path(), 2, (120, 150), &[]);
    let config = config(dir.path(), &mapping, FOLDER);
    let out = picday(&config, &["-q", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    assert!(out.stdout.is_empty(), "{}", all(&out));
    assert_eq!(
        std::fs::read_dir(dir.path().join("out")).unwrap().count(),
        2
    );
    let out = picday(&config, &["--quiet", "check", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], true);
    // A failure is still said, on standard error, with its exit code.
    let out = picday(&dir.path().join("absent.toml"), &["-q", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
    // -q and -v contradict each other: a usage error.
    assert_eq!(
        picday(&config, &["-q", "-v", "check"]).status.code(),
        Some(2)
    );
}

/// `--help` lists the exit codes; `picday completions powershell` is a script PowerShell can
/// load; `picday man` is a roff page.
#[test]
fn help_completions_and_man_page() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_picday"))
            .args(args)
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in ["Exit codes:", "  0 ", "  1 ", "  2 ", "--quiet", "NO_COLOR"] {
        assert!(help.contains(needle), "no {needle:?} in:\n{help}");
    }
    let ps = run(&["completions", "powershell"]);
    assert!(ps.status.success());
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        ps.contains("Register-ArgumentCompleter -Native -CommandName 'picday'"),
        "{ps}"
    );
    assert!(ps.contains("'push'") && ps.contains("--dry-run"), "{ps}");
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("restore"),
            "{shell}"
        );
    }
    assert_eq!(run(&["completions", "cmd"]).status.code(), Some(2));
    let man = run(&["man"]);
    assert!(man.status.success());
    let man = String::from_utf8_lossy(&man.stdout);
    assert!(
        man.contains(".TH picday 1") && man.contains("Exit codes"),
        "{man}"
    );
}
