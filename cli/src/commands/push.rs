//! `picday push`: the run. Every person's photo is normalised once and sent to every enabled
//! target through the standard layers (contract, dry-run, retry, throttle); a report folder is written
//! whatever happens, Ctrl-C included.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use picday_core::engine::{RunSummary, Status};
use picday_core::source::RowProblem;
use picday_core::{ErrorKind, Person};

use crate::exit::{Outcome, usage};
use crate::report::Report;
use crate::run::{Run, RunKind};
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do everything but send: photos are processed and targets checked, nothing is written.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these targets (by their [targets.NAME]); repeatable.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Only people with a column equal to KEY (a mail, a student id...); repeatable.
    #[arg(long = "only", value_name = "KEY")]
    pub only: Vec<String>,
    /// Send photos even when the same file was delivered for several people (by default such
    /// a "no photo" placeholder is held back for review).
    #[arg(long)]
    pub allow_shared_photos: bool,
    /// Send every photo, even to targets that already have it unchanged since an earlier run.
    #[arg(long)]
    pub force: bool,
    /// Send only to people the target has no photo for (asked cheaply, before the photo is
    /// read): the "add only" run, for new enrolments mid-year.
    #[arg(long)]
    pub missing_only: bool,
}

pub async fn run(config_path: &std::path::Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let loaded = setup::load(config_path, &args.targets)?;
    let mut mapping = loaded.input()?.mapping;
    // Chosen before placeholders are held back, so that `--only` can name a held-back person.
    let chosen = select(&mapping.people, &args.only)?;
    if !args.allow_shared_photos {
        picday_core::source::hold_back_shared_photos(&mut mapping);
    }
    if let Some(lines) = chosen {
        mapping.people.retain(|p| lines.contains(&p.origin.line));
        // Rows left out that are not about the people asked for are not this run's business.
        mapping.problems.retain(|p| {
            lines.contains(&p.origin.line)
                || args
                    .only
                    .iter()
                    .any(|k| p.person.eq_ignore_ascii_case(k.trim()))
        });
    }
    let people = std::mem::take(&mut mapping.people);

    let targets = crate::run::stacked(&loaded, args.dry_run);

    // The run state: unchanged people are skipped, outcomes recorded as they happen.
    let history = crate::history::History::for_push(&loaded.config, args.dry_run, args.force)?;
    let count = people.len();
    let kind = RunKind {
        command: "push",
        forced: args.force,
        people: count,
        restored_from: None,
    };
    let run = Run::start(&loaded, history, kind)?;
    let bars = Arc::new(crate::progress::Bars::new(count, count * targets.len()));
    let mut engine = super::engine(&loaded.config);
    engine.journal = run.journal.clone();
    engine.missing_only = args.missing_only;
    engine.review = super::review_book(&loaded)?;
    let observer = Arc::new(crate::thumbs::Tee(vec![bars.clone(), run.thumbs.clone()]));
    let summary = engine
        .run(people, targets, observer, run.cancel.clone())
        .await;
    bars.finish();
    let report = run.finish(
        &loaded.config.path,
        args.dry_run,
        count,
        &mapping.problems,
        &summary,
    )?;
    let dir = &run.dir;

    let partial = !mapping.problems.is_empty()
        || summary.interrupted
        || summary.outcomes.iter().any(|o| {
            o.status == Status::Failed
                || (o.status == Status::Skipped
                    && o.kind
                        .is_some_and(|k| k != ErrorKind::Cancelled || summary.interrupted))
        });
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run_id": report.run_id,
                "report_dir": dir,
                "dry_run": args.dry_run,
                "interrupted": summary.interrupted,
                "people": count,
                "problems": mapping.problems.len(),
                "totals": report.totals,
                "ok": !partial,
            }))?
        );
    } else {
        for note in &mapping.notes {
            say!("note: {note}");
        }
        print_human(&summary, &mapping.problems, &report, args.dry_run);
        for line in crate::history::unchanged_lines(&summary, args.dry_run) {
            say!("{line}");
        }
        say!("report: {}", dir.join("report.html").display());
    }
    Ok(Outcome::partial_if(partial))
}

