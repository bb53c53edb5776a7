//! The engine: every person's photo normalised once, then fanned out to every target.
//!
//! Two kinds of work run side by side with separate limits: photo processing on a blocking pool
//! the size of the machine's cores, and requests to targets, bounded per target by its layers.
//! People enter the run through a bounded window, so memory stays flat however long the mapping
//! is. Each person and target ends with exactly one [`Outcome`]; one failure never stops the
//! others, and cancelling (Ctrl-C) lets work in flight finish and reports the rest as not done.
//!
//! An optional [`Journal`] makes runs incremental, resumable and undoable without the engine
//! knowing how it is stored (the CLI uses [`crate::state`], SQLite): before a person's photo is
//! decoded the journal is asked which targets already have it (an unchanged person is not even
//! read); before a photo is overwritten on a target that can read back, the current one is handed
//! to the journal as a backup; and every outcome is recorded as soon as it is final, so that a
//! killed run loses at most the deliveries in flight.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind};
use crate::model::{Person, Photo, Profile, Subject};
use crate::pipeline::{Pipeline, Processed};
use crate::target::{Receipt, Target};

/// How a person fared with one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Sent,
    Skipped,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// What was sent, without the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PhotoSummary {
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
    pub hash: String,
}

impl From<&Photo> for PhotoSummary {
    fn from(p: &Photo) -> Self {
        PhotoSummary {
            width: p.width,
            height: p.height,
            bytes: p.len(),
            hash: p.hash(),
        }
    }
}

/// The result for one person and one target.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub person: Arc<Person>,
    pub target: String,
    /// The person's key for this target, when it could be made.
    pub key: Option<String>,
    pub status: Status,
    /// For failures: what kind of failure.
    pub kind: Option<ErrorKind>,
    /// Why it was skipped or failed, or the service's note when sent.
    pub reason: String,
    /// Service error code, request id and other context of a failure.
    pub context: Vec<(String, String)>,
    pub receipt: Option<Receipt>,
    pub photo: Option<PhotoSummary>,
    /// Review flags raised by the pipeline for this person's photo.
    pub flags: Vec<String>,
    /// BLAKE3 of the source photo, when it was read.
    pub source_hash: Option<String>,
    /// Skipped because the journal says the target already has this photo: the run that sent it.
    pub unchanged_since: Option<String>,
}

/// A target in a run: its configured name and the (layered) target.
#[derive(Debug, Clone)]
pub struct RunTarget {
    pub name: String,
    pub target: Arc<dyn Target>,
}

/// Progress callbacks; called from worker tasks.
pub trait Observer: Send + Sync {
    /// A person's photo was processed (or could not be).
    fn photo_done(&self, _person: &Person, _result: Result<&Processed, &Error>) {}
    /// One outcome is final.
    fn outcome(&self, _outcome: &Outcome) {}
    /// A person's photo was not read at all: every target already has it (see [`Journal`]).
    fn photo_unchanged(&self, _person: &Person) {}
}

/// The source photo as it was before the run read it: the quick half of "unchanged".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SourceStamp {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl SourceStamp {
    /// The stamp of a file, `None` if it cannot be read.
    pub fn of(path: &std::path::Path) -> Option<SourceStamp> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?;
        let ns = match mtime.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).ok()?,
            Err(e) => -i64::try_from(e.duration().as_nanos()).ok()?,
        };
        Some(SourceStamp {
            size: meta.len(),
            mtime_ns: ns,
        })
    }
}

/// One person and one target, as a [`Journal`] sees them.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The target's configured name.
    pub target: String,
    /// The person's key for this target.
    pub key: String,
    pub person: Arc<Person>,
    /// The source photo's size and time before it was read; `None` if it could not be read.
    pub source: Option<SourceStamp>,
    /// Fingerprint of everything besides the source that shapes what is sent: the profile, the
    /// target's identity and settings, the pipeline settings. A change means "send again".
    pub settings: Arc<str>,
}

