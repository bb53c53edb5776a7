//! SIS import packages: `powerschool`, `infinite-campus` and `aeries` targets.
//!
//! School information systems offer no API to write a photo; schools import a package of files
//! instead (a zip of JPEGs named by id, sometimes with a map file). These targets build those
//! packages from the same mapping and the same single normalisation as every other target, in
//! a portrait shape (SIS photo slots are 2:3 or 4:5, not the directories' square).
//!
//! A package target collects photos during the run into a staging folder (not memory) and
//! writes the package once, in [`picday_core::Target::finish`]: every file under a temporary
//! name, then renamed, so an import never picks up half a package. A manifest next to it says
//! who is in it and who was left out and why. Ids that would make unsafe file names are
//! refused. The crate is laid out like every target crate: [`config`] (the options of each
//! type), [`target`] (the `Target` implementation) and [`package`] (zip, map and manifest
//! writing).

pub mod config;
pub mod package;
pub mod target;

use std::sync::Arc;

use picday_core::Registry;

pub use package::{Manifest, ManifestEntry, ManifestLeftOut, check_id};
pub use target::{Kind, SisTarget};

/// Adds the three SIS package types to a registry.
pub fn register(registry: &mut Registry) {
    for kind in [Kind::PowerSchool, Kind::InfiniteCampus, Kind::Aeries] {
        registry.register(Arc::new(config::SisFactory(kind)));
    }
}
