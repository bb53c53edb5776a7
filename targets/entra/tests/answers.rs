//! Every way a real tenant answers a photo read or an upload, against the stateful fake Graph
//! (each form's source is in `support/fake_graph.rs`), and what picday makes of it: every "no
//! photo", a photo Graph cannot read (sent without a backup and flagged, unless
//! `backup = "required"`), a user removed mid-run, an upload refused with 404 for a user
//! that exists.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod support;

use std::sync::Arc;
use std::time::Duration;

use picday_core::engine::{Change, Deliverer, Delivery, NO_BACKUP, Quiet};
use picday_core::layers::{StackOptions, stack};
use picday_core::{
    ErrorKind, Outcome, Person, Photo, Profile, RunTarget, Status, Subject, Target, TargetIo,
};
use picday_target_entra::directory::LIST_FROM;
use picday_testkit::fixtures;
use support::fake_graph::{FakeGraph, NoPhoto, Quirk, User};
use support::journal::Backups;

fn subject(key: &str) -> Subject {
    Subject::new(key, Arc::new(Person::new("p.jpg", [("mail", key)])))
}

fn photo() -> Photo {
    fixtures::photo(Profile::square(96).with_max_bytes(4 * 1024 * 1024), 3)
}

fn user(n: usize, quirk: Quirk) -> User {
    User::new(
        format!("00000000-0000-0000-0000-{n:012}"),
        format!("u{n}@school.example"),
        format!("u{n}@school.example"),
    )
    .with_quirk(quirk)
}

async fn tenant(users: Vec<User>) -> Arc<FakeGraph> {
    FakeGraph::start(users, Duration::ZERO, None).await
}

#[tokio::test]
async fn every_form_of_no_photo_is_no_photo() {
    let forms = [
        NoPhoto::ImageNotFound,
        NoPhoto::ErrorEntityNotFound,
        NoPhoto::ErrorItemNotFound,
        NoPhoto::GetUserPhoto,
        NoPhoto::ConsumerPhoto,
    ];
    let users = forms
        .iter()
        .enumerate()
        .map(|(n, f)| user(n, Quirk::NoPhoto(*f)))
        .collect();
    let fake = tenant(users).await;
    let target = support::target(&fake.url, &fake.url, &["size = 96"]);
    for (n, form) in forms.iter().enumerate() {
        let s = subject(&format!("u{n}@school.example"));
        let read = picday_core::TargetIo::get_photo(&target, &s).await;
        assert!(matches!(read, Ok(None)), "{form:?}: {read:?}");
        let info = picday_core::TargetIo::photo_info(&target, &s).await;
        assert!(matches!(info, Ok(None)), "{form:?}: {info:?}");
        let removed = picday_core::TargetIo::delete_photo(&target, &s).await;
        assert_eq!(removed.unwrap().detail, "had no photo", "{form:?}");
    }
}

#[tokio::test]
async fn a_user_removed_during_the_run_is_not_found_not_no_photo() {
    let fake = tenant(vec![user(0, Quirk::None)]).await;
    let target = support::target(&fake.url, &fake.url, &["size = 96"]);
    let s = subject("u0@school.example");
    let id = target.resolve(&s.key).await.unwrap();
    fake.remove_user(&id);
    let e = picday_core::TargetIo::get_photo(&target, &s)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.context_value("code"), Some("Request_ResourceNotFound"));
    // Forgotten, so the next request looks the key up again and says the user is gone.
    let e = picday_core::TargetIo::put_photo(&target, &s, &photo())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    // An upload to a user removed after the lookup: Graph's 404 says the user is gone, and a
    // lookup of the id agrees.
    let fake = tenant(vec![user(1, Quirk::None)]).await;
    let target = support::target(&fake.url, &fake.url, &["size = 96"]);
    let s = subject("u1@school.example");
    let id = target.resolve(&s.key).await.unwrap();
    fake.remove_user(&id);
    let e = picday_core::TargetIo::put_photo(&target, &s, &photo())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.message().contains("removed during the run"), "{e}");
}

