//! `picday report --run ID`: writes a run's report again (HTML, JSON, CSV) from the state,
//! e.g. after the report folder was deleted, or for a run that was killed before it wrote one.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use picday_core::Config;
use picday_core::engine::RunSummary;
use picday_core::state::State;

use crate::report::Report;
use crate::{Outcome, UsageError};

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
    let config = Config::load(config_path).map_err(|e| UsageError(anyhow!("{e}")))?;
    let state = State::open_existing(&config.base_dir)?.ok_or_else(|| {
        UsageError(anyhow!(
            "no state beside {}: nothing has been pushed with this configuration",
            config.path.display()
        ))
    })?;
    let Some(record) = state.run(&args.run)? else {
        let known: Vec<String> = state.runs(5)?.into_iter().map(|r| r.id).collect();
        return Err(UsageError(anyhow!(
            "no run {} in {}; recent runs: {}",
            args.run,
            state.path().display(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ))
        .into());
    };
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
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run_id": record.id, "report_dir": dir, "totals": report.totals,
            }))?
        );
    } else {
        println!(
            "report of run {} ({}, {}): {}",
            record.id,
            record.command,
            record.status,
            dir.join("report.html").display()
        );
    }
    Ok(Outcome::Ok)
}
