//! What every command that changes photos shares: the targets stacked as the configuration
//! says, the run opened in the state with its report folder, Ctrl-C that lets work in flight
//! finish, and the report written and the run closed at the end. `push`, `restore` and the
//! commands after them keep only their own arguments and output.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use picday_core::engine::{Journal, RunSummary, RunTarget};
use picday_core::layers::{self, RetryPolicy, StackOptions};
use picday_core::source::RowProblem;
use picday_core::state::NewRun;
use tokio_util::sync::CancellationToken;

use crate::history::History;
use crate::report::{self, Report};
use crate::setup::Loaded;
use crate::thumbs::Thumbs;

/// The enabled targets, each wrapped in the standard layers with the run's retry settings.
pub fn stacked(loaded: &Loaded, dry_run: bool) -> Vec<RunTarget> {
    let options = StackOptions {
        retry: RetryPolicy {
            max_attempts: loaded.config.run.max_attempts.max(1),
            ..RetryPolicy::default()
        },
        dry_run,
        ..StackOptions::default()
    };
    loaded
        .targets
        .iter()
        .map(|(name, t)| RunTarget {
            name: name.clone(),
            target: layers::stack(t.clone(), &options),
        })
        .collect()
}

/// What one command's run is while it runs.
#[derive(Debug)]
pub struct Run {
    pub id: String,
    /// The report folder.
    pub dir: PathBuf,
    started: String,
    history: History,
    /// `None` when nothing is recorded (no state on a dry run).
    pub journal: Option<Arc<dyn Journal>>,
    /// Thumbnails for the HTML report; an observer of the engine.
    pub thumbs: Arc<Thumbs>,
    /// Cancelled by Ctrl-C.
    pub cancel: CancellationToken,
}

/// How a run is recorded.
#[derive(Debug, Clone, Copy)]
pub struct RunKind<'a> {
    pub command: &'static str,
    pub forced: bool,
    pub people: usize,
    pub restored_from: Option<&'a str>,
}

impl Run {
    /// Names the run, records its start in the state and starts the report's thumbnails.
    pub fn start(loaded: &Loaded, history: History, kind: RunKind<'_>) -> anyhow::Result<Run> {
        let started = report::now_rfc3339();
        let config = &loaded.config;
        let (id, dir) = history.new_run(&config.base_dir.join(&config.run.report_dir));
        let journal = history.begin(&NewRun {
            id: &id,
            command: kind.command,
            started: &started,
            config: &config.path,
            forced: kind.forced,
            people: kind.people,
            restored_from: kind.restored_from,
        })?;
        for crashed in history.crashed_runs() {
            tell!("note: run {crashed} did not finish (killed?); this run finishes its work");
        }
        let thumbs = Thumbs::start(&dir);
        let cancel = CancellationToken::new();
        on_ctrl_c(cancel.clone());
        Ok(Run {
            id,
            dir,
            started,
            history,
            journal,
            thumbs,
            cancel,
        })
    }

    /// Writes the report and closes the run in the state.
    pub fn finish<'a>(
        &self,
        config: &Path,
        dry_run: bool,
        people: usize,
        problems: &'a [RowProblem],
        summary: &'a RunSummary,
    ) -> anyhow::Result<Report<'a>> {
        self.thumbs.finish();
        let report = Report::new(
            self.id.clone(),
            self.started.clone(),
            config,
            dry_run,
            people,
            problems,
            summary,
        );
        for (target, t) in &report.totals {
            tracing::info!(
                "{target}: sent {}, unchanged {}, skipped {}, failed {}",
                t.sent,
                t.unchanged,
                t.skipped - t.unchanged,
                t.failed
            );
        }
        report.write(&self.dir)?;
        self.history
            .finish(&report.run_id, summary, &self.dir, problems)?;
        Ok(report)
    }
}

/// The first Ctrl-C cancels (work in flight finishes, the report is written); a second one
/// exits at once.
fn on_ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tell!(
                "\ninterrupted: finishing the work in flight, then writing the report (Ctrl-C again to abort)"
            );
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}