/// Where a run remembers what it did; see the module documentation. Calls may block (they do
/// file I/O): the engine makes them on the blocking pool.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// `Some(run id)` if the target already has this exact photo (same source, same settings,
    /// sent successfully by that run) and the delivery can be skipped.
    fn unchanged(&self, delivery: &Delivery) -> Result<Option<String>, Error>;
    /// Whether the current photo must be saved before it is overwritten.
    fn backups(&self) -> bool;
    /// Saves the target's current photo (`None`: the person had none) before it is overwritten;
    /// must be durable when it returns.
    fn save_backup(&self, delivery: &Delivery, current: Option<Vec<u8>>) -> Result<(), Error>;
    /// Records a final outcome; must be durable when it returns. `delivery` is `None` when no
    /// key could be made for the person.
    fn record(&self, delivery: Option<&Delivery>, outcome: &Outcome) -> Result<(), Error>;
}

/// An observer that does nothing.
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

/// Engine settings.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    pub pipeline: Pipeline,
    /// Photos processed at once (CPU-bound); 0 means one per core.
    pub workers: usize,
    /// People in the run at once (bounds memory); 0 means automatic.
    pub window: usize,
    /// Skips unchanged deliveries, saves backups and records outcomes; `None`: every person is
    /// sent and nothing is remembered.
    pub journal: Option<Arc<dyn Journal>>,
}

/// The result of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub outcomes: Vec<Outcome>,
    /// The run was cancelled before every person was processed.
    pub interrupted: bool,
    /// Notes from targets' `finish` (package written to...).
    pub notes: Vec<String>,
}

impl RunSummary {
    pub fn count(&self, status: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }
}

impl Engine {
    fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    /// The fingerprint of everything besides the source photo that shapes what a target gets.
    pub fn settings_fingerprint(&self, target: &dyn Target) -> String {
        let caps = target.capabilities();
        let info = target.describe();
        let text = format!(
            "{}\n{}\n{}\n{}\n{:?}",
            caps.profile.fingerprint(),
            info.type_name,
            info.summary,
            target.key_template(),
            self.pipeline
        );
        format!(
            "{}/{}",
            caps.profile.fingerprint(),
            &blake3::hash(text.as_bytes()).to_hex()[..16]
        )
    }

    /// Runs every person through every target.
    pub async fn run(
        &self,
        people: Vec<Person>,
        targets: Vec<RunTarget>,
        observer: Arc<dyn Observer>,
        cancel: CancellationToken,
    ) -> RunSummary {
        let workers = self.worker_count();
        let network: usize = targets
            .iter()
            .map(|t| t.target.capabilities().max_concurrency)
            .sum();
        let window = if self.window > 0 {
            self.window
        } else {
            (workers * 2 + network).max(8)
        };
        let cpu = Arc::new(Semaphore::new(workers));
        let admit = Arc::new(Semaphore::new(window));
        let settings: Arc<[Arc<str>]> = targets
            .iter()
            .map(|t| Arc::from(self.settings_fingerprint(&*t.target)))
            .collect();
        let targets = Arc::new(targets);
        let journal_errors = Arc::new(Mutex::new(Vec::new()));

        let mut summary = RunSummary::default();
        let mut tasks = JoinSet::new();
        let mut people = people.into_iter();
        let mut unstarted = Vec::new();
        for person in people.by_ref() {
            let permit = tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                p = admit.clone().acquire_owned() => p.ok(),
            };
            let Some(permit) = permit else {
                summary.interrupted = true;
                unstarted.extend(not_started(Arc::new(person), &targets, &*observer));
                break;
            };
            while let Some(done) = tasks.try_join_next() {
                collect(&mut summary, done);
            }
            let person = Arc::new(person);
            let ctx = PersonJob {
                pipeline: self.pipeline.clone(),
                cpu: cpu.clone(),
                targets: targets.clone(),
                settings: settings.clone(),
                observer: observer.clone(),
                journal: self.journal.clone(),
                journal_errors: journal_errors.clone(),
            };
            tasks.spawn(async move {
                let outcomes = ctx.run(person).await;
                drop(permit);
                outcomes
            });
        }
        for person in people {
            unstarted.extend(not_started(Arc::new(person), &targets, &*observer));
        }
        if let Some(journal) = &self.journal
            && !unstarted.is_empty()
        {
            let journal = journal.clone();
            let batch = unstarted.clone();
            let errors = journal_errors.clone();
            on_blocking(move || {
                for o in &batch {
                    if let Err(e) = journal.record(None, o) {
                        note_journal_error(&errors, &e);
                    }
                }
            })
            .await;
        }
        summary.outcomes.extend(unstarted);
        while let Some(done) = tasks.join_next().await {
            collect(&mut summary, done);
        }

