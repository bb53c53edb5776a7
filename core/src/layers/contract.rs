//! The contract layer, always on: a target only ever sees what it declared it accepts.
//!
//! A photo of another profile, a read from a target that cannot read back, a delete from one
//! that cannot delete: each is refused here, before any layer retries it or any request is
//! made, the same way for every target. Targets do not check it themselves.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::{Photo, Subject};
use crate::target::{Capabilities, CheckReport, PhotoInfo, Receipt, TargetIo, ensure_profile};

/// Refuses what the wrapped target did not declare.
#[derive(Debug)]
pub struct Contract {
    inner: Arc<dyn TargetIo>,
    type_name: String,
    capabilities: Capabilities,
}

impl Contract {
    pub fn new(inner: Arc<dyn TargetIo>, type_name: &str, capabilities: Capabilities) -> Self {
        Contract {
            inner,
            type_name: type_name.to_string(),
            capabilities,
        }
    }
}

#[async_trait]
impl TargetIo for Contract {
    async fn check(&self) -> Result<CheckReport> {
        self.inner.check().await
    }
    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        ensure_profile(&self.capabilities, photo)?;
        self.inner.put_photo(subject, photo).await
    }
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        if !self.capabilities.read_back {
            return Err(Error::unsupported(format!(
                "{} cannot read photos back",
                self.type_name
            )));
        }
        self.inner.get_photo(subject).await
    }
    async fn prepare(&self, keys: &[String]) -> Result<()> {
        self.inner.prepare(keys).await
    }
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        if !self.capabilities.read_back {
            return Err(Error::unsupported(format!(
                "{} cannot tell whether a person has a photo",
                self.type_name
            )));
        }
        self.inner.photo_info(subject).await
    }
    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        if !self.capabilities.delete {
            return Err(Error::unsupported(format!(
                "{} cannot remove photos",
                self.type_name
            )));
        }
        self.inner.delete_photo(subject).await
    }
    async fn finish(&self) -> Result<Option<String>> {
        self.inner.finish().await
    }
}
