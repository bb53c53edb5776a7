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

mod deliver;
mod workers;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use deliver::{Change, Deliverer, Job, NO_BACKUP, PREVIOUS_PHOTO_REMOVED};
use deliver::{lock, on_blocking};
use workers::PhotoWorkers;

use crate::error::{Error, ErrorKind};
use crate::model::{Person, Photo, Profile, Subject};
use crate::pipeline::{Pipeline, Processed};
use crate::review::{Book, Decision, Verdict};
use crate::source::OptOut;
use crate::target::{Receipt, Target};

/// The reason of an outcome skipped because the person's photo was marked for a retake on
/// the review page.
pub const RETAKE: &str = "marked for a retake on the review page (review.toml): not sent; give \
                          the person a new photo, or change the decision with `picday review`";

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
    /// A photo the pipeline did not make (a saved one put back) is about to be sent.
    fn photo_loaded(&self, _photo: &Photo) {}
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
    /// Where the backup this run saved for `delivery` is kept, if it saved one, so that a
    /// failure after the target removed the photo can say how to put it back. A journal that
    /// keeps backups nowhere a person can reach says `None` (the default).
    fn backup_place(&self, _delivery: &Delivery) -> Option<BackupPlace> {
        None
    }
    /// Records a final outcome; must be durable when it returns. `delivery` is `None` when no
    /// key could be made for the person.
    fn record(&self, delivery: Option<&Delivery>, outcome: &Outcome) -> Result<(), Error>;
}