        for t in targets.iter() {
            let mut mine = summary.outcomes.iter().filter(|o| o.target == t.name);
            if mine.clone().next().is_some() && mine.all(|o| o.unchanged_since.is_some()) {
                // Nothing was sent to this target: there is nothing to finish (no empty
                // package over a complete one).
                continue;
            }
            match t.target.finish().await {
                Ok(Some(note)) => summary.notes.push(format!("{}: {note}", t.name)),
                Ok(None) => {}
                Err(e) => {
                    summary.notes.push(format!("{}: {e}", t.name));
                    for o in summary.outcomes.iter_mut().filter(|o| o.target == t.name) {
                        if o.status == Status::Sent {
                            o.status = Status::Failed;
                            o.kind = Some(e.kind());
                            o.reason = format!("the target could not finish: {e}");
                        }
                    }
                }
            }
        }
        let errors = std::mem::take(&mut *lock(&journal_errors));
        if let Some(first) = errors.first() {
            summary.notes.push(format!(
                "state: {} outcome(s) could not be recorded (first: {first}); the next push may send them again",
                errors.len()
            ));
        }
        summary.outcomes.sort_by(|a, b| {
            (a.person.origin.line, &a.target).cmp(&(b.person.origin.line, &b.target))
        });
        summary
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn note_journal_error(errors: &Mutex<Vec<String>>, e: &Error) {
    tracing::error!("recording in the state failed: {e}");
    lock(errors).push(e.to_string());
}

/// Runs blocking journal work off the async workers; `None` if the worker panicked.
async fn on_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::error!("a state worker failed: {e}");
            None
        }
    }
}

fn collect(summary: &mut RunSummary, done: Result<Vec<Outcome>, tokio::task::JoinError>) {
    match done {
        Ok(outcomes) => summary.outcomes.extend(outcomes),
        // A panic in a task is a bug; the person's outcomes are lost but the run goes on.
        Err(e) => tracing::error!("a worker task failed: {e}"),
    }
}

fn not_started(
    person: Arc<Person>,
    targets: &[RunTarget],
    observer: &dyn Observer,
) -> Vec<Outcome> {
    targets
        .iter()
        .map(|t| {
            let o = outcome(
                &person,
                t,
                None,
                Status::Skipped,
                Some(ErrorKind::Cancelled),
                "interrupted before this person was processed; run push again to finish".into(),
            );
            observer.outcome(&o);
            o
        })
        .collect()
}

fn outcome(
    person: &Arc<Person>,
    target: &RunTarget,
    key: Option<String>,
    status: Status,
    kind: Option<ErrorKind>,
    reason: String,
) -> Outcome {
    Outcome {
        person: person.clone(),
        target: target.name.clone(),
        key,
        status,
        kind,
        reason,
        context: Vec::new(),
        receipt: None,
        photo: None,
        flags: Vec::new(),
        source_hash: None,
        unchanged_since: None,
    }
}

struct PersonJob {
    pipeline: Pipeline,
    cpu: Arc<Semaphore>,
    targets: Arc<Vec<RunTarget>>,
    /// Per target, in the same order: [`Engine::settings_fingerprint`].
    settings: Arc<[Arc<str>]>,
    observer: Arc<dyn Observer>,
    journal: Option<Arc<dyn Journal>>,
    journal_errors: Arc<Mutex<Vec<String>>>,
}

