#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;

use super::*;
use crate::engine::{Delivery, Engine, Journal, Observer, RunTarget};
use crate::memory::MemoryTarget;
use crate::model::{Photo, Profile, Subject};
use crate::target::{Target, TargetIo};

fn jpeg(path: &Path, shade: u8) {
    let img = image::RgbImage::from_fn(200, 240, |x, y| {
        image::Rgb([shade, (x % 256) as u8, (y % 256) as u8])
    });
    img.save_with_format(path, image::ImageFormat::Jpeg)
        .expect("write jpeg");
}

fn open(dir: &Path) -> Arc<State> {
    Arc::new(State::open(dir, "push").expect("open state"))
}

#[derive(Default)]
struct Counts {
    decoded: AtomicUsize,
    unchanged: AtomicUsize,
}
impl Observer for Counts {
    fn photo_done(&self, _: &Person, _: std::result::Result<&crate::pipeline::Processed, &Error>) {
        self.decoded.fetch_add(1, Ordering::SeqCst);
    }
    fn photo_unchanged(&self, _: &Person) {
        self.unchanged.fetch_add(1, Ordering::SeqCst);
    }
}

async fn push(
    state: &Arc<State>,
    run: &str,
    people: Vec<Person>,
    target: &Arc<MemoryTarget>,
    options: JournalOptions,
) -> (crate::engine::RunSummary, Arc<Counts>) {
    push_to(state, run, people, target.clone(), options).await
}

async fn push_to(
    state: &Arc<State>,
    run: &str,
    people: Vec<Person>,
    t: Arc<dyn Target>,
    options: JournalOptions,
) -> (crate::engine::RunSummary, Arc<Counts>) {
    state
        .begin_run(&NewRun {
            id: run,
            command: "push",
            started: run,
            config: Path::new("picday.toml"),
            forced: options.force,
            people: people.len(),
            restored_from: None,
        })
        .unwrap();
    let engine = Engine {
        journal: Some(Arc::new(state.journal(run, options))),
        ..Engine::default()
    };
    let counts = Arc::new(Counts::default());
    let summary = engine
        .run(
            people,
            vec![RunTarget {
                name: "mem".into(),
                target: t,
            }],
            counts.clone(),
            CancellationToken::new(),
        )
        .await;
    state.finish_run(run, false, None, &[], &[]).unwrap();
    (summary, counts)
}

#[tokio::test]
async fn unchanged_person_is_not_even_decoded_and_force_sends_again() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("a.jpg");
    jpeg(&photo, 10);
    let people = || vec![Person::new(&photo, [("mail", "a@school.example")])];
    let state = open(dir.path());
    let target = Arc::new(MemoryTarget::new("mem"));

    let (first, _) = push(&state, "r1", people(), &target, JournalOptions::default()).await;
    assert_eq!(first.count(Status::Sent), 1);
    let writes = target.calls();

    let (second, counts) = push(&state, "r2", people(), &target, JournalOptions::default()).await;
    assert_eq!(second.count(Status::Skipped), 1);
    let o = &second.outcomes[0];
    assert_eq!(o.unchanged_since.as_deref(), Some("r1"));
    assert_eq!(o.reason, "unchanged since run r1");
    assert_eq!(o.kind, None, "unchanged is not an error");
    assert_eq!(target.calls(), writes, "no call at all to the target");
    assert_eq!(counts.decoded.load(Ordering::SeqCst), 0, "not decoded");
    assert_eq!(counts.unchanged.load(Ordering::SeqCst), 1);

    // Same bytes, new time (a copy): the content hash decides, still unchanged.
    let bytes = std::fs::read(&photo).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&photo, &bytes).unwrap();
    let (third, _) = push(&state, "r3", people(), &target, JournalOptions::default()).await;
    assert_eq!(third.outcomes[0].unchanged_since.as_deref(), Some("r1"));

    let forced = JournalOptions {
        force: true,
        ..JournalOptions::default()
    };
    let (fourth, _) = push(&state, "r4", people(), &target, forced).await;
    assert_eq!(fourth.count(Status::Sent), 1, "--force sends anyway");

    // A new photo is sent again.
    jpeg(&photo, 200);
    let (fifth, _) = push(&state, "r5", people(), &target, JournalOptions::default()).await;
    assert_eq!(fifth.count(Status::Sent), 1);

    // Other settings (another size) mean another photo: sent again.
    let bigger = Arc::new(MemoryTarget::new("mem").with_profile(Profile::square(128)));
    let (sixth, _) = push(&state, "r6", people(), &bigger, JournalOptions::default()).await;
    assert_eq!(sixth.count(Status::Sent), 1);

    // The recorded outcomes give the report back.
    let again = state.outcomes("r2").unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].unchanged_since.as_deref(), Some("r1"));
    assert_eq!(again[0].person.field("mail"), Some("a@school.example"));
}

