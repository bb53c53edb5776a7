//! Where the people of a run come from: one entry point, [`load`], over every kind of input
//! picday reads.
//!
//! Schools hand picday a CSV mapping ([`csv`]) or just a folder of photos named by id or
//! e-mail ([`folder`]); photographers deliver a PSPA index that is joined to a roster
//! ([`pspa`]). Each reader turns its input into the same [`Mapping`] (the
//! people, the rows left out and why, notes about the files) so that the engine, the targets
//! and the commands do not care where people came from; what only one kind of input has to
//! say (how a PSPA delivery was joined) comes back beside it as [`Details`], for `picday
//! check`. A new kind of input is a [`SourceFormat`] variant, a module here, an arm in [`load`]
//! and, if it has more to say, a [`Details`] variant.
//!
//! Dependencies point one way: `crate::config` embeds the `[source]` section's types from
//! [`config`] (plain serde types that need nothing else of the crate) and nothing more of this
//! module; the readers here use [`config`], [`crate::model`] and [`crate::error`], never
//! `crate::config`. Inside, [`csv`] and [`pspa`] share the table helpers (`table`: encoding,
//! delimiter, header, line numbers), [`KeyFields`] and [`RowProblem`], and do not use each
//! other.

pub mod config;
pub mod csv;
pub mod folder;
mod keys;
mod opt_out;
pub mod pspa;
mod shared;
mod table;

use std::path::Path;

use serde::Serialize;

pub use config::{Duplicates, Layout, SourceConfig, SourceFormat};
pub use keys::{Key, KeyFields};
pub use opt_out::OptOut;
pub use shared::{hold_back_shared_photos, name_others, shared_photos};

use crate::error::{Error, Result};
use crate::model::{Origin, Person};

/// The people of a source and the rows that had to be left out.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub people: Vec<Person>,
    pub problems: Vec<RowProblem>,
    /// Notes about the file as a whole (encoding guessed, rows deduplicated...).
    pub notes: Vec<String>,
}

impl Mapping {
    /// Removes the people marked in `marked` (one flag a person, in order) and puts the
    /// problems, theirs included, in line order.
    pub(crate) fn leave_out(&mut self, marked: &[bool]) {
        let mut marked = marked.iter();
        self.people
            .retain(|_| !marked.next().copied().unwrap_or(false));
        self.problems.sort_by_key(|p| p.origin.line);
    }
}

/// A row left out of the run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    pub origin: Origin,
    /// Who the row is about, as far as it can be told.
    pub person: String,
    pub message: String,
    /// What to do about it.
    pub advice: String,
}

impl RowProblem {
    /// A problem with the row `person` was read from.
    pub fn about(person: &Person, message: impl Into<String>, advice: impl Into<String>) -> Self {
        RowProblem {
            origin: person.origin.clone(),
            person: person.label(),
            message: message.into(),
            advice: advice.into(),
        }
    }
}

/// What only one kind of input has to say about how it was read.
#[derive(Debug, Clone)]
pub enum Details {
    /// A CSV mapping: its [`Mapping`] says it all.
    Csv,
    /// A PSPA delivery: the index files, their layout and how they were joined to the roster.
    Pspa(pspa::MatchStats),
    /// A folder of photos named by a template: the files that did not fit, the roster join.
    Folder(folder::FolderStats),
}

/// A source, read: the people of the run, the rows left out, and what `check` shows.
#[derive(Debug, Clone)]
pub struct Input {
    pub mapping: Mapping,
    pub details: Details,
}

