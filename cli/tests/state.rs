//! End-to-end tests of the run state through the `picday` binary: incremental pushes, resume
//! after SIGKILL, backup and restore, status and report, and the bad-state refusals.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn picday_cmd(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_picday"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("PICDAY_CONFIG");
    cmd
}

fn picday(config: &Path, args: &[&str]) -> Output {
    picday_cmd(config, args).output().expect("run picday")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// `n` distinct source photos (real portraits, each made unique by bytes after the JPEG end,
/// which decoders ignore) and a mapping for them in `dir/src`.
fn sources(dir: &Path, n: usize) -> PathBuf {
    let portraits = picday_testkit::fixtures::portraits();
    let base: Vec<Vec<u8>> = (200..=207)
        .map(|i| std::fs::read(portraits.join(format!("0100{i}.jpg"))).unwrap())
        .collect();
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut csv = String::from("path,mail\n");
    for i in 0..n {
        let mut bytes = base[i % base.len()].clone();
        bytes.extend_from_slice(format!("picday-test-{i}").as_bytes());
        std::fs::write(src.join(format!("p{i:03}.jpg")), bytes).unwrap();
        csv.push_str(&format!("p{i:03}.jpg,p{i:03}@school.example\n"));
    }
    std::fs::write(src.join("photos.csv"), csv).unwrap();
    src.join("photos.csv")
}

fn config(dir: &Path, mapping: &Path, extra: &str) -> PathBuf {
    let config = dir.join("picday.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nmapping = {mapping:?}\n\n[photo]\ncrop = \"top\"\n\n{extra}\n\
             [targets.entra]\ntype = \"folder\"\ndir = \"out\"\nsize = 96\nmax_concurrency = 4\n"
        ),
    )
    .unwrap();
    config
}

/// Each file of a folder with what identifies one write of it (every write makes a new file
/// that is renamed into place): see [`write_id`].
fn writes(dir: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".jpg"))
        .map(|e| {
            let m = std::fs::metadata(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), write_id(&m))
        })
        .collect()
}

/// What tells one write of a file from another. On Unix (Linux, macOS): the inode and the
/// modification time (a renamed-in file is a new inode; the time alone can repeat within a
/// clock tick).
#[cfg(unix)]
fn write_id(m: &std::fs::Metadata) -> (u64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    (m.ino(), m.mtime(), m.mtime_nsec())
}

/// Elsewhere (Windows, where the file index needs an unstable API): the modification and
/// creation times in nanoseconds (NTFS keeps 100 ns; each write is a new file, renamed into
/// place, made by a process started after the previous one's).
#[cfg(not(unix))]
fn write_id(m: &std::fs::Metadata) -> (u64, i64, i64) {
    let nanos = |t: std::io::Result<std::time::SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64)
    };
    (0, nanos(m.modified()), nanos(m.created()))
}

fn changed(
    before: &BTreeMap<String, (u64, i64, i64)>,
    after: &BTreeMap<String, (u64, i64, i64)>,
) -> BTreeSet<String> {
    after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// The ids of the runs the state in `dir` records (none before the first run).
fn run_ids(dir: &Path) -> BTreeSet<String> {
    if !dir.join(".picday/state.db").exists() {
        return BTreeSet::new();
    }
    let db = state_db(dir);
    let mut stmt = db.prepare("SELECT id FROM runs").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .flatten()
        .collect()
}

fn state_db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        dir.join(".picday/state.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap()
}

#[test]
fn rerunning_a_finished_push_makes_zero_remote_writes_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = sources(dir.path(), 5);
    let config = config(dir.path(), &mapping, "");
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = writes(&dir.path().join("out"));
    assert_eq!(first.len(), 5);

    std::thread::sleep(Duration::from_millis(30));
    let out = picday(&config, &["push"]);
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "all unchanged is not an error: {all}"
    );
    assert!(all.contains("no remote write was made"), "{all}");
    assert!(
        all.contains("unchanged since run") || all.contains("already sent by run"),
        "{all}"
    );
    assert_eq!(
        writes(&dir.path().join("out")),
        first,
        "nothing was written"
    );

    // Counted as unchanged in the JSON summary too.
    let out = picday(&config, &["push", "--json"]);
    let j = json(&out);
    assert_eq!(j["totals"]["entra"]["unchanged"], 5, "{j}");
    assert_eq!(j["totals"]["entra"]["sent"], 0, "{j}");

    // One new photo: only that person is sent.
    let src = mapping.parent().unwrap();
    let mut bytes = std::fs::read(src.join("p001.jpg")).unwrap();
    bytes.extend_from_slice(b"changed");
    std::fs::write(src.join("p001.jpg"), bytes).unwrap();
    let out = picday(&config, &["push", "--json"]);
    let j = json(&out);
    assert_eq!(j["totals"]["entra"]["sent"], 1, "{j}");
    assert_eq!(
        changed(&first, &writes(&dir.path().join("out"))),
        BTreeSet::from(["p001@school.example.jpg".to_string()])
    );

    // --force sends everyone again.
    let before = writes(&dir.path().join("out"));
    std::thread::sleep(Duration::from_millis(30));
    let out = picday(&config, &["push", "--force", "--json"]);
    assert_eq!(json(&out)["totals"]["entra"]["sent"], 5);
    assert_eq!(changed(&before, &writes(&dir.path().join("out"))).len(), 5);

    // Other settings (another size) make another photo: sent again without --force.
    let text_config = std::fs::read_to_string(&config)
        .unwrap()
        .replace("size = 96", "size = 128");
    std::fs::write(&config, text_config).unwrap();
    let out = picday(&config, &["push", "--json"]);
    assert_eq!(json(&out)["totals"]["entra"]["sent"], 5);
}

