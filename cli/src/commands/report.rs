//! `picday report --run ID`: writes a run's report again (HTML, JSON, CSV) from the state,
//! e.g. after the report folder was deleted, or for a run that was killed before it wrote one.

use std::path::{Path, PathBuf};

use picday_core::engine::RunSummary;

use crate::exit::Outcome;
use crate::report::Report;
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (as listed by `picday status`).
    #[arg(long = "run", value_name = "ID")]
    pub run: String,
    /// Where to write it; by default the run's report folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(config_path: &Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let config = setup::config(config_path)?;
    let state = setup::existing_state(&config)?;
    let record = setup::recorded_run(&state, &args.run)?;
    let (problems, notes) = state.run_extras(&record.id)?;
    let summary = RunSummary {
        outcomes: state.outcomes(&record.id)?,
        interrupted: record.status != "finished",
        notes,
    };
    let dir = args.out.unwrap_or_else(|| {
        record.report_dir.as_ref().map_or_else(
            || {
                config
                    .base_dir
                    .join(&config.run.report_dir)
                    .join(&record.id)
            },
            PathBuf::from,
        )
    });
    let mut report = Report::new(
        record.id.clone(),
        record.started.clone(),
        &config.path,
        record.dry_run,
        record.people as usize,
        &problems,
        &summary,
    );
    report.finished = record
        .finished
        .clone()
        .unwrap_or_else(|| format!("never ({})", record.status));
    report.write(&dir)?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run_id": record.id, "report_dir": dir, "totals": report.totals,
            }))?
        );
    } else {
        say!(
            "report of run {} ({}, {}): {}",
            record.id,
            record.command,
            record.status,
            dir.join("report.html").display()
        );
    }
    Ok(Outcome::Ok)
}
