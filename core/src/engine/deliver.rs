//! The one step that changes a photo on a target, whatever the command.
//!
//! `push` puts the photos the pipeline made; `restore` puts back photos a run saved, or removes
//! the ones it added where there was none; `remove` takes photos down (a person with none is
//! "nothing to remove"); `export` reads what a target holds into files, changing nothing
//! remote.
//! Each change goes through [`Deliverer::deliver`]: save what the target holds now (when the run
//! keeps backups and the target can read back), make the change, record the outcome durably,
//! then tell the observer. No command takes a backup, builds an outcome or records one itself,
//! so each rule (nothing is overwritten without its backup, nothing is reported before it is
//! recorded) is written once.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::{
    BackupPlace, Delivery, Journal, Observer, Outcome, PhotoSummary, RunSummary, RunTarget, Status,
};
use crate::error::{Error, ErrorKind};
use crate::model::{Photo, Subject};
use crate::target::{PhotoInfo, Receipt};

/// What to do to one person's photo on one target.
#[derive(Debug, Clone)]
pub enum Change {
    /// Put a photo the pipeline made.
    Put(Photo),
    /// Put back a saved photo: the bytes of this file, unchanged (what the service itself held
    /// once), presented as the target's profile so that the target accepts them. A target with
    /// a byte budget still refuses a larger original.
    PutSaved(PathBuf),
    /// Remove the person's photo.
    Delete,
    /// Remove the person's photo if they have one: asked first (cheaply, where the target can
    /// read back), so that a person with none is "nothing to remove", not a failure, and no
    /// backup of "no photo" is taken.
    Remove,
    /// Read the person's current photo into this folder, as `<key>.jpg` (`.png` for a PNG), byte
    /// for byte as the target returned it. Changes nothing on the target and takes no backup.
    Export(PathBuf),
}

/// How a change ended when it did not fail.
#[derive(Debug)]
enum Done {
    Changed(Receipt),
    /// Nothing needed doing (why).
    Nothing(String),
}

/// One change to make: to whom, where, and how the outcome is recorded.
#[derive(Debug, Clone)]
pub struct Job {
    /// Index into the targets of the batch.
    pub target: usize,
    pub subject: Subject,
    /// How the journal knows this person and target; `None`: nothing is backed up or
    /// remembered beyond the outcome.
    pub delivery: Option<Delivery>,
    pub change: Change,
    /// What a success says instead of the service's own note ("restored the photo saved by
    /// run ...").
    pub note: Option<String>,
    /// Review flags to carry into the outcome.
    pub flags: Vec<String>,
}

/// Makes changes, keeps backups, records outcomes: see the module documentation.
pub struct Deliverer {
    journal: Option<Arc<dyn Journal>>,
    observer: Arc<dyn Observer>,
    errors: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// Records into `journal` (if any) and reports to `observer`.
    pub fn new(journal: Option<Arc<dyn Journal>>, observer: Arc<dyn Observer>) -> Self {
        Deliverer {
            journal,
            observer,
            errors: Mutex::new(Vec::new()),
        }
    }

    pub fn observer(&self) -> &Arc<dyn Observer> {
        &self.observer
    }

    /// Records a final outcome (durably, before anyone hears of it) and tells the observer.
    /// `delivery` is `None` when no key could be made for the person.
    pub async fn record(&self, delivery: Option<Delivery>, o: &Outcome) {
        if let Some(journal) = self.journal.clone() {
            let record = o.clone();
            let result = on_blocking(move || journal.record(delivery.as_ref(), &record))
                .await
                .unwrap_or_else(|| Err(Error::internal("the state worker failed")));
            if let Err(e) = result {
                tracing::error!("recording in the state failed: {e}");
                lock(&self.errors).push(e.to_string());
            }
        }
        self.observer.outcome(o);
    }

