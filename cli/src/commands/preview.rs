//! `picday preview`: a contact sheet to look at before anything leaves the building.
//!
//! An administrator cannot open hundreds of JPEGs one by one, but can scan one page: every
//! person's crops side by side with their name, keys and review flags (face not found, photo too
//! small, a placeholder shared by several people), problems first. Nothing is sent.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use picday_core::Person;

use crate::exit::Outcome;
use crate::html::esc;
use crate::setup;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the contact sheet (default: `preview/` beside the configuration).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only these targets' photo shapes; repeatable.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

struct Card {
    line: u64,
    name: String,
    keys: Vec<(String, String)>,
    crops: Vec<(String, String)>,
    flags: Vec<String>,
    error: Option<String>,
}

pub async fn run(config_path: &std::path::Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let loaded = setup::load(config_path, &args.targets)?;
    let mapping = loaded.input()?.mapping;
    let out = args
        .out
        .unwrap_or_else(|| loaded.config.base_dir.join("preview"));
    let img_dir = out.join("img");
    std::fs::create_dir_all(&img_dir).with_context(|| format!("creating {}", img_dir.display()))?;

    let mut shared: BTreeMap<usize, String> = BTreeMap::new();
    for group in picday_core::source::shared_photos(&mapping.people) {
        let lines: Vec<String> = group
            .iter()
            .map(|&j| mapping.people[j].origin.line.to_string())
            .collect();
        for (me, &i) in group.iter().enumerate() {
            let others = picday_core::source::name_others(&lines, me);
            shared.insert(i, format!("placeholder? same photo as line {others}"));
        }
    }
    let index_of: BTreeMap<u64, usize> = mapping
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.origin.line, i))
        .collect();

    let profiles = super::profiles_of(loaded.targets.iter().map(|(_, t)| t));
    let mut engine = super::engine(&loaded.config);
    engine.review = super::review_book(&loaded)?;
    let book = engine.review.clone();
    let mut cards = Vec::new();
    let mut write_error = None;
    engine
        .process_all(&mapping.people, &profiles, |person, result| {
            let mut card = Card {
                line: person.origin.line,
                name: person.label(),
                keys: keys_of(&loaded.targets, &person),
                crops: Vec::new(),
                flags: Vec::new(),
                error: None,
            };
            if let Some(flag) = index_of
                .get(&person.origin.line)
                .and_then(|i| shared.get(i))
            {
                card.flags.push(flag.clone());
            }
            match result {
                Ok(p) => {
                    if p.adjusted == Some(true) && super::review::is_retake(book.as_ref(), &person)
                    {
                        card.flags.push(super::review::RETAKE_FLAG.into());
                    }
                    card.flags.extend(p.flags.iter().cloned());
                    for (profile, photo) in &p.photos {
                        let file = format!(
                            "{}-{}x{}.jpg",
                            person.origin.line, profile.width, profile.height
                        );
                        if let Err(e) = std::fs::write(img_dir.join(&file), &photo.bytes) {
                            write_error.get_or_insert(e);
                        }
                        card.crops.push((
                            format!("img/{file}"),
                            format!("{}x{}", profile.width, profile.height),
                        ));
                    }
                }
                Err(e) => card.error = Some(e.message().to_string()),
            }
            cards.push(card);
        })
        .await;
    if let Some(e) = write_error {
        return Err(e).context(format!("writing crops into {}", img_dir.display()));
    }
    // Problems first, then mapping order.
    cards.sort_by_key(|c| (c.error.is_none(), c.flags.is_empty(), c.line));
    let flagged = cards.iter().filter(|c| !c.flags.is_empty()).count();
    let unreadable = cards.iter().filter(|c| c.error.is_some()).count();
    let index = out.join("index.html");
    std::fs::write(
        &index,
        html(
            &cards,
            &loaded.config.path.display().to_string(),
            mapping.problems.len(),
        ),
    )
    .with_context(|| format!("writing {}", index.display()))?;

    if json {
        say!(
            "{}",
            serde_json::json!({ "index": index, "people": cards.len(), "flagged": flagged, "unreadable": unreadable })
        );
    } else {
        say!(
            "preview: {} people, {flagged} flagged for review, {unreadable} unreadable, {} rows left out",
            cards.len(),
            mapping.problems.len()
        );
        say!("open {}", index.display());
    }
    Ok(if unreadable == 0 {
        Outcome::Ok
    } else {
        Outcome::Partial
    })
}

