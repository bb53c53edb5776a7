//! What `remove` and `export` share: every chosen person on every chosen target as one job of
//! the engine's delivery step ([`Deliverer::apply`]: backups, the change, the record), with
//! progress, Ctrl-C that lets work in flight finish, and the lines that print the outcome.

use std::collections::BTreeMap;
use std::sync::Arc;

use picday_core::engine::{Change, Deliverer, Delivery, Job, RunSummary, RunTarget, Status};
use picday_core::{ErrorKind, Outcome, Person, Subject};

use crate::history::History;
use crate::run::{Run, RunKind};
use crate::setup::Loaded;

/// The jobs of one change for people × targets, and the outcomes of the people a target could
/// not key (no value for its key column...), decided before anything is sent.
#[derive(Debug, Default)]
pub struct Planned {
    pub jobs: Vec<Job>,
    pub unkeyed: Vec<Outcome>,
}

/// Plans `change` for every person on every target. With `recorded`, each job carries the
/// delivery by which the state knows the person on the target (backups, and "send again"
/// after the change).
pub fn plan(
    people: &[Person],
    targets: &[RunTarget],
    recorded: bool,
    change: impl Fn() -> Change,
) -> Planned {
    let mut planned = Planned::default();
    for person in people {
        let person = Arc::new(person.clone());
        for (index, t) in targets.iter().enumerate() {
            match t.target.subject(person.clone()) {
                Ok(subject) => planned
                    .jobs
                    .push(job(index, t, subject, recorded, change())),
                Err(e) => {
                    let mut o = Outcome::new(&person, &t.name, None);
                    o.set_skipped(Some(e.kind()), e.message());
                    planned.unkeyed.push(o);
                }
            }
        }
    }
    planned
}

fn job(index: usize, t: &RunTarget, subject: Subject, recorded: bool, change: Change) -> Job {
    let delivery = recorded.then(|| Delivery {
        target: t.name.clone(),
        key: subject.key.clone(),
        person: subject.person.clone(),
        source: None,
        settings: Arc::from("no source photo"),
    });
    Job {
        target: index,
        subject,
        delivery,
        change,
        note: None,
        flags: Vec::new(),
    }
}

/// Opens the run of `command` in the state (only read on a dry run) and makes every planned
/// change; the caller writes the report with [`Run::finish`].
pub async fn run(
    loaded: &Loaded,
    command: &'static str,
    dry_run: bool,
    targets: &[RunTarget],
    planned: Planned,
    people: usize,
) -> anyhow::Result<(Run, RunSummary)> {
    let history = History::for_change(&loaded.config, command, dry_run)?;
    let kind = RunKind {
        command,
        forced: true,
        people,
        restored_from: None,
    };
    let run = Run::start(loaded, history, kind)?;
    let summary = apply(&run, targets, planned, people).await;
    Ok((run, summary))
}

/// Makes every planned change through the delivery step, with progress bars, and returns the
/// outcomes in mapping order.
async fn apply(run: &Run, targets: &[RunTarget], planned: Planned, people: usize) -> RunSummary {
    let bars = Arc::new(crate::progress::Bars::new(
        people,
        planned.jobs.len() + planned.unkeyed.len(),
    ));
    let observer = Arc::new(crate::thumbs::Tee(vec![bars.clone(), run.thumbs.clone()]));
    let deliverer = Arc::new(Deliverer::new(run.journal.clone(), observer));
    deliverer.record_all(&planned.unkeyed).await;
    let mut summary = deliverer.apply(targets, planned.jobs, &run.cancel).await;
    bars.finish();
    summary.outcomes.extend(planned.unkeyed);
    summary
        .outcomes
        .sort_by(|a, b| (a.person.origin.line, &a.target).cmp(&(b.person.origin.line, &b.target)));
    summary
}

/// Per target: how many outcomes said `sent`, were skipped for no fault (`nothing`), were
/// skipped for a reason that needs attention, and failed.
pub fn print_totals(summary: &RunSummary, sent: &str, nothing: &str) {
    let mut totals: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for o in &summary.outcomes {
        let t = totals.entry(o.target.as_str()).or_default();
        let slot = match (o.status, o.kind) {
            (Status::Sent, _) => 0,
            (Status::Skipped, None) => 1,
            (Status::Skipped, Some(_)) => 2,
            (Status::Failed, _) => 3,
        };
        t[slot] += 1;
    }
    for (target, [done, none, skipped, failed]) in totals {
        say!(
            "  {target:<16} {sent} {done:>5}   {nothing} {none:>5}   skipped {skipped:>5}   failed {failed:>5}"
        );
    }
}

/// The outcomes that need attention (failed, or skipped for a reason), one line each.
pub fn print_problems(summary: &RunSummary) {
    for o in summary
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Failed || (o.status == Status::Skipped && o.kind.is_some()))
    {
        if o.kind == Some(ErrorKind::Cancelled) {
            continue;
        }
        let who = o.key.clone().unwrap_or_else(|| o.person.label());
        let what = if o.status == Status::Failed {
            "failed"
        } else {
            "skipped"
        };
        say!(
            "  {what}: {who} [{}] {} ({})",
            o.target,
            o.reason,
            o.person.origin
        );
    }
    print_interrupted(summary, "command");
}

/// After Ctrl-C: how many deliveries were not started, and how to finish.
pub fn print_interrupted(summary: &RunSummary, command: &str) {
    if summary.interrupted {
        let left = summary
            .outcomes
            .iter()
            .filter(|o| o.kind == Some(ErrorKind::Cancelled))
            .count();
        say!("interrupted: {left} deliveries not started; run the same {command} again to finish");
    }
}

/// Whether a run of `remove` or `export` ended with something to look at.
pub fn partial(summary: &RunSummary, problems: usize) -> bool {
    problems > 0
        || summary.interrupted
        || summary.outcomes.iter().any(|o| {
            o.status == Status::Failed || (o.status == Status::Skipped && o.kind.is_some())
        })
}
