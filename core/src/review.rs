//! Decisions a person made about photos before a push: `review.toml`, written by the review
//! page (`picday review`) and honoured by `push`, `check` and `preview`.
//!
//! A wrong crop used to have two remedies, editing the photo by hand or changing the crop mode
//! for everyone. A decision fixes one person's photo for every target at once: one crop centre
//! and size on the source (each target's shape derived from it, [`CropBox::rect`]), a quarter
//! turn, "retake" (never sent), or "accept as it is" (its review flags dropped).
//!
//! The file is for people as much as for picday: one table per person, sorted by key, with the
//! person's name, so that it reads well and merges well when two people review. Each decision
//! is keyed by the person's key and the BLAKE3 of the source photo it was made on: a new photo
//! for the same person makes the old decision void ([`Lookup::Stale`]), and every command says
//! so rather than apply a crop drawn on another photo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Person;
use crate::pipeline::Rect;
use crate::target::Target;

/// The file's name, beside the configuration.
pub const FILE_NAME: &str = "review.toml";

/// What was decided for one photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Send it as the pipeline makes it (after any turn and crop below); its flags are dropped.
    Accept,
    /// Never send this photo; the person needs a new one. Listed in reports.
    Retake,
}

/// Where the crop goes, in fractions of the upright (and turned) source, so that it does not
/// depend on the size the page showed: the centre of a square, and its side as a fraction of
/// the source's shorter side. Every target's crop is derived from that square.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropBox {
    /// Centre, 0 (left) to 1 (right).
    pub x: f64,
    /// Centre, 0 (top) to 1 (bottom).
    pub y: f64,
    /// Side of the square, as a fraction of the shorter side (0.05 to 1).
    pub size: f64,
}

impl CropBox {
    /// The smallest square side accepted: 5% of the shorter side.
    pub const MIN_SIZE: f64 = 0.05;

    /// Whether every value is a number in its range.
    pub fn is_valid(&self) -> bool {
        (0.0..=1.0).contains(&self.x)
            && (0.0..=1.0).contains(&self.y)
            && (Self::MIN_SIZE..=1.0).contains(&self.size)
    }

    /// The crop of aspect `aspect` (width / height) for a `width` x `height` source. A portrait
    /// shape keeps the square's width and top edge and grows downwards (the head stays where
    /// it was placed, more shoulders show); a landscape shape keeps its height and centre.
    /// Too large for the source, it shrinks about its centre; then it is moved inside.
    pub fn rect(&self, width: u32, height: u32, aspect: f64) -> Rect {
        let (w, h) = (f64::from(width), f64::from(height));
        let side = self.size.clamp(Self::MIN_SIZE, 1.0) * w.min(h);
        let (cx, top) = (self.x * w, self.y * h - side / 2.0);
        let (mut cw, mut ch) = if aspect <= 1.0 {
            (side, side / aspect)
        } else {
            (side * aspect, side)
        };
        let mut cy = if aspect <= 1.0 {
            top + ch / 2.0
        } else {
            self.y * h
        };
        let fit = (w / cw).min(h / ch).min(1.0);
        if fit < 1.0 {
            // Shrink about the square's centre, so the head stays in view.
            cy = self.y * h + (cy - self.y * h) * fit;
            cw *= fit;
            ch *= fit;
        }
        let x = (cx - cw / 2.0).clamp(0.0, (w - cw).max(0.0));
        let y = (cy - ch / 2.0).clamp(0.0, (h - ch).max(0.0));
        Rect {
            x,
            y,
            width: cw,
            height: ch,
        }
    }
}

/// What the pipeline is asked to do differently with one source photo, and for which photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustment {
    /// BLAKE3 (hex) of the source the decision was made on; applied only to that photo.
    pub source: String,
    /// Clockwise quarter turns after the photo's own orientation: 0 to 3.
    pub quarter_turns: u8,
    /// Where to crop; `None`: as the crop mode places it.
    pub crop: Option<CropBox>,
    /// Drop the photo's review flags (a person looked and accepted it).
    pub accepted: bool,
}