    /// Records many final outcomes with no delivery (people a cancelled run never reached).
    pub async fn record_all(&self, outcomes: &[Outcome]) {
        if let Some(journal) = self.journal.clone() {
            let batch = outcomes.to_vec();
            let failed = on_blocking(move || {
                batch
                    .iter()
                    .filter_map(|o| journal.record(None, o).err())
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_else(|| vec!["the state worker failed".into()]);
            lock(&self.errors).extend(failed);
        }
        for o in outcomes {
            self.observer.outcome(o);
        }
    }

    /// The run's note about outcomes the journal could not record, if there were any.
    pub fn recording_note(&self) -> Option<String> {
        let errors = lock(&self.errors);
        errors.first().map(|first| {
            format!(
                "state: {} outcome(s) could not be recorded (first: {first}); the next push may send them again",
                errors.len()
            )
        })
    }

    /// Makes one change: backup, then put or delete, then record. `outcome` comes filled in
    /// with what the caller knows (the photo's summary, flags, source hash); this sets how it
    /// went. Never fails as a whole: the outcome says how it went.
    pub async fn deliver(
        &self,
        target: &RunTarget,
        subject: &Subject,
        delivery: Option<Delivery>,
        change: Change,
        note: Option<String>,
        outcome: Outcome,
    ) -> Outcome {
        let outcome = self
            .attempt(target, subject, delivery.as_ref(), change, note, outcome)
            .await;
        self.record(delivery, &outcome).await;
        outcome
    }

    /// Backup and change, like [`Deliverer::deliver`], without recording: for a target that
    /// commits at finish, whose successful changes the engine records only once `finish` has
    /// committed them (a staged photo is not yet sent).
    pub async fn attempt(
        &self,
        target: &RunTarget,
        subject: &Subject,
        delivery: Option<&Delivery>,
        change: Change,
        note: Option<String>,
        mut outcome: Outcome,
    ) -> Outcome {
        // Log lines about this change (throttling, a token obtained) name the target.
        let span = tracing::info_span!("target", name = %target.name);
        let result = self
            .change(target, subject, delivery, change, &mut outcome)
            .instrument(span)
            .await;
        match result {
            Ok(Done::Changed(mut receipt)) => {
                if let Some(note) = note {
                    receipt.detail = note;
                }
                outcome.set_sent(receipt);
            }
            Ok(Done::Nothing(why)) => outcome.set_skipped(None, why),
            Err(e) => outcome.set_failed(&e),
        }
        outcome
    }

    async fn change(
        &self,
        target: &RunTarget,
        subject: &Subject,
        delivery: Option<&Delivery>,
        change: Change,
        outcome: &mut Outcome,
    ) -> Result<Done, Error> {
        let caps = &target.target.info().capabilities;
        let photo = match change {
            Change::Export(dir) => return self.export(target, subject, dir, outcome).await,
            Change::Remove => {
                if caps.read_back && target.target.photo_info(subject).await?.is_none() {
                    return Ok(Done::Nothing("nothing to remove: no photo".into()));
                }
                None
            }
            Change::Put(photo) => Some(photo),
            Change::PutSaved(path) => {
                let bytes = read_file(path.clone())
                    .await
                    .map_err(|e| e.prefixed("the backup file cannot be read"))?;
                let photo = Photo {
                    bytes: Arc::from(bytes),
                    width: caps.profile.width,
                    height: caps.profile.height,
                    profile: caps.profile,
                };
                self.observer.photo_loaded(&photo);
                Some(photo)
            }
            Change::Delete => None,
        };
        if let Some(photo) = &photo {
            outcome
                .photo
                .get_or_insert_with(|| PhotoSummary::from(photo));
        }
        let nothing = if photo.is_some() {
            "nothing was sent"
        } else {
            "nothing was removed"
        };
        let mut saved = false;
        if let (Some(journal), Some(delivery)) = (&self.journal, delivery)
            && caps.read_back
            && journal.backups()
        {
            match backup(target, subject, journal, delivery, nothing).await? {
                Backup::Saved => saved = true,
                Backup::Impossible(why) => outcome.flags.push(format!("{NO_BACKUP}: {why}")),
            }
        }
        let result = match photo {
            Some(photo) => target.target.put_photo(subject, &photo).await,
            None => target.target.delete_photo(subject).await,
        };
        match result {
            Err(e) if removed_previous(&e) => {
                let place = match (&self.journal, delivery) {
                    (Some(journal), Some(delivery)) if saved => {
                        let (journal, delivery) = (journal.clone(), delivery.clone());
                        on_blocking(move || journal.backup_place(&delivery))
                            .await
                            .flatten()
                    }
                    _ => None,
                };
                Err(name_backup(e, place, &target.name, &subject.key))
            }
            result => result,
        }
        .map(Done::Changed)
    }

    /// Reads the current photo into `dir` (see [`Change::Export`]), with what the target says
    /// about it besides the bytes (its dimensions, when it changed).
    async fn export(
        &self,
        target: &RunTarget,
        subject: &Subject,
        dir: PathBuf,
        outcome: &mut Outcome,
    ) -> Result<Done, Error> {
        let Some(bytes) = target.target.get_photo(subject).await? else {
            return Ok(Done::Nothing("has no photo".into()));
        };
        // What the service says besides the bytes; the export does not depend on it.
        let said = match target.target.photo_info(subject).await {
            Ok(info) => info.unwrap_or_default(),
            Err(e) => {
                tracing::debug!("photo metadata of {}: {e}", subject.key);
                PhotoInfo::default()
            }
        };
        let own = PhotoInfo::of_bytes(&bytes);
        let (width, height) = (
            own.width.or(said.width).unwrap_or(0),
            own.height.or(said.height).unwrap_or(0),
        );
        let path = dir.join(crate::state::photo_file_name(&subject.key, &bytes));
        let photo = Photo {
            bytes: Arc::from(bytes),
            width,
            height,
            profile: target.target.info().profile(),
        };
        let (file, data) = (path.clone(), photo.bytes.clone());
        on_blocking(move || crate::state::write_durably(&file, &data))
            .await
            .unwrap_or_else(|| Err(Error::internal("a file worker failed")))?;
        self.observer.photo_loaded(&photo);
        outcome.photo = Some(PhotoSummary::from(&photo));
        let mut detail = format!(
            "exported to {} ({} bytes, {width}x{height}",
            path.display(),
            photo.len()
        );
        if let Some(modified) = &said.modified {
            detail.push_str(&format!(", changed {modified}"));
        }
        detail.push(')');
        Ok(Done::Changed(Receipt::new(detail)))
    }

    /// Makes every job's change, at most each target's declared concurrency at once, and
    /// returns the outcomes in mapping order. Cancelling lets changes in flight finish; the
    /// others are reported as not done.
    pub async fn apply(
        self: &Arc<Self>,
        targets: &[RunTarget],
        jobs: Vec<Job>,
        cancel: &CancellationToken,
    ) -> RunSummary {
        let limits: Vec<Arc<Semaphore>> = targets
            .iter()
            .map(|t| {
                let n = t.target.info().capabilities.max_concurrency.max(1);
                Arc::new(Semaphore::new(n))
            })
            .collect();
        let mut summary = RunSummary::default();
        // Each target learns whom the jobs are about before the first request (a target that
        // can look people up in bulk does so once: see `TargetIo::prepare`).
        for (index, t) in targets.iter().enumerate() {
            let keys: Vec<String> = jobs
                .iter()
                .filter(|j| j.target == index)
                .map(|j| j.subject.key.clone())
                .collect();
            if let Err(e) = t.target.prepare(&keys).await {
                summary.notes.push(format!("{}: {e}", t.name));
            }
        }
        let mut tasks = JoinSet::new();
        for (n, job) in jobs.into_iter().enumerate() {
            let target = targets[job.target].clone();
            let outcome = Outcome::new(&job.subject.person, &target.name, Some(&job.subject.key))
                .with_flags(job.flags.clone());
            if cancel.is_cancelled() {
                summary.interrupted = true;
                let mut o = outcome;
                o.set_skipped(
                    Some(ErrorKind::Cancelled),
                    "interrupted before this was done; run the command again to finish",
                );
                self.record(job.delivery, &o).await;
                summary.outcomes.push(o);
                continue;
            }
            let (this, limit) = (self.clone(), limits[job.target].clone());
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let o = this
                    .deliver(
                        &target,
                        &job.subject,
                        job.delivery,
                        job.change,
                        job.note,
                        outcome,
                    )
                    .await;
                (n, o)
            });
        }
        let mut done = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(pair) => done.push(pair),
                Err(e) => tracing::error!("a delivery task failed: {e}"),
            }
        }
        done.sort_by_key(|(n, _)| *n);
        summary.outcomes.extend(done.into_iter().map(|(_, o)| o));
        summary.outcomes.sort_by(|a, b| {
            (a.person.origin.line, &a.target).cmp(&(b.person.origin.line, &b.target))
        });
        summary.notes.extend(self.recording_note());
        summary
    }
}