#[tokio::test]
async fn rewording_a_summary_resends_nothing_but_a_changed_setting_does() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("a.jpg");
    jpeg(&photo, 10);
    let people = || vec![Person::new(&photo, [("mail", "a@school.example")])];
    let state = open(dir.path());
    let target = Arc::new(MemoryTarget::new("mem"));
    let (first, _) = push(&state, "r1", people(), &target, JournalOptions::default()).await;
    assert_eq!(first.count(Status::Sent), 1);

    // The same target, described in other words (a new release rewording its summary).
    let reworded = Arc::new(MemoryTarget::new("mem").with_summary("photos kept in RAM"));
    assert_ne!(reworded.info().summary, target.info().summary);
    let (second, counts) = push(&state, "r2", people(), &reworded, JournalOptions::default()).await;
    assert_eq!(second.count(Status::Skipped), 1, "{:?}", second.outcomes);
    assert_eq!(second.outcomes[0].unchanged_since.as_deref(), Some("r1"));
    assert_eq!(counts.decoded.load(Ordering::SeqCst), 0);

    // Another key template is another delivery: sent again.
    let rekeyed = Arc::new(MemoryTarget::new("mem").with_key("{mail}").unwrap());
    let (third, _) = push(&state, "r3", people(), &rekeyed, JournalOptions::default()).await;
    assert_eq!(
        third.count(Status::Skipped),
        1,
        "the same template is the same key"
    );
}

#[tokio::test]
async fn backup_keeps_the_photo_that_was_there_and_none_where_there_was_none() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jpg"), dir.path().join("b.jpg"));
    jpeg(&a, 10);
    jpeg(&b, 90);
    let target = Arc::new(MemoryTarget::new("mem"));
    let old = Photo {
        bytes: Arc::from(&b"\xFF\xD8old photo"[..]),
        width: 96,
        height: 96,
        profile: Profile::square(96),
    };
    let pa = Arc::new(Person::new(&a, [("mail", "a@school.example")]));
    target
        .put_photo(&Subject::new("a@school.example", pa.clone()), &old)
        .await
        .unwrap();
    let state = open(dir.path());
    let people = vec![
        (*pa).clone(),
        Person::new(&b, [("mail", "b@school.example")]),
    ];
    let (run, _) = push(&state, "r1", people, &target, JournalOptions::default()).await;
    assert_eq!(run.count(Status::Sent), 2);
    let backups = state.backups("r1", None).unwrap();
    assert_eq!(backups.len(), 2);
    let a_backup = backups
        .iter()
        .find(|b| b.key == "a@school.example")
        .unwrap();
    let saved = std::fs::read(a_backup.file.as_ref().unwrap()).unwrap();
    assert_eq!(saved, b"\xFF\xD8old photo");
    assert!(
        a_backup
            .file
            .as_ref()
            .unwrap()
            .starts_with(dir.path().join(".picday/backups/r1/mem"))
    );
    let b_backup = backups
        .iter()
        .find(|b| b.key == "b@school.example")
        .unwrap();
    assert!(b_backup.file.is_none(), "b had no photo");
    assert_eq!(b_backup.person.field("mail"), Some("b@school.example"));
}

