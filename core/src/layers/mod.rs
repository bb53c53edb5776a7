//! Layers wrap any [`Target`](crate::Target) to add policy: retries, throttling, dry-run.
//!
//! Targets only say what happened (a temporary error, a Retry-After hint); the layers decide
//! what to do about it, the same way for every service. [`stack`] builds the standard order:
//! dry-run outside, then retry, then the throttle next to the target, so that every retried
//! attempt waits for a pause the service asked for.

/// The [`Target`] methods a layer passes straight to the target it wraps (its `inner` field):
/// what the target is, what it accepts and how it keys people. Each layer writes out `check`
/// and the photo operations, where its policy lives (`async_trait` must see those).
macro_rules! delegate_to_inner {
    () => {
        fn describe(&self) -> $crate::target::TargetInfo {
            self.inner.describe()
        }
        fn capabilities(&self) -> $crate::target::Capabilities {
            self.inner.capabilities()
        }
        fn key_template(&self) -> &$crate::model::Template {
            self.inner.key_template()
        }
        fn other_key_templates(&self) -> Vec<&$crate::model::Template> {
            self.inner.other_key_templates()
        }
        fn subject(
            &self,
            person: std::sync::Arc<$crate::model::Person>,
        ) -> $crate::error::Result<$crate::model::Subject> {
            self.inner.subject(person)
        }
        fn retry_policy(&self) -> Option<$crate::layers::RetryPolicy> {
            self.inner.retry_policy()
        }
    };
}

mod dry_run;
mod retry;
mod throttle;

use std::sync::Arc;

pub use dry_run::DryRun;
pub use retry::{Retry, RetryPolicy, parse_retry_after};
pub use throttle::{Limiter, Throttle};

use crate::target::Target;

/// Options for the standard layer stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The retry policy, unless the target declares its own ([`Target::retry_policy`]).
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

/// Wraps a target in throttle, retry and (if asked) dry-run layers. The retry layer follows
/// the target's own policy when it declares one, else `options.retry`.
pub fn stack(target: Arc<dyn Target>, options: &StackOptions) -> Arc<dyn Target> {
    let declared = target.capabilities().max_concurrency.max(1);
    let target_policy = target.retry_policy();
    let max = options
        .max_concurrency
        .map_or(declared, |m| m.clamp(1, declared));
    let initial = options.initial_concurrency.clamp(1, max);
    let throttled: Arc<dyn Target> = Arc::new(Throttle::new(target, Limiter::new(initial, max)));
    let policy = target_policy.unwrap_or_else(|| options.retry.clone());
    let retried: Arc<dyn Target> = Arc::new(Retry::new(throttled, policy));
    if options.dry_run {
        Arc::new(DryRun::new(retried))
    } else {
        retried
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::error::{Error, Result};
    use crate::memory::MemoryTarget;
    use crate::model::{Person, Photo, Profile, Subject, Template};
    use crate::target::{Capabilities, CheckReport, Receipt, TargetInfo};

    /// A memory target that declares its own retry policy.
    #[derive(Debug)]
    struct Declares(Arc<MemoryTarget>, RetryPolicy);

    #[async_trait]
    impl Target for Declares {
        fn describe(&self) -> TargetInfo {
            self.0.describe()
        }
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
        fn key_template(&self) -> &Template {
            self.0.key_template()
        }
        fn retry_policy(&self) -> Option<RetryPolicy> {
            Some(self.1.clone())
        }
        fn subject(&self, person: Arc<Person>) -> Result<Subject> {
            if person.field("mail") == Some("../escape") {
                return Err(Error::input("refused by the target's own key check"));
            }
            Ok(Subject::new(self.key_template().render(&person)?, person))
        }
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
        let stacked = stack(Arc::new(Declares(memory.clone(), policy(8))), &run);
        assert_eq!(stacked.retry_policy().map(|p| p.max_attempts), Some(8));
        stacked.put_photo(&subject(), &photo()).await.unwrap();
        assert_eq!(memory.calls(), 5);

        // Fewer attempts than the run's default: the target's cap holds too.
        let memory = failing(4);
        let stacked = stack(
            Arc::new(Declares(memory.clone(), policy(2))),
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
        assert!(stacked.retry_policy().is_none());
        let e = stacked.put_photo(&subject(), &photo()).await.unwrap_err();
        assert_eq!(e.context_value("attempts"), Some("3"));
        assert_eq!(memory.calls(), 3);
    }

    #[test]
    fn every_layer_keeps_the_targets_own_key_check() {
        let inner = Arc::new(Declares(Arc::new(MemoryTarget::new("m")), policy(1)));
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
}