/// Where a run's backup of one person on one target is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPlace {
    /// The run that holds the backup (`picday restore --run`).
    pub run: String,
    /// The saved photo; `None` when the person had none.
    pub file: Option<std::path::PathBuf>,
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
    /// Who must have no photo (`[source] opt_out`): such a person's photo is never read nor
    /// sent; each target is asked whether it still holds one, and the outcome says so.
    pub opt_out: Option<OptOut>,
    /// Send a person's photo only to the targets that have none for them, asked cheaply with
    /// [`TargetIo::photo_info`](crate::TargetIo::photo_info) (`push --missing-only`).
    pub missing_only: bool,
    /// The decisions of the review page (`review.toml`): a person's photo is turned, cropped
    /// or accepted as decided, and one marked for a retake is never sent.
    pub review: Option<Book>,
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

    /// The fingerprint of everything besides the source photo that shapes what a target gets:
    /// the profile, the type, the key templates, the target's declared settings and the
    /// pipeline's. Built from structured values only, so rewording a summary or a message
    /// never makes a push send everything again.
    pub fn settings_fingerprint(&self, target: &dyn Target) -> String {
        let info = target.info();
        let profile = info.profile().fingerprint();
        let mut text = format!("{profile}\ntype={}\n", info.type_name);
        for key in info.key_templates() {
            text.push_str(&format!("key={key}\n"));
        }
        for (name, value) in &info.settings {
            text.push_str(&format!("{name}={value}\n"));
        }
        text.push_str(&format!(
            "crop={:?}\nmax_pixels={}",
            self.pipeline.crop, self.pipeline.max_pixels
        ));
        format!(
            "{profile}/{}",
            &blake3::hash(text.as_bytes()).to_hex()[..16]
        )
    }

    /// Runs the pipeline over every person without sending anything (`check`, `preview`),
    /// one photo per worker at once, handing each result to `done` as it completes.
    pub async fn process_all(
        &self,
        people: &[Person],
        profiles: &[Profile],
        mut done: impl FnMut(Person, Result<Processed, Error>),
    ) {
        let workers = PhotoWorkers::new(self.worker_count());
        let profiles: Vec<Profile> = profiles.to_vec();
        let mut tasks = JoinSet::new();
        for person in people.iter().cloned() {
            let job = Processing {
                pipeline: self.pipeline.clone(),
                workers: workers.clone(),
            };
            let profiles = profiles.clone();
            let decision = self.decision(&person);
            tasks.spawn(async move {
                let result = job.process(&person, profiles, decision.as_ref()).await;
                (person, result)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((person, result)) => done(person, result),
                Err(e) => tracing::error!("a photo task failed: {e}"),
            }
        }
    }

    fn decision(&self, person: &Person) -> Option<Decision> {
        let book = self.review.as_ref()?;
        book.find(&Arc::new(person.clone())).cloned()
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
            .map(|t| t.target.info().capabilities.max_concurrency)
            .sum();
        let window = if self.window > 0 {
            self.window
        } else {
            (workers * 2 + network).max(8)
        };
        let photo_workers = PhotoWorkers::new(workers);
        let admit = Arc::new(Semaphore::new(window));
        let settings: Arc<[Arc<str>]> = targets
            .iter()
            .map(|t| Arc::from(self.settings_fingerprint(&*t.target)))
            .collect();
        let people: Vec<Arc<Person>> = people.into_iter().map(Arc::new).collect();
        let mut blocked = collisions(&people, &targets);
        let mut summary = RunSummary::default();
        prepare(&people, &targets, &mut summary.notes).await;
        let targets = Arc::new(targets);
        let deliverer = Arc::new(Deliverer::new(self.journal.clone(), observer));
        let held: Arc<Mutex<Vec<Held>>> = Arc::default();

        let mut tasks = JoinSet::new();
        let mut people = people.into_iter().enumerate();
        let mut unstarted = Vec::new();
        for (n, person) in people.by_ref() {
            let permit = tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                p = admit.clone().acquire_owned() => p.ok(),
            };
            let Some(permit) = permit else {
                summary.interrupted = true;
                unstarted.extend(not_started(&person, &targets));
                break;
            };
            while let Some(done) = tasks.try_join_next() {
                collect(&mut summary, done);
            }
            let ctx = PersonJob {
                processing: Processing {
                    pipeline: self.pipeline.clone(),
                    workers: photo_workers.clone(),
                },
                targets: targets.clone(),
                settings: settings.clone(),
                journal: self.journal.clone(),
                deliverer: deliverer.clone(),
                blocked: blocked.remove(&n).unwrap_or_default(),
                held: held.clone(),
                opt_out: self.opt_out.clone(),
                missing_only: self.missing_only,
                decision: self.review.as_ref().and_then(|b| b.find(&person)).cloned(),
            };
            tasks.spawn(async move {
                let outcomes = ctx.run(person).await;
                drop(permit);
                outcomes
            });
        }
        for (_, person) in people {
            unstarted.extend(not_started(&person, &targets));
        }
        deliverer.record_all(&unstarted).await;
        summary.outcomes.extend(unstarted);
        while let Some(done) = tasks.join_next().await {
            collect(&mut summary, done);
        }

        let mut held = std::mem::take(&mut *lock(&held));
        for (i, t) in targets.iter().enumerate() {
            let deferred = t.target.info().capabilities.commits_at_finish;
            let mut mine = summary.outcomes.iter().filter(|o| o.target == t.name);
            if !deferred
                && mine.clone().next().is_some()
                && mine.all(|o| o.unchanged_since.is_some())
            {
                // Nothing was sent to this target: there is nothing to finish. A target that
                // commits at finish is always called: it carries its earlier photos over and
                // cleans up what a killed run left.
                continue;
            }
            let finished = t.target.finish().await;
            match &finished {
                Ok(Some(note)) => summary.notes.push(format!("{}: {note}", t.name)),
                Ok(None) => {}
                Err(e) => summary.notes.push(format!("{}: {e}", t.name)),
            }
            let (staged, rest): (Vec<Held>, Vec<Held>) =
                held.into_iter().partition(|h| h.outcome.target == t.name);
            held = rest;
            for Held {
                delivery,
                mut outcome,
            } in staged
            {
                // Recorded only now: the state never says "sent" for a photo that is not in
                // a committed package.
                if let Err(e) = &finished {
                    outcome.set_failed(e);
                    outcome.reason = format!(
                        "the package could not be written, so this photo is not in it: {e}"
                    );
                }
                deliverer.record(delivery, &outcome).await;
                summary.outcomes.push(outcome);
            }
            if let Err(e) = finished
                && !deferred
            {
                // Its photos were sent one by one, yet the target says the run did not end
                // well: report them as failed and make the state forget them, so that the next
                // push sends them again rather than trust them.
                let settings = settings[i].clone();
                for o in summary.outcomes.iter_mut().filter(|o| o.target == t.name) {
                    if o.status == Status::Sent {
                        o.set_failed(&e);
                        o.reason = format!("the target could not finish: {e}");
                        let delivery = o.key.clone().map(|key| Delivery {
                            target: t.name.clone(),
                            key,
                            person: o.person.clone(),
                            source: None,
                            settings: settings.clone(),
                        });
                        deliverer.record(delivery, o).await;
                    }
                }
            }
        }
        summary.notes.extend(deliverer.recording_note());
        summary.outcomes.sort_by(|a, b| {
            (a.person.origin.line, &a.target).cmp(&(b.person.origin.line, &b.target))
        });
        summary
    }
}

