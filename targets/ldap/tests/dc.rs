//! How real domain controllers answer, against a real OpenLDAP server (see `common`): a
//! read-only replica answers a change with a referral (result code 10), as an Active Directory
//! read-only domain controller does; and the Global Catalog ports (3268, 3269) get a warning.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{BRANCH_PEOPLE, WRITABLE_DC};
use picday_core::ErrorKind;
use picday_core::layers::{StackOptions, stack};
use picday_testkit::fixtures;

#[tokio::test]
async fn a_read_only_replica_refers_the_write_and_picday_says_point_url_at_a_writable_dc() {
    let Some(slapd) = common::start_replica().await else {
        return;
    };
    let t = slapd.target(&format!("base = \"{BRANCH_PEOPLE}\""));
    let s = t.subject(Arc::new(fixtures::person(1))).unwrap();
    // Reading works on a replica: the person is there, without a photo.
    assert_eq!(t.get_photo(&s).await.unwrap(), None);

    let photo = fixtures::photo(t.info().capabilities.profile, 1);
    let e = t.put_photo(&s, &photo).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(!e.is_temporary(), "{e}");
    let m = e.message();
    assert!(
        m.contains("this domain controller is read-only; point `url` at a writable one"),
        "{m}"
    );
    assert!(
        m.contains(WRITABLE_DC.trim_end_matches('/')),
        "names the writable DC: {m}"
    );
    assert!(!m.contains("protocol"), "{m}");
    assert_eq!(e.context_value("ldap_code"), Some("10 referral"));
    // Removing is a change too.
    let e = t.delete_photo(&s).await.unwrap_err();
    assert!(e.message().contains("read-only"), "{e}");

    // Through the layers (as a run sends it) it is not retried: one answer is enough.
    let stacked = stack(t.clone(), &StackOptions::default());
    let e = stacked.put_photo(&s, &photo).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(e.context_value("attempts"), None, "{e:?}");
}

/// Forwards 127.0.0.1:`from` to 127.0.0.1:`to` (for a server on a fixed port); `None` when
/// `from` is taken.
async fn forward(from: u16, to: u16) -> Option<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", from))
        .await
        .ok()?;
    Some(tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }))
}

#[tokio::test]
async fn check_warns_that_the_global_catalog_port_has_no_thumbnail_photo() {
    let Some(slapd) = common::start().await else {
        return;
    };
    // On the ordinary port: no such warning.
    let report = slapd.target("").check().await.unwrap();
    assert!(
        !report.warnings.iter().any(|w| w.contains("Global Catalog")),
        "{report:?}"
    );
    // The same server reached on 3268, the Global Catalog's port.
    let Some(proxy) = forward(3268, slapd.port).await else {
        eprintln!("SKIPPED: 127.0.0.1:3268 is in use; the Global Catalog warning was not checked");
        return;
    };
    let t = slapd.target("url = \"ldap://127.0.0.1:3268\"");
    let report = t.check().await.unwrap();
    proxy.abort();
    let warning = report
        .warnings
        .iter()
        .find(|w| w.contains("Global Catalog"))
        .unwrap_or_else(|| panic!("no Global Catalog warning: {report:?}"));
    assert!(
        warning.contains("thumbnailPhoto") && warning.contains("389"),
        "{warning}"
    );
}
