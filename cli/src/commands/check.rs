//! `picday check`: everything a push would do before sending, and nothing after. The
//! configuration, the mapping, every photo (decoded and rendered for each target's profile)
//! and each target's own read-only check.

use picday_core::source::Details;
use serde::Serialize;

use crate::exit::Outcome;
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these targets; repeatable.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Skip decoding the photos (faster; checks the files exist).
    #[arg(long)]
    pub no_photos: bool,
}

#[derive(Debug, Serialize)]
struct CheckOutput {
    people: usize,
    rows_left_out: Vec<String>,
    /// How a PSPA delivery was joined to the roster (`format = "pspa"` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pspa: Option<picday_core::source::pspa::MatchStats>,
    /// How a photo folder was read (`[source] folder` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    folder: Option<picday_core::source::folder::FolderStats>,
    photos_unreadable: Vec<String>,
    photos_flagged: Vec<String>,
    /// The review page's decisions (`review.toml`) against the photos (not with --no-photos).
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<ReviewCounts>,
    targets: Vec<TargetCheck>,
    ok: bool,
}

/// What `review.toml` says about the run's photos.
#[derive(Debug, Default, Serialize)]
struct ReviewCounts {
    /// People whose current photo has a decision.
    reviewed: usize,
    /// Of those, marked for a retake (never sent).
    retake: usize,
    /// People whose photo is flagged and has no decision yet.
    pending: usize,
    /// Decisions made on another photo of the person (void until reviewed again).
    stale: usize,
}

#[derive(Debug, Serialize)]
struct TargetCheck {
    name: String,
    summary: String,
    status: Verdict,
    ok: Vec<String>,
    warnings: Vec<String>,
    error: Option<String>,
}

/// How a target's check went, as `check --json` says it: `ok`, `warning` (usable, but read
/// the warnings) or `error` (a push would fail on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Ok,
    Warning,
    Error,
}

impl Verdict {
    fn of(error: Option<&String>, warnings: &[String]) -> Verdict {
        match (error, warnings.is_empty()) {
            (Some(_), _) => Verdict::Error,
            (None, true) => Verdict::Ok,
            (None, false) => Verdict::Warning,
        }
    }
}

pub async fn run(config_path: &std::path::Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let loaded = setup::load(config_path, &args.targets)?;
    let input = loaded.input()?;
    let mapping = input.mapping;
    let (pspa, folder) = match input.details {
        Details::Pspa(stats) => (Some(stats), None),
        Details::Folder(stats) => (None, Some(stats)),
        Details::Csv => (None, None),
    };
    let rows_left_out: Vec<String> = mapping
        .problems
        .iter()
        .map(|p| format!("{} {}: {} ({})", p.origin, p.person, p.message, p.advice))
        .collect();

    let mut photos_unreadable = Vec::new();
    let mut photos_flagged = Vec::new();
    for group in picday_core::source::shared_photos(&mapping.people) {
        let lines: Vec<String> = group
            .iter()
            .map(|&j| mapping.people[j].origin.line.to_string())
            .collect();
        for (me, &i) in group.iter().enumerate() {
            let p = &mapping.people[i];
            photos_flagged.push((
                order(&p.origin),
                format!(
                    "{} {}: the same photo file as line {} (a placeholder?); push holds it back unless --allow-shared-photos",
                    p.origin,
                    p.label(),
                    picday_core::source::name_others(&lines, me)
                ),
            ));
        }
    }
    let mut review = None;
    if !args.no_photos {
        let profiles = super::profiles_of(loaded.targets.iter().map(|(_, t)| t));
        let mut engine = super::engine(&loaded.config);
        engine.review = super::review_book(&loaded)?;
        let book = engine.review.clone();
        let counts = review.insert(ReviewCounts::default());
        engine
            .process_all(&mapping.people, &profiles, |person, result| {
                let head = format!(
                    "{} {} ({})",
                    person.origin,
                    person.label(),
                    person.photo.display()
                );
                let at = order(&person.origin);
                if let Ok(p) = &result {
                    match p.adjusted {
                        Some(true) => counts.reviewed += 1,
                        Some(false) => counts.stale += 1,
                        None => {}
                    }
                    if !p.flags.is_empty() {
                        counts.pending += 1;
                    }
                    if p.adjusted == Some(true) && super::review::is_retake(book.as_ref(), &person)
                    {
                        counts.retake += 1;
                        photos_flagged.push((
                            at.clone(),
                            format!("{head}: {}", super::review::RETAKE_FLAG),
                        ));
                    }
                }
                match result {
                    Ok(p) if !p.flags.is_empty() => {
                        photos_flagged.push((at, format!("{head}: {}", p.flags.join("; "))))
                    }
                    Ok(_) => {}
                    Err(e) => photos_unreadable.push((at, format!("{head}: {}", e.message()))),
                }
            })
            .await;
    }
    let photos_unreadable = in_file_order(photos_unreadable);
    let photos_flagged = in_file_order(photos_flagged);

    let mut targets = Vec::new();
    for (name, target) in &loaded.targets {
        let info = target.info();
        let (ok, warnings, error) = match target.check().await {
            Ok(r) => (r.ok, r.warnings, None),
            Err(e) => (vec![], vec![], Some(e.to_string())),
        };
        targets.push(TargetCheck {
            name: name.clone(),
            summary: info.summary.clone(),
            // Set below, once every warning is known.
            status: Verdict::Ok,
            ok,
            warnings,
            error,
        });
    }

    // Entra Connect copies AD's small thumbnailPhoto over the Graph photo on synced tenants.
    if let Some((names, warning)) = picday_target_ldap::hybrid_warning(&loaded.config.targets) {
        for t in targets.iter_mut().filter(|t| names.contains(&t.name)) {
            t.warnings.push(warning.clone());
        }
    }
    for t in &mut targets {
        t.status = Verdict::of(t.error.as_ref(), &t.warnings);
    }

    let ok = rows_left_out.is_empty()
        && photos_unreadable.is_empty()
        && targets.iter().all(|t| t.error.is_none());
    let out = CheckOutput {
        people: mapping.people.len(),
        rows_left_out,
        pspa,
        folder,
        photos_unreadable,
        photos_flagged,
        review,
        targets,
        ok,
    };
    if json {
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_human(&out, &mapping.notes, args.no_photos);
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Partial })
}

