//! The in-memory reference target passes the conformance suite.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use picday_core::{MemoryTarget, Subject, Target};
use picday_testkit::{Harness, conformance, fixtures};

#[derive(Default)]
struct Memory {
    current: Mutex<Option<Arc<MemoryTarget>>>,
}

#[async_trait]
impl Harness for Memory {
    async fn target(&self) -> Arc<dyn Target> {
        let known = (0..32).map(|n| {
            fixtures::person(n)
                .field("mail")
                .unwrap_or_default()
                .to_string()
        });
        let t = Arc::new(MemoryTarget::new("memory").with_known(known));
        *self.current.lock().unwrap() = Some(t.clone());
        t
    }
    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        let t = self.current.lock().unwrap().clone()?;
        t.stored(&subject.key)
    }
}

#[tokio::test]
async fn memory_target_passes_the_conformance_suite() {
    conformance::run(&Memory::default()).await;
}
