//! The credentials breaker: after a target refuses picday's credentials once, the rest of the
//! run does not ask again.
//!
//! A wrong password is not a per-person problem. Without this layer every person would try
//! again: 40 people meant 40 LDAP binds in a tenth of a second, and Active Directory's lockout
//! policy locks a service account after 5 to 10 failed binds; a wrong Entra secret meant 40
//! token requests. Until one request has shown that the credentials work, requests pass one
//! at a time (so a wrong password costs one attempt, not one per request in flight); after the
//! first authentication failure of a target, every later operation on it fails at once with
//! the same reason, without contacting the service.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Photo, Subject};
use crate::target::{CheckReport, PhotoInfo, Receipt, TargetIo};

/// What the first refusal said, to repeat it.
#[derive(Debug, Clone)]
struct Refusal {
    message: String,
    context: Vec<(&'static str, String)>,
}

/// Stops calling a target after its first authentication failure.
#[derive(Debug)]
pub struct Breaker {
    inner: Arc<dyn TargetIo>,
    refused: Mutex<Option<Refusal>>,
    /// A request was answered in a way that shows the credentials work.
    proven: AtomicBool,
    /// Held by the one request in flight while the credentials are unproven.
    probe: tokio::sync::Mutex<()>,
}

impl Breaker {
    pub fn new(inner: Arc<dyn TargetIo>) -> Self {
        Breaker {
            inner,
            refused: Mutex::new(None),
            proven: AtomicBool::new(false),
            probe: tokio::sync::Mutex::new(()),
        }
    }

    fn refused(&self) -> std::sync::MutexGuard<'_, Option<Refusal>> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run<T>(&self, op: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
        let _probe = if self.proven.load(Ordering::Acquire) {
            None
        } else {
            // Every request that came while the credentials were unproven waits here; once
            // one has proven them, the others go on at once instead of one after another.
            let probe = self.probe.lock().await;
            (!self.proven.load(Ordering::Acquire)).then_some(probe)
        };
        self.refuse_again()?;
        let result = op.await;
        match &result {
            Err(e) if e.kind() == ErrorKind::Auth => {
                let mut refused = self.refused();
                if refused.is_none() {
                    tracing::warn!("credentials refused; no further requests to this target: {e}");
                    *refused = Some(Refusal {
                        message: e.message().to_string(),
                        context: e.context().to_vec(),
                    });
                }
            }
            // Unreachable or throttled: the credentials are still unproven.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Unavailable | ErrorKind::Throttled | ErrorKind::Cancelled
                ) => {}
            _ => self.proven.store(true, Ordering::Release),
        }
        result
    }

    /// The first refusal again, if there was one.
    fn refuse_again(&self) -> Result<()> {
        if let Some(r) = self.refused().clone() {
            let mut e = Error::new(
                ErrorKind::Auth,
                format!(
                    "not tried: the target refused picday's credentials earlier in this run ({})",
                    r.message
                ),
            )
            .temporary(false);
            for (k, v) in r.context {
                e = e.with_context(k, v);
            }
            return Err(e);
        }
        Ok(())
    }
}

#[async_trait]
impl TargetIo for Breaker {
    async fn check(&self) -> Result<CheckReport> {
        self.run(self.inner.check()).await
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
    use std::time::Duration;

    use super::*;
    use crate::memory::MemoryTarget;
    use crate::model::{Person, Profile};
    use crate::target::Target;

    /// Requests queued before the credentials were proven pass one at a time only until one
    /// has proven them; then they run together (a run queues dozens at its start, and passing
    /// all of them one by one made a 16-wide target serial).
    #[tokio::test]
    async fn once_proven_the_queued_requests_run_together() {
        let memory = Arc::new(
            MemoryTarget::new("m")
                .with_max_concurrency(16)
                .with_delay(Duration::from_millis(20)),
        );
        let breaker = Arc::new(Breaker::new(memory.clone()));
        let photo = Photo {
            bytes: vec![0xFF, 0xD8, 0xFF, 0xD9].into(),
            width: 96,
            height: 96,
            profile: Profile::square(96),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..12 {
            let (b, t, photo) = (breaker.clone(), memory.clone(), photo.clone());
            tasks.spawn(async move {
                let person = Arc::new(Person::new("p.jpg", [("mail", format!("p{n}@s.example"))]));
                let subject = t.subject(person).unwrap();
                b.put_photo(&subject, &photo).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap().unwrap();
        }
        assert!(
            memory.peak_concurrency() >= 8,
            "peak {} in flight",
            memory.peak_concurrency()
        );
    }
}
