//! The layers against a simulated service with a write quota, on tokio's paused clock: the
//! guarantee that adaptive concurrency, started low, grows to hold a shared quota while
//! scattered outages are retried one by one, and that nothing is lost.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{StackOptions, stack};
use crate::error::{Error, Result};
use crate::model::{Person, Photo, Profile, Subject, Template};
use crate::target::{CheckReport, Receipt, Target, TargetInfo, TargetIo};

/// A service whose writes spend a token bucket (429 + Retry-After when empty), every request
/// taking `latency`, and every `fault_every`th write answered 503 with `Retry-After: 1`.
#[derive(Debug)]
struct QuotaService {
    info: TargetInfo,
    rate: f64,
    burst: f64,
    latency: Duration,
    fault_every: u64,
    bucket: Mutex<(f64, Instant)>,
    attempts: AtomicU64,
    accepted: AtomicU64,
    throttled: AtomicU64,
    requests: AtomicU64,
}

impl QuotaService {
    fn new(rate: f64, latency: Duration, fault_every: u64) -> Self {
        let key = Template::parse("{mail}").unwrap();
        QuotaService {
            info: TargetInfo::new("q", "quota", key, Profile::square(96))
                .reads_back()
                .max_concurrency(16),
            rate,
            burst: rate,
            latency,
            fault_every,
            bucket: Mutex::new((rate, Instant::now())),
            attempts: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }
}

impl Target for QuotaService {
    fn info(&self) -> &TargetInfo {
        &self.info
    }
}

#[async_trait]
impl TargetIo for QuotaService {
    async fn check(&self) -> Result<CheckReport> {
        Ok(CheckReport::default())
    }

    async fn put_photo(&self, _: &Subject, _: &Photo) -> Result<Receipt> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.latency).await;
        if self.fault_every > 0 && n.is_multiple_of(self.fault_every) {
            return Err(Error::unavailable("503 serviceNotAvailable")
                .with_retry_after(Some(Duration::from_secs(1))));
        }
        let mut b = self.bucket.lock().unwrap();
        let now = Instant::now();
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * self.rate).min(self.burst);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            self.accepted.fetch_add(1, Ordering::SeqCst);
            Ok(Receipt::new("accepted"))
        } else {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            let wait = ((1.0 - b.0) / self.rate).ceil().max(1.0);
            Err(Error::throttled("429 TooManyRequests")
                .with_retry_after(Some(Duration::from_secs_f64(wait))))
        }
    }

    async fn get_photo(&self, _: &Subject) -> Result<Option<Vec<u8>>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        Ok(None)
    }
}

/// Pushes `people` through the stacked service as the engine does (a window of people at
/// once; each: the backup read, then the write). Returns the share of the quota held.
async fn push(service: Arc<QuotaService>, people: usize) -> f64 {
    let stacked = stack(service.clone(), &StackOptions::default());
    // The engine's default window with two workers and a target of 16: 2 * 2 + 16.
    let window = Arc::new(tokio::sync::Semaphore::new(20));
    let photo = Photo {
        bytes: vec![0xFF, 0xD8, 0xFF, 0xD9].into(),
        width: 96,
        height: 96,
        profile: Profile::square(96),
    };
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..people {
        let (t, window, photo) = (stacked.clone(), window.clone(), photo.clone());
        tasks.spawn(async move {
            let _admitted = window.acquire_owned().await.unwrap();
            let mail = format!("p{i}@school.example");
            let s = Subject::new(
                mail.clone(),
                Arc::new(Person::new("p.jpg", [("mail", mail)])),
            );
            t.get_photo(&s).await?;
            t.put_photo(&s, &photo).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().expect("nothing is lost");
    }
    let ideal = (people as f64 - service.burst) / service.rate;
    ideal / start.elapsed().as_secs_f64()
}

#[tokio::test(start_paused = true)]
async fn a_shared_quota_is_held_with_slow_requests_and_scattered_503s() {
    // 20 writes/s, 250 ms a request, 5 % of writes answered 503 with Retry-After: 1.
    let service = Arc::new(QuotaService::new(20.0, Duration::from_millis(250), 20));
    let held = push(service.clone(), 2000).await;
    assert_eq!(service.accepted.load(Ordering::SeqCst), 2000);
    assert!(
        held >= 0.9,
        "held {:.0} % of the quota ({} answered 429)",
        held * 100.0,
        service.throttled.load(Ordering::SeqCst)
    );
}

#[tokio::test(start_paused = true)]
async fn a_quota_is_held_without_faults() {
    let service = Arc::new(QuotaService::new(20.0, Duration::from_millis(250), 0));
    let held = push(service.clone(), 2000).await;
    assert!(held >= 0.9, "held {:.0} % of the quota", held * 100.0);
}
