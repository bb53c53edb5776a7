//! `picday remove`: takes photos down from the targets that can delete them, for the people
//! who opted out (`--opted-out`), named ones (`--only KEY`) or a list of leavers
//! (`--from FILE`).
//!
//! Every removal goes through the engine's delivery step: the photo is saved first, then
//! removed, and the outcome recorded, so the removal is a run that `picday restore --run ID`
//! undoes. A person with no photo is "nothing to remove", not an error. Targets that cannot
//! delete (SIS import packages) say how to do it where they send photos. Removing is asked for
//! on a terminal; scripts pass `--yes`.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use picday_core::Person;
use picday_core::engine::{Change, RunTarget, Status};
use picday_core::source::{self, RowProblem};

use super::apply::{self, plan};
use crate::exit::{Outcome, usage};
use crate::setup::{self, Loaded};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The people the mapping marks as opted out (`[source] opt_out`).
    #[arg(long)]
    pub opted_out: bool,
    /// People of the mapping with a column equal to KEY (a mail, a student id...); repeatable.
    #[arg(long = "only", value_name = "KEY")]
    pub only: Vec<String>,
    /// The people of this CSV (a header row with the targets' key columns): leavers.
    #[arg(long = "from", value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Only these targets (by their [targets.NAME]); repeatable.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Do not ask for confirmation (for scripts).
    #[arg(long)]
    pub yes: bool,
    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(config_path: &Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    if !args.opted_out && args.only.is_empty() && args.from.is_none() {
        return Err(usage(
            "say whose photos to remove: --opted-out, --only KEY or --from FILE",
        ));
    }
    let loaded = setup::load(config_path, &args.targets)?;
    let (people, problems) = whom(&loaded, &args)?;
    let (targets, cannot): (Vec<RunTarget>, Vec<RunTarget>) =
        crate::run::stacked(&loaded, args.dry_run)
            .into_iter()
            .partition(|t| t.target.info().capabilities.delete);
    for t in &cannot {
        let info = t.target.info();
        let advice = info
            .delete_advice
            .clone()
            .unwrap_or_else(|| format!("the {} target cannot remove photos", info.type_name));
        eprintln!("note: {}: {advice}", t.name);
    }
    for p in &problems {
        eprintln!(
            "left out: {} {}: {}; {}",
            p.origin, p.person, p.message, p.advice
        );
    }
    if targets.is_empty() {
        say!("nothing removed: none of the chosen targets can remove photos");
        return Ok(Outcome::partial_if(!problems.is_empty()));
    }
    if people.is_empty() {
        say!("nothing to remove: nobody is chosen");
        return Ok(Outcome::partial_if(!problems.is_empty()));
    }
    let planned = plan(&people, &targets, true, || Change::Remove);
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let question = format!(
        "remove the photos of {} {} from {} (at most {} photos; each is saved first, `picday restore --run ID` puts them back)?",
        people.len(),
        if people.len() == 1 {
            "person"
        } else {
            "people"
        },
        names.join(", "),
        planned.jobs.len()
    );
    if !args.dry_run && !args.yes && !confirm(&question)? {
        say!("nothing removed");
        return Ok(Outcome::Ok);
    }
    let (run, summary) = apply::run(
        &loaded,
        "remove",
        args.dry_run,
        &targets,
        planned,
        people.len(),
    )
    .await?;
    let report = run.finish(
        &loaded.config.path,
        args.dry_run,
        people.len(),
        &problems,
        &summary,
    )?;
    let partial = apply::partial(&summary, problems.len());
    if json {
        let line = serde_json::json!({"run_id": report.run_id, "report_dir": run.dir,
            "dry_run": args.dry_run, "interrupted": summary.interrupted,
            "people": people.len(), "problems": problems.len(),
            "totals": report.totals, "ok": !partial});
        say!("{}", serde_json::to_string_pretty(&line)?);
        return Ok(Outcome::partial_if(partial));
    }
    say!(
        "picday remove{} (run {}): {} people",
        if args.dry_run { " (dry run)" } else { "" },
        report.run_id,
        people.len()
    );
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    apply::print_totals(&summary, verb, "nothing to remove");
    apply::print_problems(&summary);
    let removed = summary.count(Status::Sent);
    if removed > 0 && !args.dry_run {
        say!("to put them back: picday restore --run {}", report.run_id);
    }
    say!("report: {}", run.dir.join("report.html").display());
    Ok(Outcome::partial_if(partial))
}

/// The people whose photos are to go, and the rows left out on the way.
fn whom(loaded: &Loaded, args: &Args) -> anyhow::Result<(Vec<Person>, Vec<RowProblem>)> {
    let mut people: Vec<Person> = Vec::new();
    let mut problems = Vec::new();
    if args.opted_out || !args.only.is_empty() {
        let mapping = loaded.input()?.mapping;
        problems.extend(mapping.problems);
        if args.opted_out {
            let Some(opt_out) = loaded.config.source.opt_out.clone() else {
                return Err(usage(format_args!(
                    "--opted-out: {} has no `opt_out` in [source] (e.g. opt_out = \"{{photo_opt_out}}\")",
                    loaded.config.path.display()
                )));
            };
            let opt_out = source::OptOut::new(opt_out);
            people.extend(
                mapping
                    .people
                    .iter()
                    .filter(|p| opt_out.answer(p) == Ok(true))
                    .cloned(),
            );
        }
        if let Some(lines) = super::push::select(&mapping.people, &args.only)? {
            people.extend(
                mapping
                    .people
                    .iter()
                    .filter(|p| lines.contains(&p.origin.line))
                    .cloned(),
            );
        }
    }
    if let Some(file) = &args.from {
        let list = source::csv::read_list(file, &loaded.key_fields()).map_err(usage)?;
        for note in &list.notes {
            eprintln!("note: {note}");
        }
        problems.extend(list.problems);
        people.extend(list.people);
    }
    // One person chosen twice (opted out and named) is removed once.
    let mut seen = BTreeSet::new();
    people.retain(|p| seen.insert((p.origin.file.clone(), p.origin.line)));
    Ok((people, problems))
}

/// Asks on the terminal; without one, refuses (a script says `--yes`).
fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(usage(format_args!(
            "{question} Not asked: standard input is not a terminal; pass --yes to remove without asking, or --dry-run to see what would be removed"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
