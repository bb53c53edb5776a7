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
pub mod review;
pub mod status;
pub mod targets;

use std::collections::BTreeSet;
use std::sync::Arc;

use picday_core::engine::Engine;
use picday_core::pipeline::budget::MIB;
use picday_core::pipeline::{MemoryBudget, Pipeline};
use picday_core::review::{Book, Decisions};
use picday_core::source::OptOut;
use picday_core::{Config, Profile, Target};

use crate::exit::usage;
use crate::setup::Loaded;

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
        review: None,
    }
}

/// Where the review page keeps its decisions: `review.toml` beside the configuration.
pub fn review_path(config: &Config) -> std::path::PathBuf {
    config.base_dir.join(picday_core::review::FILE_NAME)
}

/// The decisions of `review.toml` for the engine, `None` when there are none. A file that
/// cannot be read is a usage error: a push that ignored it would send what a person held back.
pub fn review_book(loaded: &Loaded) -> anyhow::Result<Option<Book>> {
    let decisions = Decisions::load(&review_path(&loaded.config)).map_err(usage)?;
    if decisions.is_empty() {
        return Ok(None);
    }
    let targets = loaded.targets.iter().map(|(_, t)| t.clone()).collect();
    Ok(Some(Book::new(decisions, targets)))
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
