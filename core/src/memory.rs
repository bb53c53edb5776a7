//! An in-memory target: the reference implementation of [`Target`].
//!
//! It needs no credentials, runs the conformance suite, and doubles as the fake in engine and
//! CLI tests: it can be told which people exist, made slow, or scripted to fail, so that retry,
//! throttle and engine behaviour can be tested without a network.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{Photo, Profile, Subject, Template};
use crate::target::{CheckReport, Receipt, Target, TargetInfo, TargetIo};

/// A target that keeps photos in a map.
#[derive(Debug)]
pub struct MemoryTarget {
    info: TargetInfo,
    known: Option<BTreeSet<String>>,
    delay: Duration,
    photos: Mutex<BTreeMap<String, Vec<u8>>>,
    script: Mutex<VecDeque<Error>>,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl MemoryTarget {
    /// A memory target keyed by `{mail}`, wanting a 96x96 JPEG.
    pub fn new(name: &str) -> Self {
        let key = Template::parse("{mail}").expect("static template");
        MemoryTarget {
            info: TargetInfo::new(name, "memory", key, Profile::square(96))
                .summary("in memory, keyed by {mail}")
                .reads_back()
                .deletes()
                .max_concurrency(8),
            known: None,
            delay: Duration::ZERO,
            photos: Mutex::new(BTreeMap::new()),
            script: Mutex::new(VecDeque::new()),
            calls: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    pub fn with_key(mut self, template: &str) -> Result<Self> {
        self.info.key = Template::parse(template)?;
        self.info.summary = format!("in memory, keyed by {template}");
        Ok(self)
    }
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.info.capabilities.profile = profile;
        self
    }
    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.info.capabilities.max_concurrency = n;
        self
    }
    /// Only these keys exist; others are `NotFound`, like a directory.
    pub fn with_known(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.known = Some(keys.into_iter().map(Into::into).collect());
        self.info.capabilities.resolves_people = true;
        self
    }
    /// Rewords the summary (it changes nothing that is sent).
    pub fn with_summary(mut self, summary: &str) -> Self {
        self.info.summary = summary.to_string();
        self
    }
    /// Never changes a photo whose current one could not be read
    /// ([`TargetInfo::backup_required`]).
    pub fn with_backup_required(mut self) -> Self {
        self.info.backup_required = true;
        self
    }
    /// Each write takes this long.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The next calls fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = Error>) {
        self.lock_script().extend(errors);
    }

    /// What is stored for a key.
    pub fn stored(&self, key: &str) -> Option<Vec<u8>> {
        self.lock_photos().get(key).cloned()
    }

    /// Every stored key.
    pub fn keys(&self) -> Vec<String> {
        self.lock_photos().keys().cloned().collect()
    }

    /// Calls of put, get and delete, scripted failures included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The most writes that were in flight at once.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn lock_photos(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.photos.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn lock_script(&self) -> std::sync::MutexGuard<'_, VecDeque<Error>> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin(&self, key: &str) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(e) = self.lock_script().pop_front() {
            return Err(e);
        }
        if let Some(known) = &self.known
            && !known.contains(key)
        {
            return Err(Error::not_found(format!("no person with key {key}")));
        }
        Ok(())
    }

    async fn slow(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Target for MemoryTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }
}

#[async_trait]
impl TargetIo for MemoryTarget {
    async fn check(&self) -> Result<CheckReport> {
        Ok(CheckReport {
            ok: vec!["memory is always reachable".into()],
            warnings: vec![],
        })
    }

    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        self.begin(&subject.key)?;
        self.slow().await;
        self.lock_photos()
            .insert(subject.key.clone(), photo.bytes.to_vec());
        Ok(Receipt::new("stored"))
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.begin(&subject.key)?;
        Ok(self.stored(&subject.key))
    }

    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        self.begin(&subject.key)?;
        self.slow().await;
        let removed = self.lock_photos().remove(&subject.key).is_some();
        Ok(Receipt::new(if removed {
            "removed"
        } else {
            "had no photo"
        }))
    }
}