/// One person's decision as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The person's name, for whoever reads the file; not used to match.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The person's keys on the other targets: a run of only those targets (`--target`)
    /// finds the decision too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// BLAKE3 (hex) of the source photo the decision was made on.
    pub source: String,
    pub verdict: Verdict,
    /// Clockwise turn in degrees: 0, 90, 180 or 270.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rotate: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<CropBox>,
    /// When it was made (RFC 3339), for whoever reads the file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub decided: String,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

impl Decision {
    /// The pipeline's part of the decision.
    pub fn adjustment(&self) -> Adjustment {
        Adjustment {
            source: self.source.clone(),
            quarter_turns: u8::try_from(self.rotate / 90 % 4).unwrap_or(0),
            crop: self.crop,
            accepted: true,
        }
    }

    /// A short fingerprint of what the decision changes in the photo sent: part of a
    /// delivery's settings, so that a moved crop is sent again and an unchanged one is not.
    pub fn fingerprint(&self) -> String {
        let crop = self
            .crop
            .map(|c| format!("{:.4},{:.4},{:.4}", c.x, c.y, c.size))
            .unwrap_or_default();
        let text = format!("{}|{:?}|{}|{crop}", self.source, self.verdict, self.rotate);
        blake3::hash(text.as_bytes()).to_hex()[..12].to_string()
    }

    fn check(&self, key: &str) -> Result<()> {
        let bad = |what: String| Err(Error::config(format!("{FILE_NAME}: {key:?}: {what}")));
        if self.source.len() != 64 || !self.source.bytes().all(|b| b.is_ascii_hexdigit()) {
            return bad(format!(
                "`source` must be the photo's BLAKE3 (64 hex digits), not {:?}",
                self.source
            ));
        }
        if !self.rotate.is_multiple_of(90) || self.rotate >= 360 {
            return bad(format!(
                "`rotate` must be 0, 90, 180 or 270, not {}",
                self.rotate
            ));
        }
        if let Some(c) = self.crop
            && !c.is_valid()
        {
            return bad(format!(
                "`crop` must have x and y from 0 to 1 and size from {} to 1, not {c:?}",
                CropBox::MIN_SIZE
            ));
        }
        Ok(())
    }
}

/// What the file says about one person's current photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    /// No decision.
    None,
    /// A decision made on this very photo.
    Current(&'a Decision),
    /// A decision made on another photo of the person: void.
    Stale(&'a Decision),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    people: BTreeMap<String, Decision>,
}

/// The decisions of `review.toml`.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    path: PathBuf,
    people: BTreeMap<String, Decision>,
}

const HEADER: &str = "\
# Decisions made on picday's review page (`picday review`): one table per person, keyed by
# the person's key on the first target that can key them (`also`: their keys on the others).
# source: the BLAKE3 of the photo the decision was made on; a new photo makes it void.
# verdict: \"accept\" (send, flags dropped) or \"retake\" (never sent).
# crop: the centre (x, y, from 0 to 1) and the side (size, a fraction of the shorter side) of
# the square every target's crop is derived from. rotate: degrees clockwise.
";

