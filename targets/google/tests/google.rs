//! The google target against mock servers on 127.0.0.1 that answer as Google documents: the
//! token endpoint and the Directory API's users.photos.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE};
use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use picday_core::layers::{StackOptions, stack};
use picday_core::{ErrorKind, Photo, Registry, Target, TargetIo};
use picday_target_google::auth::{Claims, JWT_BEARER, SCOPE};
use picday_testkit::fixtures;

const ADA: &str = "ada@school.example";
const ADA_PHOTO: &str = "/admin/directory/v1/users/ada%40school.example/photos/thumbnail";
const ADA_USER: &str = "/admin/directory/v1/users/ada%40school.example";
const JSON: &str = "application/json; charset=UTF-8";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn photo_for(t: &dyn Target, seed: u8) -> Photo {
    fixtures::photo(t.info().capabilities.profile, seed)
}

/// Google's answer to a successful update.
fn user_photo(width: u32) -> String {
    serde_json::json!({
        "kind": "admin#directory#user#photo",
        "id": "112233445566778899",
        "etag": "\"etag-1\"",
        "primaryEmail": ADA,
        "mimeType": "JPEG",
        "width": width,
        "height": width,
        "photoData": "",
    })
    .to_string()
}

/// The user's `thumbnailPhotoEtag` as `users.get?fields=thumbnailPhotoEtag` answers it (a
/// partial response: `{}` while the user has no photo; "Output only. ETag of the user's photo"
/// in the User resource), changing with every photo stored by a PUT answered through
/// [`Etags::stored`]. The stateful fake in `common::fake` does the same for whole runs.
#[derive(Clone, Default)]
struct Etags(Arc<Mutex<u32>>);

impl Etags {
    async fn mock(&self, server: &mut mockito::ServerGuard) -> mockito::Mock {
        let n = self.0.clone();
        server
            .mock("GET", ADA_USER)
            .match_query(mockito::Matcher::UrlEncoded(
                "fields".into(),
                "thumbnailPhotoEtag".into(),
            ))
            .with_status(200)
            .with_header("content-type", JSON)
            .with_body_from_request(move |_| {
                let n = *n.lock().unwrap();
                let v = if n == 0 {
                    serde_json::json!({})
                } else {
                    serde_json::json!({"thumbnailPhotoEtag": format!("\"etag-{n}\"")})
                };
                v.to_string().into_bytes()
            })
            .create_async()
            .await
    }

    /// A photo was stored.
    fn bump(&self) {
        *self.0.lock().unwrap() += 1;
    }

    /// The body of a successful update, which stores the photo.
    fn stored(&self) -> impl Fn(&mockito::Request) -> Vec<u8> + Send + Sync + 'static {
        let e = self.clone();
        move |_| {
            e.bump();
            user_photo(512).into_bytes()
        }
    }
}

fn no_photo() -> String {
    google_error(404, "notFound", "Resource Not Found: photo", "NOT_FOUND")
}

fn unknown_user() -> String {
    google_error(404, "notFound", "Resource Not Found: userKey", "NOT_FOUND")
}

async fn token_mock(server: &mut mockito::ServerGuard) -> mockito::Mock {
    server
        .mock("POST", "/token")
        .with_status(200)
        .with_header("content-type", JSON)
        .with_body(token_body())
        .create_async()
        .await
}

fn run_allows_one_attempt() -> StackOptions {
    StackOptions {
        retry: quick_retries(1),
        ..StackOptions::default()
    }
}