#[tokio::test]
async fn a_photo_graph_cannot_read_is_unreadable_with_graphs_code_and_ids() {
    let codes = [
        "AuthenticationError",
        "MailboxNotEnabledForRESTAPI",
        "MailboxNotHostedInExchangeOnline",
    ];
    let users = codes
        .iter()
        .enumerate()
        .map(|(n, c)| user(n, Quirk::Unreadable(c)))
        .collect();
    let fake = tenant(users).await;
    let target = support::target(&fake.url, &fake.url, &["size = 96"]);
    for (n, code) in codes.iter().enumerate() {
        let e =
            picday_core::TargetIo::get_photo(&target, &subject(&format!("u{n}@school.example")))
                .await
                .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unreadable, "{code}");
        assert!(!e.is_temporary());
        assert!(e.message().contains("Exchange Online"), "{e}");
        assert_eq!(e.context_value("code"), Some(*code));
        assert!(e.context_value("request_id").is_some());
        assert!(e.context_value("client_request_id").is_some());
    }
}

/// Delivers one photo to `key` through the layers and the delivery step, with backups on.
async fn deliver(target: Arc<dyn Target>, key: &str) -> (Outcome, Arc<Backups>) {
    let journal = Arc::new(Backups::default());
    let deliverer = Deliverer::new(Some(journal.clone()), Arc::new(Quiet));
    let run = RunTarget {
        name: "entra".into(),
        target: stack(target, &StackOptions::default()),
    };
    let s = subject(key);
    let delivery = Delivery {
        target: "entra".into(),
        key: key.into(),
        person: s.person.clone(),
        source: None,
        settings: Arc::from("s"),
    };
    let outcome = Outcome::new(&s.person, "entra", Some(key));
    let o = deliverer
        .deliver(
            &run,
            &s,
            Some(delivery),
            Change::Put(photo()),
            None,
            outcome,
        )
        .await;
    (o, journal)
}

#[tokio::test]
async fn unreadable_photos_are_sent_without_backup_and_flagged_unless_backup_is_required() {
    let fake = tenant(vec![
        user(0, Quirk::Unreadable("AuthenticationError")),
        user(1, Quirk::None),
    ])
    .await;
    let target = Arc::new(support::target(&fake.url, &fake.url, &["size = 96"]));
    let (o, journal) = deliver(target.clone(), "u0@school.example").await;
    assert_eq!(o.status, Status::Sent, "{o:?}");
    let flag = o.flags.iter().find(|f| f.starts_with(NO_BACKUP)).unwrap();
    assert!(flag.contains("AuthenticationError"), "{flag}");
    assert!(fake.photo_of("u0@school.example").is_some(), "sent anyway");
    assert!(journal.saved.lock().unwrap().is_empty(), "no backup");

    // A readable user: a backup ("had none"), no flag.
    let (o, journal) = deliver(target, "u1@school.example").await;
    assert_eq!(o.status, Status::Sent);
    assert!(o.flags.is_empty(), "{:?}", o.flags);
    assert_eq!(journal.saved.lock().unwrap().len(), 1);

    // backup = "required": nothing is sent.
    let fake = fake_with_unreadable().await;
    let strict = Arc::new(support::target(
        &fake.url,
        &fake.url,
        &["size = 96", "backup = \"required\""],
    ));
    let (o, _) = deliver(strict, "u0@school.example").await;
    assert_eq!(o.status, Status::Failed);
    assert_eq!(o.kind, Some(ErrorKind::Unreadable));
    assert!(o.reason.contains("nothing was sent"), "{}", o.reason);
    assert!(fake.photo_of("u0@school.example").is_none());
}

async fn fake_with_unreadable() -> Arc<FakeGraph> {
    tenant(vec![user(
        0,
        Quirk::Unreadable("MailboxNotHostedInExchangeOnline"),
    )])
    .await
}

#[tokio::test]
async fn a_404_to_an_upload_for_an_existing_user_is_a_refusal_with_advice() {
    let fake = tenant(vec![user(0, Quirk::PutRefused)]).await;
    let target = support::target(&fake.url, &fake.url, &["size = 96"]);
    let e = picday_core::TargetIo::put_photo(&target, &subject("u0@school.example"), &photo())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert!(!e.is_temporary());
    assert!(
        e.message().starts_with(
            "Graph refused the photo for an existing user (no Exchange Online mailbox?)"
        ),
        "{e}"
    );
    assert!(e.message().contains("licence"), "advice: {e}");
    assert!(e.message().contains("00000000-0000-0000-0000-000000000000"));
    assert!(e.context_value("request_id").is_some());
}

