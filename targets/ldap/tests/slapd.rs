//! The ldap target against a real OpenLDAP server (see `common`): writes, reads back and
//! removes photos, and refuses what it must.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{PEOPLE, READER_DN, READER_PW, Slapd};
use picday_core::{ErrorKind, Person, Photo, Profile, Subject, Target};
use picday_testkit::{Harness, conformance, fixtures};

fn subject(t: &dyn Target, n: usize) -> Subject {
    t.subject(Arc::new(fixtures::person(n))).expect("subject")
}

fn photo(t: &dyn Target, seed: u8) -> Photo {
    fixtures::photo(t.info().capabilities.profile, seed)
}

async fn thumbnail(slapd: &Slapd, n: usize) -> Vec<Vec<u8>> {
    slapd
        .values(&format!("(uid=student{n})"), "thumbnailPhoto")
        .await
}

#[tokio::test]
async fn put_writes_the_raw_bytes_and_get_reads_them_back() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let t = slapd.target("");
    assert_eq!(t.info().capabilities.profile.width, 96);
    let s = subject(&*t, 0);
    assert_eq!(s.key, "(mail=student0@school.example)");
    let p = photo(&*t, 1);
    let receipt = t.put_photo(&s, &p).await.expect("put");
    assert_eq!(
        receipt.remote_id.as_deref(),
        Some(format!("uid=student0,{PEOPLE}").as_str())
    );
    // Stored byte for byte (seen by the administrator, not through the target)...
    assert_eq!(thumbnail(&slapd, 0).await, vec![p.bytes.to_vec()]);
    // ...and read back byte for byte.
    let back = t.get_photo(&s).await.expect("get").expect("a photo");
    assert_eq!(back, p.bytes.to_vec());
    // Nobody else was touched.
    assert!(thumbnail(&slapd, 1).await.is_empty());
}

#[tokio::test]
async fn put_overwrites_the_previous_photo() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let t = slapd.target("");
    let s = subject(&*t, 2);
    t.put_photo(&s, &photo(&*t, 1)).await.expect("first put");
    let second = photo(&*t, 2);
    t.put_photo(&s, &second).await.expect("second put");
    assert_eq!(thumbnail(&slapd, 2).await, vec![second.bytes.to_vec()]);
}

#[tokio::test]
async fn jpeg_photo_put_replaces_every_existing_value() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let t = slapd.target("attribute = \"jpegPhoto\"");
    assert_eq!(t.info().capabilities.profile.width, 648);
    let dn = format!("uid=student3,{PEOPLE}");
    // jpegPhoto is multi-valued: an entry may already hold several.
    let old = fixtures::source_jpeg(64, 80, 7);
    let older = fixtures::source_jpeg(64, 80, 8);
    slapd.set(&dn, "jpegPhoto", vec![old, older]).await;
    assert_eq!(slapd.values("(uid=student3)", "jpegPhoto").await.len(), 2);
    let s = subject(&*t, 3);
    let p = photo(&*t, 4);
    t.put_photo(&s, &p).await.expect("put");
    assert_eq!(
        slapd.values("(uid=student3)", "jpegPhoto").await,
        vec![p.bytes.to_vec()]
    );
    assert_eq!(t.get_photo(&s).await.unwrap(), Some(p.bytes.to_vec()));
}

#[tokio::test]
async fn delete_removes_the_attribute_and_deleting_again_is_fine() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let t = slapd.target("");
    let s = subject(&*t, 4);
    t.put_photo(&s, &photo(&*t, 1)).await.expect("put");
    t.delete_photo(&s).await.expect("delete");
    assert!(thumbnail(&slapd, 4).await.is_empty());
    assert_eq!(t.get_photo(&s).await.expect("get"), None);
    t.delete_photo(&s).await.expect("delete again");
}

