//! The run state as the commands use it: open it (or refuse, with the reason), name the run,
//! hand the engine its journal, and close the run with its report folder.
//!
//! Kept out of the command modules so that `push` needs only a few lines for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use picday_core::Config;
use picday_core::engine::{Journal, RunSummary, Status};
use picday_core::source::RowProblem;
use picday_core::state::{JournalOptions, NewRun, State};

/// The state of one command's run. Dry runs read the state (to say what would be skipped) but
/// record nothing and take no lock.
#[derive(Debug)]
pub struct History {
    pub state: Option<Arc<State>>,
    options: JournalOptions,
}

/// Says so when the state would be kept on a network share (see [`crate::netfs`]).
fn warn_if_shared(config: &Config) {
    if let Some(warning) = crate::netfs::warning(&config.base_dir) {
        tell!("warning: {warning}");
    }
}

impl History {
    /// Opens the state beside `config` for a push.
    pub fn for_push(config: &Config, dry_run: bool, force: bool) -> anyhow::Result<History> {
        if !dry_run {
            warn_if_shared(config);
        }
        let state = if dry_run {
            State::open_existing(&config.base_dir)?.map(Arc::new)
        } else {
            Some(Arc::new(State::open(&config.base_dir, "push")?))
        };
        Ok(History {
            state,
            options: JournalOptions {
                force,
                backups: config.run.backup && !dry_run,
                record: !dry_run,
            },
        })
    }

    /// Opens the state beside `config` for a command that changes targets (restore, remove)
    /// or reads them (export). A dry run reads the state only, like a push's.
    pub fn for_change(config: &Config, what: &str, dry_run: bool) -> anyhow::Result<History> {
        if dry_run {
            return Self::for_push(config, true, true);
        }
        warn_if_shared(config);
        Ok(History {
            state: Some(Arc::new(State::open(&config.base_dir, what)?)),
            options: JournalOptions {
                force: true,
                backups: config.run.backup,
                record: true,
            },
        })
    }

    /// A new run id and its report folder, unique among report folders and recorded runs.
    pub fn new_run(&self, reports: &Path) -> (String, PathBuf) {
        loop {
            let (id, dir) = crate::report::new_run_dir(reports);
            let taken = self
                .state
                .as_ref()
                .is_some_and(|s| s.has_run(&id).unwrap_or(false));
            if !taken {
                return (id, dir);
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }

    /// Records the start of a run and returns the engine's journal.
    pub fn begin(&self, run: &NewRun<'_>) -> anyhow::Result<Option<Arc<dyn Journal>>> {
        let Some(state) = &self.state else {
            return Ok(None);
        };
        if self.options.record {
            state.begin_run(run)?;
        }
        Ok(Some(Arc::new(state.journal(run.id, self.options))))
    }

    /// Runs a killed earlier push left unfinished (this run finishes them).
    pub fn crashed_runs(&self) -> &[String] {
        self.state.as_ref().map_or(&[], |s| s.crashed_runs())
    }

    /// Records the end of a run.
    pub fn finish(
        &self,
        run_id: &str,
        summary: &RunSummary,
        report_dir: &Path,
        problems: &[RowProblem],
    ) -> anyhow::Result<()> {
        if let Some(state) = &self.state
            && self.options.record
        {
            state.finish_run(
                run_id,
                summary.interrupted,
                Some(report_dir),
                problems,
                &summary.notes,
            )?;
        }
        Ok(())
    }
}

/// What a push says about unchanged people: how many, since which run, and that nothing was
/// written when nothing was.
pub fn unchanged_lines(summary: &RunSummary, dry_run: bool) -> Vec<String> {
    let unchanged: Vec<&str> = summary
        .outcomes
        .iter()
        .filter_map(|o| o.unchanged_since.as_deref())
        .collect();
    if unchanged.is_empty() {
        return Vec::new();
    }
    let mut runs: Vec<&str> = unchanged.clone();
    runs.sort_unstable();
    runs.dedup();
    let since = match runs.as_slice() {
        [one] => format!("run {one}"),
        many => format!("runs {}", many.join(", ")),
    };
    let writes = summary
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Sent)
        .count();
    let failed_or_skipped = summary
        .outcomes
        .iter()
        .any(|o| o.status != Status::Sent && o.unchanged_since.is_none());
    let mut lines = vec![format!(
        "unchanged: {} deliveries skipped, already sent by {since} (use --force to send them anyway)",
        unchanged.len()
    )];
    if writes == 0 && !failed_or_skipped {
        lines.push(if dry_run {
            "nothing would be sent: every person is unchanged".into()
        } else {
            "nothing to do: every person is unchanged, no remote write was made".into()
        });
    }
    lines
}