#[tokio::test]
async fn token_request_is_a_jwt_bearer_grant_signed_with_the_key_with_every_claim() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let log = seen.clone();
    let token = server
        .mock("POST", "/token")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .with_status(200)
        .with_header("content-type", JSON)
        .with_body_from_request(move |req| {
            log.lock().unwrap().push(req.body().unwrap().clone());
            token_body().into_bytes()
        })
        .expect(1)
        .create_async()
        .await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let bearer = format!("Bearer {TOKEN}");
    let delete = server
        .mock("DELETE", ADA_PHOTO)
        .match_header("authorization", bearer.as_str())
        .with_status(204)
        .expect(2)
        .create_async()
        .await;
    let put = server
        .mock("PUT", ADA_PHOTO)
        .match_header("authorization", bearer.as_str())
        .with_status(200)
        .with_header("content-type", JSON)
        .with_body_from_request(etags.stored())
        .expect(2)
        .create_async()
        .await;

    let t = target(dir.path(), &server.url(), "");
    let s = subject(&t, ADA);
    let before = now();
    t.put_photo(&s, &photo_for(&t, 1)).await.unwrap();
    t.put_photo(&s, &photo_for(&t, 2)).await.unwrap();
    // One token for both puts: it is cached, not fetched per request.
    token.assert_async().await;
    delete.assert_async().await;
    put.assert_async().await;

    let body = seen.lock().unwrap()[0].clone();
    let fields = form(&body);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {fields:?}"))
    };
    assert_eq!(get("grant_type"), JWT_BEARER);
    let jwt = get("assertion");
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));

    let token_uri = format!("{}/token", server.url());
    let key = DecodingKey::from_rsa_pem(&public_key_pem()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[&token_uri]);
    v.set_issuer(&[CLIENT_EMAIL]);
    v.set_required_spec_claims(&["exp", "iat", "aud", "iss", "sub"]);
    v.leeway = 0;
    let claims = jsonwebtoken::decode::<Claims>(&jwt, &key, &v)
        .expect("the JWT verifies with the key's public part")
        .claims;
    assert_eq!(claims.iss, CLIENT_EMAIL);
    assert_eq!(claims.aud, token_uri);
    assert_eq!(claims.scope.as_deref(), Some(SCOPE));
    assert_eq!(claims.sub.as_deref(), Some(ADMIN));
    let after = now();
    assert!(
        claims.iat + 10 <= before && claims.iat + 120 >= after,
        "iat {} should be a little before {before}",
        claims.iat
    );
    assert!(claims.exp > after + 1800, "exp {} is too soon", claims.exp);
    assert!(
        claims.exp - claims.iat <= 3600,
        "exp must be within the hour"
    );

    // The check above is meaningful: a tampered signature does not verify.
    let mut forged = jwt.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert!(jsonwebtoken::decode::<Claims>(&forged, &key, &v).is_err());
}

#[tokio::test]
async fn upload_body_is_the_photo_as_url_safe_base64_with_type_and_size() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let captured: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let keep = captured.clone();
    let e = etags.clone();
    server
        .mock("DELETE", ADA_PHOTO)
        .with_status(404)
        .with_header("content-type", JSON)
        .with_body(no_photo())
        .create_async()
        .await;
    let put = server
        .mock("PUT", ADA_PHOTO)
        .match_header("content-type", "application/json")
        .with_status(200)
        .with_header("content-type", JSON)
        .with_body_from_request(move |req| {
            *keep.lock().unwrap() = Some(req.body().unwrap().clone());
            e.bump();
            user_photo(512).into_bytes()
        })
        .expect(1)
        .create_async()
        .await;

    let t = target(dir.path(), &server.url(), "");
    assert_eq!(
        (
            t.info().capabilities.profile.width,
            t.info().capabilities.profile.height
        ),
        (512, 512)
    );
    let s = subject(&t, ADA);
    let photo = photo_for(&t, 3);
    let receipt = t.put_photo(&s, &photo).await.unwrap();
    put.assert_async().await;
    assert_eq!(
        receipt.detail, "photo updated, confirmed by its new etag",
        "no photo was there to remove"
    );
    assert_eq!(receipt.remote_id.as_deref(), Some("112233445566778899"));

    let body = captured.lock().unwrap().clone().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["height", "mimeType", "photoData", "width"]);
    assert_eq!(json["mimeType"], "JPEG");
    assert_eq!(json["width"], 512);
    assert_eq!(json["height"], 512);
    let data = json["photoData"].as_str().unwrap();
    assert!(!data.contains(['+', '/']), "not URL-safe: {data:.40}");
    let decoded = URL_SAFE.decode(data).expect("padded URL-safe base64");
    assert_eq!(
        decoded, &*photo.bytes,
        "photoData is not the photo picday produced"
    );
}

