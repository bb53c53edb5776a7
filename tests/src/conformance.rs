//! The conformance suite: the behaviours every target shares, checked the same way for all.
//!
//! A target's own conformance test is a few lines: implement [`Harness`] and call [`run`].
//! Each case is also public, so a failing case can be run alone while debugging.

use std::sync::Arc;

use async_trait::async_trait;
use picday_core::layers::StackOptions;
use picday_core::{ErrorKind, Person, Photo, Subject, Target};

use crate::fixtures;

/// What the suite needs to know about the target under test.
#[async_trait]
pub trait Harness: Send + Sync {
    /// A fresh target, with nothing stored yet.
    async fn target(&self) -> Arc<dyn Target>;

    /// A person the service knows; distinct for each `n` in 0..16.
    fn person(&self, n: usize) -> Person {
        fixtures::person(n)
    }

    /// A person the service does not know (used when the target resolves people).
    fn unknown_person(&self) -> Person {
        fixtures::person(9_999)
    }

    /// What the service holds for a subject, observed without going through the target
    /// (the fake server's state, the folder's file). `None` when it holds nothing.
    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>>;

    /// Whether what the service stored is the photo that was sent. Services that re-encode
    /// may override this; by default the bytes must be identical.
    fn same_photo(&self, sent: &Photo, stored: &[u8]) -> bool {
        &*sent.bytes == stored
    }

    /// A photo the target must refuse with [`ErrorKind::Rejected`]. By default a photo of the
    /// wrong size, which every target must check before sending.
    fn refused_photo(&self, target: &dyn Target) -> Photo {
        let mut profile = target.info().capabilities.profile;
        profile.width += 1;
        fixtures::photo(profile, 99)
    }
}

/// Runs every case that the target's capabilities call for.
pub async fn run(h: &dyn Harness) {
    put_stores_the_photo(h).await;
    put_overwrites(h).await;
    unknown_person_is_not_found(h).await;
    refused_photo_is_rejected(h).await;
    concurrent_puts_all_land(h).await;
    dry_run_sends_nothing(h).await;
    read_back_returns_what_was_put(h).await;
    photo_info_tells_who_has_a_photo(h).await;
    delete_removes_the_photo(h).await;
}

async fn subject(target: &dyn Target, person: Person) -> Subject {
    target
        .subject(Arc::new(person))
        .expect("the harness's people must have the target's key fields")
}

fn photo_for(target: &dyn Target, seed: u8) -> Photo {
    fixtures::photo(target.info().capabilities.profile, seed)
}

/// A put stores exactly the photo.
pub async fn put_stores_the_photo(h: &dyn Harness) {
    let t = h.target().await;
    let s = subject(&*t, h.person(0)).await;
    let photo = photo_for(&*t, 1);
    t.put_photo(&s, &photo).await.expect("put_photo");
    let stored = h
        .stored(&s)
        .await
        .expect("[put] the service holds no photo after a put");
    assert!(
        h.same_photo(&photo, &stored),
        "[put] the stored photo is not the one sent"
    );
}

/// A second put replaces the first.
pub async fn put_overwrites(h: &dyn Harness) {
    let t = h.target().await;
    let s = subject(&*t, h.person(1)).await;
    t.put_photo(&s, &photo_for(&*t, 2))
        .await
        .expect("first put");
    let second = photo_for(&*t, 3);
    t.put_photo(&s, &second).await.expect("second put");
    let stored = h.stored(&s).await.expect("[overwrite] nothing stored");
    assert!(
        h.same_photo(&second, &stored),
        "[overwrite] the first photo is still there"
    );
}

/// A person the service does not know is reported as not found, and nothing is stored.
pub async fn unknown_person_is_not_found(h: &dyn Harness) {
    let t = h.target().await;
    if !t.info().capabilities.resolves_people {
        return;
    }
    let s = subject(&*t, h.unknown_person()).await;
    let e = t
        .put_photo(&s, &photo_for(&*t, 4))
        .await
        .expect_err("[unknown person] put_photo succeeded for a person who does not exist");
    assert_eq!(e.kind(), ErrorKind::NotFound, "[unknown person] {e}");
    assert!(
        !e.is_temporary(),
        "[unknown person] reported as temporary: {e}"
    );
}

/// A photo the target cannot take is refused as rejected, permanently, and nothing is stored.
/// The target is stacked as the engine runs it: the contract layer refuses what the target
/// did not declare, the target refuses the rest.
pub async fn refused_photo_is_rejected(h: &dyn Harness) {
    let t = h.target().await;
    let stacked = picday_core::layers::stack(t.clone(), &StackOptions::default());
    let s = subject(&*t, h.person(2)).await;
    let bad = h.refused_photo(&*t);
    let e = stacked
        .put_photo(&s, &bad)
        .await
        .expect_err("[refused photo] the target accepted a photo it must refuse");
    assert_eq!(e.kind(), ErrorKind::Rejected, "[refused photo] {e}");
    assert!(
        !e.is_temporary(),
        "[refused photo] reported as temporary: {e}"
    );
    assert!(
        h.stored(&s).await.is_none(),
        "[refused photo] something was stored"
    );
}

