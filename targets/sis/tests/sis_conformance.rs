//! The three SIS package types pass the conformance suite. What the "service" holds is the
//! package: `stored` finishes the target and reads the photo out of the zip it wrote.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use picday_core::{Subject, Target};
use picday_target_sis::config::Settings;
use picday_target_sis::{Kind, SisTarget};
use picday_testkit::{Harness, conformance};

struct Package {
    kind: Kind,
    root: tempfile::TempDir,
    current: Mutex<Option<(PathBuf, Arc<dyn Target>)>>,
}

#[async_trait]
impl Harness for Package {
    async fn target(&self) -> Arc<dyn Target> {
        let fresh = tempfile::tempdir_in(self.root.path()).unwrap().keep();
        let target: Arc<dyn Target> =
            Arc::new(SisTarget::new(Settings::new("pkg", self.kind, &fresh)));
        *self.current.lock().unwrap() = Some((fresh, target.clone()));
        target
    }

    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        let (dir, target) = self.current.lock().unwrap().clone()?;
        target.finish().await.expect("finish writes the package");
        let file = std::fs::File::open(dir.join("pkg.zip")).ok()?;
        let mut zip = zip::ZipArchive::new(file).expect("a valid zip");
        let mut entry = zip.by_name(&format!("{}.jpg", subject.key)).ok()?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        Some(bytes)
    }
}

async fn passes(kind: Kind) {
    let harness = Package {
        kind,
        root: tempfile::tempdir().unwrap(),
        current: Mutex::new(None),
    };
    conformance::run(&harness).await;
}

#[tokio::test]
async fn powerschool_passes_the_conformance_suite() {
    passes(Kind::PowerSchool).await;
}

#[tokio::test]
async fn infinite_campus_passes_the_conformance_suite() {
    passes(Kind::InfiniteCampus).await;
}

#[tokio::test]
async fn aeries_passes_the_conformance_suite() {
    passes(Kind::Aeries).await;
}
