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

/// The SHA-256 fingerprint of a PEM certificate, as `openssl` prints it, in picday's form.
fn fingerprint(pem: &std::path::Path) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.trim().rsplit('=').next().unwrap().replace(':', "");
    format!("sha256:{}", hex.to_lowercase())
}

/// What picday says about a certificate refused by the TLS library, and that the pin it offers
/// works (and a wrong one does not).
async fn refused_then_pinned(certs: common::Certs, needles: &[&str]) {
    let Some(slapd) = common::start_tls_with(certs).await else {
        return;
    };
    let (tls_port, ca) = slapd.tls.clone().unwrap();
    let url = format!("ldaps://127.0.0.1:{tls_port}");
    let pin = fingerprint(&slapd.server_cert());
    let ca_line = format!("ca_cert = \"{}\"", ca.display());

    for (url, extra) in [
        (url.clone(), ca_line.clone()),
        (slapd.url(), format!("{ca_line}\nstarttls = true")),
    ] {
        let e = target(tls_options(&slapd, &url, &extra))
            .check()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{url}: {e}");
        assert!(!e.is_temporary());
        let m = e.message();
        for needle in needles {
            assert!(m.contains(needle), "{url}: no {needle:?} in {m}");
        }
        // The safe alternative, ready to copy, and a warning against the unsafe one.
        assert!(m.contains(&format!("tls_fingerprint = \"{pin}\"")), "{m}");
        assert!(m.contains("do not set `tls_verify = false`"), "{m}");
    }

    // Pinned: accepted over LDAPS and StartTLS, photos go through.
    for (url, extra) in [
        (url.clone(), format!("tls_fingerprint = \"{pin}\"")),
        (
            slapd.url(),
            format!(
                "tls_fingerprint = \"{}\"\nstarttls = true",
                pin.to_uppercase().replace("SHA256", "sha256")
            ),
        ),
    ] {
        let t = target(tls_options(&slapd, &url, &extra));
        let report = t.check().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(
            report.ok.iter().any(|l| l.contains("pinned certificate")),
            "{report:?}"
        );
        let s = t.subject(Arc::new(fixtures::person(11))).unwrap();
        let p = fixtures::photo(t.info().capabilities.profile, 4);
        t.put_photo(&s, &p).await.unwrap();
        assert_eq!(t.get_photo(&s).await.unwrap(), Some(p.bytes.to_vec()));
    }

    // Another certificate than the pinned one is refused, naming both.
    let other = format!("sha256:{}", "ab".repeat(32));
    let e = target(tls_options(
        &slapd,
        &url,
        &format!("tls_fingerprint = \"{other}\""),
    ))
    .check()
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(
        e.message().contains(&pin) && e.message().contains(&other),
        "{e}"
    );
}

#[tokio::test]
async fn a_sha1_signed_dc_certificate_is_named_and_pinning_is_offered() {
    refused_then_pinned(common::Certs::Sha1, &["SHA-1", "reissued with SHA-256"]).await;
}

#[tokio::test]
async fn a_self_signed_dc_certificate_given_as_its_own_ca_is_named_and_pinning_is_offered() {
    refused_then_pinned(common::Certs::SelfSigned, &["self-signed", "its own CA"]).await;
}

#[test]
fn a_pin_with_tls_verify_false_or_ca_cert_or_plain_ldap_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let pin = format!("sha256:{}", "01".repeat(32));
    let base = format!(
        "bind_dn = \"cn=picday\"\npassword = {{ env = \"PICDAY_UNSET\" }}\nbase = \"o=x\"\n\
         tls_fingerprint = \"{pin}\"\n"
    );
    for (extra, needle) in [
        ("url = \"ldaps://dc1\"\ntls_verify = false", "tls_verify"),
        ("url = \"ldaps://dc1\"\nca_cert = \"ca.pem\"", "ca_cert"),
        ("url = \"ldap://127.0.0.1\"\ninsecure = true", "plain LDAP"),
    ] {
        let options: toml::Table = toml::from_str(&format!("{base}{extra}")).unwrap();
        let e = picday_target_ldap::from_options("ad", options, dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{extra}");
        assert!(
            e.message().contains("tls_fingerprint") && e.message().contains(needle),
            "{extra}: {e}"
        );
    }
    // A SHA-1 thumbprint, as Windows shows it, is refused with the way to get the right one.
    let options: toml::Table = toml::from_str(&format!(
        "url = \"ldaps://dc1\"\nbind_dn = \"cn=picday\"\npassword = {{ env = \"PICDAY_UNSET\" }}\n\
         base = \"o=x\"\ntls_fingerprint = \"sha256:{}\"",
        "ab".repeat(20)
    ))
    .unwrap();
    let e = picday_target_ldap::from_options("ad", options, dir.path()).unwrap_err();
    assert!(e.message().contains("SHA-1 thumbprint"), "{e}");
}