/// The flag an outcome carries when its change was made without a backup.
pub const NO_BACKUP: &str = "no backup possible";

/// The context a target's error carries when the target had already removed the person's
/// previous photo when the change failed (Google's delete-then-update): the outcome then names
/// the backup that puts the photo back.
pub const PREVIOUS_PHOTO_REMOVED: (&str, &str) = ("previous_photo", "removed");

fn removed_previous(e: &Error) -> bool {
    e.context_value(PREVIOUS_PHOTO_REMOVED.0) == Some(PREVIOUS_PHOTO_REMOVED.1)
}

/// Says where the removed photo is kept and the command that puts it back, or that picday kept
/// none.
fn name_backup(e: Error, place: Option<BackupPlace>, target: &str, key: &str) -> Error {
    match place {
        Some(BackupPlace {
            run,
            file: Some(file),
        }) => {
            let file = file.display().to_string();
            e.suffixed(format!(
                "; the removed photo is saved in {file}: `picday restore --run {run} --target \
                 {} --only {}` puts it back",
                shell_word(target),
                shell_word(key)
            ))
            .with_context("backup", file)
            .with_context("backup_run", run)
        }
        Some(BackupPlace { file: None, .. }) => {
            e.suffixed("; the backup taken before the change says there was no photo")
        }
        None => e.suffixed(
            "; picday kept no backup of it (backups are off, or the target could not read it)",
        ),
    }
}