#[tokio::test]
async fn unknown_person_is_not_found() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let t = slapd.target("");
    let s = subject(&*t, 9_999);
    for e in [
        t.put_photo(&s, &photo(&*t, 1)).await.unwrap_err(),
        t.get_photo(&s).await.unwrap_err(),
        t.delete_photo(&s).await.unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(!e.is_temporary());
        assert!(e.message().contains("student9999@school.example"), "{e}");
    }
}

#[tokio::test]
async fn person_matched_twice_is_rejected_and_nothing_is_written() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let t = slapd.target("");
    let twin = Person::new("twin.jpg", [("mail", "twin@school.example")]);
    let s = t.subject(Arc::new(twin)).unwrap();
    let e = t.put_photo(&s, &photo(&*t, 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert!(!e.is_temporary());
    assert!(e.message().contains("several entries"), "{e}");
    assert!(
        e.message().contains("uid=twin1") && e.message().contains("uid=twin2"),
        "{e}"
    );
    assert!(
        slapd
            .values("(mail=twin@school.example)", "thumbnailPhoto")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn filter_values_are_escaped() {
    let Some(slapd) = common::start().await else {
        return;
    };
    // `*` must match a mail that is literally "*", not every entry ("several").
    let t = slapd.target("");
    let star = t
        .subject(Arc::new(Person::new("x.jpg", [("mail", "*")])))
        .unwrap();
    let e = t.put_photo(&star, &photo(&*t, 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // An injection attempt finds nobody either.
    let sneaky = t
        .subject(Arc::new(Person::new(
            "x.jpg",
            [("mail", "student1@school.example)(uid=*")],
        )))
        .unwrap();
    let e = t.put_photo(&sneaky, &photo(&*t, 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(thumbnail(&slapd, 1).await.is_empty());
    // A name full of metacharacters matches its one entry exactly.
    let by_name = slapd.target("filter = \"(cn={name})\"");
    let annie = Person::new("a.jpg", [("name", "Anne (Annie) O*Brien\\")]);
    let s = by_name.subject(Arc::new(annie)).unwrap();
    assert_eq!(s.key, "(cn=Anne \\28Annie\\29 O\\2aBrien\\5c)");
    let p = photo(&*by_name, 5);
    let receipt = by_name.put_photo(&s, &p).await.expect("put by name");
    assert_eq!(
        receipt.remote_id.as_deref(),
        Some(format!("uid=annie,{PEOPLE}").as_str())
    );
    assert_eq!(
        slapd.values("(uid=annie)", "thumbnailPhoto").await,
        vec![p.bytes.to_vec()]
    );
}

#[tokio::test]
async fn bad_credentials_are_an_auth_error_at_check_and_put() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let wrong = slapd.secret_file("not-the-password");
    let options = slapd.options(&format!("password = {{ file = \"{}\" }}", wrong.display()));
    let t = picday_target_ldap::from_options("ad", options, std::path::Path::new("/")).unwrap();
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(!e.message().contains("not-the-password"), "{e}");
    assert_eq!(e.context_value("ldap_code"), Some("49 invalidCredentials"));
    let s = subject(&*t, 5);
    let e = t.put_photo(&s, &photo(&*t, 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(!e.is_temporary());
    assert!(!format!("{e:?} {t:?}").contains("not-the-password"));
}

#[tokio::test]
async fn account_without_write_access_gets_a_permission_error() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let pw = slapd.secret_file(READER_PW);
    let t = slapd.target(&format!(
        "bind_dn = \"{READER_DN}\"\npassword = {{ file = \"{}\" }}",
        pw.display()
    ));
    let s = subject(&*t, 6);
    let e = t.put_photo(&s, &photo(&*t, 1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permission, "{e}");
    assert!(e.message().contains("Write"), "advice missing: {e}");
    assert!(thumbnail(&slapd, 6).await.is_empty());
}

#[tokio::test]
async fn thumbnail_photo_size_limits_are_respected() {
    let Some(slapd) = common::start().await else {
        return;
    };
    // The default budget: 96x96 within 10 KB, which the pipeline meets.
    let t = slapd.target("");
    let profile = t.info().capabilities.profile;
    assert_eq!(profile.max_bytes, Some(10_240));
    let p = fixtures::photo(profile, 9);
    assert!(p.len() <= 10_240);
    // A photo over the budget is refused before anything is sent (by the contract layer, as
    // the engine runs the target).
    let mut big = p.clone();
    let mut bytes = p.bytes.to_vec();
    bytes.resize(10_241, 0);
    big.bytes = bytes.into();
    let s = subject(&*t, 7);
    let stacked = picday_core::layers::stack(t.clone(), &Default::default());
    let e = stacked.put_photo(&s, &big).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert!(thumbnail(&slapd, 7).await.is_empty());
    // AD's hard limit cannot be configured away.
    let e = picday_target_ldap::from_options(
        "ad",
        slapd.options("max_bytes = 102401"),
        std::path::Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("102400"), "{e}");
    // Up to 100 KiB is allowed, with a warning at check about Exchange Online.
    let t = slapd.target("max_bytes = 102400");
    let report = t.check().await.expect("check");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("Exchange Online")),
        "{report:?}"
    );
}

#[tokio::test]
async fn check_binds_and_reads_the_base() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let report = slapd.target("").check().await.expect("check");
    assert!(report.ok.iter().any(|l| l.contains("bound")), "{report:?}");
    assert!(report.ok.iter().any(|l| l.contains(PEOPLE)), "{report:?}");
    assert!(
        report.warnings.iter().any(|w| w.contains("insecure")),
        "plain LDAP must be flagged: {report:?}"
    );
    let wrong_base = slapd.target("base = \"ou=nobody,dc=school,dc=example\"");
    let e = wrong_base.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("ou=nobody"), "{e}");
}

#[tokio::test]
async fn unreachable_server_is_temporary() {
    // Nothing listens on this port (bound and released just now).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "x").unwrap();
    let options: toml::Table = toml::from_str(&format!(
        "url = \"ldap://127.0.0.1:{port}\"\ninsecure = true\nbind_dn = \"cn=x\"\n\
         password = {{ file = \"pw\" }}\nbase = \"dc=x\"\ntimeout_secs = 2"
    ))
    .unwrap();
    let t = picday_target_ldap::from_options("ad", options, dir.path()).unwrap();
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.is_temporary());
}

/// The conformance harness: people student0.. exist; `stored` reads as the administrator.
struct Ldap {
    slapd: Slapd,
}

#[async_trait]
impl Harness for Ldap {
    async fn target(&self) -> Arc<dyn Target> {
        self.slapd.target("")
    }
    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        let mut values = self.slapd.values(&subject.key, "thumbnailPhoto").await;
        assert!(values.len() <= 1, "thumbnailPhoto is single-valued");
        values.pop()
    }
}

#[tokio::test]
async fn ldap_target_passes_the_conformance_suite() {
    let Some(slapd) = common::start().await else {
        return;
    };
    let harness = Ldap { slapd };
    conformance::run(&harness).await;
}

#[test]
fn profile_defaults_follow_the_attribute() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "x").unwrap();
    let build = |extra: &str| {
        let options: toml::Table = toml::from_str(
            "url = \"ldaps://dc1.school.example\"\nbind_dn = \"cn=x\"\n\
             password = { file = \"pw\" }\nbase = \"dc=x\"\n",
        )
        .unwrap();
        let options = common::with(options, extra);
        picday_target_ldap::from_options("ad", options, dir.path())
    };
    assert_eq!(
        build("").unwrap().info().capabilities.profile,
        Profile::square(96).with_max_bytes(10_240)
    );
    assert_eq!(
        build("attribute = \"jpegPhoto\"")
            .unwrap()
            .info()
            .capabilities
            .profile,
        Profile::square(648)
    );
    let e = build("attribute = \"photo\"").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let e = build("url = \"x\"").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
}
