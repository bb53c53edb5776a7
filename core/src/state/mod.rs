//! The run state: what picday sent where, so that the annual refresh is safe to repeat, to
//! interrupt and to undo.
//!
//! An embedded SQLite database (`.picday/state.db` beside the configuration, WAL mode, every
//! commit synced) records for each target and person the source photo's fingerprint (size and
//! modification time, and the BLAKE3 of its bytes), the settings fingerprint (profile, target
//! identity, pipeline settings), the outcome, when, and what the service answered (remote id,
//! request id); plus the runs and the backups taken before overwriting. [`RunJournal`] is the
//! engine's [`crate::engine::Journal`] on top of it.
//!
//! A state file that is damaged, foreign or written by a newer picday is never replaced: opening
//! it fails with an error that names the file and says how to recover. Only one picday uses a
//! state at a time (see [`lock`]).

mod journal;
pub mod lock;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::engine::{Outcome, PhotoSummary, Status};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Origin, Person};
use crate::source::RowProblem;
use crate::target::Receipt;

pub use journal::{JournalOptions, RunJournal, photo_file_name, write_durably};
pub use lock::RunLock;

/// The state folder's name, beside the configuration.
pub const DIR: &str = ".picday";
/// The database file's name inside [`DIR`].
pub const FILE: &str = "state.db";
/// The schema this picday writes. Older schemas are upgraded; newer ones are refused.
pub const SCHEMA_VERSION: i64 = 1;
const APP: &str = "picday";

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    forced INTEGER NOT NULL DEFAULT 0,
    config TEXT NOT NULL,
    people INTEGER NOT NULL DEFAULT 0,
    restored_from TEXT,
    report_dir TEXT,
    problems TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    target TEXT NOT NULL,
    key TEXT,
    person TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT,
    reason TEXT NOT NULL,
    context TEXT NOT NULL,
    detail TEXT,
    remote_id TEXT,
    request_id TEXT,
    photo TEXT,
    flags TEXT NOT NULL,
    source_hash TEXT,
    unchanged_since TEXT,
    at TEXT NOT NULL
);
CREATE INDEX deliveries_by_run ON deliveries (run_id, target);
CREATE TABLE sent (
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    source_size INTEGER,
    source_mtime_ns INTEGER,
    source_hash TEXT NOT NULL,
    settings TEXT NOT NULL,
    photo_hash TEXT,
    run_id TEXT NOT NULL,
    at TEXT NOT NULL,
    remote_id TEXT,
    request_id TEXT,
    PRIMARY KEY (target, key)
);
CREATE TABLE backups (
    run_id TEXT NOT NULL,
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    person TEXT NOT NULL,
    had_photo INTEGER NOT NULL,
    file TEXT,
    from_run TEXT,
    settled INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL,
    PRIMARY KEY (run_id, target, key)
);
";

/// The open state of one configuration.
#[derive(Debug)]
pub struct State {
    conn: Mutex<Connection>,
    path: PathBuf,
    dir: PathBuf,
    lock: Option<RunLock>,
    crashed: Vec<String>,
}

/// A run as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub id: String,
    /// `push` or `restore`.
    pub command: String,
    pub started: String,
    pub finished: Option<String>,
    /// `running`, `finished`, `interrupted` (Ctrl-C) or `crashed` (killed, never finished).
    pub status: String,
    pub dry_run: bool,
    pub forced: bool,
    pub config: String,
    pub people: u64,
    pub restored_from: Option<String>,
    pub report_dir: Option<String>,
}

/// How a run starts.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub id: &'a str,
    pub command: &'a str,
    pub started: &'a str,
    pub config: &'a Path,
    pub forced: bool,
    pub people: usize,
    pub restored_from: Option<&'a str>,
}

/// Per target: what the state knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetCounts {
    pub target: String,
    /// People whose current photo on the target was sent by picday.
    pub current: u64,
    /// Outcomes of the latest run that reached this target.
    pub last_run: Option<String>,
    pub last_sent: u64,
    pub last_unchanged: u64,
    pub last_skipped: u64,
    pub last_failed: u64,
}

/// A photo saved before it was overwritten.
#[derive(Debug, Clone)]
pub struct Backup {
    pub run_id: String,
    pub target: String,
    pub key: String,
    pub person: Arc<Person>,
    /// The saved photo, `None` if the person had none (restore removes the photo).
    pub file: Option<PathBuf>,
    /// Taken by an interrupted earlier run and carried over (the target may already have held
    /// that run's photo).
    pub from_run: Option<String>,
}