/// `s` as one word for a POSIX shell or PowerShell: quoted unless it is plainly safe.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._+-=:/".contains(c))
    {
        s.to_string()
    } else if !s.contains(['"', '$', '`', '\\']) {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// How the backup before a change went, when it did not stop the change.
#[derive(Debug)]
enum Backup {
    /// The current photo (or its absence) is saved.
    Saved,
    /// The target cannot read the current photo and does not require a backup: the change is
    /// made without one (why: the target's words).
    Impossible(String),
}

/// Reads the target's current photo and hands it to the journal; an error means the photo
/// must not be changed. A photo the target cannot read ([`ErrorKind::Unreadable`]) is no such
/// error unless the target requires backups ([`crate::TargetInfo::backup_required`]): nothing
/// is saved then (saving "no photo" would make a restore remove the new one).
async fn backup(
    target: &RunTarget,
    subject: &Subject,
    journal: &Arc<dyn Journal>,
    delivery: &Delivery,
    nothing: &str,
) -> Result<Backup, Error> {
    let current = match target.target.get_photo(subject).await {
        Ok(current) => current,
        Err(e) if e.kind() == ErrorKind::Unreadable && !target.target.info().backup_required => {
            return Ok(Backup::Impossible(e.message().to_string()));
        }
        Err(e) => {
            let required = if e.kind() == ErrorKind::Unreadable {
                ", and this target requires a backup (backup = \"required\")"
            } else {
                ""
            };
            return Err(e.prefixed(format!(
                "reading the current photo for the backup ({nothing}{required})"
            )));
        }
    };
    let journal = journal.clone();
    let delivery = delivery.clone();
    on_blocking(move || journal.save_backup(&delivery, current))
        .await
        .unwrap_or_else(|| Err(Error::internal("the backup worker failed")))
        .map_err(|e| {
            e.prefixed(format!(
                "saving the current photo before changing it ({nothing})"
            ))
        })?;
    Ok(Backup::Saved)
}

async fn read_file(path: PathBuf) -> Result<Vec<u8>, Error> {
    on_blocking(move || std::fs::read(&path).map_err(|e| Error::io(&path, e)))
        .await
        .unwrap_or_else(|| Err(Error::internal("a file worker failed")))
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs blocking work (the journal's file I/O) off the async workers; `None` if it panicked.
pub(super) async fn on_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!("a state worker failed: {e}");
            None
        }
    }
}

impl Outcome {
    /// An outcome still to be decided for `person` on `target` (reported as failed if nothing
    /// sets it).
    pub fn new(person: &Arc<crate::model::Person>, target: &str, key: Option<&str>) -> Outcome {
        Outcome {
            person: person.clone(),
            target: target.to_string(),
            key: key.map(str::to_string),
            status: Status::Failed,
            kind: Some(ErrorKind::Internal),
            reason: "not done".into(),
            context: Vec::new(),
            receipt: None,
            photo: None,
            flags: Vec::new(),
            source_hash: None,
            unchanged_since: None,
        }
    }

    pub fn with_flags(mut self, flags: Vec<String>) -> Outcome {
        self.flags = flags;
        self
    }

    /// The change was made; the receipt's note is the reason.
    pub fn set_sent(&mut self, receipt: Receipt) {
        self.status = Status::Sent;
        self.kind = None;
        self.reason = receipt.detail.clone();
        self.context.clear();
        self.receipt = Some(receipt);
    }

    /// The change failed: the error's kind, message and context.
    pub fn set_failed(&mut self, e: &Error) {
        self.status = Status::Failed;
        self.kind = Some(e.kind());
        self.reason = e.message().to_string();
        self.context = e
            .context()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
    }

    /// Nothing was tried, for a reason that is not a failure of the target.
    pub fn set_skipped(&mut self, kind: Option<ErrorKind>, reason: impl Into<String>) {
        self.status = Status::Skipped;
        self.kind = kind;
        self.reason = reason.into();
    }
}