/// Puts for different people at the target's declared concurrency all land, each with its
/// own photo.
pub async fn concurrent_puts_all_land(h: &dyn Harness) {
    let t = h.target().await;
    let n = t.info().capabilities.max_concurrency.clamp(2, 8) * 2;
    let stacked = picday_core::layers::stack(t.clone(), &StackOptions::default());
    let mut tasks = tokio::task::JoinSet::new();
    let mut expected = Vec::new();
    for i in 0..n {
        let s = subject(&*t, h.person(3 + i)).await;
        let photo = photo_for(&*t, 10 + i as u8);
        expected.push((s.clone(), photo.clone()));
        let target = stacked.clone();
        tasks.spawn(async move { target.put_photo(&s, &photo).await });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task")
            .expect("[concurrency] a concurrent put failed");
    }
    for (s, photo) in expected {
        let stored = h
            .stored(&s)
            .await
            .unwrap_or_else(|| panic!("[concurrency] nothing stored for {}", s.key));
        assert!(
            h.same_photo(&photo, &stored),
            "[concurrency] wrong photo for {}",
            s.key
        );
    }
}

/// Through the dry-run layer, nothing reaches the service.
pub async fn dry_run_sends_nothing(h: &dyn Harness) {
    let t = h.target().await;
    let options = StackOptions {
        dry_run: true,
        ..StackOptions::default()
    };
    let dry = picday_core::layers::stack(t.clone(), &options);
    let s = subject(&*t, h.person(20)).await;
    let receipt = dry
        .put_photo(&s, &photo_for(&*t, 5))
        .await
        .expect("[dry run] put_photo");
    assert!(receipt.detail.contains("dry run"), "[dry run] {receipt:?}");
    assert!(h.stored(&s).await.is_none(), "[dry run] a photo was stored");
}

/// `get_photo` returns what was put, and `None` for a person without a photo.
pub async fn read_back_returns_what_was_put(h: &dyn Harness) {
    let t = h.target().await;
    if !t.info().capabilities.read_back {
        return;
    }
    let s = subject(&*t, h.person(21)).await;
    assert_eq!(
        t.get_photo(&s).await.expect("[read back] get before put"),
        None,
        "[read back] a photo before any put"
    );
    let photo = photo_for(&*t, 6);
    t.put_photo(&s, &photo).await.expect("put");
    let got = t
        .get_photo(&s)
        .await
        .expect("[read back] get_photo")
        .expect("[read back] no photo after put");
    assert!(h.same_photo(&photo, &got), "[read back] different bytes");
}

/// `photo_info` (the cheap "has a photo?" of `push --missing-only`, `remove` and the opt-out
/// check) agrees with what the service holds: `None` before a put and after a delete, `Some`
/// after a put, and `not_found` for a person the service does not know. A size it reports
/// is the stored photo's. Through the stacked layers, as commands call it.
pub async fn photo_info_tells_who_has_a_photo(h: &dyn Harness) {
    let t = h.target().await;
    if !t.info().capabilities.read_back {
        return;
    }
    let stacked = picday_core::layers::stack(t.clone(), &StackOptions::default());
    let s = subject(&*t, h.person(23)).await;
    assert_eq!(
        stacked
            .photo_info(&s)
            .await
            .expect("[photo info] before put"),
        None,
        "[photo info] a photo before any put"
    );
    let photo = photo_for(&*t, 8);
    t.put_photo(&s, &photo).await.expect("put");
    let info = stacked
        .photo_info(&s)
        .await
        .expect("[photo info] after put")
        .expect("[photo info] no photo after a put");
    if let (Some(bytes), Some(stored)) = (info.bytes, h.stored(&s).await) {
        assert_eq!(
            bytes,
            stored.len() as u64,
            "[photo info] the size is not the stored photo's"
        );
    }
    if t.info().capabilities.delete {
        t.delete_photo(&s).await.expect("delete");
        assert_eq!(
            stacked
                .photo_info(&s)
                .await
                .expect("[photo info] after delete"),
            None,
            "[photo info] a photo after the delete"
        );
    }
    if t.info().capabilities.resolves_people {
        let unknown = subject(&*t, h.unknown_person()).await;
        let e = stacked
            .photo_info(&unknown)
            .await
            .expect_err("[photo info] a person who does not exist has an answer");
        assert_eq!(e.kind(), ErrorKind::NotFound, "[photo info] {e}");
    }
}

/// `delete_photo` removes the photo, and deleting again is not an error.
pub async fn delete_removes_the_photo(h: &dyn Harness) {
    let t = h.target().await;
    if !t.info().capabilities.delete {
        return;
    }
    let s = subject(&*t, h.person(22)).await;
    t.put_photo(&s, &photo_for(&*t, 7)).await.expect("put");
    t.delete_photo(&s).await.expect("[delete] delete_photo");
    assert!(
        h.stored(&s).await.is_none(),
        "[delete] the photo is still there"
    );
    t.delete_photo(&s)
        .await
        .expect("[delete] deleting a photo that is not there must succeed");
}
