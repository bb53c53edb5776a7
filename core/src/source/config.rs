//! The `[source]` section of `picday.toml`: which input picday reads and how.
//!
//! These are plain serde types, kept apart from the readers so that `crate::config` can embed
//! them without depending on the readers, and the readers can take them without depending on
//! the rest of the configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[source]`: where people and photos come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The mapping file, relative to the configuration.
    pub mapping: PathBuf,
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
        ];
        if self.format == SourceFormat::Pspa {
            return None;
        }
        pspa_keys
            .into_iter()
            .find(|(_, set)| *set)
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