#[tokio::test]
async fn a_photo_that_cannot_be_read_is_sent_without_backup_and_flagged_unless_required() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jpg");
    jpeg(&a, 10);
    let people = || vec![Person::new(&a, [("mail", "a@school.example")])];
    let state = open(dir.path());
    let unreadable = || Error::unreadable("the user's mailbox is not in Exchange Online");

    // Backups are best effort by default: sent, flagged, and no backup recorded (a "had no
    // photo" backup would make a restore remove the new photo).
    let target = Arc::new(MemoryTarget::new("mem"));
    target.fail_next([unreadable()]);
    let (run, _) = push(&state, "r1", people(), &target, JournalOptions::default()).await;
    assert_eq!(run.count(Status::Sent), 1, "{:?}", run.outcomes);
    let flags = &run.outcomes[0].flags;
    assert!(
        flags
            .iter()
            .any(|f| f.starts_with(crate::engine::NO_BACKUP) && f.contains("Exchange Online")),
        "{flags:?}"
    );
    assert!(target.stored("a@school.example").is_some());
    assert!(state.backups("r1", None).unwrap().is_empty());
    let recorded = state.outcomes("r1").unwrap();
    assert!(
        recorded[0]
            .flags
            .iter()
            .any(|f| f.starts_with(crate::engine::NO_BACKUP))
    );

    // A target that requires backups changes nothing.
    let strict = Arc::new(MemoryTarget::new("mem").with_backup_required());
    strict.fail_next([unreadable()]);
    let forced = JournalOptions {
        force: true,
        ..JournalOptions::default()
    };
    let (run, _) = push(&state, "r2", people(), &strict, forced).await;
    assert_eq!(run.count(Status::Failed), 1);
    let o = &run.outcomes[0];
    assert_eq!(o.kind, Some(crate::ErrorKind::Unreadable));
    assert!(o.reason.contains("nothing was sent"), "{}", o.reason);
    assert!(o.reason.contains("backup = \"required\""), "{}", o.reason);
    assert!(strict.stored("a@school.example").is_none());
}

/// A target that, like Google's delete-then-update, removes the photo and then has the new
/// one refused.
#[derive(Debug)]
struct RemovesThenRefuses(MemoryTarget);

impl Target for RemovesThenRefuses {
    fn info(&self) -> &crate::target::TargetInfo {
        self.0.info()
    }
}

#[async_trait::async_trait]
impl TargetIo for RemovesThenRefuses {
    async fn check(&self) -> Result<crate::target::CheckReport> {
        self.0.check().await
    }
    async fn put_photo(&self, subject: &Subject, _: &Photo) -> Result<crate::target::Receipt> {
        self.0.delete_photo(subject).await?;
        let (key, value) = crate::engine::PREVIOUS_PHOTO_REMOVED;
        Err(
            Error::rejected("previous photo removed; new photo refused: Invalid Input: photoData")
                .with_context(key, value),
        )
    }
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.0.get_photo(subject).await
    }
}

