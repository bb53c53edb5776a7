//! The run report: one folder per push with `report.json` (everything, for scripts) and
//! `report.csv` (one line per person and target, for a spreadsheet), so that what happened to
//! every person can be looked up after the run, failures first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use picday_core::engine::{Outcome, RunSummary, Status};
use picday_core::source::RowProblem;
use serde::Serialize;

/// Counts for one target.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Totals {
    pub sent: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Of the skipped: unchanged since an earlier run (nothing to send).
    pub unchanged: usize,
}

/// Everything a push report says.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub run_id: String,
    pub started: String,
    pub finished: String,
    pub config: PathBuf,
    pub dry_run: bool,
    pub interrupted: bool,
    pub people: usize,
    pub totals: BTreeMap<String, Totals>,
    /// Rows of the mapping that were left out before the run.
    pub problems: &'a [RowProblem],
    pub notes: &'a [String],
    pub outcomes: Vec<OutcomeRow<'a>>,
}

/// One person and target, flattened for JSON and CSV.
#[derive(Debug, Serialize)]
pub struct OutcomeRow<'a> {
    pub file: String,
    pub line: u64,
    pub person: String,
    pub photo: String,
    pub target: &'a str,
    pub key: Option<&'a str>,
    pub status: Status,
    pub kind: Option<&'static str>,
    pub reason: &'a str,
    pub code: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub bytes: Option<usize>,
    pub photo_hash: Option<&'a str>,
    pub flags: String,
    /// Skipped because unchanged since this run.
    pub unchanged_since: Option<&'a str>,
}

impl<'a> OutcomeRow<'a> {
    fn new(o: &'a Outcome) -> Self {
        let ctx = |k: &str| {
            o.context
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        OutcomeRow {
            file: o.person.origin.file.display().to_string(),
            line: o.person.origin.line,
            person: o.person.label(),
            photo: o.person.photo.display().to_string(),
            target: &o.target,
            key: o.key.as_deref(),
            status: o.status,
            kind: o.kind.map(|k| k.as_str()),
            reason: &o.reason,
            code: ctx("code"),
            request_id: ctx("request_id")
                .or_else(|| o.receipt.as_ref().and_then(|r| r.request_id.as_deref())),
            bytes: o.photo.as_ref().map(|p| p.bytes),
            photo_hash: o.photo.as_ref().map(|p| p.hash.as_str()),
            flags: o.flags.join("; "),
            unchanged_since: o.unchanged_since.as_deref(),
        }
    }
}

impl<'a> Report<'a> {
    pub fn new(
        run_id: String,
        started: String,
        config: &Path,
        dry_run: bool,
        people: usize,
        problems: &'a [RowProblem],
        summary: &'a RunSummary,
    ) -> Self {
        let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
        for o in &summary.outcomes {
            let t = totals.entry(o.target.clone()).or_default();
            match o.status {
                Status::Sent => t.sent += 1,
                Status::Skipped => {
                    t.skipped += 1;
                    t.unchanged += usize::from(o.unchanged_since.is_some());
                }
                Status::Failed => t.failed += 1,
            }
        }
        let mut outcomes: Vec<OutcomeRow<'a>> =
            summary.outcomes.iter().map(OutcomeRow::new).collect();
        // Failures first, then skips, then the rest, each in mapping order.
        outcomes.sort_by_key(|o| {
            let rank = match o.status {
                Status::Failed => 0,
                Status::Skipped => 1,
                Status::Sent => 2,
            };
            (rank, o.line)
        });
        Report {
            run_id,
            started,
            finished: now_rfc3339(),
            config: config.to_path_buf(),
            dry_run,
            interrupted: summary.interrupted,
            people,
            totals,
            problems,
            notes: &summary.notes,
            outcomes,
        }
    }

    /// Writes `report.json`, `report.csv` and `report.html` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = serde_json::to_vec_pretty(self)?;
        write_atomic(&dir.join("report.json"), &json)?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record([
            "file",
            "line",
            "person",
            "photo",
            "target",
            "key",
            "status",
            "kind",
            "reason",
            "advice",
            "code",
            "request_id",
            "bytes",
            "flags",
        ])?;
        for p in self.problems {
            csv.write_record(spreadsheet_safe([
                p.origin.file.display().to_string(),
                p.origin.line.to_string(),
                p.person.clone(),
                String::new(),
                "(all)".into(),
                String::new(),
                "failed".into(),
                "input".into(),
                p.message.clone(),
                p.advice.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]))?;
        }
        for o in &self.outcomes {
            csv.write_record(spreadsheet_safe([
                o.file.clone(),
                o.line.to_string(),
                o.person.clone(),
                o.photo.clone(),
                o.target.to_string(),
                o.key.unwrap_or_default().to_string(),
                o.status.as_str().to_string(),
                o.kind.unwrap_or_default().to_string(),
                o.reason.to_string(),
                String::new(),
                o.code.unwrap_or_default().to_string(),
                o.request_id.unwrap_or_default().to_string(),
                o.bytes.map(|b| b.to_string()).unwrap_or_default(),
                o.flags.clone(),
            ]))?;
        }
        let rows = csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        write_atomic(&dir.join("report.csv"), &[UTF8_BOM, &rows].concat())?;
        write_atomic(
            &dir.join("report.html"),
            crate::html::render(self, dir).as_bytes(),
        )?;
        Ok(())
    }
}

/// The UTF-8 byte-order mark `report.csv` starts with. Excel opens a CSV file without it in
/// the machine's legacy code page (Windows-1252 in most schools), so "Zoë" shows as "ZoÃ«";
/// with it, Excel, LibreOffice and Numbers all read UTF-8, and so do scripts (Python's
/// `utf-8-sig`, PowerShell's `Import-Csv`, the `csv` crate skip it).
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The cells of one `report.csv` row, each made inert for a spreadsheet. Names, keys and
/// reasons come from the school's files and from services: a cell starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return is a formula to Excel and LibreOffice (CSV injection,
/// OWASP), so such a cell gets a leading `'`, which both show as text.
fn spreadsheet_safe<const N: usize>(cells: [String; N]) -> [String; N] {
    cells.map(|cell| {
        if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{cell}")
        } else {
            cell
        }
    })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

/// A new run id (UTC time, sortable) and its report folder, unique within `base`.
pub fn new_run_dir(base: &Path) -> (String, PathBuf) {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut id = stamp.clone();
    let mut n = 2;
    while base.join(&id).exists() {
        id = format!("{stamp}-{n}");
        n += 1;
    }
    let dir = base.join(&id);
    (id, dir)
}