#[tokio::test]
async fn the_current_photo_is_deleted_before_the_update() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let order: Arc<Mutex<Vec<String>>> = Arc::default();
    let (o1, o2) = (order.clone(), order.clone());
    let e = etags.clone();
    server
        .mock("DELETE", ADA_PHOTO)
        .with_status(204)
        .with_body_from_request(move |_| {
            o1.lock().unwrap().push("DELETE".into());
            Vec::new()
        })
        .create_async()
        .await;
    server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_header("content-type", JSON)
        .with_body_from_request(move |_| {
            o2.lock().unwrap().push("PUT".into());
            e.bump();
            user_photo(512).into_bytes()
        })
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "");
    let s = subject(&t, ADA);
    let receipt = t.put_photo(&s, &photo_for(&t, 4)).await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["DELETE", "PUT"]);
    assert!(
        receipt.detail.contains("previous photo removed"),
        "{receipt:?}"
    );
}

#[tokio::test]
async fn replace_user_photos_false_only_updates() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let delete = server
        .mock("DELETE", ADA_PHOTO)
        .with_status(204)
        .expect(0)
        .create_async()
        .await;
    let put = server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(etags.stored())
        .expect(1)
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "replace_user_photos = false");
    let s = subject(&t, ADA);
    t.put_photo(&s, &photo_for(&t, 5)).await.unwrap();
    delete.assert_async().await;
    put.assert_async().await;
}

#[tokio::test]
async fn user_rate_limit_403_is_retried_by_the_layers_then_succeeds() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let delete = server
        .mock("DELETE", ADA_PHOTO)
        .with_status(404)
        .with_body(no_photo())
        .expect(2)
        .create_async()
        .await;
    // Mocks still missing hits answer first: one 403, then the 200.
    let limited = server
        .mock("PUT", ADA_PHOTO)
        .with_status(403)
        .with_header("content-type", JSON)
        .with_body(google_error(
            403,
            "userRateLimitExceeded",
            "User Rate Limit Exceeded",
            "PERMISSION_DENIED",
        ))
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(etags.stored())
        .expect(1)
        .create_async()
        .await;
    let t = Arc::new(target(dir.path(), &server.url(), ""));
    let s = subject(&*t, ADA);
    let photo = photo_for(&*t, 6);

    // Without the layers, the 403 is a temporary throttling error with Google's details.
    let e = t.put_photo(&s, &photo).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert!(e.is_temporary());
    assert_eq!(e.context_value("code"), Some("userRateLimitExceeded"));
    assert_eq!(e.context_value("error_code"), Some("403"));
    assert!(e.message().contains("User Rate Limit Exceeded"), "{e}");
    limited.assert_async().await;

    // Reset: the same again through the layers. The run allows a single attempt, but the
    // target's declared policy retries.
    limited.remove_async().await;
    ok.remove_async().await;
    delete.remove_async().await;
    let limited = server
        .mock("PUT", ADA_PHOTO)
        .with_status(403)
        .with_body(google_error(
            403,
            "userRateLimitExceeded",
            "User Rate Limit Exceeded",
            "PERMISSION_DENIED",
        ))
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(etags.stored())
        .expect(1)
        .create_async()
        .await;
    let delete = server
        .mock("DELETE", ADA_PHOTO)
        .with_status(404)
        .with_body(no_photo())
        .expect(2)
        .create_async()
        .await;
    let stacked = stack(t.clone(), &run_allows_one_attempt());
    stacked.put_photo(&s, &photo).await.unwrap();
    limited.assert_async().await;
    ok.assert_async().await;
    delete.assert_async().await;
}

