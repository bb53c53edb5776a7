//! Dry-run: everything happens (people resolved, photos rendered, checks run) except the
//! writes. Reads pass through, so a dry run still proves the target is reachable.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{Photo, Subject};
use crate::target::{CheckReport, PhotoInfo, Receipt, TargetIo};

/// The dry-run layer: `put_photo` and `delete_photo` are answered without calling the target.
/// The contract layer outside it has already checked the photo against the profile.
#[derive(Debug)]
pub struct DryRun {
    inner: Arc<dyn TargetIo>,
}

impl DryRun {
    pub fn new(inner: Arc<dyn TargetIo>) -> Self {
        DryRun { inner }
    }
}

#[async_trait]
impl TargetIo for DryRun {
    async fn check(&self) -> Result<CheckReport> {
        self.inner.check().await
    }
    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        Ok(Receipt::new(format!(
            "dry run: would send {} bytes for {}",
            photo.len(),
            subject.key
        )))
    }
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.inner.get_photo(subject).await
    }
    async fn prepare(&self, keys: &[String]) -> Result<()> {
        self.inner.prepare(keys).await
    }
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        self.inner.photo_info(subject).await
    }
    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        Ok(Receipt::new(format!(
            "dry run: would remove the photo of {}",
            subject.key
        )))
    }
    async fn finish(&self) -> Result<Option<String>> {
        Ok(None)
    }
}
