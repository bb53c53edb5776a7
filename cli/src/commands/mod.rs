//! One module per subcommand.

pub mod apply;
pub mod check;
pub mod completions;
pub mod export;
pub mod init;
pub mod man;
pub mod preview;
pub mod push;
pub mod remove;
pub mod report;
pub mod restore;
pub mod status;
pub mod targets;

use std::collections::BTreeSet;
use std::sync::Arc;

use picday_core::engine::Engine;
use picday_core::pipeline::budget::MIB;
use picday_core::pipeline::{MemoryBudget, Pipeline};
use picday_core::source::OptOut;
use picday_core::{Config, Profile, Target};

/// The engine as the configuration sets it up.
pub fn engine(config: &Config) -> Engine {
    Engine {
        pipeline: Pipeline {
            crop: config.photo.crop,
            max_pixels: config.photo.max_pixels,
            max_file_bytes: config.photo.max_file_mb.saturating_mul(1_000_000),
            budget: Arc::new(MemoryBudget::new(
                config.photo.max_memory_mb.saturating_mul(MIB),
                config.run.memory_mb.saturating_mul(MIB),
            )),
        },
        workers: config.run.workers,
        window: 0,
        journal: None,
        opt_out: config.source.opt_out.clone().map(OptOut::new),
        missing_only: false,
    }
}

/// The distinct profiles a set of targets wants.
pub fn profiles_of<'a>(targets: impl IntoIterator<Item = &'a Arc<dyn Target>>) -> Vec<Profile> {
    targets
        .into_iter()
        .map(|t| t.info().capabilities.profile)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