#[tokio::test]
async fn rate_limit_429_is_retried_up_to_the_declared_attempts() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let limited = server
        .mock("PUT", ADA_PHOTO)
        .with_status(429)
        .with_header("content-type", JSON)
        .with_body(google_error(
            429,
            "rateLimitExceeded",
            "Rate Limit Exceeded",
            "RESOURCE_EXHAUSTED",
        ))
        .expect(3)
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "replace_user_photos = false")
        .with_retry_policy(quick_retries(3));
    let t = Arc::new(t);
    let s = subject(&*t, ADA);
    let e = stack(t.clone(), &StackOptions::default())
        .put_photo(&s, &photo_for(&*t, 7))
        .await
        .unwrap_err();
    limited.assert_async().await;
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert_eq!(e.context_value("attempts"), Some("3"));
    assert_eq!(e.context_value("code"), Some("rateLimitExceeded"));

    // And a 429 followed by success lands (mocks missing hits answer in creation order).
    limited.remove_async().await;
    let again = server
        .mock("PUT", ADA_PHOTO)
        .with_status(429)
        .with_body(google_error(
            429,
            "rateLimitExceeded",
            "Rate Limit Exceeded",
            "RESOURCE_EXHAUSTED",
        ))
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(etags.stored())
        .expect(1)
        .create_async()
        .await;
    stack(t.clone(), &StackOptions::default())
        .put_photo(&s, &photo_for(&*t, 7))
        .await
        .unwrap();
    again.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn a_non_json_503_is_a_temporary_error_and_is_retried() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let unavailable = server
        .mock("PUT", ADA_PHOTO)
        .with_status(503)
        .with_header("content-type", "text/plain")
        .with_body("Quota exceeded for the current request")
        .expect(2)
        .create_async()
        .await;
    let ok = server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(etags.stored())
        .expect(1)
        .create_async()
        .await;
    let t = Arc::new(target(
        dir.path(),
        &server.url(),
        "replace_user_photos = false",
    ));
    let s = subject(&*t, ADA);
    let e = t.put_photo(&s, &photo_for(&*t, 8)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.is_temporary());
    assert!(
        e.message()
            .contains("HTTP 503: Quota exceeded for the current request"),
        "{e}"
    );
    stack(t.clone(), &run_allows_one_attempt())
        .put_photo(&s, &photo_for(&*t, 8))
        .await
        .unwrap();
    unavailable.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn unknown_user_is_not_found_without_retries_or_update() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let path = "/admin/directory/v1/users/nobody%40school.example/photos/thumbnail";
    let delete = server
        .mock("DELETE", path)
        .with_status(404)
        .with_header("content-type", JSON)
        .with_body(unknown_user())
        .expect(1)
        .create_async()
        .await;
    let put = server.mock("PUT", path).expect(0).create_async().await;
    let t = Arc::new(target(dir.path(), &server.url(), ""));
    let s = subject(&*t, "nobody@school.example");
    let e = stack(t.clone(), &StackOptions::default())
        .put_photo(&s, &photo_for(&*t, 9))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(!e.is_temporary());
    assert!(e.message().contains("Resource Not Found: userKey"), "{e}");
    delete.assert_async().await;
    put.assert_async().await;

    // Without the delete first, the read of the user's photo etag (before the update) says
    // the same, and nothing is sent.
    let user = server
        .mock("GET", "/admin/directory/v1/users/nobody%40school.example")
        .match_query(mockito::Matcher::Any)
        .with_status(404)
        .with_body(unknown_user())
        .expect(1)
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "replace_user_photos = false");
    let e = t.put_photo(&s, &photo_for(&t, 9)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.message().contains("nothing was sent"), "{e}");
    user.assert_async().await;
    put.assert_async().await;
}

