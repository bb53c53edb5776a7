//! `picday restore --run ID [--target NAME]`: puts back the photos a run overwrote, from the
//! backups it took, and removes the photo where the person had none before.
//!
//! A restore is itself a run: it takes the state's lock, records its outcomes, writes its own
//! report, and backs up what it overwrites (so that a restore can be restored too). Restored
//! people are forgotten by the incremental check, so the next push sends them again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use picday_core::engine::{Delivery, Journal, PhotoSummary, RunSummary, Status};
use picday_core::layers::{self, RetryPolicy, StackOptions};
use picday_core::state::{Backup, NewRun, State};
use picday_core::{Config, Error, Photo, Receipt, Subject, Target};
use tokio::sync::Semaphore;

use crate::report::{self, Report};
use crate::thumbs::Thumbs;
use crate::{Outcome, UsageError, setup};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run whose backups are put back (as listed by `picday status`).
    #[arg(long = "run", value_name = "ID")]
    pub run: String,
    /// Only this target.
    #[arg(long = "target", value_name = "NAME")]
    pub target: Option<String>,
}

pub async fn run(config_path: &Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let started = report::now_rfc3339();
    let config = Config::load(config_path).map_err(|e| UsageError(anyhow!("{e}")))?;
    if State::open_existing(&config.base_dir)?.is_none() {
        return Err(UsageError(anyhow!(
            "no state beside {}: there is nothing to restore",
            config.path.display()
        ))
        .into());
    }
    let history = crate::history::History::for_change(&config, "restore")?;
    let state = history
        .state
        .clone()
        .ok_or_else(|| anyhow!("the state is not open"))?;
    if state.run(&args.run)?.is_none() {
        return Err(UsageError(anyhow!(
            "no run {} in {} (see `picday status`)",
            args.run,
            state.path().display()
        ))
        .into());
    }
    let backups = state.backups(&args.run, args.target.as_deref())?;
    if backups.is_empty() {
        println!(
            "run {} took no backups{}: nothing to restore (backups are taken on targets that can \
             read photos back, unless `backup = false`)",
            args.run,
            args.target
                .as_ref()
                .map_or(String::new(), |t| format!(" on target {t}"))
        );
        return Ok(Outcome::Ok);
    }
    let names: Vec<String> = backups
        .iter()
        .map(|b| b.target.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let loaded = setup::load(config_path, &names)?;
    let options = StackOptions {
        retry: RetryPolicy {
            max_attempts: config.run.max_attempts.max(1),
            ..RetryPolicy::default()
        },
        ..StackOptions::default()
    };
    let targets: BTreeMap<String, (Arc<dyn Target>, Arc<Semaphore>)> = loaded
        .targets
        .iter()
        .map(|(name, t)| {
            let permits = t.capabilities().max_concurrency.max(1);
            (
                name.clone(),
                (
                    layers::stack(t.clone(), &options),
                    Arc::new(Semaphore::new(permits)),
                ),
            )
        })
        .collect();

    let base = config.base_dir.join(&config.run.report_dir);
    let (run_id, dir) = history.new_run(&base);
    let journal = history
        .begin(&NewRun {
            id: &run_id,
            command: "restore",
            started: &started,
            config: &config.path,
            forced: true,
            people: backups.len(),
            restored_from: Some(&args.run),
        })?
        .ok_or_else(|| anyhow!("the state is not open"))?;
    let thumbs = Thumbs::start(&dir);

    let mut tasks = tokio::task::JoinSet::new();
    for backup in backups {
        let Some((target, limit)) = targets.get(&backup.target).cloned() else {
            continue;
        };
        let (journal, state, thumbs) = (journal.clone(), state.clone(), thumbs.clone());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let mut o = restore_one(&backup, &*target, &journal, &thumbs).await;
            let journal = journal.clone();
            let delivery = delivery_of(&backup);
            let forget = o.status == Status::Sent;
            let record = o.clone();
            let recorded = tokio::task::spawn_blocking(move || {
                journal.record(Some(&delivery), &record)?;
                if forget {
                    state.forget_sent(&delivery.target, &delivery.key)?;
                }
                Ok::<_, Error>(())
            })
            .await;
            if let Ok(Err(e)) = recorded {
                o.reason = format!("{} (not recorded in the state: {e})", o.reason);
            }
            o
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(o) => outcomes.push(o),
            Err(e) => tracing::error!("a restore task failed: {e}"),
        }
    }
    thumbs.finish();
    outcomes
        .sort_by(|a, b| (a.person.origin.line, &a.target).cmp(&(b.person.origin.line, &b.target)));
    let summary = RunSummary {
        outcomes,
        interrupted: false,
        notes: vec![format!("restore of run {}", args.run)],
    };
    let count = summary.outcomes.len();
    let report = Report::new(run_id, started, &config.path, false, count, &[], &summary);
    report.write(&dir)?;
    history.finish(&report.run_id, &summary, &dir, &[])?;
    let failed = summary.count(Status::Failed);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run_id": report.run_id,
                "restored_from": args.run,
                "report_dir": dir,
                "totals": report.totals,
                "ok": failed == 0,
            }))?
        );
    } else {
        println!(
            "picday restore of run {} (run {}):",
            args.run, report.run_id
        );
        for (target, t) in &report.totals {
            println!(
                "  {target:<16} restored {:>5}   failed {:>5}",
                t.sent, t.failed
            );
        }
        for o in summary
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Failed)
        {
            println!(
                "  failed: {} [{}] {}",
                o.key.as_deref().unwrap_or("?"),
                o.target,
                o.reason
            );
        }
        println!("report: {}", dir.join("report.html").display());
    }
    Ok(if failed > 0 {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}

fn delivery_of(b: &Backup) -> Delivery {
    Delivery {
        target: b.target.clone(),
        key: b.key.clone(),
        person: b.person.clone(),
        source: None,
        settings: Arc::from("restore"),
    }
}

/// Puts one backup back; never fails as a whole, the outcome says how it went.
async fn restore_one(
    b: &Backup,
    target: &dyn Target,
    journal: &Arc<dyn Journal>,
    thumbs: &Thumbs,
) -> picday_core::engine::Outcome {
    let subject = Subject::new(b.key.clone(), b.person.clone());
    let caps = target.capabilities();
    let mut photo_summary = None;
    let result: Result<Receipt, Error> = async {
        let bytes = match &b.file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| Error::io(path, e).prefixed("the backup file cannot be read"))?,
            ),
            None => None,
        };
        if bytes.is_none() && !caps.delete {
            return Err(Error::unsupported(format!(
                "the person had no photo before run {}, and target {} cannot remove photos",
                b.run_id, b.target
            )));
        }
        // What is there now is saved first, so that this restore can be undone too.
        if journal.backups() && caps.read_back {
            let current = target.get_photo(&subject).await?;
            let (journal, delivery) = (journal.clone(), delivery_of(b));
            tokio::task::spawn_blocking(move || journal.save_backup(&delivery, current))
                .await
                .map_err(|e| Error::internal(format!("backup worker: {e}")))??;
        }
        match bytes {
            Some(bytes) => {
                // The bytes are what the service itself held: they go back unchanged. The
                // photo claims the target's profile so that the target accepts it; a target
                // with a byte limit still refuses a larger original (reported as failed).
                let photo = Photo {
                    bytes: Arc::from(bytes),
                    width: caps.profile.width,
                    height: caps.profile.height,
                    profile: caps.profile,
                };
                let summary = PhotoSummary::from(&photo);
                thumbs.add(summary.hash.clone(), photo.bytes.clone());
                photo_summary = Some(summary);
                let mut r = target.put_photo(&subject, &photo).await?;
                r.detail = format!("restored the photo saved by run {}", b.run_id);
                Ok(r)
            }
            None => {
                let mut r = target.delete_photo(&subject).await?;
                r.detail = format!("removed the photo (there was none before run {})", b.run_id);
                Ok(r)
            }
        }
    }
    .await;
    let (status, kind, reason, context, receipt) = match result {
        Ok(r) => (Status::Sent, None, r.detail.clone(), Vec::new(), Some(r)),
        Err(e) => (
            Status::Failed,
            Some(e.kind()),
            e.message().to_string(),
            e.context()
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            None,
        ),
    };
    picday_core::engine::Outcome {
        person: b.person.clone(),
        target: b.target.clone(),
        key: Some(b.key.clone()),
        status,
        kind,
        reason,
        context,
        receipt,
        photo: photo_summary,
        flags: b
            .from_run
            .as_ref()
            .map(|r| vec![format!("backup taken by run {r}, which was interrupted")])
            .unwrap_or_default(),
        source_hash: None,
        unchanged_since: None,
    }
}
