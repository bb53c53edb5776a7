//! A stateful fake of the Directory API on 127.0.0.1 (mockito with answers computed from a
//! shared state), for the conformance suite and the tests of what picday reports after an
//! update, and by the binary's end-to-end test of a photo's life (`cli/tests/life.rs`). It
//! answers as Google documents and as users have seen it answer:
//!
//! - `users.photos.update` (PUT): `200` with the `UserPhoto` (reference/rest/v1/UserPhoto);
//!   `503` with Google's error body when asked (`unavailable_puts`; GAM retries these);
//!   `400 invalid` "Invalid Input: photoData" for bytes that are not an image
//!   (GAM-team/GAM#1634); and `200` *without* replacing a photo the user set themselves
//!   (GAM-team/GAM wiki Users-Photo, "Update photo fails to change user's photo": "the API
//!   update will succeed but not replace a user's existing self-set photo");
//! - `users.photos.get`: the `UserPhoto` with `photoData`, or without it for a partial response
//!   (`fields=...`, developers.google.com/admin-sdk/directory/v1/guides/performance); `404
//!   notFound` "Resource Not Found: photo" when the user has none;
//! - `users.photos.delete`: `204`; the same `404` when there is no photo (GAM maps it to
//!   `photoNotFound`);
//! - `users.get` with `fields=thumbnailPhotoEtag`: a partial response (Directory API
//!   "Performance tips", partial response) holding only that field, which the User resource
//!   documents as "Output only. ETag of the user's photo (Read-only)"; a user without a photo
//!   has no such field, so the answer is `{}`. The etag changes each time a photo is stored and
//!   is Google's quoted form (`"\"...\""`);
//! - an unknown user: `404 notFound` "Resource Not Found: userKey" on every method;
//! - a wrong token: `401 authError` "Invalid Credentials".
//!
//! Simplification, said plainly: Google resizes photos to 96x96 and re-encodes them; this fake
//! stores the bytes as sent, so that tests can compare them.

#![allow(dead_code, clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use super::{TOKEN, google_error, percent_decode, token_body};

/// A user nobody has.
pub const UNKNOWN: &str = "student9999@school.example";

/// One stored photo.
#[derive(Debug, Clone)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub etag: String,
    /// Set by the user themselves: an update answers 200 and keeps it.
    pub user_set: bool,
}

/// The fake's state.
#[derive(Debug, Default)]
pub struct Directory {
    pub photos: HashMap<String, Stored>,
    /// Users whose updates are refused with `400 Invalid Input: photoData`.
    pub refuse: HashSet<String>,
    /// The next this many updates are answered `503 UNAVAILABLE` (the standard Google error
    /// body, which GAM retries as `backendError`/`transientError`), before anything is stored.
    pub unavailable_puts: u32,
    /// Requests seen, as `METHOD path?query`.
    pub log: Vec<String>,
    etags: u64,
}

impl Directory {
    fn next_etag(&mut self) -> String {
        self.etags += 1;
        format!("\"fake-etag/{}\"", self.etags)
    }
}

pub type Shared = Arc<Mutex<Directory>>;

/// The fake server and its state.
pub struct FakeGoogle {
    pub server: mockito::ServerGuard,
    pub state: Shared,
}

/// The user key of a Directory API path (`/admin/directory/v1/users/KEY[/photos/thumbnail]`).
fn user_of(path: &str) -> String {
    let rest = path.trim_start_matches("/admin/directory/v1/users/");
    percent_decode(rest.split('/').next().unwrap_or_default())
}

/// Whether the request asks for a partial response (`fields=...`) that leaves out `photoData`.
fn asks_without_photo_data(req: &mockito::Request) -> bool {
    let query = req.path_and_query();
    query.contains("fields=") && !query.contains("photoData")
}

