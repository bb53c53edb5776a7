//! `picday restore --run ID [--target NAME] [--only KEY]`: puts back the photos a run overwrote, from the
//! backups it took, and removes the photo where the person had none before.
//!
//! A restore is itself a run: it takes the state's lock, records its outcomes, writes its own
//! report, and backs up what it overwrites (so that a restore can be restored too). All of that
//! is the engine's delivery step ([`Deliverer`]); this command only turns backups into changes
//! and prints the result. Restored people are forgotten by the incremental check (the journal
//! does that for every change that no source photo made), so the next push sends them again.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use picday_core::Subject;
use picday_core::engine::{Change, Deliverer, Delivery, Job, Status};
use picday_core::state::Backup;

use crate::exit::Outcome;
use crate::history::History;
use crate::run::{Run, RunKind};
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run whose backups are put back (as listed by `picday status`).
    #[arg(long = "run", value_name = "ID")]
    pub run: String,
    /// Only this target.
    #[arg(long = "target", value_name = "NAME")]
    pub target: Option<String>,
    /// Only the people with this key on the target (as the report shows it); repeatable.
    #[arg(long = "only", value_name = "KEY")]
    pub only: Vec<String>,
}

pub async fn run(config_path: &Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let config = setup::config(config_path)?;
    setup::existing_state(&config)?;
    let history = History::for_change(&config, "restore", false)?;
    let state = history.state.clone().ok_or_else(|| anyhow!("no state"))?;
    setup::recorded_run(&state, &args.run)?;
    let mut backups = state.backups(&args.run, args.target.as_deref())?;
    if !args.only.is_empty() {
        backups.retain(|b| args.only.contains(&b.key));
    }
    if backups.is_empty() {
        let on = args.target.as_ref().map(|t| format!(" on target {t}"));
        let on = on.unwrap_or_default();
        if !args.only.is_empty() {
            let who = args.only.join(", ");
            let why = format!(
                "run {} took no backup of {who}{on}: nothing to restore",
                args.run
            );
            return Err(crate::exit::usage(why));
        }
        say!(
            "run {} took no backups{on}: nothing to restore (backups are taken on targets that \
             can read photos back, unless `backup = false`)",
            args.run
        );
        return Ok(Outcome::Ok);
    }
    let names: BTreeSet<String> = backups.iter().map(|b| b.target.clone()).collect();
    let loaded = setup::load(config_path, &names.into_iter().collect::<Vec<_>>())?;
    let targets = crate::run::stacked(&loaded, false);
    let jobs = backups
        .iter()
        .filter_map(|b| Some(job(b, targets.iter().position(|t| t.name == b.target)?)))
        .collect();
    let kind = RunKind {
        command: "restore",
        forced: true,
        people: backups.len(),
        restored_from: Some(&args.run),
    };
    let run = Run::start(&loaded, history, kind)?;
    let deliverer = Arc::new(Deliverer::new(run.journal.clone(), run.thumbs.clone()));
    let mut summary = deliverer.apply(&targets, jobs, &run.cancel).await;
    summary
        .notes
        .insert(0, format!("restore of run {}", args.run));
    let count = summary.outcomes.len();
    let report = run.finish(&config.path, false, count, &[], &summary)?;
    let failed = summary.count(Status::Failed);
    if json {
        let line = serde_json::json!({"run_id": report.run_id, "restored_from": args.run,
            "report_dir": run.dir, "totals": report.totals, "ok": failed == 0});
        say!("{}", serde_json::to_string_pretty(&line)?);
        return Ok(Outcome::partial_if(failed > 0));
    }
    let (from, id) = (&args.run, &report.run_id);
    say!("picday restore of run {from} (run {id}):");
    for (target, t) in &report.totals {
        say!(
            "  {target:<16} restored {:>5}   failed {:>5}",
            t.sent,
            t.failed
        );
    }
    for o in summary
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
    {
        let key = o.key.as_deref().unwrap_or("?");
        say!("  failed: {key} [{}] {}", o.target, o.reason);
    }
    for note in &summary.notes[1..] {
        say!("  note: {note}");
    }
    say!("report: {}", run.dir.join("report.html").display());
    Ok(Outcome::partial_if(failed > 0))
}

/// The change that puts one backup back: its photo, or a removal where there was none.
fn job(b: &Backup, target: usize) -> Job {
    let (change, note) = match &b.file {
        Some(path) => (
            Change::PutSaved(path.clone()),
            format!("restored the photo saved by run {}", b.run_id),
        ),
        None => (
            Change::Delete,
            format!("removed the photo (there was none before run {})", b.run_id),
        ),
    };
    Job {
        target,
        subject: Subject::new(b.key.clone(), b.person.clone()),
        delivery: Some(Delivery {
            target: b.target.clone(),
            key: b.key.clone(),
            person: b.person.clone(),
            source: None,
            settings: Arc::from("restore"),
        }),
        change,
        note: Some(note),
        flags: b
            .from_run
            .as_ref()
            .map(|r| vec![format!("backup taken by run {r}, which was interrupted")])
            .unwrap_or_default(),
    }
}