/// Where a line comes from, to sort by: the file, then the line as a number (line 2 before
/// line 15; sorted as text, "photos.csv:15" came first).
fn order(origin: &picday_core::Origin) -> (std::path::PathBuf, u64) {
    (origin.file.clone(), origin.line)
}

/// The lines in file and line order; lines about one row keep the order they were found in.
fn in_file_order(mut lines: Vec<((std::path::PathBuf, u64), String)>) -> Vec<String> {
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    lines.into_iter().map(|(_, line)| line).collect()
}

fn print_human(out: &CheckOutput, notes: &[String], no_photos: bool) {
    if let Some(stats) = &out.pspa {
        // The statistics end with a line break of their own; `say!` adds one.
        say!("{}", stats.to_string().trim_end());
    }
    if let Some(stats) = &out.folder {
        print!("{stats}");
    }
    say!(
        "mapping: {} people ready, {} rows left out",
        out.people,
        out.rows_left_out.len()
    );
    for n in notes {
        say!("  note: {n}");
    }
    for r in &out.rows_left_out {
        say!("  left out: {r}");
    }
    if no_photos {
        say!("photos: not decoded (--no-photos)");
    } else {
        say!(
            "photos: {} readable, {} unreadable, {} flagged for review",
            out.people - out.photos_unreadable.len(),
            out.photos_unreadable.len(),
            out.photos_flagged.len()
        );
        for p in &out.photos_unreadable {
            say!("  unreadable: {p}");
        }
        for p in &out.photos_flagged {
            say!("  review: {p}");
        }
    }
    if let Some(r) = out
        .review
        .as_ref()
        .filter(|r| r.reviewed + r.stale + r.pending > 0)
    {
        say!(
            "review decisions: {} reviewed ({} marked for a retake), {} pending, {} stale{}",
            r.reviewed,
            r.retake,
            r.pending,
            r.stale,
            if r.pending + r.stale > 0 {
                "; settle them with `picday review`"
            } else {
                ""
            }
        );
    }
    for t in &out.targets {
        let verdict = match t.status {
            Verdict::Error => "FAILED",
            Verdict::Ok => "ok",
            Verdict::Warning => "ok, with warnings",
        };
        say!("target {}: {verdict} — {}", t.name, t.summary);
        for s in &t.ok {
            say!("  ok: {s}");
        }
        for w in &t.warnings {
            say!("  warning: {w}");
        }
        if let Some(e) = &t.error {
            say!("  error: {e}");
        }
    }
    say!(
        "{}",
        if out.ok {
            "all good: nothing was sent"
        } else {
            "problems found: nothing was sent"
        }
    );
}
