//! The Entra target passes the conformance suite against a stateful fake of Graph.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use picday_core::{Subject, Target};
use picday_testkit::{Harness, conformance, fixtures};
use support::fake_graph::{FakeGraph, User};

/// People 0..40 exist; odd ones have a UPN that differs from their mail, so the suite goes
/// through both lookups (by UPN and by `mail`).
fn tenant() -> Vec<User> {
    (0..40)
        .map(|n| {
            let mail = fixtures::person(n).field("mail").unwrap().to_string();
            let upn = if n % 2 == 0 {
                mail.clone()
            } else {
                format!("s{n:07}@school.onmicrosoft.example")
            };
            User::new(format!("00000000-0000-0000-0000-{n:012}"), upn, mail)
        })
        .collect()
}

struct Graph {
    current: Mutex<Option<Arc<FakeGraph>>>,
}

#[async_trait]
impl Harness for Graph {
    async fn target(&self) -> Arc<dyn Target> {
        let fake = FakeGraph::start(tenant(), Duration::ZERO, None).await;
        // The suite checks behaviours, not pixels: a small photo keeps it fast in debug builds.
        let target = support::target(&fake.url, &fake.url, &["size = 96"]);
        *self.current.lock().unwrap() = Some(fake);
        Arc::new(target)
    }

    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        let fake = self.current.lock().unwrap().clone()?;
        fake.photo_of(&subject.key)
    }
}

#[tokio::test]
async fn entra_target_passes_the_conformance_suite() {
    let harness = Graph {
        current: Mutex::new(None),
    };
    conformance::run(&harness).await;
}
