//! Layers wrap the I/O of any [`Target`](crate::Target) to add policy: the declared
//! contract, dry-run, retries, throttling.
//!
//! Targets only say what happened (a temporary error, a Retry-After hint); the layers decide
//! what to do about it, the same way for every service. Layers implement [`TargetIo`] alone:
//! what a target is ([`TargetInfo`](crate::TargetInfo)) is read once from the target itself,
//! never forwarded. [`stack`] builds the standard order, outside in: the contract (a photo of
//! the declared profile, reads and deletes only where declared), then dry-run, then retry, then
//! the throttle next to the target, so that every retried attempt waits for a pause the
//! service asked for and nothing refused by the contract is retried.

mod breaker;
mod contract;
mod dry_run;
#[cfg(test)]
mod quota_sim;
mod retry;
mod throttle;

use std::sync::Arc;

use async_trait::async_trait;

pub use breaker::Breaker;
pub use contract::Contract;
pub use dry_run::DryRun;
pub use retry::{Retry, parse_retry_after};
pub use throttle::{Limiter, Throttle};

use crate::error::Result;
use crate::model::{Person, Photo, Subject};
pub use crate::target::RetryPolicy;
use crate::target::{CheckReport, PhotoInfo, Receipt, Target, TargetInfo, TargetIo};

/// Options for the standard layer stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The retry policy, unless the target declares its own ([`TargetInfo::retry`]).
    pub retry: RetryPolicy,
    /// Start with this many requests at once (grows to the target's declared maximum).
    pub initial_concurrency: usize,
    /// Caps the target's declared maximum concurrency, if set.
    pub max_concurrency: Option<usize>,
    pub dry_run: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            retry: RetryPolicy::default(),
            initial_concurrency: 4,
            max_concurrency: None,
            dry_run: false,
        }
    }
}

/// A target with layers around its I/O: what it is comes from the target itself, what it
/// does goes through the layers.
#[derive(Debug)]
pub struct Stacked {
    target: Arc<dyn Target>,
    io: Arc<dyn TargetIo>,
}

impl Target for Stacked {
    fn info(&self) -> &TargetInfo {
        self.target.info()
    }
    fn subject(&self, person: Arc<Person>) -> Result<Subject> {
        self.target.subject(person)
    }
    fn holds(&self, subject: &Subject) -> bool {
        self.target.holds(subject)
    }
}

#[async_trait]
impl TargetIo for Stacked {
    async fn check(&self) -> Result<CheckReport> {
        self.io.check().await
    }
    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        self.io.put_photo(subject, photo).await
    }
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.io.get_photo(subject).await
    }
    async fn prepare(&self, keys: &[String]) -> Result<()> {
        self.io.prepare(keys).await
    }
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        self.io.photo_info(subject).await
    }
    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        self.io.delete_photo(subject).await
    }
    async fn finish(&self) -> Result<Option<String>> {
        self.io.finish().await
    }
}

