//! `picday status`: what the state remembers — recent runs, and per target how many people
//! have picday's photo and how the latest run went.

use std::path::Path;

use picday_core::state::State;

use crate::exit::Outcome;
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many recent runs to show.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
}

pub fn run(config_path: &Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let config = setup::config(config_path)?;
    let Some(state) = State::open_existing(&config.base_dir)? else {
        if json {
            say!(
                "{}",
                serde_json::json!({ "state": null, "runs": [], "targets": [] })
            );
        } else {
            say!(
                "no state yet ({}): nothing has been pushed with this configuration",
                State::dir_of(&config.base_dir)
                    .join(picday_core::state::FILE)
                    .display()
            );
        }
        return Ok(Outcome::Ok);
    };
    let runs = state.runs(args.runs)?;
    let targets = state.target_counts()?;
    let mut run_rows = Vec::new();
    for r in &runs {
        let (sent, unchanged, skipped, failed) = state.run_totals(&r.id)?;
        run_rows.push((r, sent, unchanged, skipped, failed));
    }
    if json {
        let runs: Vec<_> = run_rows
            .iter()
            .map(|(r, sent, unchanged, skipped, failed)| {
                serde_json::json!({
                    "run": r, "sent": sent, "unchanged": unchanged,
                    "skipped": skipped, "failed": failed,
                })
            })
            .collect();
        say!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "state": state.path(),
                "runs": runs,
                "targets": targets,
            }))?
        );
        return Ok(Outcome::Ok);
    }
    say!("state: {}", state.path().display());
    if runs.is_empty() {
        say!("no runs yet");
    } else {
        say!("recent runs (newest first):");
        say!(
            "  {:<20} {:<8} {:<12} {:>6} {:>9} {:>7} {:>6}  started",
            "run",
            "command",
            "status",
            "sent",
            "unchanged",
            "skipped",
            "failed"
        );
        for (r, sent, unchanged, skipped, failed) in &run_rows {
            let mut what = r.command.clone();
            if let Some(from) = &r.restored_from {
                what = format!("{what} {from}");
            }
            say!(
                "  {:<20} {:<8} {:<12} {sent:>6} {unchanged:>9} {skipped:>7} {failed:>6}  {}",
                r.id,
                what,
                r.status,
                r.started
            );
        }
        if runs.iter().any(|r| r.status == "crashed") {
            say!("  (crashed: killed before it finished; the next push finished its work)");
        }
    }
    if !targets.is_empty() {
        say!("targets:");
        for t in &targets {
            let last = match &t.last_run {
                Some(run) => format!(
                    "last run {run}: sent {}, unchanged {}, skipped {}, failed {}",
                    t.last_sent, t.last_unchanged, t.last_skipped, t.last_failed
                ),
                None => "no run yet".into(),
            };
            say!(
                "  {:<16} {:>6} people have picday's photo   {last}",
                t.target,
                t.current
            );
        }
    }
    Ok(Outcome::Ok)
}