/// A target still to be served for a person: its index, its subject (or why there is none)
/// and, with a journal, the delivery.
struct Pending {
    index: usize,
    subject: Result<Subject, Error>,
    delivery: Option<Delivery>,
}

impl PersonJob {
    async fn run(self, person: Arc<Person>) -> Vec<Outcome> {
        let (mut outcomes, pending) = self.skip_unchanged(&person).await;
        if pending.is_empty() {
            self.observer.photo_unchanged(&person);
            return outcomes;
        }
        let profiles: Vec<Profile> = pending
            .iter()
            .map(|p| self.targets[p.index].target.capabilities().profile)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let processed = self.process(&person, profiles).await;
        self.observer.photo_done(&person, processed.as_ref());
        let processed = match processed {
            Ok(p) => Arc::new(p),
            Err(e) => {
                for p in pending {
                    let t = &self.targets[p.index];
                    let mut o = outcome(
                        &person,
                        t,
                        p.subject.ok().map(|s| s.key),
                        Status::Failed,
                        Some(e.kind()),
                        format!("photo {}: {}", person.photo.display(), e.message()),
                    );
                    o.context = context_of(&e);
                    self.finish(p.delivery, &o).await;
                    outcomes.push(o);
                }
                return outcomes;
            }
        };
        let sends = pending.into_iter().map(|p| {
            let person = person.clone();
            let processed = processed.clone();
            let this = &self;
            async move {
                let t = &this.targets[p.index];
                let o = send(
                    &person,
                    t,
                    p.subject,
                    p.delivery.as_ref(),
                    this.journal.as_ref(),
                    &processed,
                )
                .await;
                this.finish(p.delivery, &o).await;
                o
            }
        });
        outcomes.extend(futures::future::join_all(sends).await);
        outcomes
    }