#[test]
fn backup_then_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = sources(dir.path(), 3);
    let config = config(dir.path(), &mapping, "");
    // Last year's photos for two of the three.
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let old = |i: usize| format!("\u{FF}old photo of {i}").into_bytes();
    for i in 0..2 {
        std::fs::write(out_dir.join(format!("p{i:03}@school.example.jpg")), old(i)).unwrap();
    }
    let out = picday(&config, &["push", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = json(&out)["run_id"].as_str().unwrap().to_string();
    for i in 0..3 {
        let now = std::fs::read(out_dir.join(format!("p{i:03}@school.example.jpg"))).unwrap();
        assert!(now.starts_with(&[0xFF, 0xD8]), "new photo sent");
    }
    let backups = dir.path().join(".picday/backups").join(&run).join("entra");
    let saved: Vec<_> = std::fs::read_dir(&backups).unwrap().flatten().collect();
    assert_eq!(saved.len(), 2, "only the two that had a photo: {saved:?}");

    let out = picday(&config, &["restore", "--run", &run, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["totals"]["entra"]["sent"], 3, "{j}");
    for i in 0..2 {
        assert_eq!(
            std::fs::read(out_dir.join(format!("p{i:03}@school.example.jpg"))).unwrap(),
            old(i),
            "last year's photo is back"
        );
    }
    assert!(
        !out_dir.join("p002@school.example.jpg").exists(),
        "removed where there was none before"
    );
    // The restore is a run with its own report.
    let restore_dir = PathBuf::from(j["report_dir"].as_str().unwrap());
    for f in ["report.html", "report.json", "report.csv"] {
        assert!(restore_dir.join(f).exists(), "{f}");
    }
    let status = json(&picday(&config, &["status", "--json"]));
    let runs = status["runs"].as_array().unwrap();
    assert_eq!(runs[0]["run"]["command"], "restore", "{status}");
    assert_eq!(runs[0]["run"]["restored_from"], run.as_str());

    // Restored people are sent again by the next push.
    let out = picday(&config, &["push", "--json"]);
    assert_eq!(json(&out)["totals"]["entra"]["sent"], 3);

    // backup = false: no backup is taken.
    let text_config = std::fs::read_to_string(&config).unwrap().replace(
        "[targets.entra]",
        "[run]\nbackup = false\n\n[targets.entra]",
    );
    std::fs::write(&config, text_config).unwrap();
    let out = picday(&config, &["push", "--force", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = json(&out)["run_id"].as_str().unwrap().to_string();
    assert!(!dir.path().join(".picday/backups").join(&run).exists());
}

#[test]
fn restore_only_puts_back_the_named_people() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = sources(dir.path(), 3);
    let config = config(dir.path(), &mapping, "");
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let file = |i: usize| out_dir.join(format!("p{i:03}@school.example.jpg"));
    let old = |i: usize| format!("\u{FF}old photo of {i}").into_bytes();
    for i in 0..2 {
        std::fs::write(file(i), old(i)).unwrap();
    }
    let out = picday(&config, &["push", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = json(&out)["run_id"].as_str().unwrap().to_string();

    // A key the run took no backup of is a usage error, and nothing changes.
    let out = picday(
        &config,
        &["restore", "--run", &run, "--only", "nobody@school.example"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("nobody@school.example"),
        "{}",
        text(&out)
    );
    assert!(std::fs::read(file(0)).unwrap().starts_with(&[0xFF, 0xD8]));

    let out = picday(
        &config,
        &[
            "restore",
            "--run",
            &run,
            "--target",
            "entra",
            "--only",
            // The folder target's key is the file name, as the report shows it.
            "p000@school.example.jpg",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["totals"]["entra"]["sent"], 1, "{}", text(&out));
    assert_eq!(std::fs::read(file(0)).unwrap(), old(0), "p000 is restored");
    for i in 1..3 {
        assert!(
            std::fs::read(file(i)).unwrap().starts_with(&[0xFF, 0xD8]),
            "p{i:03} keeps its new photo"
        );
    }
}

#[test]
fn status_and_report_come_from_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = sources(dir.path(), 3);
    let config = config(dir.path(), &mapping, "");
    let out = picday(&config, &["status"]);
    assert!(text(&out).contains("no state yet"), "{}", text(&out));
    let out = picday(&config, &["push", "--json"]);
    let run = json(&out)["run_id"].as_str().unwrap().to_string();
    let report_dir = PathBuf::from(json(&out)["report_dir"].as_str().unwrap());
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(html.contains("p000@school.example"), "person in the page");
    assert!(html.contains("src=\"photos/"), "photo next to the person");
    assert!(html.contains("id=\"f-failed\""), "filters");

    let out = picday(&config, &["status"]);
    let all = text(&out);
    assert!(all.contains(&run) && all.contains("finished"), "{all}");
    assert!(all.contains("3 people have picday's photo"), "{all}");

    std::fs::remove_dir_all(&report_dir).unwrap();
    let out = picday(&config, &["report", "--run", &run]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["totals"]["entra"]["sent"], 3, "{j}");
    assert!(report_dir.join("report.html").exists());
    assert_eq!(
        std::fs::read_to_string(report_dir.join("report.csv"))
            .unwrap()
            .lines()
            .count(),
        4
    );
    let out = picday(&config, &["report", "--run", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn bad_state_files_are_refused_naming_the_file_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = sources(dir.path(), 2);
    let config = config(dir.path(), &mapping, "");
    assert_eq!(picday(&config, &["push"]).status.code(), Some(0));
    let state = dir.path().join(".picday/state.db");
    let good = std::fs::read(&state).unwrap();
    let newer = {
        let c = rusqlite::Connection::open(&state).unwrap();
        c.execute(
            "UPDATE meta SET value = '7' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(c);
        let b = std::fs::read(&state).unwrap();
        std::fs::write(&state, &good).unwrap();
        b
    };
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("truncated", good[..good.len() / 2].to_vec(), "damaged"),
        (
            "not sqlite",
            b"path,mail\n".to_vec(),
            "not an SQLite database",
        ),
        ("newer schema", newer, "newer picday"),
    ];
    for (what, bytes, needle) in cases {
        std::fs::write(&state, &bytes).unwrap();
        let _ = std::fs::remove_file(dir.path().join(".picday/state.db-wal"));
        let _ = std::fs::remove_file(dir.path().join(".picday/state.db-shm"));
        for args in [&["push"][..], &["status"][..]] {
            let out = picday(&config, args);
            let all = text(&out);
            assert_eq!(out.status.code(), Some(2), "{what}: {all}");
            assert!(all.contains(&state.display().to_string()), "{what}: {all}");
            assert!(all.contains(needle), "{what}: {all}");
            assert_eq!(std::fs::read(&state).unwrap(), bytes, "{what}: untouched");
        }
    }
}

#[test]
fn a_second_push_on_the_same_state_refuses_and_a_killed_one_leaves_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = sources(dir.path(), 60);
    let config = config(dir.path(), &mapping, "[run]\nworkers = 1\n");
    let mut first = picday_cmd(&config, &["push"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let info = dir.path().join(".picday/lock.info");
    let start = Instant::now();
    while !info.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = picday(&config, &["push"]);
    let all = text(&out);
    // Kill it once it has sent someone (so that its run is recorded), mid-way.
    while writes(&dir.path().join("out")).is_empty() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let still_running = first.try_wait().unwrap().is_none();
    first.kill().unwrap(); // SIGKILL (TerminateProcess on Windows)
    first.wait().unwrap();
    assert!(still_running, "the first push ended too soon for this test");
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("another picday"), "{all}");
    assert!(all.contains("state.db"), "{all}");
    // The OS dropped the killed process's lock: the next push runs and finishes the work.
    let out = picday(&config, &["push"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("did not finish"),
        "the killed run is named: {all}"
    );
    assert_eq!(writes(&dir.path().join("out")).len(), 60);
}

/// A small deterministic generator, so that a failing run can be replayed from its seed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn sigkill_at_random_points_then_resume_sends_everyone_once_but_the_in_flight() {
    // One photo worker: a push of 120 real portraits takes a few seconds, and the kills land
    // all along it.
    const PEOPLE: usize = 120;
    const KILLS: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let mapping = sources(dir.path(), PEOPLE);

    // The reference: one uninterrupted push elsewhere, which also says how long a push takes.
    let reference = dir.path().join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    let ref_config = config(&reference, &mapping, "[run]\nworkers = 1\n");
    let t0 = Instant::now();
    let out = picday(&ref_config, &["push"]);
    let full = t0.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let expected: BTreeMap<String, Vec<u8>> = std::fs::read_dir(reference.join("out"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    assert_eq!(expected.len(), PEOPLE);

    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let config = config(&work, &mapping, "[run]\nworkers = 1\n");
    let out_dir = work.join("out");
    // PICDAY_KILL_SEED=<seed> replays the kill delays of a failed run.
    let seed = std::env::var("PICDAY_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut rng = Lcg(seed);
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    let mut in_flight: BTreeMap<String, usize> = BTreeMap::new();
    // Start-up alone (reading the mapping, checking every fingerprint): a push with nothing
    // left to do.
    let t0 = Instant::now();
    let out = picday(&ref_config, &["push"]);
    let idle = t0.elapsed().as_millis() as u64;
    assert!(text(&out).contains("no remote write"), "{}", text(&out));
    // Each run is killed between half its start-up and start-up plus twice its share of the
    // work: some kills land before the run has recorded anything, most in the middle of sending,
    // and the twelve kills together cover most of the push.
    let share = (full.as_millis() as u64).saturating_sub(idle) / KILLS as u64;
    let (earliest, window) = (idle / 2, idle / 2 + 2 * share + 1);
    eprintln!("seed {seed}: an uninterrupted push takes {full:?}, start-up {idle} ms");
    for kill in 0..KILLS {
        let before = writes(&out_dir);
        // The runs before this one: a kill can land before this run records its start, and
        // then "the latest run" would be the previous one, with sends this run never made.
        let earlier = run_ids(&work);
        let delay = Duration::from_millis(earliest + rng.next() % window);
        let mut child = picday_cmd(&config, &["push"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL (TerminateProcess on Windows); fails only if it already exited
        child.wait().unwrap();
        let now = writes(&out_dir);
        let w = changed(&before, &now);
        // What the state says this run sent (none if it was killed before recording its start).
        let recorded: BTreeSet<String> = match run_ids(&work).difference(&earlier).next() {
            Some(run) => {
                let db = state_db(&work);
                let mut stmt = db
                    .prepare("SELECT key FROM deliveries WHERE run_id = ?1 AND status = 'sent'")
                    .unwrap();
                stmt.query_map([run], |r| r.get::<_, String>(0))
                    .unwrap()
                    .flatten()
                    .collect()
            }
            None => BTreeSet::new(),
        };
        // Recorded as sent means written (the file name is the key).
        for r in &recorded {
            assert!(
                w.contains(r),
                "kill {kill} (seed {seed}): {r} recorded but not written"
            );
        }
        let unrecorded: Vec<&String> = w.iter().filter(|f| !recorded.contains(*f)).collect();
        assert!(
            unrecorded.len() <= 4,
            "kill {kill} (seed {seed}): {} written but not recorded, more than the 4 in flight",
            unrecorded.len()
        );
        for f in &w {
            *written.entry(f.clone()).or_default() += 1;
        }
        for f in unrecorded {
            *in_flight.entry(f.clone()).or_default() += 1;
        }
        eprintln!(
            "kill {kill} after {delay:?}: {} written, {} recorded",
            w.len(),
            recorded.len()
        );
    }
    // Resume to the end.
    let before = writes(&out_dir);
    let out = picday(&config, &["push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for f in changed(&before, &writes(&out_dir)) {
        *written.entry(f).or_default() += 1;
    }
    // Everyone has the right photo.
    for (name, bytes) in &expected {
        let got = std::fs::read(out_dir.join(name)).unwrap_or_default();
        assert!(
            got == *bytes,
            "{name}: wrong or missing photo (seed {seed})"
        );
    }
    // Nobody was sent twice but the ones in flight at a kill.
    let mut duplicates = 0;
    for name in expected.keys() {
        let n = written.get(name).copied().unwrap_or(0);
        assert!(n >= 1, "{name} never written");
        let allowed = in_flight.get(name).copied().unwrap_or(0);
        assert!(
            n - 1 <= allowed,
            "{name} written {n} times but in flight only {allowed} times (seed {seed})"
        );
        duplicates += n - 1;
    }
    eprintln!(
        "{PEOPLE} people, {KILLS} kills: {duplicates} duplicate writes, all of deliveries in flight"
    );
    // And a push after that writes nothing.
    let before = writes(&out_dir);
    let out = picday(&config, &["push"]);
    assert!(text(&out).contains("no remote write"), "{}", text(&out));
    assert!(changed(&before, &writes(&out_dir)).is_empty());
}
