//! The engine: every person's photo normalised once, then fanned out to every target.
//!
//! Two kinds of work run side by side with separate limits: photo processing on a blocking pool
//! the size of the machine's cores, and requests to targets, bounded per target by its layers.
//! People enter the run through a bounded window, so memory stays flat however long the mapping
//! is. Each person and target ends with exactly one [`Outcome`]; one failure never stops the
//! others, and cancelling (Ctrl-C) lets work in flight finish and reports the rest as not done.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind};
use crate::model::{Person, Photo, Profile};
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

/// An observer that does nothing.
#[derive(Debug, Default)]
pub struct Quiet;
impl Observer for Quiet {}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Engine {
    pub pipeline: Pipeline,
    /// Photos processed at once (CPU-bound); 0 means one per core.
    pub workers: usize,
    /// People in the run at once (bounds memory); 0 means automatic.
    pub window: usize,
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

impl Default for Engine {
    fn default() -> Self {
        Engine {
            pipeline: Pipeline::default(),
            workers: 0,
            window: 0,
        }
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

    /// Runs every person through every target.
    pub async fn run(
        &self,
        people: Vec<Person>,
        targets: Vec<RunTarget>,
        observer: Arc<dyn Observer>,
        cancel: CancellationToken,
    ) -> RunSummary {
        let workers = self.worker_count();
        let profiles: Vec<Profile> = targets
            .iter()
            .map(|t| t.target.capabilities().profile)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
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
        let targets = Arc::new(targets);
        let profiles: Arc<[Profile]> = profiles.into();

        let mut summary = RunSummary::default();
        let mut tasks = JoinSet::new();
        let mut people = people.into_iter();
        for person in people.by_ref() {
            let permit = tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                p = admit.clone().acquire_owned() => p.ok(),
            };
            let Some(permit) = permit else {
                summary.interrupted = true;
                summary
                    .outcomes
                    .extend(not_started(Arc::new(person), &targets, &*observer));
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
                profiles: profiles.clone(),
                observer: observer.clone(),
            };
            tasks.spawn(async move {
                let outcomes = ctx.run(person).await;
                drop(permit);
                outcomes
            });
        }
        for person in people {
            summary
                .outcomes
                .extend(not_started(Arc::new(person), &targets, &*observer));
        }
        while let Some(done) = tasks.join_next().await {
            collect(&mut summary, done);
        }

        for t in targets.iter() {
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
    }
}

struct PersonJob {
    pipeline: Pipeline,
    cpu: Arc<Semaphore>,
    targets: Arc<Vec<RunTarget>>,
    profiles: Arc<[Profile]>,
    observer: Arc<dyn Observer>,
}

impl PersonJob {
    async fn run(self, person: Arc<Person>) -> Vec<Outcome> {
        let processed = self.process(&person).await;
        self.observer.photo_done(&person, processed.as_ref());
        let processed = match processed {
            Ok(p) => Arc::new(p),
            Err(e) => {
                return self
                    .targets
                    .iter()
                    .map(|t| {
                        let mut o = outcome(
                            &person,
                            t,
                            t.target.subject(person.clone()).ok().map(|s| s.key),
                            Status::Failed,
                            Some(e.kind()),
                            format!("photo {}: {}", person.photo.display(), e.message()),
                        );
                        o.context = context_of(&e);
                        self.observer.outcome(&o);
                        o
                    })
                    .collect();
            }
        };
        let sends = self.targets.iter().map(|t| {
            let person = person.clone();
            let processed = processed.clone();
            let observer = self.observer.clone();
            async move {
                let o = send(&person, t, &processed).await;
                observer.outcome(&o);
                o
            }
        });
        futures::future::join_all(sends).await
    }

    async fn process(&self, person: &Arc<Person>) -> Result<Processed, Error> {
        let _cpu = self
            .cpu
            .acquire()
            .await
            .map_err(|_| Error::cancelled("the run is shutting down"))?;
        let pipeline = self.pipeline.clone();
        let path = person.photo.clone();
        let profiles = self.profiles.clone();
        tokio::task::spawn_blocking(move || pipeline.process(&path, &profiles))
            .await
            .unwrap_or_else(|e| Err(Error::internal(format!("photo worker failed: {e}"))))
    }
}

async fn send(person: &Arc<Person>, t: &RunTarget, processed: &Processed) -> Outcome {
    let caps = t.target.capabilities();
    let subject = match t.target.subject(person.clone()) {
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
    let result = t.target.put_photo(&subject, photo).await;
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

fn context_of(e: &Error) -> Vec<(String, String)> {
    e.context()
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
