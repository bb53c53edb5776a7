//! One module per subcommand.

pub mod check;
pub mod init;
pub mod push;
pub mod report;
pub mod restore;
pub mod status;
pub mod targets;

use picday_core::Config;
use picday_core::engine::Engine;
use picday_core::pipeline::Pipeline;

/// The engine as the configuration sets it up.
pub fn engine(config: &Config) -> Engine {
    Engine {
        pipeline: Pipeline {
            crop: config.photo.crop,
            max_pixels: config.photo.max_pixels,
        },
        workers: config.run.workers,
        window: 0,
        journal: None,
    }
}
