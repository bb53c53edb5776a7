//! The `[source]` section of `picday.toml`: which input picday reads and how.
//!
//! These are plain serde types (and the model's [`Template`]), kept apart from the readers so
//! that `crate::config` can embed them without depending on the readers, and the readers can
//! take them without depending on the rest of the configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::Template;

/// `[source]`: where people and photos come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The mapping file, relative to the configuration (not with `folder`).
    #[serde(default)]
    pub mapping: PathBuf,
    /// A folder of photos named by `file_name`, instead of a mapping file.
    #[serde(default)]
    pub folder: Option<PathBuf>,
    /// With `folder`: the template of the photos' file names, e.g. `"{student_id}.jpg"`.
    #[serde(default)]
    pub file_name: Option<String>,
    /// The mapping's format.
    #[serde(default)]
    pub format: SourceFormat,
    /// PSPA only: the roster CSV joined to the index for ids and e-mails.
    #[serde(default)]
    pub roster: Option<PathBuf>,
    /// PSPA only: the index fields compared with the roster (default last_name, first_name,
    /// grade).
    #[serde(default)]
    pub match_on: Option<Vec<String>>,
    /// PSPA only: the roster column of an index field, when its name differs.
    #[serde(default)]
    pub roster_columns: Option<BTreeMap<String, String>>,
    /// PSPA only: the index column layout (auto, standard, creator-studio, pictavo).
    #[serde(default)]
    pub layout: Option<Layout>,
    /// PSPA only: names for the columns after the standard ones, when there is no header row.
    #[serde(default)]
    pub extra_columns: Option<Vec<String>>,
    /// PSPA only: a district's own grade codes and the grade each means (`{ "SR" = "12" }`),
    /// added to the built-in equivalences (`K` = `0`, `PK` = `-1`...).
    #[serde(default)]
    pub grade_values: Option<BTreeMap<String, String>>,
    /// PSPA only: which row is used when one person has several (retakes): the last (default),
    /// the first, or none (an error).
    #[serde(default)]
    pub duplicates: Option<Duplicates>,
    /// PSPA only: the grade or title values that mark staff (default Staff, Faculty, FAC,
    /// Teacher, Admin; case ignored).
    #[serde(default)]
    pub staff_values: Option<Vec<String>>,
    /// PSPA only: a row (index or roster) is also staff when this template renders, e.g.
    /// `"{teacher_number}"`.
    #[serde(default)]
    pub staff_when: Option<Template>,
    /// PSPA only: a staff roster CSV, joined to staff rows on the match fields without grade.
    #[serde(default)]
    pub staff_roster: Option<PathBuf>,
    /// Who must have no photo: a template over the mapping's (or the PSPA roster's) columns,
    /// e.g. `"{photo_opt_out}"`; see [`crate::source::OptOut`].
    #[serde(default)]
    pub opt_out: Option<Template>,
}

impl SourceConfig {
    /// The first key that is set but not read by the section's `format`, with the format that
    /// reads it.
    pub fn unused_key(&self) -> Option<(&'static str, SourceFormat)> {
        let pspa_keys = [
            ("roster", self.roster.is_some()),
            ("match_on", self.match_on.is_some()),
            ("roster_columns", self.roster_columns.is_some()),
            ("layout", self.layout.is_some()),
            ("extra_columns", self.extra_columns.is_some()),
            ("grade_values", self.grade_values.is_some()),
            ("duplicates", self.duplicates.is_some()),
            ("staff_values", self.staff_values.is_some()),
            ("staff_when", self.staff_when.is_some()),
            ("staff_roster", self.staff_roster.is_some()),
        ];
        if self.format == SourceFormat::Pspa {
            return None;
        }
        // A photo folder joins a roster too.
        let folder = self.folder.is_some();
        pspa_keys
            .into_iter()
            .find(|(key, set)| *set && !(folder && *key == "roster"))
            .map(|(key, _)| (key, SourceFormat::Pspa))
    }
}

/// The kinds of input picday reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// A CSV with a header row (`path,mail,...`), see [`crate::source::csv`].
    #[default]
    Csv,
    /// A photographer's PSPA/PSPI delivery (`INDEX.TXT` + image folders), see
    /// [`crate::source::pspa`].
    Pspa,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Csv => "csv",
            SourceFormat::Pspa => "pspa",
        })
    }
}

/// Which row is used when an index has several rows for one person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Duplicates {
    /// The later row: `MASTER.TXT` lists a retake after the original.
    #[default]
    Last,
    /// The earlier row.
    First,
    /// None: every row of the person is left out and reported.
    Error,
}

/// The column layout of a PSPA index without a header row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// Decided from the number of columns: 7 Pictavo, 8 Creator Studio, else standard.
    #[default]
    Auto,
    /// The 13 standard columns, then extra columns.
    #[serde(alias = "13")]
    Standard,
    /// Volume, folder, file, grade, last, first, teacher, home room.
    #[serde(alias = "8")]
    CreatorStudio,
    /// Volume, folder, file, grade, last, first, teacher/home room.
    #[serde(alias = "7")]
    Pictavo,
    /// The index had a header row: columns are named by it (detected, not configured).
    #[serde(skip_deserializing)]
    Header,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Auto => "auto",
            Layout::Standard => "standard (13 columns)",
            Layout::CreatorStudio => "Creator Studio (8 columns)",
            Layout::Pictavo => "Pictavo (7 columns)",
            Layout::Header => "named by the header row",
        })
    }
}