/// The mapping lines of the people named by `--only` (`None`: everyone). A key that matches
/// no one is a usage error.
pub(crate) fn select(people: &[Person], only: &[String]) -> anyhow::Result<Option<HashSet<u64>>> {
    if only.is_empty() {
        return Ok(None);
    }
    let matches = |p: &Person, key: &str| {
        p.fields
            .values()
            .any(|v| v.trim().eq_ignore_ascii_case(key.trim()))
    };
    for key in only {
        if !people.iter().any(|p| matches(p, key)) {
            return Err(usage(format_args!(
                "--only {key}: nobody in the mapping has this value"
            )));
        }
    }
    Ok(Some(
        people
            .iter()
            .filter(|p| only.iter().any(|k| matches(p, k)))
            .map(|p| p.origin.line)
            .collect(),
    ))
}

fn print_human(summary: &RunSummary, problems: &[RowProblem], report: &Report<'_>, dry_run: bool) {
    let verb = if dry_run { "would send" } else { "sent" };
    say!(
        "picday push{}: {} people, {} rows left out",
        if dry_run { " (dry run)" } else { "" },
        report.people,
        problems.len()
    );
    for (target, t) in &report.totals {
        say!(
            "  {target:<16} {verb} {:>5}   unchanged {:>5}   skipped {:>5}   failed {:>5}",
            t.sent,
            t.unchanged,
            t.skipped - t.unchanged,
            t.failed
        );
    }
    for note in &summary.notes {
        say!("  {note}");
    }
    let retakes: std::collections::BTreeSet<u64> = summary
        .outcomes
        .iter()
        .filter(|o| o.reason == picday_core::engine::RETAKE)
        .map(|o| o.person.origin.line)
        .collect();
    if !retakes.is_empty() {
        say!(
            "  {} marked for a retake on the review page: not sent (review.toml)",
            retakes.len()
        );
    }
    if !problems.is_empty() {
        say!("rows left out:");
        for p in problems {
            say!(
                "  {} {}: {}; {}",
                p.origin,
                display_person(&p.person),
                p.message,
                p.advice
            );
        }
    }
    // Group a person's identical failures across targets into one line.
    let mut lines: BTreeMap<(u64, String, String), Vec<&str>> = BTreeMap::new();
    for o in summary.outcomes.iter().filter(|o| o.status != Status::Sent) {
        if o.kind == Some(ErrorKind::Cancelled) || o.unchanged_since.is_some() {
            continue;
        }
        let head = format!("{} {}", o.person.origin, display_person(&o.person.label()));
        let status = if o.status == Status::Failed {
            "failed"
        } else {
            "skipped"
        };
        lines
            .entry((
                o.person.origin.line,
                head,
                format!("{status}: {}", o.reason),
            ))
            .or_default()
            .push(&o.target);
    }
    if !lines.is_empty() {
        say!("not sent:");
        for ((_, head, reason), targets) in lines {
            say!("  {head} [{}] {reason}", targets.join(", "));
        }
    }
    let opted: Vec<&picday_core::Outcome> = summary
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Skipped && o.reason.starts_with(OPTED_OUT))
        .collect();
    if !opted.is_empty() {
        let people: std::collections::BTreeSet<u64> =
            opted.iter().map(|o| o.person.origin.line).collect();
        let held: Vec<&str> = opted
            .iter()
            .filter(|o| o.reason.contains("still holds"))
            .filter_map(|o| o.key.as_deref())
            .collect();
        say!("opted out: {} people, nothing sent to them", people.len());
        if !held.is_empty() {
            say!(
                "  {} photos of opted-out people are still on targets ({}): take them down with `picday remove --opted-out`",
                held.len(),
                held.join(", ")
            );
        }
    }
    super::apply::print_interrupted(summary, "push");
}

/// How the engine's reason for an opted-out person begins.
const OPTED_OUT: &str = "opted out";

fn display_person(label: &str) -> String {
    if label.is_empty() {
        "(unknown)".into()
    } else {
        label.to_string()
    }
}