#[tokio::test]
async fn a_failure_after_the_photo_was_removed_names_the_backup_and_the_restore_command() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jpg");
    jpeg(&a, 10);
    let person = Arc::new(Person::new(&a, [("mail", "o'hara@school.example")]));
    let key = "o'hara@school.example";
    let old = Photo {
        bytes: Arc::from(&b"\xFF\xD8old photo"[..]),
        width: 96,
        height: 96,
        profile: Profile::square(96),
    };
    let target = Arc::new(RemovesThenRefuses(MemoryTarget::new("mem")));
    target
        .0
        .put_photo(&Subject::new(key, person.clone()), &old)
        .await
        .unwrap();
    let state = open(dir.path());
    let people = vec![(*person).clone()];
    let (run, _) = push_to(
        &state,
        "r1",
        people.clone(),
        target.clone(),
        JournalOptions::default(),
    )
    .await;
    assert_eq!(run.count(Status::Failed), 1, "{:?}", run.outcomes);
    let o = &run.outcomes[0];
    assert!(target.0.stored(key).is_none(), "the fake removed the photo");
    // The key's quote is not kept in the file name (see `safe_name`): ask the state.
    let file = state.backups("r1", None).unwrap()[0].file.clone().unwrap();
    assert!(file.starts_with(dir.path().join(".picday/backups/r1/mem")));
    assert_eq!(std::fs::read(&file).unwrap(), b"\xFF\xD8old photo");
    assert!(
        o.reason
            .starts_with("previous photo removed; new photo refused"),
        "{}",
        o.reason
    );
    assert!(
        o.reason.contains(&file.display().to_string()),
        "{}",
        o.reason
    );
    assert!(
        o.reason.contains(&format!(
            "`picday restore --run r1 --target mem --only \"{key}\"`"
        )),
        "{}",
        o.reason
    );
    let backup = o
        .context
        .iter()
        .find(|(k, _)| k == "backup")
        .map(|(_, v)| v.as_str());
    assert_eq!(backup, Some(file.display().to_string().as_str()));
    // The report read from the state says the same.
    assert!(
        state.outcomes("r1").unwrap()[0]
            .reason
            .contains("picday restore --run r1")
    );

    // Without backups the outcome says that nothing was kept.
    target
        .0
        .put_photo(&Subject::new(key, person.clone()), &old)
        .await
        .unwrap();
    let no_backups = JournalOptions {
        force: true,
        backups: false,
        ..JournalOptions::default()
    };
    let (run, _) = push_to(&state, "r2", people, target.clone(), no_backups).await;
    let reason = &run.outcomes[0].reason;
    assert!(reason.contains("picday kept no backup"), "{reason}");
    assert!(!reason.contains("picday restore"), "{reason}");
}

#[tokio::test]
async fn a_backup_left_by_a_killed_run_is_carried_over_not_retaken() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jpg");
    jpeg(&a, 10);
    let state = open(dir.path());
    let person = Arc::new(Person::new(&a, [("mail", "a@school.example")]));
    let delivery = Delivery {
        target: "mem".into(),
        key: "a@school.example".into(),
        person: person.clone(),
        source: None,
        settings: Arc::from("s"),
    };
    // Run 1 saved the original, then was killed before recording its outcome.
    let j1 = state.journal("r1", JournalOptions::default());
    j1.save_backup(&delivery, Some(b"\xFF\xD8original".to_vec()))
        .unwrap();
    // Run 2 finds run 1's photo on the target: the original must stay the backup.
    let j2 = state.journal("r2", JournalOptions::default());
    j2.save_backup(&delivery, Some(b"\xFF\xD8run one's photo".to_vec()))
        .unwrap();
    let b2 = state.backups("r2", None).unwrap();
    assert_eq!(b2[0].from_run.as_deref(), Some("r1"));
    assert_eq!(
        std::fs::read(b2[0].file.as_ref().unwrap()).unwrap(),
        b"\xFF\xD8original"
    );
}

fn assert_refused(dir: &Path, needles: &[&str]) {
    let path = dir.join(".picday/state.db");
    let before = std::fs::read(&path).unwrap();
    for e in [
        State::open(dir, "push").unwrap_err(),
        State::open_existing(dir).unwrap_err(),
    ] {
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        for n in needles {
            assert!(msg.contains(n), "{n:?} not in {msg}");
        }
        assert_eq!(e.kind(), ErrorKind::Config);
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "never replaced");
}

