//! A fixed pool of photo workers: the threads that decode and render source photos.
//!
//! Why not tokio's blocking pool: it grows to hundreds of threads and reuses whichever is idle,
//! and the journal's file I/O runs there too, so over a run the photos land on many different
//! threads, each keeping its own read and decode buffers (tens of MB) for the next photo it
//! might get. With a fixed pool of `workers` threads, at most that many sets of buffers exist,
//! and photos are processed at most `workers` at a time without a separate semaphore.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

use crate::error::{Error, Result};

type Task = Box<dyn FnOnce() + Send>;

/// Threads that run photo work one task each at a time; they end when the pool is dropped.
#[derive(Debug)]
pub(super) struct PhotoWorkers {
    queue: Mutex<mpsc::Sender<Task>>,
}

impl PhotoWorkers {
    /// A pool of `n` threads (at least one). A thread the system refuses to start is logged;
    /// with none started, every photo fails with that reason instead of hanging.
    pub(super) fn new(n: usize) -> Arc<Self> {
        let (queue, tasks) = mpsc::channel::<Task>();
        let tasks = Arc::new(Mutex::new(tasks));
        for i in 0..n.max(1) {
            let tasks = tasks.clone();
            let started = std::thread::Builder::new()
                .name(format!("picday-photo-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next task, never while it runs.
                        let next = match tasks.lock() {
                            Ok(tasks) => tasks.recv(),
                            Err(_) => return,
                        };
                        match next {
                            Ok(task) => task(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = started {
                tracing::error!("cannot start a photo worker: {e}");
            }
        }
        Arc::new(PhotoWorkers {
            queue: Mutex::new(queue),
        })
    }

    /// Runs `work` on one of the pool's threads and waits for its result. A panic in `work` is
    /// an internal error for that photo, and the thread goes on with the next one.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let task: Task = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
                Err(Error::internal(
                    "a photo worker failed on this photo (a bug: please report it)",
                ))
            });
            let _ = done.send(outcome);
        });
        self.queue
            .lock()
            .map_err(|_| Error::internal("the photo workers are gone"))?
            .send(task)
            .map_err(|_| Error::internal("the photo workers are gone"))?;
        result
            .await
            .unwrap_or_else(|_| Err(Error::internal("a photo worker stopped")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[tokio::test]
    async fn every_photo_runs_on_one_of_n_threads_and_a_panic_fails_only_its_own() {
        let pool = PhotoWorkers::new(2);
        let mut names = BTreeSet::new();
        for _ in 0..20 {
            let name = pool
                .run(|| Ok(std::thread::current().name().unwrap_or("").to_string()))
                .await
                .expect("ran");
            names.insert(name);
        }
        assert!(names.len() <= 2, "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("picday-photo-")),
            "{names:?}"
        );

        let failed = pool.run::<()>(|| panic!("bad photo")).await;
        assert!(failed.is_err());
        assert_eq!(pool.run(|| Ok(7)).await.expect("still working"), 7);
    }
}