fn json(v: serde_json::Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// What the fake answers; the state changes only when `apply` is set (mockito asks for the
/// status and the body separately).
fn respond(req: &mockito::Request, state: &Shared, apply: bool) -> (usize, Vec<u8>) {
    let mut d = state.lock().unwrap();
    if apply {
        d.log
            .push(format!("{} {}", req.method(), req.path_and_query()));
    }
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
    let is_photo = req.path().ends_with("/photos/thumbnail");
    match (req.method(), is_photo) {
        ("GET", false) => {
            // users.get: only the fields asked for.
            let v = match d.photos.get(&user) {
                Some(p) => serde_json::json!({"thumbnailPhotoEtag": p.etag}),
                None => serde_json::json!({}),
            };
            (200, json(v))
        }
        ("PUT", true) => {
            if d.unavailable_puts > 0 {
                if apply {
                    d.unavailable_puts -= 1;
                }
                let body = google_error(
                    503,
                    "backendError",
                    "The service is currently unavailable.",
                    "UNAVAILABLE",
                );
                return (503, body.into_bytes());
            }
            let body: serde_json::Value =
                serde_json::from_slice(req.body().unwrap()).unwrap_or_default();
            let bytes = body["photoData"]
                .as_str()
                .and_then(|d| URL_SAFE.decode(d).ok());
            let bytes = bytes.filter(|b| b.starts_with(&[0xFF, 0xD8]));
            let (Some(bytes), false) = (bytes, d.refuse.contains(&user)) else {
                let body = google_error(
                    400,
                    "invalid",
                    "Invalid Input: photoData",
                    "INVALID_ARGUMENT",
                );
                return (400, body.into_bytes());
            };
            let user_set = d.photos.get(&user).is_some_and(|p| p.user_set);
            if apply && !user_set {
                let etag = d.next_etag();
                d.photos.insert(
                    user.clone(),
                    Stored {
                        bytes,
                        etag,
                        user_set: false,
                    },
                );
            }
            let etag = d.photos.get(&user).map(|p| p.etag.clone());
            let v = serde_json::json!({
                "kind": "admin#directory#user#photo", "id": "1", "primaryEmail": user,
                "etag": etag, "mimeType": body["mimeType"], "width": 96, "height": 96,
            });
            (200, json(v))
        }
        ("GET", true) => match d.photos.get(&user) {
            // A partial response (`fields=...` without photoData) leaves the bytes out.
            Some(p) if asks_without_photo_data(req) => {
                let v = serde_json::json!({
                    "id": "1", "etag": p.etag, "mimeType": "JPEG", "width": 96, "height": 96,
                });
                (200, json(v))
            }
            Some(p) => {
                let v = serde_json::json!({
                    "kind": "admin#directory#user#photo", "id": "1", "primaryEmail": user,
                    "etag": p.etag, "mimeType": "JPEG", "photoData": URL_SAFE_NO_PAD.encode(&p.bytes),
                });
                (200, json(v))
            }
            None => no_photo(),
        },
        ("DELETE", true) => {
            if !d.photos.contains_key(&user) {
                return no_photo();
            }
            if apply {
                d.photos.remove(&user);
            }
            (204, Vec::new())
        }
        _ => (405, Vec::new()),
    }
}

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        let mut server = mockito::Server::new_async().await;
        let state: Shared = Arc::default();
        server
            .mock("POST", "/token")
            .with_status(200)
            .with_header("content-type", "application/json; charset=utf-8")
            .with_body(token_body())
            .create_async()
            .await;
        let photo =
            mockito::Matcher::Regex(r"^/admin/directory/v1/users/[^/?]+/photos/thumbnail$".into());
        let user = mockito::Matcher::Regex(r"^/admin/directory/v1/users/[^/?]+$".into());
        let routes = [
            ("PUT", photo.clone()),
            ("GET", photo.clone()),
            ("DELETE", photo),
            ("GET", user),
        ];
        for (method, path) in routes {
            let (a, b) = (state.clone(), state.clone());
            server
                .mock(method, path)
                .match_query(mockito::Matcher::Any)
                .with_header("content-type", "application/json; charset=UTF-8")
                .with_status_code_from_request(move |req| respond(req, &a, false).0)
                .with_body_from_request(move |req| respond(req, &b, true).1)
                .create_async()
                .await;
        }
        FakeGoogle { server, state }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, Directory> {
        self.state.lock().unwrap()
    }

    /// A photo the user set themselves: updates answer 200 and keep it.
    pub fn user_sets_photo(&self, user: &str, bytes: &[u8]) {
        let mut d = self.state();
        let etag = d.next_etag();
        d.photos.insert(
            user.to_string(),
            Stored {
                bytes: bytes.to_vec(),
                etag,
                user_set: true,
            },
        );
    }

    /// An administrator's earlier photo.
    pub fn has_photo(&self, user: &str, bytes: &[u8]) {
        let mut d = self.state();
        let etag = d.next_etag();
        d.photos.insert(
            user.to_string(),
            Stored {
                bytes: bytes.to_vec(),
                etag,
                user_set: false,
            },
        );
    }

    pub fn stored(&self, user: &str) -> Option<Vec<u8>> {
        self.state().photos.get(user).map(|p| p.bytes.clone())
    }

    /// The requests seen so far.
    pub fn log(&self) -> Vec<String> {
        self.state().log.clone()
    }
}