    /// Makes each target's subject and, with a journal, skips the targets that already have
    /// this photo. Returns the skipped outcomes and the targets left to serve.
    async fn skip_unchanged(&self, person: &Arc<Person>) -> (Vec<Outcome>, Vec<Pending>) {
        let Some(journal) = self.journal.clone() else {
            let pending = self
                .targets
                .iter()
                .enumerate()
                .map(|(index, t)| Pending {
                    index,
                    subject: t.target.subject(person.clone()),
                    delivery: None,
                })
                .collect();
            return (Vec::new(), pending);
        };
        let subjects: Vec<Result<Subject, Error>> = self
            .targets
            .iter()
            .map(|t| t.target.subject(person.clone()))
            .collect();
        let keys: Vec<Option<String>> = subjects
            .iter()
            .map(|s| s.as_ref().ok().map(|s| s.key.clone()))
            .collect();
        let targets = self.targets.clone();
        let settings = self.settings.clone();
        let who = person.clone();
        let checked = on_blocking(move || {
            let source = SourceStamp::of(&who.photo);
            keys.into_iter()
                .enumerate()
                .map(|(i, key)| {
                    let delivery = Delivery {
                        target: targets[i].name.clone(),
                        key: key?,
                        person: who.clone(),
                        source,
                        settings: settings[i].clone(),
                    };
                    let since = match journal.unchanged(&delivery) {
                        Ok(since) => since,
                        Err(e) => {
                            // Not knowing means sending: the pipeline reports a missing photo.
                            tracing::debug!("unchanged check for {}: {e}", delivery.key);
                            None
                        }
                    };
                    Some((delivery, since))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();

        let mut skipped = Vec::new();
        let mut pending = Vec::new();
        for (index, subject) in subjects.into_iter().enumerate() {
            let (delivery, since) = match checked.get(index).cloned().flatten() {
                Some((d, since)) => (Some(d), since),
                None => (None, None),
            };
            if let (Some(run), Ok(subject)) = (since, &subject) {
                let mut o = outcome(
                    person,
                    &self.targets[index],
                    Some(subject.key.clone()),
                    Status::Skipped,
                    None,
                    format!("unchanged since run {run}"),
                );
                o.unchanged_since = Some(run);
                self.finish(delivery, &o).await;
                skipped.push(o);
            } else {
                pending.push(Pending {
                    index,
                    subject,
                    delivery,
                });
            }
        }
        (skipped, pending)
    }

    /// Records a final outcome (durably, before anyone hears of it) and tells the observer.
    async fn finish(&self, delivery: Option<Delivery>, o: &Outcome) {
        if let Some(journal) = self.journal.clone() {
            let record = o.clone();
            let errors = self.journal_errors.clone();
            on_blocking(move || {
                if let Err(e) = journal.record(delivery.as_ref(), &record) {
                    note_journal_error(&errors, &e);
                }
            })
            .await;
        }
        self.observer.outcome(o);
    }

    async fn process(
        &self,
        person: &Arc<Person>,
        profiles: Vec<Profile>,
    ) -> Result<Processed, Error> {
        let _cpu = self
            .cpu
            .acquire()
            .await
            .map_err(|_| Error::cancelled("the run is shutting down"))?;
        let pipeline = self.pipeline.clone();
        let path = person.photo.clone();
        tokio::task::spawn_blocking(move || pipeline.process(&path, &profiles))
            .await
            .unwrap_or_else(|e| Err(Error::internal(format!("photo worker failed: {e}"))))
    }
}

async fn send(
    person: &Arc<Person>,
    t: &RunTarget,
    subject: Result<Subject, Error>,
    delivery: Option<&Delivery>,
    journal: Option<&Arc<dyn Journal>>,
    processed: &Processed,
) -> Outcome {
    let caps = t.target.capabilities();
    let subject = match subject {
        Ok(s) => s,
        Err(e) => {
            let mut o = outcome(
                person,
                t,
                None,
                Status::Skipped,
                Some(e.kind()),
                e.message().into(),
            );
            o.source_hash = Some(processed.source_hash.clone());
            return o;
        }
    };
    let Some(photo) = processed.photos.get(&caps.profile) else {
        return outcome(
            person,
            t,
            Some(subject.key),
            Status::Failed,
            Some(ErrorKind::Internal),
            format!("no photo was rendered for profile {}", caps.profile),
        );
    };
    let backed_up = match (journal, delivery) {
        (Some(journal), Some(delivery)) if caps.read_back && journal.backups() => {
            backup(&*t.target, &subject, journal, delivery).await
        }
        _ => Ok(()),
    };
    let result = match backed_up {
        Ok(()) => t.target.put_photo(&subject, photo).await,
        Err(e) => Err(e),
    };
    let mut o = match result {
        Ok(receipt) => {
            let mut o = outcome(
                person,
                t,
                Some(subject.key),
                Status::Sent,
                None,
                receipt.detail.clone(),
            );
            o.receipt = Some(receipt);
            o
        }
        Err(e) => {
            let mut o = outcome(
                person,
                t,
                Some(subject.key),
                Status::Failed,
                Some(e.kind()),
                e.message().to_string(),
            );
            o.context = context_of(&e);
            o
        }
    };
    o.photo = Some(photo.into());
    o.flags = processed.flags.clone();
    o.source_hash = Some(processed.source_hash.clone());
    o
}

/// Reads the target's current photo and hands it to the journal; an error means the photo
/// must not be overwritten.
async fn backup(
    target: &dyn Target,
    subject: &Subject,
    journal: &Arc<dyn Journal>,
    delivery: &Delivery,
) -> Result<(), Error> {
    let current = target
        .get_photo(subject)
        .await
        .map_err(|e| e.prefixed("reading the current photo for the backup (nothing was sent)"))?;
    let journal = journal.clone();
    let delivery = delivery.clone();
    on_blocking(move || journal.save_backup(&delivery, current))
        .await
        .unwrap_or_else(|| Err(Error::internal("the backup worker failed")))
        .map_err(|e| {
            e.prefixed("saving the current photo before overwriting it (nothing was sent)")
        })
}

fn context_of(e: &Error) -> Vec<(String, String)> {
    e.context()
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
