//! The google target passes picday's conformance suite against a stateful fake of the
//! Directory API ([`common::fake`], mockito on 127.0.0.1) that answers as Google documents:
//! 204 for a delete, 404 `Resource Not Found: photo` for a user without a photo, 404
//! `Resource Not Found: userKey` for an unknown user, 401 for a wrong token, 400
//! `Invalid Input: photoData` for bytes that are not web-safe base64, and the user's
//! `thumbnailPhotoEtag`, which changes when a photo is stored.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::fake::FakeGoogle;
use common::*;
use picday_core::{Subject, Target};
use picday_testkit::{Harness, conformance};

struct Harnessed {
    fake: FakeGoogle,
    dir: tempfile::TempDir,
}

#[async_trait]
impl Harness for Harnessed {
    async fn target(&self) -> Arc<dyn Target> {
        self.fake.state().photos.clear();
        Arc::new(target(self.dir.path(), &self.fake.url(), ""))
    }

    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        self.fake.stored(&subject.key)
    }
}

#[tokio::test]
async fn google_target_passes_the_conformance_suite() {
    let h = Harnessed {
        fake: FakeGoogle::start().await,
        dir: tempfile::tempdir().unwrap(),
    };
    conformance::run(&h).await;
}
