//! LDAPS and StartTLS against a real slapd with a CA made by `openssl` for the test: the
//! certificate is verified against `ca_cert`, refused without it, and accepted blindly only
//! with `tls_verify = false`, which `check` warns about.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::Slapd;
use picday_core::{ErrorKind, Target};
use picday_testkit::fixtures;

/// Options without `insecure`, for a TLS URL.
fn tls_options(slapd: &Slapd, url: &str, extra: &str) -> toml::Table {
    let mut options = slapd.options(extra);
    options.remove("insecure");
    options.insert("url".into(), toml::Value::String(url.into()));
    options
}

fn target(options: toml::Table) -> Arc<dyn Target> {
    picday_target_ldap::from_options("ad", options, std::path::Path::new("/")).unwrap()
}

#[tokio::test]
async fn ldaps_and_starttls_verify_the_server_against_ca_cert() {
    let Some(slapd) = common::start_tls().await else {
        return;
    };
    let (tls_port, ca) = slapd.tls.clone().unwrap();
    let ca_line = format!("ca_cert = \"{}\"", ca.display());
    for (url, extra) in [
        (format!("ldaps://127.0.0.1:{tls_port}"), ca_line.clone()),
        (slapd.url(), format!("{ca_line}\nstarttls = true")),
    ] {
        let t = target(tls_options(&slapd, &url, &extra));
        let report = t.check().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(
            report
                .ok
                .iter()
                .any(|l| l.contains("LDAPS") || l.contains("StartTLS")),
            "{report:?}"
        );
        assert!(!report.warnings.iter().any(|w| w.contains("NOT verified")));
        let s = t.subject(Arc::new(fixtures::person(10))).unwrap();
        let p = fixtures::photo(t.info().capabilities.profile, 3);
        t.put_photo(&s, &p).await.unwrap();
        assert_eq!(t.get_photo(&s).await.unwrap(), Some(p.bytes.to_vec()));
    }
}

#[tokio::test]
async fn unknown_certificate_authority_is_refused() {
    let Some(slapd) = common::start_tls().await else {
        return;
    };
    let (tls_port, _) = slapd.tls.clone().unwrap();
    // No ca_cert: the system's store does not know the test CA.
    let t = target(tls_options(
        &slapd,
        &format!("ldaps://127.0.0.1:{tls_port}"),
        "",
    ));
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("ca_cert"), "no advice: {e}");
    assert!(!e.is_temporary());
}

#[tokio::test]
async fn tls_verify_false_connects_and_check_warns_loudly() {
    let Some(slapd) = common::start_tls().await else {
        return;
    };
    let (tls_port, _) = slapd.tls.clone().unwrap();
    let t = target(tls_options(
        &slapd,
        &format!("ldaps://127.0.0.1:{tls_port}"),
        "tls_verify = false",
    ));
    let report = t.check().await.unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("NOT verified")),
        "{report:?}"
    );
}