#[tokio::test]
async fn delete_failing_with_500_is_tried_twice_then_the_update_goes_ahead() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let delete = server
        .mock("DELETE", ADA_PHOTO)
        .with_status(500)
        .with_body(google_error(
            500,
            "backendError",
            "Backend Error",
            "INTERNAL",
        ))
        .expect(2)
        .create_async()
        .await;
    let put = server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(etags.stored())
        .expect(1)
        .create_async()
        .await;
    let t = Arc::new(target(dir.path(), &server.url(), ""));
    let s = subject(&*t, ADA);
    let receipt = stack(t.clone(), &StackOptions::default())
        .put_photo(&s, &photo_for(&*t, 10))
        .await
        .unwrap();
    delete.assert_async().await;
    put.assert_async().await;
    assert!(
        receipt.detail.contains("could not be removed"),
        "{receipt:?}"
    );

    // delete_photo itself also stops after two 500s, although ten attempts are allowed.
    let delete = server
        .mock("DELETE", ADA_PHOTO)
        .with_status(500)
        .with_body(google_error(
            500,
            "internalError",
            "Internal Error",
            "INTERNAL",
        ))
        .expect(2)
        .create_async()
        .await;
    let e = stack(t.clone(), &StackOptions::default())
        .delete_photo(&s)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(!e.is_temporary());
    delete.assert_async().await;
}

