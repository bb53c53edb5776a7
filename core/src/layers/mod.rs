//! Layers wrap any [`Target`](crate::Target) to add policy: retries, throttling, dry-run.
//!
//! Targets only say what happened (a temporary error, a Retry-After hint); the layers decide
//! what to do about it, the same way for every service. [`stack`] builds the standard order:
//! dry-run outside, then retry, then the throttle next to the target, so that every retried
//! attempt waits for a pause the service asked for.

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

/// Wraps a target in throttle, retry and (if asked) dry-run layers.
pub fn stack(target: Arc<dyn Target>, options: &StackOptions) -> Arc<dyn Target> {
    let declared = target.capabilities().max_concurrency.max(1);
    let max = options
        .max_concurrency
        .map_or(declared, |m| m.clamp(1, declared));
    let initial = options.initial_concurrency.clamp(1, max);
    let throttled: Arc<dyn Target> = Arc::new(Throttle::new(target, Limiter::new(initial, max)));
    let retried: Arc<dyn Target> = Arc::new(Retry::new(throttled, options.retry.clone()));
    if options.dry_run {
        Arc::new(DryRun::new(retried))
    } else {
        retried
    }
}