fn filled_state(dir: &Path) {
    let state = open(dir);
    let j = state.journal("r1", JournalOptions::default());
    let person = Arc::new(Person::new("x.jpg", [("mail", "x@school.example")]));
    for i in 0..300 {
        let o = Outcome {
            person: person.clone(),
            target: "mem".into(),
            key: Some(format!("k{i}")),
            status: Status::Failed,
            kind: Some(ErrorKind::Rejected),
            reason: "x".repeat(200),
            context: vec![],
            receipt: None,
            photo: None,
            flags: vec![],
            source_hash: None,
            unchanged_since: None,
        };
        j.record(None, &o).unwrap();
    }
}

#[test]
fn truncated_state_file_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    filled_state(dir.path());
    let path = dir.path().join(".picday/state.db");
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 8192, "{len}");
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    assert_refused(dir.path(), &["damaged", "cut short", "move it aside"]);
}

/// A disk that filled up during a checkpoint: SQLite had copied the first page of the
/// write-ahead log into the file (so its header announces the new size) but could not extend
/// the file; every page is still in the log. SQLite reads the state whole, so picday must not
/// call it damaged or advise moving it aside (that would throw away the backup index).
#[test]
fn a_state_whose_pages_are_still_in_the_wal_is_not_called_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".picday/state.db");
    let wal = dir.path().join(".picday/state.db-wal");
    {
        let state = open(dir.path());
        state
            .conn()
            .pragma_update(None, "wal_autocheckpoint", 0)
            .unwrap();
        let j = state.journal("r1", JournalOptions::default());
        let person = Arc::new(Person::new("x.jpg", [("mail", "x@school.example")]));
        for i in 0..300 {
            let mut o = crate::engine::Outcome::new(&person, "mem", Some(&format!("k{i}")));
            o.reason = "x".repeat(200);
            j.record(None, &o).unwrap();
        }
        // Dropped without a checkpoint: everything since the state was created is in the log.
        std::mem::forget(state);
    }
    let log = std::fs::read(&wal).unwrap();
    let page_size = u32::from_be_bytes(log[8..12].try_into().unwrap()) as usize;
    // The newest copy of page 1 in the log (frames: a 24-byte header, then the page).
    let frame = 24 + page_size;
    let page1 = (0..(log.len() - 32) / frame)
        .rev()
        .map(|n| 32 + n * frame)
        .find(|&at| u32::from_be_bytes(log[at..at + 4].try_into().unwrap()) == 1)
        .unwrap();
    let mut db = std::fs::read(&path).unwrap();
    db[..page_size].copy_from_slice(&log[page1 + 24..page1 + 24 + page_size]);
    std::fs::write(&path, &db).unwrap();
    let announced = u32::from_be_bytes(db[28..32].try_into().unwrap()) as usize * page_size;
    assert!(db.len() < announced, "{} < {announced}", db.len());

    let state = State::open_existing(dir.path())
        .expect("SQLite reads it whole")
        .expect("a state");
    assert_eq!(state.outcomes("r1").unwrap().len(), 300);
}

#[test]
fn state_file_that_is_not_sqlite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".picday")).unwrap();
    std::fs::write(dir.path().join(".picday/state.db"), "name,mail\nx,y\n").unwrap();
    assert_refused(dir.path(), &["not an SQLite database", "move it"]);
}

#[test]
fn foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".picday")).unwrap();
    let c = rusqlite::Connection::open(dir.path().join(".picday/state.db")).unwrap();
    c.execute_batch("CREATE TABLE grades (id INTEGER); INSERT INTO grades VALUES (1);")
        .unwrap();
    drop(c);
    assert_refused(dir.path(), &["not a picday state file"]);
}

#[test]
fn state_from_a_newer_picday_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let c = rusqlite::Connection::open(dir.path().join(".picday/state.db")).unwrap();
    c.execute(
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(c);
    assert_refused(dir.path(), &["newer picday", "schema 99"]);
}