fn collect(summary: &mut RunSummary, done: Result<Vec<Outcome>, tokio::task::JoinError>) {
    match done {
        Ok(outcomes) => summary.outcomes.extend(outcomes),
        // A panic in a task is a bug; the person's outcomes are lost but the run goes on.
        Err(e) => tracing::error!("a worker task failed: {e}"),
    }
}

/// The outcomes of a person the run never reached (recorded and reported by the caller).
fn not_started(person: &Arc<Person>, targets: &[RunTarget]) -> Vec<Outcome> {
    targets
        .iter()
        .map(|t| {
            let mut o = Outcome::new(person, &t.name, None);
            o.set_skipped(
                Some(ErrorKind::Cancelled),
                "interrupted before this person was processed; run push again to finish",
            );
            o
        })
        .collect()
}

/// A delivery to a target that commits at finish, staged and waiting for `finish` before it
/// is recorded.
struct Held {
    delivery: Option<Delivery>,
    outcome: Outcome,
}

/// People who share a key on a target, as the target renders and compares keys
/// ([`Target::subject`], [`TargetInfo::folded_key`](crate::TargetInfo::folded_key)): for each
/// such person (by index), the targets they must not be sent to and why. Sending both would
/// leave one photo where two were reported sent, so neither is sent.
/// Tells each target whom the run is about ([`crate::TargetIo::prepare`]) before its first
/// request. A target that cannot use it ignores it; one that fails to is noted, and its
/// people are then looked up one by one.
async fn prepare(people: &[Arc<Person>], targets: &[RunTarget], notes: &mut Vec<String>) {
    for t in targets {
        let keys: Vec<String> = people
            .iter()
            .filter_map(|p| t.target.subject(p.clone()).ok().map(|s| s.key))
            .collect();
        if let Err(e) = t.target.prepare(&keys).await {
            notes.push(format!("{}: {e}", t.name));
        }
    }
}

