//! The google target passes picday's conformance suite against a stateful fake of the
//! Directory API (mockito on 127.0.0.1) that answers as Google documents: 204 for a delete,
//! 404 `Resource Not Found: photo` for a user without a photo, 404 `Resource Not Found: userKey`
//! for an unknown user, 401 for a wrong token, 400 `Invalid Input: photoData` for bytes that are
//! not web-safe base64.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use common::*;
use picday_core::{Subject, Target};
use picday_testkit::{Harness, conformance};

const UNKNOWN: &str = "student9999@school.example";

type Photos = Arc<Mutex<HashMap<String, Vec<u8>>>>;

struct FakeGoogle {
    server: mockito::ServerGuard,
    photos: Photos,
    dir: tempfile::TempDir,
}

/// The user key of a photo URL.
fn user_of(path: &str) -> String {
    let rest = path.trim_start_matches("/admin/directory/v1/users/");
    percent_decode(rest.split('/').next().unwrap_or_default())
}

/// What the fake answers; the state changes only when `apply` is set (mockito asks for the
/// status and the body separately).
fn respond(req: &mockito::Request, photos: &Photos, apply: bool) -> (usize, Vec<u8>) {
    let authorized = req
        .header("authorization")
        .first()
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        let body = google_error(401, "authError", "Invalid Credentials", "UNAUTHENTICATED");
        return (401, body.into_bytes());
    }
    let user = user_of(req.path());
    if user == UNKNOWN || !user.ends_with("@school.example") {
        let body = google_error(404, "notFound", "Resource Not Found: userKey", "NOT_FOUND");
        return (404, body.into_bytes());
    }
    let no_photo = || {
        let body = google_error(404, "notFound", "Resource Not Found: photo", "NOT_FOUND");
        (404, body.into_bytes())
    };
    let mut photos = photos.lock().unwrap();
    match req.method() {
        "PUT" => {
            let json: serde_json::Value =
                serde_json::from_slice(req.body().unwrap()).unwrap_or_default();
            let bytes = json["photoData"]
                .as_str()
                .and_then(|d| URL_SAFE.decode(d).ok());
            let Some(bytes) = bytes.filter(|b| b.starts_with(&[0xFF, 0xD8])) else {
                let body = google_error(
                    400,
                    "invalid",
                    "Invalid Input: photoData",
                    "INVALID_ARGUMENT",
                );
                return (400, body.into_bytes());
            };
            if apply {
                photos.insert(user.clone(), bytes);
            }
            let body = serde_json::json!({
                "kind": "admin#directory#user#photo", "id": "1", "primaryEmail": user,
                "mimeType": json["mimeType"], "width": 96, "height": 96,
            });
            (200, body.to_string().into_bytes())
        }
        "GET" => match photos.get(&user) {
            Some(bytes) => {
                let body = serde_json::json!({
                    "kind": "admin#directory#user#photo", "id": "1", "primaryEmail": user,
                    "mimeType": "JPEG", "photoData": URL_SAFE_NO_PAD.encode(bytes),
                });
                (200, body.to_string().into_bytes())
            }
            None => no_photo(),
        },
        "DELETE" => {
            if !photos.contains_key(&user) {
                return no_photo();
            }
            if apply {
                photos.remove(&user);
            }
            (204, Vec::new())
        }
        _ => (405, Vec::new()),
    }
}

impl FakeGoogle {
    async fn start() -> FakeGoogle {
        let mut server = mockito::Server::new_async().await;
        let photos: Photos = Arc::default();
        server
            .mock("POST", "/token")
            .with_status(200)
            .with_header("content-type", "application/json; charset=utf-8")
            .with_body(token_body())
            .create_async()
            .await;
        let path =
            mockito::Matcher::Regex(r"^/admin/directory/v1/users/[^/]+/photos/thumbnail$".into());
        for method in ["PUT", "GET", "DELETE"] {
            let (a, b) = (photos.clone(), photos.clone());
            server
                .mock(method, path.clone())
                .with_header("content-type", "application/json; charset=UTF-8")
                .with_status_code_from_request(move |req| respond(req, &a, false).0)
                .with_body_from_request(move |req| respond(req, &b, true).1)
                .create_async()
                .await;
        }
        FakeGoogle {
            server,
            photos,
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

#[async_trait]
impl Harness for FakeGoogle {
    async fn target(&self) -> Arc<dyn Target> {
        self.photos.lock().unwrap().clear();
        Arc::new(target(self.dir.path(), &self.server.url(), ""))
    }

    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        self.photos.lock().unwrap().get(&subject.key).cloned()
    }
}

#[tokio::test]
async fn google_target_passes_the_conformance_suite() {
    let fake = FakeGoogle::start().await;
    conformance::run(&fake).await;
}