#[test]
fn second_run_on_the_same_state_refuses_until_the_first_ends() {
    let dir = tempfile::tempdir().unwrap();
    let first = State::open(dir.path(), "push").unwrap();
    let e = State::open(dir.path(), "restore").unwrap_err();
    assert!(e.to_string().contains("another picday"), "{e}");
    assert!(e.to_string().contains("`picday push`"), "{e}");
    // Reading is fine meanwhile.
    assert!(State::open_existing(dir.path()).unwrap().is_some());
    drop(first);
    State::open(dir.path(), "push").expect("free again");
}

#[test]
fn state_is_in_wal_mode_and_unfinished_runs_become_crashed() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path());
    let mode: String = state
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    state
        .begin_run(&NewRun {
            id: "r1",
            command: "push",
            started: "2026-01-01T00:00:00Z",
            config: Path::new("picday.toml"),
            forced: false,
            people: 3,
            restored_from: None,
        })
        .unwrap();
    drop(state);
    let state = open(dir.path());
    assert_eq!(state.run("r1").unwrap().unwrap().status, "crashed");
}

/// Issue 24, item 2: two people whose keys render the same on a target (`ab`+`c` and
/// `a`+`bc` as `{first_name}{last_name}`, or `Abc` and `abc` on a target whose keys ignore
/// case) both fail, each naming the other's line, and nothing of theirs is written; the state
/// forgets what was sent under the key, so the photo there is not "unchanged" forever. (Failed
/// before: both were sent, the second overwrote the first, and the run said "sent 2".)
#[tokio::test]
async fn people_sharing_a_rendered_key_both_fail_and_nothing_of_theirs_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.jpg"),
        dir.path().join("b.jpg"),
        dir.path().join("c.jpg"),
    );
    jpeg(&a, 10);
    jpeg(&b, 120);
    jpeg(&c, 240);
    let person = |photo: &Path, first: &str, last: &str, line: u64| {
        let mut p = Person::new(photo, [("first_name", first), ("last_name", last)]);
        p.origin.line = line;
        p
    };
    let state = open(dir.path());
    let target = Arc::new(
        MemoryTarget::new("mem")
            .with_key("{first_name}{last_name}")
            .unwrap(),
    );

    let (first, _) = push(
        &state,
        "r1",
        vec![person(&a, "ab", "c", 2)],
        &target,
        JournalOptions::default(),
    )
    .await;
    assert_eq!(first.count(Status::Sent), 1);
    let sent = target.stored("abc").unwrap();

    let people = vec![
        person(&a, "ab", "c", 2),
        person(&b, "a", "bc", 3),
        person(&c, "A", "BC", 4),
        person(&c, "x", "y", 5),
    ];
    let (second, _) = push(&state, "r2", people, &target, JournalOptions::default()).await;
    assert_eq!(second.count(Status::Sent), 1, "{:?}", second.outcomes);
    for (line, others) in [(2, [":3", ":4"]), (3, [":2", ":4"]), (4, [":2", ":3"])] {
        let o = second
            .outcomes
            .iter()
            .find(|o| o.person.origin.line == line)
            .unwrap();
        assert_eq!(o.status, Status::Failed, "{o:?}");
        assert_eq!(o.kind, Some(ErrorKind::Input));
        for other in others {
            assert!(o.reason.contains(other), "line {line}: {}", o.reason);
        }
    }
    let mut keys = target.keys();
    keys.sort();
    assert_eq!(keys, ["abc", "xy"], "only x y was written");
    assert_eq!(
        target.stored("abc").unwrap(),
        sent,
        "nothing of theirs written"
    );

    // The collision resolved: the person keyed abc is sent again, not "unchanged since r1".
    let (third, _) = push(
        &state,
        "r3",
        vec![person(&b, "a", "bc", 3)],
        &target,
        JournalOptions::default(),
    )
    .await;
    assert_eq!(third.count(Status::Sent), 1, "{:?}", third.outcomes);
    assert_ne!(target.stored("abc").unwrap(), sent);
}