#[tokio::test]
async fn a_secondary_address_finds_its_user_and_two_users_for_one_key_are_refused() {
    let fake = tenant(vec![
        user(0, Quirk::None)
            .with_proxies(&["SMTP:u0@school.example", "smtp:Alias.Zero@old.example"]),
        user(1, Quirk::None).with_proxies(&["smtp:shared@old.example"]),
        user(2, Quirk::None).with_proxies(&["smtp:shared@old.example"]),
    ])
    .await;
    let target = support::target(&fake.url, &fake.url, &["size = 96"]);
    // Found by proxy address, whatever the case.
    let id = target.resolve("alias.zero@OLD.example").await.unwrap();
    assert_eq!(id, "00000000-0000-0000-0000-000000000000");
    let e = target.resolve("shared@old.example").await.unwrap_err();
    assert!(e.message().contains("2 users"), "{e}");
    assert!(e.message().contains("u1@school.example") && e.message().contains("u2@school.example"));
    let e = target.resolve("nobody@old.example").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

/// A run of [`LIST_FROM`] people or more reads the directory once, in pages
/// (`@odata.nextLink`), and finds every key in memory: by UPN, mail or secondary address, a key
/// two users share still refused with both named, an unknown key not found. A 503 on the
/// first page (as in a storm) is retried, not turned into per-person lookups.
#[tokio::test]
async fn a_large_run_lists_the_directory_once_and_matches_every_key_in_memory() {
    use std::sync::atomic::Ordering::SeqCst;
    let n = LIST_FROM + 50;
    let mut users: Vec<User> = (0..n).map(|i| user(i, Quirk::None)).collect();
    users[0] = users[0]
        .clone()
        .with_proxies(&["SMTP:u0@school.example", "smtp:Alias.Zero@old.example"]);
    for u in &mut users[1..3] {
        *u = u.clone().with_proxies(&["smtp:shared@old.example"]);
    }
    let fake = tenant(users).await;
    fake.set_page_size(100);
    let target = Arc::new(support::target(&fake.url, &fake.url, &["size = 96"]));
    let mut keys: Vec<String> = (3..n).map(|i| format!("U{i}@School.example")).collect();
    let (alias, shared, gone) = (
        "alias.zero@OLD.example",
        "shared@old.example",
        "gone@school.example",
    );
    keys.extend([alias, shared, gone].map(String::from));
    target.prepare(&keys).await.unwrap();
    let stacked = stack(target.clone(), &StackOptions::default());
    fake.storm(1);
    for key in &keys[..n - 3] {
        stacked.put_photo(&subject(key), &photo()).await.unwrap();
    }
    stacked.put_photo(&subject(alias), &photo()).await.unwrap();
    assert_eq!(
        fake.photo_count(),
        n - 2,
        "every person found has the photo"
    );
    assert!(fake.photo_of("u0@school.example").is_some());
    let pages = n.div_ceil(100) as u64;
    assert_eq!(fake.stats.list_pages.load(SeqCst), pages, "one listing");
    assert_eq!(fake.stats.lookups.load(SeqCst), 0, "no lookup per person");

    let e = stacked
        .put_photo(&subject(shared), &photo())
        .await
        .unwrap_err();
    assert!(e.message().contains("2 users"), "{e}");
    assert!(e.message().contains("u1@school.example") && e.message().contains("u2@school.example"));
    let e = stacked
        .put_photo(&subject(gone), &photo())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(
        fake.stats.list_pages.load(SeqCst),
        pages,
        "still one listing"
    );
    let note = target
        .finish()
        .await
        .unwrap()
        .expect("the listing is noted");
    assert!(
        note.contains(&format!("{n} users in {pages} pages")),
        "{note}"
    );
}

/// A small run keeps the per-person lookups: listing a school's whole tenant would cost more.
#[tokio::test]
async fn a_small_run_looks_each_person_up() {
    use std::sync::atomic::Ordering::SeqCst;
    let fake = tenant((0..5).map(|i| user(i, Quirk::None)).collect()).await;
    let target = Arc::new(support::target(&fake.url, &fake.url, &["size = 96"]));
    let keys: Vec<String> = (0..3).map(|i| format!("u{i}@school.example")).collect();
    target.prepare(&keys).await.unwrap();
    for key in &keys {
        target.put_photo(&subject(key), &photo()).await.unwrap();
    }
    assert_eq!(fake.stats.list_pages.load(SeqCst), 0);
    assert_eq!(fake.stats.lookups.load(SeqCst), 3);
    assert_eq!(target.finish().await.unwrap(), None);
}
