//! Shared helpers for the google target's tests: the test key, targets pointed at a local mock
//! server, and Google's documented bodies.

#![allow(dead_code, clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

pub mod fake;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use picday_core::layers::RetryPolicy;
use picday_core::{Person, Subject, Target, TargetSpec};
use picday_target_google::{GoogleTarget, Settings};

pub const CLIENT_EMAIL: &str = "picday-sync@picday-test.iam.gserviceaccount.com";
pub const CLIENT_ID: &str = "104000000000000000042";
pub const ADMIN: &str = "it-admin@school.example";
pub const TOKEN: &str = "ya29.test-access-token";

/// This crate's `tests/fixtures`, also from another crate's tests (cli/tests) that include
/// this module.
pub fn fixtures() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let own = manifest.join("tests/fixtures");
    if own.join("test-service-account.json").exists() {
        own
    } else {
        manifest.join("../targets/google/tests/fixtures")
    }
}

pub fn public_key_pem() -> Vec<u8> {
    std::fs::read(fixtures().join("test-service-account.pub.pem")).unwrap()
}

/// Writes the test key into `dir` with its `token_uri` pointed at `token_uri`.
pub fn key_file(dir: &Path, token_uri: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixtures().join("test-service-account.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["token_uri"] = token_uri.into();
    let path = dir.join("sa.json");
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

/// A spec for `[targets.gw]` with the key file and `api_url` set, plus `extra` options.
pub fn spec(dir: &Path, server: &str, extra: &str) -> TargetSpec {
    key_file(dir, &format!("{server}/token"));
    let text = format!("service_account_key = \"sa.json\"\napi_url = \"{server}\"\n{extra}");
    let options: toml::Table = toml::from_str(&text).unwrap();
    TargetSpec::new("gw", "google", options, dir)
}

/// Retries as Google's policy does, but with millisecond waits.
pub fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
    }
}

/// A target acting as [`ADMIN`] against `server`.
pub fn target(dir: &Path, server: &str, extra: &str) -> GoogleTarget {
    let extra = format!("admin = \"{ADMIN}\"\n{extra}");
    let spec = spec(dir, server, &extra);
    GoogleTarget::new(Settings::from_spec(&spec).unwrap())
        .unwrap()
        .with_retry_policy(quick_retries(10))
}

pub fn subject(target: &dyn Target, mail: &str) -> Subject {
    target
        .subject(Arc::new(Person::new("p.jpg", [("mail", mail)])))
        .unwrap()
}

/// Google's JSON error body.
pub fn google_error(code: u16, reason: &str, message: &str, status: &str) -> String {
    serde_json::json!({"error": {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}],
        "status": status,
    }})
    .to_string()
}

/// The token endpoint's answer.
pub fn token_body() -> String {
    serde_json::json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})
        .to_string()
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn form(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).unwrap();
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