fn collisions(
    people: &[Arc<Person>],
    targets: &[RunTarget],
) -> HashMap<usize, Vec<(usize, String)>> {
    let mut blocked: HashMap<usize, Vec<(usize, String)>> = HashMap::new();
    for (t, target) in targets.iter().enumerate() {
        let info = target.target.info();
        let mut by_key: HashMap<String, Vec<(usize, String)>> = HashMap::new();
        for (n, person) in people.iter().enumerate() {
            if let Ok(subject) = target.target.subject(person.clone()) {
                by_key
                    .entry(info.folded_key(&subject.key))
                    .or_default()
                    .push((n, subject.key));
            }
        }
        for group in by_key.into_values().filter(|g| g.len() > 1) {
            for (n, key) in &group {
                let others: Vec<String> = group
                    .iter()
                    .filter(|(m, _)| m != n)
                    .map(|(m, key)| {
                        let p = &people[*m];
                        format!("{} ({}, key {key:?})", p.label(), p.origin)
                    })
                    .collect();
                blocked.entry(*n).or_default().push((
                    t,
                    format!(
                        "the key {key:?} is also the key of {} on this target{}; none of them is sent: give each person their own key",
                        others.join(", "),
                        if info.capabilities.keys_case_insensitive {
                            " (keys are compared without case)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
    }
    blocked
}

/// Photo processing on the run's fixed pool of photo workers.
struct Processing {
    pipeline: Pipeline,
    workers: Arc<PhotoWorkers>,
}

impl Processing {
    async fn process(
        &self,
        person: &Person,
        profiles: Vec<Profile>,
        decision: Option<&Decision>,
    ) -> Result<Processed, Error> {
        let pipeline = self.pipeline.clone();
        let path = person.photo.clone();
        let adjust = decision.map(Decision::adjustment);
        self.workers
            .run(move || pipeline.process_with(&path, &profiles, adjust.as_ref()))
            .await
    }
}

struct PersonJob {
    processing: Processing,
    targets: Arc<Vec<RunTarget>>,
    /// Per target, in the same order: [`Engine::settings_fingerprint`].
    settings: Arc<[Arc<str>]>,
    /// Asked which targets already have the photo.
    journal: Option<Arc<dyn Journal>>,
    deliverer: Arc<Deliverer>,
    /// The targets this person shares a key on ([`collisions`]), and why.
    blocked: Vec<(usize, String)>,
    /// Staged deliveries to targets that commit at finish.
    held: Arc<Mutex<Vec<Held>>>,
    opt_out: Option<OptOut>,
    missing_only: bool,
    /// The person's review decision, whatever photo it was made on.
    decision: Option<Decision>,
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
        let observer = self.deliverer.observer().clone();
        if self.opt_out.as_ref().is_some_and(|o| o.applies(&person)) {
            observer.photo_unchanged(&person);
            return self.opted_out(&person).await;
        }
        if let Some(d) = self
            .decision
            .as_ref()
            .filter(|d| d.verdict == Verdict::Retake)
        {
            let path = person.photo.clone();
            let hash = on_blocking(move || crate::files::hash_file(&path)).await;
            if matches!(hash, Some(Ok(h)) if h == d.source) {
                observer.photo_unchanged(&person);
                return self.retake(&person).await;
            }
            // A new photo: the decision is void, and the pipeline flags it.
        }
        let (mut outcomes, mut pending) = self.skip_unchanged(&person).await;
        if self.missing_only {
            pending = self.keep_missing(&person, pending, &mut outcomes).await;
        }
        if pending.is_empty() {
            observer.photo_unchanged(&person);
            return outcomes;
        }
        let profiles: Vec<Profile> = pending
            .iter()
            .map(|p| self.targets[p.index].target.info().profile())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let processed = self
            .processing
            .process(&person, profiles, self.decision.as_ref())
            .await;
        observer.photo_done(&person, processed.as_ref());
        let processed = match processed {
            Ok(p) => Arc::new(p),
            Err(e) => {
                for p in pending {
                    let t = &self.targets[p.index];
                    let key = p.subject.ok().map(|s| s.key);
                    let mut o = Outcome::new(&person, &t.name, key.as_deref());
                    o.set_failed(&e);
                    o.reason = format!("photo {}: {}", person.photo.display(), e.message());
                    self.deliverer.record(p.delivery, &o).await;
                    outcomes.push(o);
                }
                return outcomes;
            }
        };
        let sends = pending
            .into_iter()
            .map(|p| self.send(&person, p, &processed));
        outcomes.extend(futures::future::join_all(sends).await.into_iter().flatten());
        outcomes
    }

    /// The outcomes of an opted-out person: nothing is sent, and each target that can tell
    /// is asked whether it still holds a photo, which the outcome then says (with the command
    /// that takes it down).
    async fn opted_out(&self, person: &Arc<Person>) -> Vec<Outcome> {
        let asks = self.targets.iter().map(|t| async move {
            let subject = t.target.subject(person.clone());
            let key = subject.as_ref().ok().map(|s| s.key.clone());
            let mut o = Outcome::new(person, &t.name, key.as_deref());
            let held = match &subject {
                Ok(s) if t.target.info().capabilities.read_back => {
                    Some(t.target.photo_info(s).await)
                }
                _ => None,
            };
            let reason = match held {
                Some(Ok(Some(_))) => format!(
                    "opted out: nothing sent, but {} still holds a photo of this person; \
                     take it down with `picday remove --opted-out --target {}`",
                    t.name, t.name
                ),
                Some(Ok(None)) => "opted out: nothing sent (the target has no photo)".into(),
                Some(Err(e)) => format!(
                    "opted out: nothing sent (whether the target holds a photo is not known: {})",
                    e.message()
                ),
                None => "opted out: nothing sent".into(),
            };
            o.set_skipped(None, reason);
            self.deliverer.record(None, &o).await;
            o
        });
        futures::future::join_all(asks).await
    }

    /// The outcomes of a person whose photo was marked for a retake: nothing is sent.
    async fn retake(&self, person: &Arc<Person>) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for t in self.targets.iter() {
            let key = t.target.subject(person.clone()).ok().map(|s| s.key);
            let mut o = Outcome::new(person, &t.name, key.as_deref());
            o.set_skipped(None, RETAKE);
            self.deliverer.record(None, &o).await;
            outcomes.push(o);
        }
        outcomes
    }

    /// What a delivery to target `index` depends on besides the source: the target's settings
    /// and the person's review decision, so that a moved crop is sent again.
    fn settings_for(&self, index: usize) -> Arc<str> {
        match &self.decision {
            Some(d) => Arc::from(format!(
                "{}/review-{}",
                self.settings[index],
                d.fingerprint()
            )),
            None => self.settings[index].clone(),
        }
    }

    /// `--missing-only`: keeps the targets that have no photo for the person; the others end
    /// here (skipped, or failed when the target could not say: nothing is sent on a guess).
    async fn keep_missing(
        &self,
        person: &Arc<Person>,
        pending: Vec<Pending>,
        outcomes: &mut Vec<Outcome>,
    ) -> Vec<Pending> {
        let asks = pending.into_iter().map(|p| async move {
            let t = &self.targets[p.index];
            let Ok(subject) = &p.subject else {
                return Ok(p);
            };
            let mut o = Outcome::new(person, &t.name, Some(&subject.key));
            if !t.target.info().capabilities.read_back {
                o.set_skipped(
                    Some(ErrorKind::Unsupported),
                    "--missing-only: this target cannot tell whether a person has a photo, so \
                     nothing is sent to it; push it without --missing-only",
                );
                return Err((p.delivery, o));
            }
            match t.target.photo_info(subject).await {
                Ok(None) => return Ok(p),
                Ok(Some(_)) => o.set_skipped(None, "already has a photo (--missing-only)"),
                Err(e) => {
                    o.set_failed(&e);
                    o.reason = format!(
                        "--missing-only: whether the target has a photo is not known, so \
                         nothing was sent: {}",
                        e.message()
                    );
                }
            }
            Err((p.delivery, o))
        });
        let mut keep = Vec::new();
        for asked in futures::future::join_all(asks).await {
            match asked {
                Ok(p) => keep.push(p),
                Err((delivery, o)) => {
                    self.deliverer.record(delivery, &o).await;
                    outcomes.push(o);
                }
            }
        }
        keep
    }

    /// Makes each target's subject and, with a journal, skips the targets that already have
    /// this photo. Returns the skipped outcomes and the targets left to serve.
    async fn skip_unchanged(&self, person: &Arc<Person>) -> (Vec<Outcome>, Vec<Pending>) {
        let mut skipped = Vec::new();
        let mut subjects: Vec<Option<Result<Subject, Error>>> = Vec::new();
        for (index, t) in self.targets.iter().enumerate() {
            let subject = t.target.subject(person.clone());
            let Some((_, why)) = self.blocked.iter().find(|(b, _)| *b == index) else {
                subjects.push(Some(subject));
                continue;
            };
            // Another person has this key here: nothing of theirs is sent, and the state
            // forgets whatever was sent under the key before.
            let key = subject.ok().map(|s| s.key);
            let mut o = Outcome::new(person, &t.name, key.as_deref());
            o.set_failed(&Error::input(why.clone()));
            let delivery = key.map(|key| Delivery {
                target: t.name.clone(),
                key,
                person: person.clone(),
                source: None,
                settings: self.settings_for(index),
            });
            self.deliverer.record(delivery, &o).await;
            skipped.push(o);
            subjects.push(None);
        }
        let Some(journal) = self.journal.clone() else {
            let pending = subjects
                .into_iter()
                .enumerate()
                .filter_map(|(index, subject)| {
                    Some(Pending {
                        index,
                        subject: subject?,
                        delivery: None,
                    })
                })
                .collect();
            return (skipped, pending);
        };
        let known: Vec<Option<Subject>> = subjects
            .iter()
            .map(|s| s.as_ref().and_then(|s| s.as_ref().ok()).cloned())
            .collect();
        let targets = self.targets.clone();
        let settings: Vec<Arc<str>> = (0..self.targets.len())
            .map(|i| self.settings_for(i))
            .collect();
        let who = person.clone();
        let checked = on_blocking(move || {
            let source = SourceStamp::of(&who.photo);
            known
                .into_iter()
                .enumerate()
                .map(|(i, subject)| {
                    let subject = subject?;
                    let delivery = Delivery {
                        target: targets[i].name.clone(),
                        key: subject.key.clone(),
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
                    // A package that lost the photo (moved aside, replaced) gets it again.
                    let target = &targets[i].target;
                    let since = since.filter(|_| {
                        !target.info().capabilities.commits_at_finish || target.holds(&subject)
                    });
                    Some((delivery, since))
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();

        let mut pending = Vec::new();
        for (index, subject) in subjects.into_iter().enumerate() {
            let Some(subject) = subject else { continue };
            let (delivery, since) = match checked.get(index).cloned().flatten() {
                Some((d, since)) => (Some(d), since),
                None => (None, None),
            };
            if let (Some(run), Ok(subject)) = (since, &subject) {
                let mut o = Outcome::new(person, &self.targets[index].name, Some(&subject.key));
                o.set_skipped(None, format!("unchanged since run {run}"));
                o.unchanged_since = Some(run);
                self.deliverer.record(delivery, &o).await;
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

    /// Sends the processed photo to one pending target through the delivery step. A photo
    /// staged on a target that commits at finish is held, not returned: the engine records it
    /// after `finish`.
    async fn send(
        &self,
        person: &Arc<Person>,
        p: Pending,
        processed: &Processed,
    ) -> Option<Outcome> {
        let t = &self.targets[p.index];
        let subject = match p.subject {
            Ok(s) => s,
            Err(e) => {
                let mut o = Outcome::new(person, &t.name, None);
                o.set_skipped(Some(e.kind()), e.message());
                o.source_hash = Some(processed.source_hash.clone());
                self.deliverer.record(p.delivery, &o).await;
                return Some(o);
            }
        };
        let mut o =
            Outcome::new(person, &t.name, Some(&subject.key)).with_flags(processed.flags.clone());
        o.source_hash = Some(processed.source_hash.clone());
        let profile = t.target.info().profile();
        let Some(photo) = processed.photos.get(&profile) else {
            o.set_failed(&Error::internal(format!(
                "no photo was rendered for profile {profile}"
            )));
            self.deliverer.record(p.delivery, &o).await;
            return Some(o);
        };
        let change = Change::Put(photo.clone());
        if !t.target.info().capabilities.commits_at_finish {
            let o = self
                .deliverer
                .deliver(t, &subject, p.delivery, change, None, o)
                .await;
            return Some(o);
        }
        let o = self
            .deliverer
            .attempt(t, &subject, p.delivery.as_ref(), change, None, o)
            .await;
        if o.status != Status::Sent {
            self.deliverer.record(p.delivery, &o).await;
            return Some(o);
        }
        lock(&self.held).push(Held {
            delivery: p.delivery,
            outcome: o,
        });
        None
    }
}