/// A person as stored: enough to rebuild a [`Person`] for reports and restores.
#[derive(Debug, Serialize, Deserialize)]
struct StoredPerson {
    fields: std::collections::BTreeMap<String, String>,
    photo: PathBuf,
    file: PathBuf,
    line: u64,
}

impl StoredPerson {
    fn of(p: &Person) -> Self {
        StoredPerson {
            fields: p.fields.clone(),
            photo: p.photo.clone(),
            file: p.origin.file.clone(),
            line: p.origin.line,
        }
    }
    fn into_person(self) -> Person {
        Person {
            fields: self.fields,
            photo: self.photo,
            origin: Origin {
                file: self.file,
                line: self.line,
            },
        }
    }
}

fn sql_err(path: &Path, e: rusqlite::Error) -> Error {
    if is_damage(&e) {
        return damaged(path, &e.to_string());
    }
    Error::new(ErrorKind::Io, format!("state {}: {e}", path.display()))
}

fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

fn damaged(path: &Path, what: &str) -> Error {
    Error::config(format!(
        "the state file {} is damaged ({what}). picday will not replace it: move it aside \
         (e.g. rename it to {}.broken) and run again to start a new state; picday then sends \
         every photo once more. Backups in {} are kept.",
        path.display(),
        path.file_name()
            .map_or("state.db".into(), |n| n.to_string_lossy()),
        path.parent()
            .map_or(PathBuf::from(DIR), |p| p.join("backups"))
            .display()
    ))
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl State {
    /// The state folder of a configuration folder.
    pub fn dir_of(base_dir: &Path) -> PathBuf {
        base_dir.join(DIR)
    }

    /// Opens the state for a run that changes things (push, restore): takes the lock, creates
    /// the state if there is none, and marks runs that never finished as crashed.
    pub fn open(base_dir: &Path, what: &str) -> Result<State> {
        let dir = Self::dir_of(base_dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(FILE);
        let lock = RunLock::acquire(&dir, &path, what)?;
        if !path.exists() {
            create(&path)?;
        }
        let conn = connect(&path)?;
        let mut state = State {
            conn: Mutex::new(conn),
            path,
            dir,
            lock: Some(lock),
            crashed: Vec::new(),
        };
        // We hold the lock: a run still marked running is one that was killed.
        let crashed = {
            let conn = state.conn();
            let mut stmt = conn
                .prepare("SELECT id FROM runs WHERE status = 'running' ORDER BY started")
                .map_err(|e| sql_err(&state.path, e))?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| sql_err(&state.path, e))?;
            conn.execute(
                "UPDATE runs SET status = 'crashed' WHERE status = 'running'",
                [],
            )
            .map_err(|e| sql_err(&state.path, e))?;
            ids
        };
        state.crashed = crashed;
        Ok(state)
    }

    /// Opens an existing state to read it (status, report); `None` if there is none. Takes no
    /// lock: reading while a push runs is fine (WAL).
    pub fn open_existing(base_dir: &Path) -> Result<Option<State>> {
        let dir = Self::dir_of(base_dir);
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let conn = connect(&path)?;
        Ok(Some(State {
            conn: Mutex::new(conn),
            path,
            dir,
            lock: None,
            crashed: Vec::new(),
        }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state folder (`.picday`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs found unfinished when the state was opened (killed): this run finishes their work.
    pub fn crashed_runs(&self) -> &[String] {
        &self.crashed
    }

    /// Totals of one run: (sent, unchanged, other skips, failed).
    pub fn run_totals(&self, id: &str) -> Result<(u64, u64, u64, u64)> {
        self.conn()
            .query_row(
                "SELECT COALESCE(SUM(status = 'sent'), 0),
                        COALESCE(SUM(status = 'skipped' AND unchanged_since IS NOT NULL), 0),
                        COALESCE(SUM(status = 'skipped' AND unchanged_since IS NULL), 0),
                        COALESCE(SUM(status = 'failed'), 0)
                 FROM deliveries WHERE run_id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, i64>(2)? as u64,
                        r.get::<_, i64>(3)? as u64,
                    ))
                },
            )
            .map_err(|e| sql_err(&self.path, e))
    }

    /// Whether this process holds the state's lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the start of a run.
    pub fn begin_run(&self, run: &NewRun<'_>) -> Result<()> {
        self.conn()
            .execute(
                "INSERT INTO runs (id, command, started, status, forced, config, people, restored_from)
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)",
                params![
                    run.id,
                    run.command,
                    run.started,
                    run.forced,
                    run.config.display().to_string(),
                    run.people as i64,
                    run.restored_from
                ],
            )
            .map_err(|e| sql_err(&self.path, e))?;
        Ok(())
    }

    /// Records the end of a run: `finished` or `interrupted`, the report folder, the rows left
    /// out and the notes (so that the report can be written again).
    pub fn finish_run(
        &self,
        id: &str,
        interrupted: bool,
        report_dir: Option<&Path>,
        problems: &[RowProblem],
        notes: &[String],
    ) -> Result<()> {
        let problems = serde_json::to_string(problems).unwrap_or_else(|_| "[]".into());
        let notes = serde_json::to_string(notes).unwrap_or_else(|_| "[]".into());
        self.conn()
            .execute(
                "UPDATE runs SET status = ?2, finished = ?3, report_dir = ?4, problems = ?5, notes = ?6
                 WHERE id = ?1",
                params![
                    id,
                    if interrupted { "interrupted" } else { "finished" },
                    jiff::Timestamp::now()
                        .round(jiff::Unit::Second)
                        .map_or_else(|_| now(), |t| t.to_string()),
                    report_dir.map(|d| d.display().to_string()),
                    problems,
                    notes
                ],
            )
            .map_err(|e| sql_err(&self.path, e))?;
        Ok(())
    }

    /// Whether a run id is taken.
    pub fn has_run(&self, id: &str) -> Result<bool> {
        Ok(self.run(id)?.is_some())
    }

    /// One run.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.conn()
            .query_row(&format!("{RUN_COLUMNS} WHERE id = ?1"), [id], run_record)
            .optional()
            .map_err(|e| sql_err(&self.path, e))
    }

    /// The latest runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "{RUN_COLUMNS} ORDER BY started DESC, id DESC LIMIT ?1"
            ))
            .map_err(|e| sql_err(&self.path, e))?;
        let rows = stmt
            .query_map([limit as i64], run_record)
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| sql_err(&self.path, e))?;
        Ok(rows)
    }

    /// Rows left out and notes of a finished run.
    pub fn run_extras(&self, id: &str) -> Result<(Vec<RowProblem>, Vec<String>)> {
        let (problems, notes): (String, String) = self
            .conn()
            .query_row(
                "SELECT problems, notes FROM runs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| sql_err(&self.path, e))?;
        let problems: Vec<serde_json::Value> = serde_json::from_str(&problems).unwrap_or_default();
        let problems = problems
            .into_iter()
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                RowProblem {
                    origin: Origin {
                        file: PathBuf::from(p["origin"]["file"].as_str().unwrap_or_default()),
                        line: p["origin"]["line"].as_u64().unwrap_or(0),
                    },
                    person: s("person"),
                    message: s("message"),
                    advice: s("advice"),
                }
            })
            .collect();
        Ok((problems, serde_json::from_str(&notes).unwrap_or_default()))
    }

    /// Every outcome recorded for a run, in mapping order.
    pub fn outcomes(&self, run_id: &str) -> Result<Vec<Outcome>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT target, key, person, status, kind, reason, context, detail, remote_id,
                        request_id, photo, flags, source_hash, unchanged_since
                 FROM deliveries WHERE run_id = ?1 ORDER BY seq",
            )
            .map_err(|e| sql_err(&self.path, e))?;
        let rows = stmt
            .query_map([run_id], |r| {
                let person: String = r.get(2)?;
                let status: String = r.get(3)?;
                let kind: Option<String> = r.get(4)?;
                let context: String = r.get(6)?;
                let detail: Option<String> = r.get(7)?;
                let photo: Option<String> = r.get(10)?;
                let flags: String = r.get(11)?;
                Ok(Outcome {
                    target: r.get(0)?,
                    key: r.get(1)?,
                    person: Arc::new(
                        serde_json::from_str::<StoredPerson>(&person)
                            .map(StoredPerson::into_person)
                            .unwrap_or_else(|_| Person::new("", [("name", "(unreadable)")])),
                    ),
                    status: match status.as_str() {
                        "sent" => Status::Sent,
                        "failed" => Status::Failed,
                        _ => Status::Skipped,
                    },
                    kind: kind.and_then(|k| {
                        serde_json::from_value::<ErrorKind>(serde_json::Value::String(k)).ok()
                    }),
                    reason: r.get(5)?,
                    context: serde_json::from_str(&context).unwrap_or_default(),
                    receipt: detail.map(|detail| Receipt {
                        detail,
                        remote_id: r.get(8).ok().flatten(),
                        request_id: r.get(9).ok().flatten(),
                    }),
                    photo: photo.and_then(|p| serde_json::from_str::<PhotoSummary>(&p).ok()),
                    flags: serde_json::from_str(&flags).unwrap_or_default(),
                    source_hash: r.get(12)?,
                    unchanged_since: r.get(13)?,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| sql_err(&self.path, e))?;
        let mut rows = rows;
        rows.sort_by(|a, b| {
            (a.person.origin.line, &a.target).cmp(&(b.person.origin.line, &b.target))
        });
        Ok(rows)
    }

    /// Per target: photos picday put there, and the counts of the latest run that reached it.
    pub fn target_counts(&self) -> Result<Vec<TargetCounts>> {
        let conn = self.conn();
        let run = |e| sql_err(&self.path, e);
        let mut stmt = conn
            .prepare(
                "SELECT target, COUNT(*) FROM sent GROUP BY target
                 UNION SELECT DISTINCT target, 0 FROM deliveries
                 WHERE target NOT IN (SELECT target FROM sent) ORDER BY 1",
            )
            .map_err(run)?;
        let targets: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(run)?;
        let mut out = Vec::new();
        for (target, current) in targets {
            let last: Option<String> = conn
                .query_row(
                    "SELECT d.run_id FROM deliveries d JOIN runs r ON r.id = d.run_id
                     WHERE d.target = ?1 ORDER BY r.started DESC, r.id DESC LIMIT 1",
                    [&target],
                    |r| r.get(0),
                )
                .optional()
                .map_err(run)?;
            let mut counts = TargetCounts {
                target: target.clone(),
                current: current as u64,
                last_run: last.clone(),
                ..TargetCounts::default()
            };
            if let Some(last) = &last {
                let mut stmt = conn
                    .prepare(
                        "SELECT status, unchanged_since IS NOT NULL, COUNT(*) FROM deliveries
                         WHERE run_id = ?1 AND target = ?2 GROUP BY 1, 2",
                    )
                    .map_err(run)?;
                let rows: Vec<(String, bool, i64)> = stmt
                    .query_map(params![last, target], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .and_then(|r| r.collect())
                    .map_err(run)?;
                for (status, unchanged, n) in rows {
                    let n = n as u64;
                    match (status.as_str(), unchanged) {
                        ("sent", _) => counts.last_sent += n,
                        ("failed", _) => counts.last_failed += n,
                        (_, true) => counts.last_unchanged += n,
                        _ => counts.last_skipped += n,
                    }
                }
            }
            out.push(counts);
        }
        Ok(out)
    }

    /// The backups a run took, optionally for one target only.
    pub fn backups(&self, run_id: &str, target: Option<&str>) -> Result<Vec<Backup>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT run_id, target, key, person, had_photo, file, from_run FROM backups
                 WHERE run_id = ?1 AND (?2 IS NULL OR target = ?2) ORDER BY target, at",
            )
            .map_err(|e| sql_err(&self.path, e))?;
        let rows = stmt
            .query_map(params![run_id, target], |r| {
                let person: String = r.get(3)?;
                let had: bool = r.get(4)?;
                let file: Option<String> = r.get(5)?;
                Ok(Backup {
                    run_id: r.get(0)?,
                    target: r.get(1)?,
                    key: r.get(2)?,
                    person: Arc::new(
                        serde_json::from_str::<StoredPerson>(&person)
                            .map(StoredPerson::into_person)
                            .unwrap_or_else(|_| Person::new("", [("name", "(unreadable)")])),
                    ),
                    file: if had {
                        file.map(|f| self.dir.join(f))
                    } else {
                        None
                    },
                    from_run: r.get(6)?,
                })
            })
            .and_then(|r| r.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| sql_err(&self.path, e))?;
        Ok(rows)
    }

    /// Forgets that picday's photo is on the target (after a restore put another one back), so
    /// that the next push sends it again.
    pub fn forget_sent(&self, target: &str, key: &str) -> Result<()> {
        self.conn()
            .execute(
                "DELETE FROM sent WHERE target = ?1 AND key = ?2",
                params![target, key],
            )
            .map_err(|e| sql_err(&self.path, e))?;
        Ok(())
    }

    /// A journal recording into run `run_id`.
    pub fn journal(self: &Arc<Self>, run_id: &str, options: JournalOptions) -> RunJournal {
        RunJournal::new(self.clone(), run_id.to_string(), options)
    }
}

