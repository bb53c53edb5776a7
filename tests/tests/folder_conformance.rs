//! The folder target passes the conformance suite.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use picday_core::{Profile, Subject, Target};
use picday_target_folder::FolderTarget;
use picday_testkit::{Harness, conformance};

struct Folder {
    root: tempfile::TempDir,
    current: Mutex<Option<PathBuf>>,
}

#[async_trait]
impl Harness for Folder {
    async fn target(&self) -> Arc<dyn Target> {
        let fresh = tempfile::tempdir_in(self.root.path()).unwrap().keep();
        *self.current.lock().unwrap() = Some(fresh.clone());
        Arc::new(FolderTarget::new("out", fresh, "{student_id}.jpg", Profile::square(128)).unwrap())
    }
    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        // Read the file directly, not through the target.
        let dir = self.current.lock().unwrap().clone()?;
        std::fs::read(dir.join(&subject.key)).ok()
    }
}

#[tokio::test]
async fn folder_target_passes_the_conformance_suite() {
    let harness = Folder {
        root: tempfile::tempdir().unwrap(),
        current: Mutex::new(None),
    };
    conformance::run(&harness).await;
}