/// Wraps a target in the contract, breaker, throttle, retry and (if asked) dry-run layers. The retry
/// layer follows the target's own policy when it declares one, else `options.retry`.
pub fn stack(target: Arc<dyn Target>, options: &StackOptions) -> Arc<dyn Target> {
    let info = target.info();
    let declared = info.capabilities.max_concurrency.max(1);
    let max = options
        .max_concurrency
        .map_or(declared, |m| m.clamp(1, declared));
    let initial = options.initial_concurrency.clamp(1, max);
    let policy = info.retry.clone().unwrap_or_else(|| options.retry.clone());
    let io: Arc<dyn TargetIo> = target.clone();
    let io: Arc<dyn TargetIo> = Arc::new(Throttle::new(io, Limiter::new(initial, max)));
    let mut io: Arc<dyn TargetIo> = Arc::new(Retry::new(io, policy));
    if options.dry_run {
        io = Arc::new(DryRun::new(io));
    }
    let io = Arc::new(Breaker::new(io));
    let io = Arc::new(Contract::new(
        io,
        &info.type_name,
        info.capabilities.clone(),
    ));
    Arc::new(Stacked { target, io })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::error::{Error, Result};
    use crate::memory::MemoryTarget;
    use crate::model::{Person, Photo, Profile, Subject};
    use crate::target::{CheckReport, Receipt, TargetInfo};

    /// A memory target that declares its own retry policy and checks its keys.
    #[derive(Debug)]
    struct Declares(Arc<MemoryTarget>, TargetInfo);

    impl Declares {
        fn new(memory: Arc<MemoryTarget>, policy: RetryPolicy) -> Self {
            let info = memory.info().clone().retry(policy);
            Declares(memory, info)
        }
    }

    impl Target for Declares {
        fn info(&self) -> &TargetInfo {
            &self.1
        }
        fn subject(&self, person: Arc<Person>) -> Result<Subject> {
            if person.field("mail") == Some("../escape") {
                return Err(Error::input("refused by the target's own key check"));
            }
            Ok(Subject::new(self.1.key.render(&person)?, person))
        }
    }

    #[async_trait]
    impl TargetIo for Declares {
        async fn check(&self) -> Result<CheckReport> {
            self.0.check().await
        }
        async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
            self.0.put_photo(subject, photo).await
        }
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        }
    }

    fn photo() -> Photo {
        let profile = Profile::square(96);
        Photo {
            bytes: vec![0xFF, 0xD8, 0xFF, 0xD9].into(),
            width: 96,
            height: 96,
            profile,
        }
    }

    fn subject() -> Subject {
        Subject::new(
            "a@school.example",
            Arc::new(Person::new("a.jpg", [("mail", "a")])),
        )
    }

    fn failing(n: usize) -> Arc<MemoryTarget> {
        let memory = Arc::new(MemoryTarget::new("m"));
        memory.fail_next((0..n).map(|_| Error::unavailable("503")));
        memory
    }

    #[tokio::test(start_paused = true)]
    async fn stack_follows_the_retry_policy_the_target_declares() {
        // The run allows a single attempt; the target asks for 8: its policy wins.
        let run = StackOptions {
            retry: policy(1),
            ..StackOptions::default()
        };
        let memory = failing(4);
        let stacked = stack(Arc::new(Declares::new(memory.clone(), policy(8))), &run);
        assert_eq!(
            stacked.info().retry.as_ref().map(|p| p.max_attempts),
            Some(8)
        );
        stacked.put_photo(&subject(), &photo()).await.unwrap();
        assert_eq!(memory.calls(), 5);

        // Fewer attempts than the run's default: the target's cap holds too.
        let memory = failing(4);
        let stacked = stack(
            Arc::new(Declares::new(memory.clone(), policy(2))),
            &StackOptions::default(),
        );
        let e = stacked.put_photo(&subject(), &photo()).await.unwrap_err();
        assert_eq!(e.context_value("attempts"), Some("2"));
        assert_eq!(memory.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn stack_uses_the_run_policy_when_the_target_declares_none() {
        let run = StackOptions {
            retry: policy(3),
            ..StackOptions::default()
        };
        let memory = failing(4);
        let stacked = stack(memory.clone(), &run);
        assert!(stacked.info().retry.is_none());
        let e = stacked.put_photo(&subject(), &photo()).await.unwrap_err();
        assert_eq!(e.context_value("attempts"), Some("3"));
        assert_eq!(memory.calls(), 3);
    }

    #[test]
    fn every_layer_keeps_the_targets_own_key_check() {
        let inner = Arc::new(Declares::new(Arc::new(MemoryTarget::new("m")), policy(1)));
        let dry = StackOptions {
            dry_run: true,
            ..StackOptions::default()
        };
        for options in [StackOptions::default(), dry] {
            let stacked = stack(inner.clone(), &options);
            let bad = Arc::new(Person::new("a.jpg", [("mail", "../escape")]));
            let e = stacked.subject(bad).unwrap_err();
            assert!(e.message().contains("own key check"), "{e}");
            let good = Arc::new(Person::new("a.jpg", [("mail", "a@s")]));
            assert_eq!(stacked.subject(good).unwrap().key, "a@s");
        }
    }

    #[tokio::test]
    async fn the_contract_refuses_what_the_target_did_not_declare_before_it_is_called() {
        let memory = Arc::new(MemoryTarget::new("m"));
        for dry_run in [false, true] {
            let options = StackOptions {
                dry_run,
                ..StackOptions::default()
            };
            let stacked = stack(memory.clone(), &options);
            let mut wrong = photo();
            wrong.width = 97;
            let e = stacked.put_photo(&subject(), &wrong).await.unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Rejected, "{e}");
            assert!(!e.is_temporary());
        }
        assert_eq!(memory.calls(), 0, "the target never saw the wrong photo");

        // A target that declares no read-back and no delete is never asked for either.
        let info = memory.info().clone();
        let mut info = TargetInfo::new("m", "plain", info.key, info.capabilities.profile);
        info.capabilities.max_concurrency = 2;
        let plain = Arc::new(Declares(memory.clone(), info));
        let stacked = stack(plain, &StackOptions::default());
        let e = stacked.get_photo(&subject()).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        assert!(e.message().contains("plain cannot read photos back"), "{e}");
        let e = stacked.delete_photo(&subject()).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unsupported);
        assert_eq!(memory.calls(), 0);
        stacked.put_photo(&subject(), &photo()).await.unwrap();
        assert_eq!(memory.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn after_one_refusal_of_the_credentials_no_more_requests_are_made() {
        let memory = Arc::new(MemoryTarget::new("m"));
        memory.fail_next([Error::auth("invalid_client: wrong secret")]);
        let stacked = stack(memory.clone(), &StackOptions::default());
        let first = stacked.put_photo(&subject(), &photo()).await.unwrap_err();
        assert_eq!(first.kind(), crate::ErrorKind::Auth);
        for _ in 0..40 {
            let e = stacked.put_photo(&subject(), &photo()).await.unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Auth);
            assert!(!e.is_temporary());
            assert!(e.message().contains("wrong secret"), "{e}");
            assert!(e.message().contains("not tried"), "{e}");
            let e = stacked.get_photo(&subject()).await.unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Auth);
        }
        assert_eq!(memory.calls(), 1, "one request reached the service, not 81");

        // Other failures do not trip it.
        let memory = Arc::new(MemoryTarget::new("m"));
        memory.fail_next([Error::rejected("bad photo")]);
        let stacked = stack(memory.clone(), &StackOptions::default());
        stacked.put_photo(&subject(), &photo()).await.unwrap_err();
        stacked.put_photo(&subject(), &photo()).await.unwrap();
        assert_eq!(memory.calls(), 2);
    }
}
