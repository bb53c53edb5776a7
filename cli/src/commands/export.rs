//! `picday export --target NAME --dir DIR`: reads every mapped person's current photo from a
//! target into `DIR/<key>.jpg`, byte for byte as the service returned it, and reports who has
//! none, who the service does not know, and each photo's size (and age, where the service
//! says). It changes nothing remote: it is also the "back everything up before the first run"
//! step. The reads go through the engine's delivery step (concurrency, throttling, retries,
//! Ctrl-C, the report and its contact sheet), as `Change::Export`.

use std::path::{Path, PathBuf};

use picday_core::ErrorKind;
use picday_core::engine::{Change, Status};

use super::apply::{self, plan};
use crate::exit::{Outcome, usage};
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The target to read (its [targets.NAME]).
    #[arg(long = "target", value_name = "NAME")]
    pub target: String,
    /// Where the photos are written, as `<key>.jpg` (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Only people with a column equal to KEY; repeatable.
    #[arg(long = "only", value_name = "KEY")]
    pub only: Vec<String>,
}

pub async fn run(config_path: &Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let loaded = setup::load(config_path, std::slice::from_ref(&args.target))?;
    let targets = crate::run::stacked(&loaded, false);
    if let Some(t) = targets
        .iter()
        .find(|t| !t.target.info().capabilities.read_back)
    {
        return Err(usage(format_args!(
            "--target {}: the {} target cannot read photos back, so there is nothing to export",
            t.name,
            t.target.info().type_name
        )));
    }
    let mapping = loaded.input()?.mapping;
    let mut people = mapping.people;
    if let Some(lines) = super::push::select(&people, &args.only)? {
        people.retain(|p| lines.contains(&p.origin.line));
    }
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| usage(format_args!("--dir {}: {e}", args.dir.display())))?;
    let dir = std::path::absolute(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let planned = plan(&people, &targets, false, || Change::Export(dir.clone()));
    let (run, summary) =
        apply::run(&loaded, "export", false, &targets, planned, people.len()).await?;
    let report = run.finish(
        &loaded.config.path,
        false,
        people.len(),
        &mapping.problems,
        &summary,
    )?;
    let keys = |pick: &dyn Fn(&picday_core::Outcome) -> bool| -> Vec<String> {
        summary
            .outcomes
            .iter()
            .filter(|o| pick(o))
            .map(|o| o.key.clone().unwrap_or_else(|| o.person.label()))
            .collect()
    };
    let none = keys(&|o| o.status == Status::Skipped && o.kind.is_none());
    let unknown = keys(&|o| o.status == Status::Failed && o.kind == Some(ErrorKind::NotFound));
    let partial = apply::partial(&summary, mapping.problems.len());
    if json {
        let line = serde_json::json!({"run_id": report.run_id, "report_dir": run.dir,
            "dir": dir, "interrupted": summary.interrupted, "people": people.len(),
            "exported": summary.count(Status::Sent), "no_photo": none, "not_found": unknown,
            "problems": mapping.problems.len(), "totals": report.totals, "ok": !partial});
        say!("{}", serde_json::to_string_pretty(&line)?);
        return Ok(Outcome::partial_if(partial));
    }
    say!(
        "picday export of {} into {} (run {}): {} people",
        args.target,
        dir.display(),
        report.run_id,
        people.len()
    );
    apply::print_totals(&summary, "exported", "no photo");
    if !none.is_empty() {
        say!("no photo ({}): {}", none.len(), none.join(", "));
    }
    apply::print_problems(&summary);
    if !mapping.problems.is_empty() {
        say!(
            "{} rows of the mapping were left out (see `picday check`)",
            mapping.problems.len()
        );
    }
    say!("report: {}", run.dir.join("report.html").display());
    Ok(Outcome::partial_if(partial))
}
