//! One module per subcommand.

pub mod check;
pub mod init;
pub mod preview;
pub mod push;
pub mod report;
pub mod restore;
pub mod status;
pub mod targets;

use std::collections::BTreeSet;
use std::sync::Arc;

use picday_core::engine::Engine;
use picday_core::pipeline::{Pipeline, Processed};
use picday_core::{Config, Error, Person, Profile, Target};
use tokio::sync::Semaphore;

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

/// The distinct profiles a set of targets wants.
pub fn profiles_of<'a>(targets: impl IntoIterator<Item = &'a Arc<dyn Target>>) -> Vec<Profile> {
    targets
        .into_iter()
        .map(|t| t.capabilities().profile)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Runs the pipeline over every person (one blocking worker per core) without sending
/// anything, handing each result to `done` as it completes.
pub async fn process_photos(
    people: &[Person],
    profiles: &[Profile],
    pipeline: &Pipeline,
    mut done: impl FnMut(Person, Result<Processed, Error>),
) {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let cpu = Arc::new(Semaphore::new(workers));
    let profiles: Arc<[Profile]> = profiles.into();
    let mut tasks = tokio::task::JoinSet::new();
    for person in people.iter().cloned() {
        let (pipeline, profiles, cpu) = (pipeline.clone(), profiles.clone(), cpu.clone());
        tasks.spawn(async move {
            let _permit = cpu.acquire_owned().await;
            let path = person.photo.clone();
            let result = tokio::task::spawn_blocking(move || pipeline.process(&path, &profiles))
                .await
                .unwrap_or_else(|e| Err(Error::internal(format!("photo worker failed: {e}"))));
            (person, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((person, result)) => done(person, result),
            Err(e) => tracing::error!("a photo task failed: {e}"),
        }
    }
}