#[tokio::test]
async fn get_photo_decodes_any_base64_and_tells_no_photo_from_no_user() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let bytes: Vec<u8> = (0..=255u8).rev().chain([0xfb, 0xff]).collect();
    server
        .mock("GET", ADA_PHOTO)
        .with_status(200)
        .with_header("content-type", JSON)
        .with_body(
            serde_json::json!({"kind": "admin#directory#user#photo", "mimeType": "JPEG",
                "width": 96, "height": 96, "photoData": STANDARD_NO_PAD.encode(&bytes)})
            .to_string(),
        )
        .create_async()
        .await;
    server
        .mock(
            "GET",
            "/admin/directory/v1/users/bob%40school.example/photos/thumbnail",
        )
        .with_status(404)
        .with_body(no_photo())
        .create_async()
        .await;
    server
        .mock(
            "GET",
            "/admin/directory/v1/users/nobody%40school.example/photos/thumbnail",
        )
        .with_status(404)
        .with_body(unknown_user())
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "");
    assert_eq!(t.get_photo(&subject(&t, ADA)).await.unwrap(), Some(bytes));
    assert_eq!(
        t.get_photo(&subject(&t, "bob@school.example"))
            .await
            .unwrap(),
        None
    );
    let e = t
        .get_photo(&subject(&t, "nobody@school.example"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    let token = server
        .mock("POST", "/token")
        .with_status(200)
        .with_body(token_body())
        .expect(2)
        .create_async()
        .await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let refused = server
        .mock("PUT", ADA_PHOTO)
        .with_status(401)
        .with_body(google_error(
            401,
            "authError",
            "Invalid Credentials",
            "UNAUTHENTICATED",
        ))
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(etags.stored())
        .expect(1)
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "replace_user_photos = false");
    t.put_photo(&subject(&t, ADA), &photo_for(&t, 11))
        .await
        .unwrap();
    token.assert_async().await;
    refused.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn delegated_admin_mode_sends_a_self_signed_jwt_for_the_api_without_exchange() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    let token = server.mock("POST", "/token").expect(0).create_async().await;
    let etags = Etags::default();
    etags.mock(&mut server).await;
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let keep = seen.clone();
    let e = etags.clone();
    server
        .mock("PUT", ADA_PHOTO)
        .with_status(200)
        .with_body_from_request(move |req| {
            let auth = req.header("authorization")[0].to_str().unwrap().to_string();
            *keep.lock().unwrap() = Some(auth);
            e.bump();
            user_photo(512).into_bytes()
        })
        .create_async()
        .await;
    let spec = spec(dir.path(), &server.url(), "replace_user_photos = false");
    let mut registry = Registry::new();
    picday_target_google::register(&mut registry);
    let t = registry.build(&spec).unwrap();
    assert!(
        t.info().summary.contains("service account"),
        "{:?}",
        t.info()
    );
    t.put_photo(&subject(&*t, ADA), &photo_for(&*t, 12))
        .await
        .unwrap();
    token.assert_async().await;

    let auth = seen.lock().unwrap().clone().unwrap();
    let jwt = auth.strip_prefix("Bearer ").unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(
        header.kid.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    let audience = format!("{}/", server.url());
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[&audience]);
    v.set_issuer(&[CLIENT_EMAIL]);
    let claims = jsonwebtoken::decode::<Claims>(
        jwt,
        &DecodingKey::from_rsa_pem(&public_key_pem()).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(claims.sub.as_deref(), Some(CLIENT_EMAIL));
    assert_eq!(claims.scope, None);
    assert!(claims.exp - claims.iat <= 3600);
}

#[tokio::test]
async fn check_reads_the_administrator() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    token_mock(&mut server).await;
    let user = server
        .mock("GET", "/admin/directory/v1/users/it-admin%40school.example")
        .match_query(mockito::Matcher::UrlEncoded(
            "fields".into(),
            "primaryEmail,isAdmin,isDelegatedAdmin,suspended".into(),
        ))
        .with_status(200)
        .with_header("content-type", JSON)
        .with_body(
            r#"{"primaryEmail":"it-admin@school.example","isAdmin":false,"isDelegatedAdmin":true}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "");
    let report = t.check().await.unwrap();
    user.assert_async().await;
    let ok = report.ok.join("\n");
    assert!(ok.contains(CLIENT_EMAIL), "{ok}");
    assert!(
        ok.contains("read user it-admin@school.example (delegated admin)"),
        "{ok}"
    );
    assert!(report.warnings.is_empty(), "{report:?}");
}

#[tokio::test]
async fn check_explains_unauthorized_client_invalid_grant_and_a_missing_role() {
    let mut server = mockito::Server::new_async().await;
    let dir = tempfile::tempdir().unwrap();
    let oauth = |error: &str, description: &str| {
        serde_json::json!({"error": error, "error_description": description}).to_string()
    };
    let m = server
        .mock("POST", "/token")
        .with_status(401)
        .with_header("content-type", JSON)
        .with_body(oauth(
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not \
             authorized for any of the scopes requested.",
        ))
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "");
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!e.is_temporary());
    assert_eq!(e.context_value("code"), Some("unauthorized_client"));
    let msg = e.message();
    assert!(msg.contains(CLIENT_ID) && msg.contains(SCOPE), "{msg}");
    assert!(msg.contains("Domain Wide Delegation"), "{msg}");
    m.remove_async().await;

    let m = server
        .mock("POST", "/token")
        .with_status(400)
        .with_header("content-type", JSON)
        .with_body(oauth("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."))
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "");
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("clock"), "{e}");
    assert!(e.message().contains(ADMIN), "{e}");
    m.remove_async().await;

    token_mock(&mut server).await;
    server
        .mock("GET", "/admin/directory/v1/users/it-admin%40school.example")
        .match_query(mockito::Matcher::Any)
        .with_status(403)
        .with_header("content-type", JSON)
        .with_body(google_error(
            403,
            "forbidden",
            "Not Authorized to access this resource/api",
            "PERMISSION_DENIED",
        ))
        .create_async()
        .await;
    let t = target(dir.path(), &server.url(), "");
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permission);
    assert!(
        e.message().contains(ADMIN) && e.message().contains("role"),
        "{e}"
    );
    assert_eq!(e.context_value("code"), Some("forbidden"));
}

#[tokio::test]
async fn configuration_errors_name_the_key_and_secrets_stay_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    picday_target_google::register(&mut registry);
    let url = "http://127.0.0.1:9";
    for (extra, needle) in [
        ("size = 12", "`size`"),
        ("api_url2 = \"x\"", "api_url2"),
        ("admin = \"not-an-email\"", "`admin`"),
        ("max_attempts = 0", "`max_attempts`"),
    ] {
        let spec = spec(dir.path(), url, extra);
        let e = registry.build(&spec).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains(needle), "{extra}: {e}");
    }
    let mut missing = spec(dir.path(), url, "");
    missing
        .options
        .insert("service_account_key".into(), "nope.json".into());
    let e = registry.build(&missing).unwrap_err();
    assert!(e.message().contains("nope.json"), "{e}");

    let t = registry
        .build(&spec(dir.path(), url, "admin = \"a@school.example\""))
        .unwrap();
    let debug = format!("{t:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    assert_eq!(t.info().capabilities.max_concurrency, 5);
    assert_eq!(t.info().retry.clone().unwrap().max_attempts, 10);
}