/// Reads the people of a `[source]` section, whatever its format. Relative paths in it are
/// relative to `base_dir` (the configuration's folder). `key_fields` are the fields the enabled
/// targets key people on: a person no target can key is left out, and two people with the same
/// key but different photos are both left out.
pub fn load(source: &SourceConfig, base_dir: &Path, key_fields: &KeyFields) -> Result<Input> {
    if let Some(folder) = &source.folder {
        if !source.mapping.as_os_str().is_empty() || source.format != SourceFormat::Csv {
            return Err(Error::config(
                "[source]: `folder` replaces `mapping` and `format`; give one way to find the people",
            ));
        }
        let Some(file_name) = &source.file_name else {
            return Err(Error::config(
                "[source]: `folder` needs `file_name`, the template of the photos' names (e.g. \"{student_id}.jpg\")",
            ));
        };
        let pattern = folder::FilePattern::parse(file_name)?;
        let roster = source.roster.as_ref().map(|r| base_dir.join(r));
        let (mapping, stats) = folder::read_folder(
            &base_dir.join(folder),
            &pattern,
            roster.as_deref(),
            key_fields,
        )?;
        return Ok(Input {
            mapping,
            details: Details::Folder(stats),
        });
    }
    if source.file_name.is_some() {
        return Err(Error::config(
            "[source]: `file_name` is only read with `folder`",
        ));
    }
    if source.mapping.as_os_str().is_empty() {
        return Err(Error::config(
            "[source]: give `mapping` (a CSV or a PSPA delivery) or `folder` (photos named by `file_name`)",
        ));
    }
    let path = base_dir.join(&source.mapping);
    Ok(match source.format {
        SourceFormat::Csv => Input {
            mapping: csv::read_csv(&path, key_fields)?,
            details: Details::Csv,
        },
        SourceFormat::Pspa => {
            let options = pspa::PspaOptions::from_source(source, base_dir);
            let delivery = pspa::read_delivery(&path, &options, key_fields)?;
            Input {
                mapping: delivery.mapping,
                details: Details::Pspa(delivery.stats),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixture() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/pspa-delivery")
    }

    #[test]
    fn config_with_format_pspa_loads_through_source_load() {
        let root = fixture();
        let text = format!(
            "[source]\nformat = \"pspa\"\nmapping = \"{}\"\nroster = \"{}\"\n",
            root.display(),
            root.join("roster.csv").display()
        );
        let config = crate::Config::parse(Path::new("picday.toml"), text).unwrap();
        let input = load(
            &config.source,
            &config.base_dir,
            &KeyFields::each(&["email"]),
        )
        .unwrap();
        assert_eq!(input.mapping.people.len(), 5);
        assert_eq!(input.mapping.problems.len(), 1);
        let Details::Pspa(stats) = &input.details else {
            panic!("{:?}", input.details)
        };
        assert_eq!((stats.rows, stats.matched), (6, 5));
    }

    #[test]
    fn csv_paths_are_relative_to_the_configuration() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("src")).unwrap();
        std::fs::write(d.path().join("src/a.jpg"), b"x").unwrap();
        std::fs::write(d.path().join("src/m.csv"), "path,mail\na.jpg,a@s\n").unwrap();
        let source: SourceConfig = toml::from_str("mapping = \"src/m.csv\"").unwrap();
        let input = load(&source, d.path(), &KeyFields::each(&["mail"])).unwrap();
        assert!(matches!(input.details, Details::Csv));
        assert_eq!(input.mapping.people[0].photo, d.path().join("src/a.jpg"));
    }
}

#[cfg(test)]
mod folder_config_tests {
    use super::*;

    #[test]
    fn a_folder_source_is_configured_with_a_file_name_template() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("photos")).unwrap();
        std::fs::write(d.path().join("photos/a@s.jpg"), b"x").unwrap();
        let text = "[source]\nfolder = \"photos\"\nfile_name = \"{mail}.jpg\"\n";
        let config = crate::Config::parse(&d.path().join("picday.toml"), text.into()).unwrap();
        let input = load(&config.source, d.path(), &KeyFields::each(&["mail"])).unwrap();
        assert!(matches!(input.details, Details::Folder(_)));
        assert_eq!(input.mapping.people[0].field("mail"), Some("a@s"));
        for bad in [
            "[source]\nfolder = \"photos\"\n",
            "[source]\nfolder = \"photos\"\nmapping = \"m.csv\"\nfile_name = \"{mail}.jpg\"\n",
            "[source]\nmapping = \"m.csv\"\nfile_name = \"{mail}.jpg\"\n",
            "[source]\n",
        ] {
            let config = crate::Config::parse(&d.path().join("picday.toml"), bad.into()).unwrap();
            let e = load(&config.source, d.path(), &KeyFields::each(&["mail"])).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{bad}: {e}");
        }
    }
}