/// Each target's key for `person`, as the target itself derives it (an LDAP filter with its
/// values escaped, say, not the bare template).
fn keys_of(
    targets: &[(String, std::sync::Arc<dyn picday_core::Target>)],
    person: &Person,
) -> Vec<(String, String)> {
    let person = std::sync::Arc::new(person.clone());
    targets
        .iter()
        .map(|(name, t)| {
            let key = t
                .subject(person.clone())
                .map_or_else(|e| format!("({})", e.message()), |s| s.key);
            (name.clone(), key)
        })
        .collect()
}

fn html(cards: &[Card], config: &str, left_out: usize) -> String {
    let flagged = cards
        .iter()
        .filter(|c| !c.flags.is_empty() || c.error.is_some())
        .count();
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>picday preview</title>
<style>
body{{font:14px system-ui,sans-serif;margin:1.5rem;background:#f6f6f4;color:#222}}
h1{{font-size:1.3rem;margin:0 0 .3rem}} .sub{{color:#666;margin-bottom:1rem}}
.grid{{display:flex;flex-wrap:wrap;gap:12px}}
.card{{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px;width:max-content;max-width:100%}}
.card.flag{{border-color:#e0a100;box-shadow:0 0 0 2px #ffe08a}} .card.err{{border-color:#c62828;box-shadow:0 0 0 2px #ffcdd2}}
.crops{{display:flex;gap:6px;align-items:flex-end}} .crops figure{{margin:0;text-align:center;font-size:11px;color:#777}}
.crops img{{height:150px;display:block;border-radius:4px}}
.name{{font-weight:600;margin-top:6px}} .keys{{font-size:12px;color:#555}}
.badge{{display:inline-block;background:#fff3cd;color:#7a5b00;border-radius:4px;padding:1px 6px;margin:3px 3px 0 0;font-size:12px}}
.error{{color:#b71c1c;font-size:12px;max-width:320px}}
label{{user-select:none}}
body.only-flagged .card:not(.flag):not(.err){{display:none}}
</style></head><body>
<h1>picday preview</h1>
<div class="sub">{} people from {} &middot; {flagged} to review &middot; {left_out} rows left out of the mapping (see <code>picday check</code>) &middot;
<label><input type="checkbox" onchange="document.body.classList.toggle('only-flagged',this.checked)"> show only those to review</label></div>
<div class="grid">
"#,
        cards.len(),
        esc(config)
    );
    for c in cards {
        let class = if c.error.is_some() {
            "card err"
        } else if !c.flags.is_empty() {
            "card flag"
        } else {
            "card"
        };
        let _ = write!(h, "<div class=\"{class}\"><div class=\"crops\">");
        for (src, label) in &c.crops {
            let _ = write!(
                h,
                "<figure><img src=\"{}\" alt=\"{}\" loading=\"lazy\"><figcaption>{}</figcaption></figure>",
                esc(src),
                esc(&c.name),
                esc(label)
            );
        }
        let _ = write!(
            h,
            "</div><div class=\"name\">{} <span class=\"keys\">line {}</span></div>",
            esc(&c.name),
            c.line
        );
        for (target, key) in &c.keys {
            let _ = write!(h, "<div class=\"keys\">{}: {}</div>", esc(target), esc(key));
        }
        for f in &c.flags {
            let _ = write!(h, "<span class=\"badge\">{}</span>", esc(f));
        }
        if let Some(e) = &c.error {
            let _ = write!(h, "<div class=\"error\">{}</div>", esc(e));
        }
        h.push_str("</div>\n");
    }
    h.push_str("</div></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_escapes_names() {
        assert_eq!(
            super::esc("<b>O'Neil & co</b>"),
            "&lt;b&gt;O&#39;Neil &amp; co&lt;/b&gt;"
        );
    }
}
