//! Every URL the Google target sends a signed assertion, a token or a photo to is https, or
//! plain http only to this machine (issue 24: `api_url` accepted any `http://`, and the key
//! file's `token_uri` was not checked at all).

#![allow(clippy::unwrap_used)]

mod common;

use picday_core::{ErrorKind, TargetSpec};
use picday_target_google::{GoogleTarget, Settings};

fn build(
    dir: &std::path::Path,
    api_url: &str,
    token_uri: &str,
) -> picday_core::Result<GoogleTarget> {
    common::key_file(dir, token_uri);
    let text = format!(
        "service_account_key = \"sa.json\"\napi_url = \"{api_url}\"\nadmin = \"{}\"\n",
        common::ADMIN
    );
    let spec = TargetSpec::new("gw", "google", toml::from_str(&text).unwrap(), dir);
    GoogleTarget::new(Settings::from_spec(&spec)?)
}

#[test]
fn plain_http_off_this_machine_is_refused_for_the_api_and_the_token_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let here = "http://127.0.0.1:9";
    assert!(build(dir.path(), here, &format!("{here}/token")).is_ok());
    assert!(
        build(
            dir.path(),
            "https://admin.googleapis.com",
            "https://oauth2.googleapis.com/token"
        )
        .is_ok()
    );

    let e = build(
        dir.path(),
        "http://192.0.2.2:18081",
        &format!("{here}/token"),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.message().contains("api_url") && e.message().contains("plain http"),
        "{e}"
    );

    let e = build(
        dir.path(),
        "http://127.0.0.1@192.0.2.2:18081",
        &format!("{here}/token"),
    )
    .unwrap_err();
    assert!(e.message().contains("api_url"), "{e}");

    let e = build(dir.path(), here, "http://192.0.2.2/token").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.message().contains("token_uri") && e.message().contains("plain http"),
        "{e}"
    );
}
