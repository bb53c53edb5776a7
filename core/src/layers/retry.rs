//! Retries temporary failures with exponential backoff and full jitter, honouring the
//! service's Retry-After hint, for a bounded number of attempts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

use crate::error::Result;
use crate::model::{Photo, Subject};
use crate::target::{CheckReport, PhotoInfo, Receipt, RetryPolicy, TargetIo};

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1): full jitter over an
    /// exponentially growing window, or the Retry-After hint if that is longer.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let window = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let jittered = if window.is_zero() {
            window
        } else {
            rand::rng().random_range(window / 2..=window)
        };
        retry_after.map_or(jittered, |ra| ra.max(jittered.min(ra + window / 4)))
    }
}

/// Parses an HTTP `Retry-After` value: delta-seconds (fractions tolerated), or an HTTP-date
/// (RFC 9110: IMF-fixdate, or the obsolete RFC 850 and asctime forms). A date in the past
/// means now.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    httpdate::parse_http_date(value).ok().map(|at| {
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
    })
}

/// The retry layer.
#[derive(Debug)]
pub struct Retry {
    inner: Arc<dyn TargetIo>,
    policy: RetryPolicy,
}

impl Retry {
    pub fn new(inner: Arc<dyn TargetIo>, policy: RetryPolicy) -> Self {
        Retry { inner, policy }
    }

    async fn run<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T>> + Send,
        T: Send,
    {
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let too_long = e
                        .retry_after()
                        .is_some_and(|ra| ra > self.policy.max_retry_after);
                    if !e.is_temporary() || attempt >= self.policy.max_attempts || too_long {
                        return Err(if attempt > 1 {
                            e.with_context("attempts", attempt.to_string())
                        } else {
                            e
                        });
                    }
                    let delay = self.policy.delay(attempt, e.retry_after());
                    tracing::debug!(attempt, ?delay, error = %e, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[async_trait]
impl TargetIo for Retry {
    async fn check(&self) -> Result<CheckReport> {
        self.inner.check().await
    }
    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        self.run(|| self.inner.put_photo(subject, photo)).await
    }
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.run(|| self.inner.get_photo(subject)).await
    }
    async fn prepare(&self, keys: &[String]) -> Result<()> {
        self.inner.prepare(keys).await
    }
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        self.run(|| self.inner.photo_info(subject)).await
    }
    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        self.run(|| self.inner.delete_photo(subject)).await
    }
    async fn finish(&self) -> Result<Option<String>> {
        self.inner.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        let future = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT").unwrap();
        assert!(future > Duration::from_secs(365 * 86_400));
        // The two obsolete forms RFC 9110 asks recipients to accept.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 CET"), None);
    }

    #[test]
    fn delay_grows_is_bounded_and_honours_retry_after() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for attempt in 1..10 {
            let d = p.delay(attempt, None);
            assert!(d <= Duration::from_secs(1));
            let window =
                Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            assert!(d >= window / 2, "attempt {attempt}: {d:?}");
        }
        assert!(p.delay(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }
}