const RUN_COLUMNS: &str = "SELECT id, command, started, finished, status, dry_run, forced, config,
    people, restored_from, report_dir FROM runs";

fn run_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    Ok(RunRecord {
        id: r.get(0)?,
        command: r.get(1)?,
        started: r.get(2)?,
        finished: r.get(3)?,
        status: r.get(4)?,
        dry_run: r.get(5)?,
        forced: r.get(6)?,
        config: r.get(7)?,
        people: r.get::<_, i64>(8)? as u64,
        restored_from: r.get(9)?,
        report_dir: r.get(10)?,
    })
}

/// Creates a new state: written under a temporary name and renamed, so that a crash never
/// leaves a half-made state behind that would later look damaged.
fn create(path: &Path) -> Result<()> {
    let tmp = path.with_extension("db.new");
    for stale in [
        tmp.clone(),
        tmp.with_extension("new-wal"),
        tmp.with_extension("new-shm"),
    ] {
        let _ = std::fs::remove_file(stale);
    }
    {
        let conn = Connection::open(&tmp).map_err(|e| sql_err(&tmp, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| sql_err(&tmp, e))?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('application', ?1), ('schema_version', ?2)",
            params![APP, SCHEMA_VERSION.to_string()],
        )
        .map_err(|e| sql_err(&tmp, e))?;
        conn.close().map_err(|(_, e)| sql_err(&tmp, e))?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// Opens and validates an existing state file.
fn connect(path: &Path) -> Result<Connection> {
    // A file shorter than its header says is only a suspicion: after a disk filled up in the
    // middle of a checkpoint, the pages the file lacks are still in the write-ahead log and
    // SQLite reads them from there. SQLite's own check decides.
    let short = check_header(path)?;
    let damaged = |what: &str| match &short {
        Some(cut) => damaged(path, &format!("{cut}; SQLite: {what}")),
        None => damaged(path, what),
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sql_err(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| sql_err(path, e))?;
    let ok: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| match is_damage(&e) {
            true => damaged(&e.to_string()),
            false => sql_err(path, e),
        })?;
    if ok != "ok" {
        return Err(damaged(&ok));
    }
    if let Some(cut) = &short {
        tracing::warn!(
            "{}: {cut}, but SQLite finds it sound (the rest is in its write-ahead log); going on",
            path.display()
        );
    }
    let has_meta: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| sql_err(path, e))?;
    let meta = |key: &str| -> Result<Option<String>> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| sql_err(path, e))
    };
    if !has_meta || meta("application")?.as_deref() != Some(APP) {
        return Err(Error::config(format!(
            "{} is an SQLite database but not a picday state file. picday will not touch it: \
             move it elsewhere and run again to start a new state.",
            path.display()
        )));
    }
    let version: i64 = meta("schema_version")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(Error::config(format!(
            "the state file {} was written by a newer picday (state schema {version}; this \
             picday knows up to {SCHEMA_VERSION}). Use that newer picday, or move the file \
             aside to start a new state (picday then sends every photo once more).",
            path.display()
        )));
    }
    if version < 1 {
        return Err(damaged("no schema version"));
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| sql_err(path, e))?;
    // Every commit reaches the disk before picday goes on: an outcome recorded is an outcome
    // kept, even through a power cut.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| sql_err(path, e))?;
    Ok(conn)
}

/// Cheap checks before SQLite sees the file: not SQLite at all (refused), or shorter than its
/// header announces (returned, for SQLite's check to confirm or clear).
fn check_header(path: &Path) -> Result<Option<String>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut header = [0u8; 100];
    let mut got = 0;
    while got < header.len() {
        match f.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    let magic = b"SQLite format 3\0";
    let n = got.min(magic.len());
    if header[..n] != magic[..n] {
        return Err(Error::config(format!(
            "{} is not a picday state file (not an SQLite database). picday will not replace \
             it: move it elsewhere and run again to start a new state.",
            path.display()
        )));
    }
    if got < 100 {
        return Err(damaged(path, &format!("cut short: only {len} bytes")));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65536,
        n => u64::from(n),
    };
    let pages = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    let change = &header[24..28];
    let valid_for = &header[92..96];
    if change == valid_for && pages > 0 && len < pages * page_size {
        return Ok(Some(format!(
            "cut short: {len} bytes where its header announces {}",
            pages * page_size
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
