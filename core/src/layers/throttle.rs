//! Keeps a target within what its service tolerates, treating each cause of refusal as what
//! it is.
//!
//! One [`Limiter`] per target bounds the requests in flight and adapts: it starts low, grows by
//! one after a full window of successes up to the maximum (four windows once the service has
//! throttled), so that it finds the concurrency that holds the service's quota. What lowers it depends on why the service refused:
//!
//! - **Throttled** (429, a quota spent): the quota is shared by every request of the
//!   application, so the whole target pauses for the Retry-After (not just the request that
//!   was told), and the limit drops by a quarter. A gentle decrease, because the pause already
//!   lets the quota refill; after the first 429 the limit grows four times slower, so that it
//!   stays near the quota instead of running into it every few seconds. Measured in
//!   `quota_sim.rs` (20 writes/s, 250 ms a request): halving, or growing at full speed, held
//!   88-89 % of the quota; this holds 92-94 %. A 429 answered to a request sent before the
//!   last one was seen tells of the same spent quota and changes nothing.
//! - **Unavailable** (503, 504, a network failure): about that one request. The retry layer
//!   delays only it (its Retry-After, or backoff); the limiter lowers the concurrency only when
//!   most of the recent requests failed so (a burst: the service is struggling), never for a
//!   scattered few, which cost a whole-target pause each before and cut the throughput to a
//!   third at 5 % of writes answered 503.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::{ErrorKind, Result};
use crate::model::{Photo, Subject};
use crate::target::{CheckReport, PhotoInfo, Receipt, TargetIo};

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
    outages: u64,
    /// When the service last throttled a request sent after the previous throttling.
    last_throttled: Option<Instant>,
    /// The last [`WINDOW`] results: `true` for an outage, `false` for a success.
    recent: VecDeque<bool>,
}

/// How many recent results decide whether outages come in a burst.
const WINDOW: usize = 20;

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
                outages: 0,
                last_throttled: None,
                recent: VecDeque::with_capacity(WINDOW),
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

    /// A request succeeded: after a window of `limit` successes the limit grows by one; once
    /// the service has throttled, after four windows, so that the limit stays near the quota
    /// instead of running into it every few seconds.
    pub fn on_success(&self) {
        let mut s = self.lock();
        s.remember(false);
        s.successes += 1;
        let window = if s.throttled > 0 {
            s.limit * 4
        } else {
            s.limit
        };
        if s.successes >= window && s.limit < self.max {
            s.limit += 1;
            s.successes = 0;
            drop(s);
            self.notify.notify_waiters();
        }
    }

    /// The service throttled (its quota is spent): lower the limit by a quarter, and pause
    /// everyone for `retry_after`.
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        self.throttled_since(retry_after, Instant::now());
    }

    /// Like [`Limiter::on_throttled`], for a request sent at `sent`. A request sent before
    /// the last throttling was seen tells of the same spent quota: it neither lowers the limit
    /// again nor stretches the pause (each such answer used to add its own Retry-After, so the
    /// target sat idle while the quota refilled and overflowed).
    pub fn throttled_since(&self, retry_after: Option<Duration>, sent: Instant) {
        let mut s = self.lock();
        s.throttled += 1;
        if s.last_throttled.is_some_and(|seen| sent < seen) {
            return;
        }
        s.last_throttled = Some(Instant::now());
        s.successes = 0;
        s.limit = (s.limit - s.limit / 4)
            .min(s.limit.saturating_sub(1))
            .max(1);
        if let Some(ra) = retry_after {
            let until = Instant::now() + ra;
            if s.paused_until.is_none_or(|p| p < until) {
                s.paused_until = Some(until);
            }
        }
    }

    /// The service failed one request (503, 504, unreachable): no pause; the limit halves only
    /// when most of the recent window failed so.
    pub fn on_outage(&self) {
        let mut s = self.lock();
        s.outages += 1;
        s.remember(true);
        let failed = s.recent.iter().filter(|o| **o).count();
        if failed * 2 > WINDOW {
            s.limit = (s.limit / 2).max(1);
            s.successes = 0;
            s.recent.clear();
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

    /// How many requests failed for an outage.
    pub fn outages(&self) -> u64 {
        self.lock().outages
    }
}

impl State {
    fn remember(&mut self, outage: bool) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(outage);
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
        let sent = Instant::now();
        let result = fut.await;
        match &result {
            Ok(_) => self.limiter.on_success(),
            Err(e) if e.kind() == ErrorKind::Throttled => {
                match e.retry_after() {
                    Some(wait) => tracing::info!(
                        "throttled by the service: the target pauses for {:.1} s (Retry-After)",
                        wait.as_secs_f64()
                    ),
                    None => tracing::info!(
                        "throttled by the service (no Retry-After): the request waits its backoff"
                    ),
                }
                self.limiter.throttled_since(e.retry_after(), sent)
            }
            // A Retry-After on an outage is for the retry layer to honour for this request.
            Err(e) if e.kind() == ErrorKind::Unavailable => self.limiter.on_outage(),
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
    async fn prepare(&self, keys: &[String]) -> Result<()> {
        self.inner.prepare(keys).await
    }
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        self.run(self.inner.photo_info(subject)).await
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
    async fn limit_grows_drops_on_throttling_and_respects_max() {
        let l = Limiter::new(2, 5);
        for _ in 0..40 {
            let _p = l.acquire().await;
            l.on_success();
        }
        assert_eq!(l.limit(), 5);
        l.on_throttled(None);
        assert_eq!(l.limit(), 4, "a quarter less");
        for _ in 0..10 {
            l.on_throttled(None);
        }
        assert_eq!(l.limit(), 1, "never below one");
        assert_eq!(l.throttled(), 11);
    }

    #[tokio::test(start_paused = true)]
    async fn scattered_outages_neither_pause_nor_lower_only_a_burst_halves() {
        let l = Limiter::new(8, 8);
        // One outage in five, for a long time: the limit stays, nobody waits.
        for i in 0..100 {
            if i % 5 == 0 {
                l.on_outage();
            } else {
                l.on_success();
            }
        }
        assert_eq!(l.limit(), 8);
        let start = Instant::now();
        let _p = l.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "no pause");
        drop(_p);
        for _ in 0..20 {
            l.on_success();
        }
        // Most of the recent window failing is a burst: halve, once per burst.
        for _ in 0..10 {
            l.on_outage();
        }
        assert_eq!(l.limit(), 8, "ten of twenty is not most");
        l.on_outage();
        assert_eq!(l.limit(), 4);
        for _ in 0..5 {
            l.on_outage();
        }
        assert_eq!(l.limit(), 4, "the window starts again after a drop");
        assert_eq!(l.outages(), 36);
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