impl Decisions {
    /// The decisions in `path`; none if the file does not exist.
    pub fn load(path: &Path) -> Result<Decisions> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Decisions {
                    path: path.to_path_buf(),
                    people: BTreeMap::new(),
                });
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        let file: File = toml::from_str(&text).map_err(|e| {
            Error::config(format!("{}: {}", path.display(), e.to_string().trim_end())).with_context(
                "advice",
                "fix the file by hand, or move it aside to review again from scratch",
            )
        })?;
        for (key, decision) in &file.people {
            decision.check(key)?;
        }
        Ok(Decisions {
            path: path.to_path_buf(),
            people: file.people,
        })
    }

    /// Where the decisions are saved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// Every decision, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Decision)> {
        self.people.iter().map(|(k, d)| (k.as_str(), d))
    }

    /// The decision stored under the first of `keys` that has one (a person's keys on each
    /// target, in configuration order), and that key.
    pub fn find<'a>(&'a self, keys: &[String]) -> Option<(&'a str, &'a Decision)> {
        keys.iter()
            .find_map(|k| self.people.get_key_value(k))
            .or_else(|| {
                self.people
                    .iter()
                    .find(|(_, d)| d.also.iter().any(|a| keys.contains(a)))
            })
            .map(|(k, d)| (k.as_str(), d))
    }

    /// What the file says about a person (by their keys) whose photo hashes to `source`.
    pub fn lookup(&self, keys: &[String], source: &str) -> Lookup<'_> {
        match self.find(keys) {
            None => Lookup::None,
            Some((_, d)) if d.source == source => Lookup::Current(d),
            Some((_, d)) => Lookup::Stale(d),
        }
    }

    /// Sets (or with `None`, removes) the decision for `key`.
    pub fn set(&mut self, key: &str, decision: Option<Decision>) -> Result<()> {
        match decision {
            Some(d) => {
                d.check(key)?;
                self.people.insert(key.to_string(), d);
            }
            None => {
                self.people.remove(key);
            }
        }
        Ok(())
    }

    /// Writes the file: to a temporary file beside it, then renamed over it, so that a crash
    /// never leaves half a file. Written by hand rather than by serde, so that a crop stays on
    /// one line and each person is one block a person can read, and a merge can keep.
    pub fn save(&self) -> Result<()> {
        let mut out = String::from(HEADER);
        for (key, d) in &self.people {
            out.push_str(&format!("\n[people.{}]\n", quoted(key)));
            if !d.name.is_empty() {
                out.push_str(&format!("name = {}\n", quoted(&d.name)));
            }
            if !d.also.is_empty() {
                let also: Vec<String> = d.also.iter().map(|a| quoted(a)).collect();
                out.push_str(&format!("also = [{}]\n", also.join(", ")));
            }
            out.push_str(&format!("source = {}\n", quoted(&d.source)));
            let verdict = match d.verdict {
                Verdict::Accept => "accept",
                Verdict::Retake => "retake",
            };
            out.push_str(&format!("verdict = \"{verdict}\"\n"));
            if d.rotate != 0 {
                out.push_str(&format!("rotate = {}\n", d.rotate));
            }
            if let Some(c) = d.crop {
                out.push_str(&format!(
                    "crop = {{ x = {}, y = {}, size = {} }}\n",
                    number(c.x),
                    number(c.y),
                    number(c.size)
                ));
            }
            if !d.decided.is_empty() {
                out.push_str(&format!("decided = {}\n", quoted(&d.decided)));
            }
        }
        let tmp = self.path.with_extension("toml.tmp");
        std::fs::write(&tmp, out).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

/// A TOML string, escaped as TOML escapes it.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A fraction to four decimals, always written as a TOML float.
fn number(v: f64) -> String {
    let text = format!("{}", (v * 10_000.0).round() / 10_000.0);
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// The decisions of a run with the targets that key its people, in configuration order: a
/// person's decision is the one stored under the first of their keys that has one.
#[derive(Clone)]
pub struct Book {
    decisions: Arc<Decisions>,
    targets: Vec<Arc<dyn Target>>,
}

impl std::fmt::Debug for Book {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Book")
            .field("decisions", &self.decisions)
            .field("targets", &self.targets.len())
            .finish()
    }
}

impl Book {
    pub fn new(decisions: Decisions, targets: Vec<Arc<dyn Target>>) -> Book {
        Book {
            decisions: Arc::new(decisions),
            targets,
        }
    }

    pub fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    /// The person's key on each target that can key them, in configuration order, once each.
    /// The first is where a new decision is stored.
    pub fn keys(&self, person: &Arc<Person>) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for t in &self.targets {
            if let Ok(s) = t.subject(person.clone())
                && !keys.contains(&s.key)
            {
                keys.push(s.key);
            }
        }
        keys
    }

    /// The person's decision, whatever photo it was made on.
    pub fn find(&self, person: &Arc<Person>) -> Option<&Decision> {
        self.decisions.find(&self.keys(person)).map(|(_, d)| d)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HASH_A: &str = "aa00000000000000000000000000000000000000000000000000000000000001";
    const HASH_B: &str = "bb00000000000000000000000000000000000000000000000000000000000002";

    fn decision(source: &str, verdict: Verdict) -> Decision {
        Decision {
            name: "Ana Diaz".into(),
            also: vec!["ana-id".into()],
            source: source.into(),
            verdict,
            rotate: 90,
            crop: Some(CropBox {
                x: 0.25,
                y: 0.3,
                size: 0.4,
            }),
            decided: "2026-12-05T10:00:00Z".into(),
        }
    }

    #[test]
    fn decisions_survive_a_save_and_a_load_and_read_well() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut d = Decisions::load(&path).unwrap();
        assert!(d.is_empty());
        d.set("b@school.example", Some(decision(HASH_B, Verdict::Retake)))
            .unwrap();
        d.set("a@school.example", Some(decision(HASH_A, Verdict::Accept)))
            .unwrap();
        d.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Decisions made on picday's review page"));
        // Sorted by key: a merge of two reviewers' files touches separate tables.
        let a = text.find("[people.\"a@school.example\"]").unwrap();
        let b = text.find("[people.\"b@school.example\"]").unwrap();
        assert!(a < b, "{text}");
        assert!(text.contains("verdict = \"retake\""), "{text}");
        assert!(
            text.contains("crop = { x = 0.25, y = 0.3, size = 0.4 }"),
            "{text}"
        );
        let again = Decisions::load(&path).unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(
            again.find(&["a@school.example".into()]).unwrap().1,
            &decision(HASH_A, Verdict::Accept)
        );
    }

    #[test]
    fn a_decision_made_on_another_photo_is_stale() {
        let mut d = Decisions::default();
        d.set("a", Some(decision(HASH_A, Verdict::Accept))).unwrap();
        let keys = vec!["zz".to_string(), "a".to_string()];
        assert!(matches!(d.lookup(&keys, HASH_A), Lookup::Current(_)));
        assert!(matches!(d.lookup(&keys, HASH_B), Lookup::Stale(_)));
        // A run of another target finds it by the person's key there.
        assert!(matches!(
            d.lookup(&["ana-id".into()], HASH_A),
            Lookup::Current(_)
        ));
        assert_eq!(d.lookup(&["b".into()], HASH_A), Lookup::None);
    }

    #[test]
    fn a_hand_edited_file_with_bad_values_is_refused_naming_the_person() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        for (body, says) in [
            ("source = \"abc\"\nverdict = \"accept\"", "64 hex digits"),
            (
                &*format!("source = \"{HASH_A}\"\nverdict = \"accept\"\nrotate = 45"),
                "0, 90, 180 or 270",
            ),
            (
                &*format!(
                    "source = \"{HASH_A}\"\nverdict = \"accept\"\ncrop = {{ x = 0.5, y = 1.5, size = 0.3 }}"
                ),
                "from 0 to 1",
            ),
            (
                &*format!("source = \"{HASH_A}\"\nverdict = \"maybe\""),
                "verdict",
            ),
        ] {
            std::fs::write(&path, format!("[people.\"ana@s\"]\n{body}\n")).unwrap();
            let e = Decisions::load(&path).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn each_shape_is_derived_from_the_one_square() {
        let c = CropBox {
            x: 0.5,
            y: 0.3,
            size: 0.4,
        };
        // 1000x1500 portrait: a square of 400 centred at (500, 450).
        let square = c.rect(1000, 1500, 1.0);
        assert_eq!(
            (square.x, square.y, square.width, square.height),
            (300.0, 250.0, 400.0, 400.0)
        );
        // 4:5 keeps the width and the top edge, and grows down.
        let portrait = c.rect(1000, 1500, 0.8);
        assert_eq!(
            (portrait.x, portrait.y, portrait.width, portrait.height),
            (300.0, 250.0, 400.0, 500.0)
        );
        // A landscape shape keeps the height and the centre.
        let wide = c.rect(1000, 1500, 1.5);
        assert_eq!((wide.x, wide.width, wide.height), (200.0, 600.0, 400.0));
        assert_eq!(wide.y + wide.height / 2.0, 450.0);
    }

    #[test]
    fn a_crop_too_large_or_off_the_edge_is_kept_inside() {
        let c = CropBox {
            x: 0.95,
            y: 0.05,
            size: 1.0,
        };
        for aspect in [1.0, 0.8, 2.0 / 3.0, 1.5] {
            let r = c.rect(600, 800, aspect);
            assert!(r.x >= 0.0 && r.y >= 0.0, "{aspect}: {r:?}");
            assert!(r.x + r.width <= 600.0 + 1e-9, "{aspect}: {r:?}");
            assert!(r.y + r.height <= 800.0 + 1e-9, "{aspect}: {r:?}");
            assert!(
                (r.width / r.height - aspect).abs() < 1e-9,
                "{aspect}: {r:?}"
            );
        }
    }
}
