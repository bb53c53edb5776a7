//! Keeps a target within what its service tolerates.
//!
//! One [`Limiter`] per target bounds the requests in flight and adapts: the limit grows by one
//! after a full window of successes, halves when the service throttles, and never exceeds the
//! maximum. A Retry-After hint pauses the whole target (every request, not just the one that
//! was told), because services such as Graph count the quota per application, not per request.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::{ErrorKind, Result};
use crate::model::{Photo, Subject};
use crate::target::{CheckReport, Receipt, TargetIo};

/// An adaptive concurrency limit with a target-wide pause.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
    notify: Notify,
    max: usize,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_flight: usize,
    successes: usize,
    paused_until: Option<Instant>,
    peak: usize,
    throttled: u64,
}

/// A slot in flight; returns itself to the limiter when dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limiter.lock().in_flight -= 1;
        self.limiter.notify.notify_waiters();
    }
}

impl Limiter {
    /// Starts at `initial` requests at once, never above `max`.
    pub fn new(initial: usize, max: usize) -> Self {
        let max = max.max(1);
        Limiter {
            state: Mutex::new(State {
                limit: initial.clamp(1, max),
                in_flight: 0,
                successes: 0,
                paused_until: None,
                peak: 0,
                throttled: 0,
            }),
            notify: Notify::new(),
            max,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a pause to end and a slot to be free.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pause = {
                let mut s = self.lock();
                match s.paused_until {
                    Some(until) if until > Instant::now() => Some(until),
                    _ if s.in_flight < s.limit => {
                        s.in_flight += 1;
                        s.peak = s.peak.max(s.in_flight);
                        return Permit { limiter: self };
                    }
                    _ => None,
                }
            };
            match pause {
                Some(until) => tokio::time::sleep_until(until).await,
                None => notified.await,
            }
        }
    }

    /// A request succeeded: after a window of `limit` successes the limit grows by one.
    pub fn on_success(&self) {
        let mut s = self.lock();
        s.successes += 1;
        if s.successes >= s.limit && s.limit < self.max {
            s.limit += 1;
            s.successes = 0;
            drop(s);
            self.notify.notify_waiters();
        }
    }

    /// The service throttled: halve the limit, and pause everyone for `retry_after`.
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let mut s = self.lock();
        s.throttled += 1;
        s.limit = (s.limit / 2).max(1);
        s.successes = 0;
        if let Some(ra) = retry_after {
            let until = Instant::now() + ra;
            if s.paused_until.is_none_or(|p| p < until) {
                s.paused_until = Some(until);
            }
        }
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// The most requests that were ever in flight at once.
    pub fn peak(&self) -> usize {
        self.lock().peak
    }

    /// How many times the service throttled.
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }
}

/// The throttle layer: every operation that reaches the service goes through the limiter.
#[derive(Debug)]
pub struct Throttle {
    inner: Arc<dyn TargetIo>,
    limiter: Arc<Limiter>,
}

impl Throttle {
    pub fn new(inner: Arc<dyn TargetIo>, limiter: Limiter) -> Self {
        Throttle {
            inner,
            limiter: Arc::new(limiter),
        }
    }

    /// The limiter, for statistics.
    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    async fn run<T>(&self, fut: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
        let _permit = self.limiter.acquire().await;
        let result = fut.await;
        match &result {
            Ok(_) => self.limiter.on_success(),
            Err(e) if e.kind() == ErrorKind::Throttled => {
                self.limiter.on_throttled(e.retry_after())
            }
            Err(e) if e.retry_after().is_some() => self.limiter.on_throttled(e.retry_after()),
            Err(_) => {}
        }
        result
    }
}

#[async_trait]
impl TargetIo for Throttle {
    async fn check(&self) -> Result<CheckReport> {
        self.inner.check().await
    }
    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        self.run(self.inner.put_photo(subject, photo)).await
    }
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.run(self.inner.get_photo(subject)).await
    }
    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        self.run(self.inner.delete_photo(subject)).await
    }
    async fn finish(&self) -> Result<Option<String>> {
        self.inner.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limit_grows_halves_and_respects_max() {
        let l = Limiter::new(2, 5);
        for _ in 0..40 {
            let _p = l.acquire().await;
            l.on_success();
        }
        assert_eq!(l.limit(), 5);
        l.on_throttled(None);
        assert_eq!(l.limit(), 2);
        l.on_throttled(None);
        l.on_throttled(None);
        assert_eq!(l.limit(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_everyone() {
        let l = Arc::new(Limiter::new(4, 4));
        l.on_throttled(Some(Duration::from_secs(10)));
        let start = Instant::now();
        let _p = l.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_never_exceeds_limit() {
        let l = Arc::new(Limiter::new(3, 3));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let l = l.clone();
            tasks.push(tokio::spawn(async move {
                let _p = l.acquire().await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(l.peak(), 3);
    }
}
