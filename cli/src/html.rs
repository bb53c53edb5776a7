//! `report.html`: one page per run that a person can read offline, without a spreadsheet.
//!
//! Summary figures first, then one table per target with failures first, the photo that was
//! sent next to each person (thumbnails in the report folder's `photos/`), and filters by
//! outcome made of radio buttons and CSS only, so the page needs no script and no network.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use picday_core::engine::Status;

use crate::report::{OutcomeRow, Report};

/// Escapes text for HTML (the run report and the preview contact sheet).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The outcome class of a row: failed, skipped, unchanged or sent.
fn class_of(o: &OutcomeRow<'_>) -> &'static str {
    match o.status {
        Status::Failed => "failed",
        Status::Skipped if o.unchanged_since.is_some() => "unchanged",
        Status::Skipped => "skipped",
        Status::Sent => "sent",
    }
}

const STYLE: &str = r#"
:root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
body { margin: 0 auto; max-width: 1200px; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .25rem; }
.meta { color: #5b6475; margin: 0 0 1rem; }
.flag { display: inline-block; padding: .1rem .5rem; border-radius: 1rem; background: #fde68a; color: #713f12; font-size: .8rem; margin-left: .5rem; }
.figures { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.figure { background: #fff; border-radius: .5rem; padding: .75rem 1rem; min-width: 7rem; box-shadow: 0 1px 2px #0001; }
.figure b { display: block; font-size: 1.6rem; }
.figure.failed b { color: #b91c1c; } .figure.sent b { color: #15803d; } .figure.unchanged b { color: #1d4ed8; } .figure.skipped b { color: #a16207; }
.filters { margin: 1rem 0 .5rem; }
input[name=filter] { position: absolute; opacity: 0; pointer-events: none; }
.filters label { display: inline-block; padding: .3rem .8rem; border: 1px solid #c9ced8; border-radius: 1rem; margin-right: .3rem; cursor: pointer; background: #fff; }
#f-all:checked ~ .filters label[for=f-all], #f-failed:checked ~ .filters label[for=f-failed],
#f-skipped:checked ~ .filters label[for=f-skipped], #f-unchanged:checked ~ .filters label[for=f-unchanged],
#f-sent:checked ~ .filters label[for=f-sent] { background: #1d2330; color: #fff; border-color: #1d2330; }
#f-failed:checked ~ main tr.row:not(.failed), #f-skipped:checked ~ main tr.row:not(.skipped),
#f-unchanged:checked ~ main tr.row:not(.unchanged), #f-sent:checked ~ main tr.row:not(.sent) { display: none; }
table { width: 100%; border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0001; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #e5e7eb; vertical-align: top; font-size: .9rem; }
th { background: #eef0f4; font-weight: 600; }
td.photo { width: 64px; } td.photo img { width: 56px; height: auto; border-radius: .25rem; display: block; }
.nophoto { width: 56px; height: 56px; border-radius: .25rem; background: repeating-linear-gradient(45deg, #eef0f4, #eef0f4 6px, #e2e5eb 6px, #e2e5eb 12px); }
small { color: #5b6475; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .25rem; font-size: .8rem; font-weight: 600; }
.badge.failed { background: #fee2e2; color: #991b1b; } .badge.sent { background: #dcfce7; color: #166534; }
.badge.unchanged { background: #dbeafe; color: #1e40af; } .badge.skipped { background: #fef3c7; color: #92400e; }
.review { color: #92400e; }
ul.notes { background: #fff; padding: .75rem 2rem; border-radius: .5rem; }
"#;

/// The page for a report whose folder is `dir` (thumbnails are looked up there).
pub fn render(report: &Report<'_>, dir: &Path) -> String {
    let mut h = String::new();
    let count = |class: &str| {
        report
            .outcomes
            .iter()
            .filter(|o| class_of(o) == class)
            .count()
    };
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>picday run {id}</title><style>{STYLE}</style></head><body>\n\
         <h1>picday run {id}",
        id = esc(&report.run_id)
    );
    if report.dry_run {
        h.push_str("<span class=\"flag\">dry run: nothing was written</span>");
    }
    if report.interrupted {
        h.push_str("<span class=\"flag\">interrupted: run the same push again to finish</span>");
    }
    let _ = writeln!(
        h,
        "</h1>\n<p class=\"meta\">started {} &middot; finished {} &middot; {}</p>",
        esc(&report.started),
        esc(&report.finished),
        esc(&report.config.display().to_string())
    );

    h.push_str("<div class=\"figures\">");
    let figure = |h: &mut String, class: &str, n: usize, label: &str| {
        let _ = write!(
            h,
            "<div class=\"figure {class}\"><b>{n}</b>{}</div>",
            esc(label)
        );
    };
    figure(&mut h, "", report.people, "people");
    figure(
        &mut h,
        "sent",
        count("sent"),
        if report.dry_run {
            "would be sent"
        } else {
            "sent"
        },
    );
    figure(&mut h, "unchanged", count("unchanged"), "unchanged");
    figure(&mut h, "skipped", count("skipped"), "skipped");
    figure(&mut h, "failed", count("failed"), "failed");
    figure(&mut h, "failed", report.problems.len(), "rows left out");
    h.push_str("</div>\n");

    // Filters: the radios must precede `main` as siblings for the CSS to reach the rows.
    let total = report.outcomes.len();
    for (id, checked) in [
        ("all", true),
        ("failed", false),
        ("skipped", false),
        ("unchanged", false),
        ("sent", false),
    ] {
        let _ = write!(
            h,
            "<input type=\"radio\" name=\"filter\" id=\"f-{id}\"{}>",
            if checked { " checked" } else { "" }
        );
    }
    h.push_str("\n<div class=\"filters\">Show: ");
    for (id, n) in [
        ("all", total),
        ("failed", count("failed")),
        ("skipped", count("skipped")),
        ("unchanged", count("unchanged")),
        ("sent", count("sent")),
    ] {
        let _ = write!(h, "<label for=\"f-{id}\">{id} ({n})</label>");
    }
    h.push_str("</div>\n<main>\n");

    // One table per target, rows already ordered failures first.
    let mut by_target: BTreeMap<&str, Vec<&OutcomeRow<'_>>> = BTreeMap::new();
    for o in &report.outcomes {
        by_target.entry(o.target).or_default().push(o);
    }
    for (target, rows) in &by_target {
        let t = report.totals.get(*target);
        let _ = writeln!(
            h,
            "<section><h2>{}</h2><p class=\"meta\">{} sent &middot; {} unchanged &middot; {} skipped &middot; {} failed</p>",
            esc(target),
            t.map_or(0, |t| t.sent),
            t.map_or(0, |t| t.unchanged),
            t.map_or(0, |t| t.skipped - t.unchanged),
            t.map_or(0, |t| t.failed)
        );
        h.push_str(
            "<table><thead><tr><th>Photo</th><th>Person</th><th>Key</th><th>Outcome</th>\
             <th>Details</th></tr></thead><tbody>\n",
        );
        for o in rows {
            row(&mut h, o, dir);
        }
        h.push_str("</tbody></table></section>\n");
    }

    if !report.problems.is_empty() {
        h.push_str(
            "<section><h2>Rows left out</h2><table><thead><tr><th>Row</th><th>Person</th>\
             <th>Problem</th><th>What to do</th></tr></thead><tbody>\n",
        );
        for p in report.problems {
            let _ = writeln!(
                h,
                "<tr class=\"row failed\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.origin.to_string()),
                esc(&p.person),
                esc(&p.message),
                esc(&p.advice)
            );
        }
        h.push_str("</tbody></table></section>\n");
    }
    if !report.notes.is_empty() {
        h.push_str("<section><h2>Notes</h2><ul class=\"notes\">");
        for n in report.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul></section>\n");
    }
    h.push_str(
        "</main>\n<p class=\"meta\">Also in this folder: report.json (everything, for scripts) \
         and report.csv (one line per person and target).</p>\n</body></html>\n",
    );
    h
}

fn row(h: &mut String, o: &OutcomeRow<'_>, dir: &Path) {
    let class = class_of(o);
    let photo = o
        .photo_hash
        .map(crate::thumbs::file_of)
        .filter(|f| dir.join(f).exists());
    let _ = write!(h, "<tr class=\"row {class}\"><td class=\"photo\">");
    match photo {
        Some(f) => {
            let _ = write!(
                h,
                "<img src=\"{}\" alt=\"photo sent\" loading=\"lazy\">",
                esc(&f)
            );
        }
        None => h.push_str("<div class=\"nophoto\" title=\"no photo in this run\"></div>"),
    }
    let _ = write!(
        h,
        "</td><td>{}<br><small>{}:{} &middot; {}</small></td><td>{}</td><td><span class=\"badge {class}\">{class}</span>",
        esc(&o.person),
        esc(&o.file),
        o.line,
        esc(&o.photo),
        esc(o.key.unwrap_or("")),
    );
    if let Some(kind) = o.kind {
        let _ = write!(h, "<br><small>{}</small>", esc(kind));
    }
    h.push_str("</td><td>");
    match o.unchanged_since {
        Some(run) => {
            let _ = write!(
                h,
                "unchanged since run <a href=\"../{r}/report.html\">{r}</a>",
                r = esc(run)
            );
        }
        None => h.push_str(&esc(o.reason)),
    }
    let extra: Vec<String> = [
        o.code.map(|c| format!("code {c}")),
        o.request_id.map(|r| format!("request id {r}")),
        o.bytes.map(|b| format!("{} KB", b.div_ceil(1024))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !extra.is_empty() {
        let _ = write!(h, "<br><small>{}</small>", esc(&extra.join(" · ")));
    }
    if !o.flags.is_empty() {
        let _ = write!(
            h,
            "<br><span class=\"review\">review: {}</span>",
            esc(&o.flags)
        );
    }
    h.push_str("</td></tr>\n");
}
