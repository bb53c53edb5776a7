//! What picday reports after an update, against the stateful fake of the Directory API
//! (`common::fake`): an update is confirmed by the user's new `thumbnailPhotoEtag`; a 200 that
//! did not change the photo is a failure with advice; and an update refused after the delete
//! removed the previous photo says so and names the backup that puts it back.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::path::Path;
use std::sync::Arc;

use common::fake::FakeGoogle;
use common::*;
use picday_core::engine::{Change, Deliverer, Delivery, Quiet};
use picday_core::layers::{StackOptions, stack};
use picday_core::state::{JournalOptions, NewRun, State};
use picday_core::{ErrorKind, Outcome, Person, RunTarget, Status, Target, TargetIo};
use picday_testkit::fixtures;

const ADA: &str = "ada@school.example";
const OLD: &[u8] = b"\xFF\xD8 last year's photo";

#[tokio::test]
async fn an_update_is_confirmed_by_the_users_new_photo_etag() {
    let fake = FakeGoogle::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.has_photo(ADA, OLD);
    let t = target(dir.path(), &fake.url(), "");
    let s = subject(&t, ADA);
    let photo = fixtures::photo(t.info().capabilities.profile, 1);
    let receipt = t.put_photo(&s, &photo).await.unwrap();
    assert!(receipt.detail.contains("confirmed"), "{receipt:?}");
    assert!(
        receipt.detail.contains("previous photo removed"),
        "{receipt:?}"
    );
    assert_eq!(fake.stored(ADA).unwrap(), &*photo.bytes);
    // Delete, update, then one read of one field (no read before: the delete left none).
    let log = fake.log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(
        log[0].starts_with("DELETE ") && log[1].starts_with("PUT "),
        "{log:?}"
    );
    assert_eq!(
        log[2],
        "GET /admin/directory/v1/users/ada%40school.example?fields=thumbnailPhotoEtag"
    );
}

#[tokio::test]
async fn a_200_that_kept_the_users_own_photo_is_a_failure_with_advice() {
    let fake = FakeGoogle::start().await;
    let dir = tempfile::tempdir().unwrap();
    let own = b"\xFF\xD8 a selfie the student set";
    fake.user_sets_photo(ADA, own);
    let t = target(dir.path(), &fake.url(), "replace_user_photos = false");
    let s = subject(&t, ADA);
    let photo = fixtures::photo(t.info().capabilities.profile, 2);
    let e = t.put_photo(&s, &photo).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert!(!e.is_temporary(), "sending again changes nothing: {e}");
    assert!(e.message().contains("did not change"), "{e}");
    assert!(e.message().contains("replace_user_photos = true"), "{e}");
    assert!(e.message().contains("Profile editing"), "{e}");
    assert_eq!(e.context_value("code"), Some("photoUnchanged"));
    assert_eq!(
        fake.stored(ADA).unwrap(),
        own,
        "Google kept the user's photo"
    );
    // The etag was read before and after the update.
    let reads = fake
        .log()
        .iter()
        .filter(|l| l.contains("fields=thumbnailPhotoEtag"))
        .count();
    assert_eq!(reads, 2, "{:?}", fake.log());

    // With the default (delete first), the same user gets the school photo, confirmed.
    let t = target(dir.path(), &fake.url(), "");
    let receipt = t.put_photo(&s, &photo).await.unwrap();
    assert!(receipt.detail.contains("confirmed"), "{receipt:?}");
    assert_eq!(fake.stored(ADA).unwrap(), &*photo.bytes);
}

/// A state, a run and a delivery step as `picday push` has them.
async fn deliver(
    dir: &Path,
    run: &str,
    t: Arc<dyn Target>,
    options: JournalOptions,
) -> (Arc<State>, Outcome) {
    let state = Arc::new(State::open(dir, "push").unwrap());
    state
        .begin_run(&NewRun {
            id: run,
            command: "push",
            started: run,
            config: Path::new("picday.toml"),
            forced: true,
            people: 1,
            restored_from: None,
        })
        .unwrap();
    let journal = Arc::new(state.journal(run, options));
    let deliverer = Deliverer::new(Some(journal), Arc::new(Quiet));
    let person = Arc::new(Person::new("p.jpg", [("mail", ADA)]));
    let s = t.subject(person.clone()).unwrap();
    let photo = fixtures::photo(t.info().capabilities.profile, 3);
    let delivery = Delivery {
        target: "gw".into(),
        key: s.key.clone(),
        person: person.clone(),
        source: None,
        settings: Arc::from("test"),
    };
    let target = RunTarget {
        name: "gw".into(),
        target: t,
    };
    let outcome = Outcome::new(&person, "gw", Some(&s.key));
    let o = deliverer
        .deliver(
            &target,
            &s,
            Some(delivery),
            Change::Put(photo),
            None,
            outcome,
        )
        .await;
    (state, o)
}

#[tokio::test]
async fn a_photo_refused_after_the_delete_names_the_backup_that_restores_the_old_one() {
    let fake = FakeGoogle::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.has_photo(ADA, OLD);
    fake.state().refuse.insert(ADA.into());
    // The first update also meets a 503, retried by the layers: the retry finds no photo to
    // remove, and the outcome still says that the previous one was removed.
    fake.state().unavailable_puts = 1;
    let t = Arc::new(target(dir.path(), &fake.url(), ""));
    let stacked = stack(t, &StackOptions::default());
    let (state, o) = deliver(dir.path(), "r1", stacked, JournalOptions::default()).await;

    assert_eq!(o.status, Status::Failed);
    assert_eq!(o.kind, Some(ErrorKind::Rejected));
    assert!(
        fake.stored(ADA).is_none(),
        "the old photo is gone from Google"
    );
    assert!(
        o.reason
            .starts_with("previous photo removed; new photo refused: update photo: HTTP 400"),
        "{}",
        o.reason
    );
    assert!(
        o.reason.contains("Invalid Input: photoData"),
        "{}",
        o.reason
    );
    let backup = dir
        .path()
        .join(".picday/backups/r1/gw/ada@school.example.jpg");
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        OLD,
        "the backup holds the old photo"
    );
    assert!(
        o.reason.contains(&backup.display().to_string()),
        "{}",
        o.reason
    );
    assert!(
        o.reason
            .contains("`picday restore --run r1 --target gw --only ada@school.example`"),
        "{}",
        o.reason
    );
    let context = |k: &str| {
        o.context
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(context("backup"), Some(backup.display().to_string()));
    assert_eq!(context("previous_photo").as_deref(), Some("removed"));
    // Recorded so: the report of the run says the same.
    let recorded = state.outcomes("r1").unwrap();
    assert_eq!(recorded[0].reason, o.reason);
    let puts = fake.log().iter().filter(|l| l.starts_with("PUT ")).count();
    assert_eq!(puts, 2, "one 503, one refusal: {:?}", fake.log());
}

#[tokio::test]
async fn a_refusal_when_there_was_no_photo_says_nothing_was_removed() {
    let fake = FakeGoogle::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.state().refuse.insert(ADA.into());
    let t = Arc::new(target(dir.path(), &fake.url(), ""));
    let (_, o) = deliver(dir.path(), "r1", t, JournalOptions::default()).await;
    assert_eq!(o.status, Status::Failed);
    assert!(
        o.reason.starts_with("update photo: HTTP 400"),
        "{}",
        o.reason
    );
    assert!(!o.reason.contains("removed"), "{}", o.reason);
}
