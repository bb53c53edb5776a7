//! Resolving people and sending photos, against mockito servers answering as Graph documents:
//! the exact upload request, throttling and outages through the core layers, a token expiring
//! mid-run, unknown users, rejected images and keys that need escaping.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mockito::{Matcher, ServerGuard};
use picday_core::layers::{RetryPolicy, StackOptions, stack};
use picday_core::{ErrorKind, Person, Photo, Profile, Subject, TargetIo};
use picday_testkit::fixtures;

const TOKEN_PATH: &str = "/contoso-tenant/oauth2/v2.0/token";
const SELECT: &str = "?$select=id,userPrincipalName";

async fn token(server: &mut ServerGuard, token: &str) -> mockito::Mock {
    server
        .mock("POST", TOKEN_PATH)
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(format!(
            r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"}}"#
        ))
        .create_async()
        .await
}

/// `GET /v1.0/users/{encoded}` answering with an id.
async fn user(server: &mut ServerGuard, encoded: &str, id: &str) -> mockito::Mock {
    server
        .mock("GET", format!("/v1.0/users/{encoded}{SELECT}").as_str())
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(format!(
            r#"{{"@odata.context":"$metadata#users(id,userPrincipalName)/$entity","id":"{id}","userPrincipalName":"x"}}"#
        ))
        .create_async()
        .await
}

async fn no_such_upn(server: &mut ServerGuard, encoded: &str) -> mockito::Mock {
    server
        .mock("GET", format!("/v1.0/users/{encoded}{SELECT}").as_str())
        .with_status(404)
        .with_header("content-type", "application/json")
        .with_header("request-id", "req-404")
        .with_body(r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist or one of its queried reference-property objects are not present.","innerError":{"date":"2024-07-03T10:00:00","request-id":"req-404","client-request-id":"c"}}}"#)
        .create_async()
        .await
}

async fn filter(server: &mut ServerGuard, encoded_filter: &str, ids: &[&str]) -> mockito::Mock {
    let value: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"id":"{id}","userPrincipalName":"u-{id}"}}"#))
        .collect();
    server
        .mock(
            "GET",
            format!("/v1.0/users?$filter={encoded_filter}&$select=id,userPrincipalName").as_str(),
        )
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(format!(r#"{{"value":[{}]}}"#, value.join(",")))
        .create_async()
        .await
}

fn put_path(id: &str) -> String {
    format!("/v1.0/users/{id}/photo/$value")
}

fn subject(key: &str) -> Subject {
    Subject::new(key, Arc::new(Person::new("p.jpg", [("mail", key)])))
}

/// A 648x648 photo, rendered once per seed (rendering is slow in debug builds).
fn photo(seed: u8) -> Photo {
    static CACHE: Mutex<Vec<(u8, Photo)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap();
    if let Some((_, p)) = cache.iter().find(|(s, _)| *s == seed) {
        return p.clone();
    }
    let p = fixtures::photo(Profile::square(648).with_max_bytes(4 * 1024 * 1024), seed);
    cache.push((seed, p.clone()));
    p
}

fn fast_retries() -> StackOptions {
    StackOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(30),
        },
        ..StackOptions::default()
    }
}

#[tokio::test]
async fn put_sends_raw_jpeg_bytes_to_the_object_id_with_the_documented_headers() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok-1").await;
    let _u = user(&mut server, "student0@school.example", "id-0").await;
    let p = photo(1);
    let put = server
        .mock("PUT", put_path("id-0").as_str())
        .match_header("authorization", "Bearer tok-1")
        .match_header("content-type", "image/jpeg")
        .match_header(
            "client-request-id",
            Matcher::Regex(
                "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$".into(),
            ),
        )
        .match_header("content-length", p.len().to_string().as_str())
        .match_body(Matcher::from(p.bytes.to_vec()))
        .with_status(200)
        .with_header("request-id", "req-put-1")
        .expect(1)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    let receipt = t
        .put_photo(&subject("student0@school.example"), &p)
        .await
        .expect("put");
    assert_eq!(receipt.detail, "accepted");
    assert_eq!(receipt.remote_id.as_deref(), Some("id-0"));
    assert_eq!(receipt.request_id.as_deref(), Some("req-put-1"));
    put.assert_async().await;
}

#[tokio::test]
async fn a_photo_over_the_byte_limit_is_refused_before_sending() {
    let mut server = mockito::Server::new_async().await;
    let mut nothing = Vec::new();
    for method in ["GET", "POST", "PUT"] {
        nothing.push(
            server
                .mock(method, Matcher::Any)
                .expect(0)
                .create_async()
                .await,
        );
    }
    // Stacked as the engine runs it: the contract layer holds the target to its declared
    // profile, byte budget included.
    let t = picday_core::layers::stack(
        Arc::new(support::target(&server.url(), &server.url(), &[])),
        &picday_core::layers::StackOptions::default(),
    );
    let mut big = photo(2);
    big.bytes = vec![0xAB; 4 * 1024 * 1024 + 1].into();
    let e = t
        .put_photo(&subject("student0@school.example"), &big)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(e.message().contains("4194304"), "{e}");
    for m in nothing {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn rejected_image_is_permanent_and_keeps_graphs_code_and_request_id() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    let _u = user(&mut server, "student0@school.example", "id-0").await;
    let put = server
        .mock("PUT", put_path("id-0").as_str())
        .with_status(400)
        .with_header("content-type", "application/json")
        .with_header("request-id", "req-400")
        .with_body(r#"{"error":{"code":"ValidationWidthTooSmall","message":"Exception of type 'Microsoft.Fast.Profile.Core.Exception.ProfileBadRequestException' was thrown.","innerError":{"date":"2024-07-03T10:00:00","request-id":"req-400","client-request-id":"c"}}}"#)
        .expect(1)
        .create_async()
        .await;
    let t = stack(
        Arc::new(support::target(&server.url(), &server.url(), &[])),
        &fast_retries(),
    );
    let e = t
        .put_photo(&subject("student0@school.example"), &photo(3))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(!e.is_temporary());
    assert_eq!(e.context_value("code"), Some("ValidationWidthTooSmall"));
    assert_eq!(e.context_value("request_id"), Some("req-400"));
    assert!(e.context_value("client_request_id").is_some());
    assert!(e.message().contains("ProfileBadRequestException"), "{e}");
    put.assert_async().await; // not retried
}

#[tokio::test]
async fn throttled_put_carries_retry_after_and_is_retried_after_it() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    let _u = user(&mut server, "student0@school.example", "id-0").await;
    let throttled = server
        .mock("PUT", put_path("id-0").as_str())
        .with_status(429)
        .with_header("retry-after", "1")
        .with_header("request-id", "req-429")
        .with_header("content-type", "application/json")
        .with_body(r#"{"error":{"code":"TooManyRequests","message":"","innerError":{"code":"throttledRequest","request-id":"req-429","innerError":{"code":"quota"}}}}"#)
        .expect(2)
        .create_async()
        .await;
    let accepted = server
        .mock("PUT", put_path("id-0").as_str())
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let target = Arc::new(support::target(&server.url(), &server.url(), &[]));
    let s = subject("student0@school.example");

    // The target alone classifies.
    let e = target.put_photo(&s, &photo(4)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Throttled);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(e.context_value("code"), Some("TooManyRequests"));
    assert_eq!(
        e.context_value("inner_code"),
        Some("throttledRequest/quota")
    );
    assert_eq!(e.context_value("request_id"), Some("req-429"));

    // The layers wait as told, then succeed.
    let stacked = stack(target, &fast_retries());
    let start = Instant::now();
    stacked
        .put_photo(&s, &photo(4))
        .await
        .expect("after Retry-After");
    assert!(
        start.elapsed() >= Duration::from_millis(990),
        "{:?}",
        start.elapsed()
    );
    throttled.assert_async().await;
    accepted.assert_async().await;
}

#[tokio::test]
async fn service_unavailable_then_success_through_the_layers() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    let _u = user(&mut server, "student0@school.example", "id-0").await;
    let unavailable = server
        .mock("PUT", put_path("id-0").as_str())
        .with_status(503)
        .with_header("content-type", "text/html")
        .with_body("<html><body>Service Unavailable</body></html>")
        .expect(2)
        .create_async()
        .await;
    let accepted = server
        .mock("PUT", put_path("id-0").as_str())
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let stacked = stack(
        Arc::new(support::target(&server.url(), &server.url(), &[])),
        &fast_retries(),
    );
    let receipt = stacked
        .put_photo(&subject("student0@school.example"), &photo(5))
        .await
        .expect("the third attempt succeeds");
    assert_eq!(receipt.detail, "accepted");
    unavailable.assert_async().await;
    accepted.assert_async().await;
}

/// Sends a put for `a` that Graph answers once with `status` and `Retry-After: 1`, and, once
/// that answer has arrived, a put for `b`; returns how long after the answer `b` reached Graph.
async fn put_b_after_a_is_told_to_wait(status: usize, body: &'static str) -> Duration {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    let _a = user(&mut server, "a@school.example", "id-a").await;
    let _b = user(&mut server, "b@school.example", "id-b").await;
    let told_at = Arc::new(Mutex::new(None::<Instant>));
    let b_at = Arc::new(Mutex::new(None::<Instant>));
    let told = told_at.clone();
    let _busy = server
        .mock("PUT", put_path("id-a").as_str())
        .with_status(status)
        .with_header("retry-after", "1")
        .with_header("content-type", "application/json")
        .with_body_from_request(move |_| {
            *told.lock().unwrap() = Some(Instant::now());
            body.as_bytes().to_vec()
        })
        .expect(1)
        .create_async()
        .await;
    let _a_ok = server
        .mock("PUT", put_path("id-a").as_str())
        .with_status(200)
        .create_async()
        .await;
    let seen_b = b_at.clone();
    let _b_ok = server
        .mock("PUT", put_path("id-b").as_str())
        .with_status(200)
        .with_body_from_request(move |_| {
            *seen_b.lock().unwrap() = Some(Instant::now());
            Vec::new()
        })
        .create_async()
        .await;
    let stacked = stack(
        Arc::new(support::target(&server.url(), &server.url(), &[])),
        &fast_retries(),
    );
    // Read b first: its user is resolved (so its put is a single request), and an answer that
    // is no failure proves the credentials, so the breaker lets requests run side by side.
    let _b_none = server
        .mock("GET", put_path("id-b").as_str())
        .with_status(404)
        .with_body(r#"{"error":{"code":"ErrorEntityNotFound","message":"Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown."}}"#)
        .create_async()
        .await;
    let none = stacked.get_photo(&subject("b@school.example")).await;
    assert!(matches!(none, Ok(None)), "{none:?}");
    let a = {
        let t = stacked.clone();
        tokio::spawn(async move { t.put_photo(&subject("a@school.example"), &photo(6)).await })
    };
    while told_at.lock().unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    stacked
        .put_photo(&subject("b@school.example"), &photo(7))
        .await
        .expect("b");
    let a_done = a.await.unwrap();
    let told = told_at.lock().unwrap().unwrap();
    a_done.expect("a, after its Retry-After");
    b_at.lock().unwrap().unwrap() - told
}

/// A 429 with Retry-After is about the application's quota: it holds back everyone.
#[tokio::test]
async fn retry_after_on_a_429_pauses_the_whole_target() {
    let waited = put_b_after_a_is_told_to_wait(
        429,
        r#"{"error":{"code":"TooManyRequests","message":"","innerError":{"code":"throttledRequest"}}}"#,
    )
    .await;
    assert!(
        waited >= Duration::from_millis(950),
        "b was sent {waited:?} after the 429"
    );
}

/// A 503 with Retry-After is about that request: it waits (and is retried), the others do not.
#[tokio::test]
async fn retry_after_on_a_503_delays_only_its_own_request() {
    let waited = put_b_after_a_is_told_to_wait(
        503,
        r#"{"error":{"code":"serviceNotAvailable","message":"Service unavailable."}}"#,
    )
    .await;
    assert!(
        waited < Duration::from_millis(900),
        "b was held back {waited:?} by a's 503"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_mid_run() {
    let mut server = mockito::Server::new_async().await;
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let _t = server
        .mock("POST", TOKEN_PATH)
        .with_status(200)
        .with_body_from_request(move |_| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"tok-{n}"}}"#)
                .into_bytes()
        })
        .create_async()
        .await;
    let _u = user(&mut server, "student0@school.example", "id-0").await;
    let expired = server
        .mock("PUT", put_path("id-0").as_str())
        .match_header("authorization", "Bearer tok-1")
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_header("www-authenticate", "Bearer realm=\"\", error=\"invalid_token\"")
        .with_body(r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.","innerError":{"date":"2024-07-03T10:00:00","request-id":"r","client-request-id":"c"}}}"#)
        .expect(1)
        .create_async()
        .await;
    let fresh = server
        .mock("PUT", put_path("id-0").as_str())
        .match_header("authorization", "Bearer tok-2")
        .with_status(200)
        .expect(2)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    let s = subject("student0@school.example");
    t.put_photo(&s, &photo(8)).await.expect("renewed and sent");
    t.put_photo(&s, &photo(9))
        .await
        .expect("the new token is kept");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    expired.assert_async().await;
    fresh.assert_async().await;
}

#[tokio::test]
async fn a_token_refused_twice_is_an_auth_error_not_a_loop() {
    let mut server = mockito::Server::new_async().await;
    let tokens = token(&mut server, "tok").await.expect(2);
    let _u = user(&mut server, "student0@school.example", "id-0").await;
    let refused = server
        .mock("PUT", put_path("id-0").as_str())
        .with_status(401)
        .with_body(r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token validation failure. Invalid audience."}}"#)
        .expect(2)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    let e = t
        .put_photo(&subject("student0@school.example"), &photo(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!e.is_temporary());
    refused.assert_async().await;
    tokens.assert_async().await;
}

#[tokio::test]
async fn tokens_are_renewed_five_minutes_before_they_expire() {
    let mut server = mockito::Server::new_async().await;
    // Lives 4 minutes: inside the 5-minute margin, so every request fetches a new one.
    let short = server
        .mock("POST", TOKEN_PATH)
        .with_status(200)
        .with_body(r#"{"token_type":"Bearer","expires_in":240,"access_token":"tok"}"#)
        .expect(2)
        .create_async()
        .await;
    let _u = user(&mut server, "student0@school.example", "id-0").await;
    let _p = server
        .mock("PUT", put_path("id-0").as_str())
        .with_status(200)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    t.put_photo(&subject("student0@school.example"), &photo(1))
        .await
        .unwrap();
    short.assert_async().await;
}

#[tokio::test]
async fn unknown_user_is_not_found_and_looked_up_once() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    let by_upn = no_such_upn(&mut server, "nobody@school.example")
        .await
        .expect(1);
    let by_mail = filter(&mut server, "mail%20eq%20%27nobody@school.example%27", &[])
        .await
        .expect(1);
    let by_proxy = filter(
        &mut server,
        "proxyAddresses%2Fany%28x%3Ax%20eq%20%27smtp%3Anobody@school.example%27%29",
        &[],
    )
    .await
    .expect(1);
    let puts = server
        .mock("PUT", Matcher::Any)
        .expect(0)
        .create_async()
        .await;
    let t = stack(
        Arc::new(support::target(&server.url(), &server.url(), &[])),
        &fast_retries(),
    );
    let s = subject("nobody@school.example");
    for _ in 0..2 {
        let e = t.put_photo(&s, &photo(1)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_temporary());
        assert!(e.message().contains("nobody@school.example"), "{e}");
    }
    by_upn.assert_async().await;
    by_mail.assert_async().await;
    by_proxy.assert_async().await;
    puts.assert_async().await;
}

#[tokio::test]
async fn a_mail_that_is_not_the_upn_is_found_by_filter() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    let _n = no_such_upn(&mut server, "jane.doe@school.example").await;
    let _f = filter(
        &mut server,
        "mail%20eq%20%27jane.doe@school.example%27",
        &["id-jane"],
    )
    .await;
    let put = server
        .mock("PUT", put_path("id-jane").as_str())
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    let r = t
        .put_photo(&subject("jane.doe@school.example"), &photo(1))
        .await
        .unwrap();
    assert_eq!(r.remote_id.as_deref(), Some("id-jane"));
    put.assert_async().await;
}

#[tokio::test]
async fn keys_with_hash_quote_plus_and_dollar_are_escaped() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    // Guest UPN: `#` must be %23, or everything after it is a URL fragment.
    let guest = user(
        &mut server,
        "jo_partner.example%23EXT%23@school.onmicrosoft.com",
        "id-guest",
    )
    .await
    .expect(1);
    // A quote: percent-encoded in the path, doubled in the filter literal.
    let quote_upn = no_such_upn(&mut server, "o%27brien@school.example")
        .await
        .expect(1);
    let quote_mail = filter(
        &mut server,
        "mail%20eq%20%27o%27%27brien@school.example%27",
        &["id-quote"],
    )
    .await
    .expect(1);
    // A plus: %2B, never a space.
    let plus = user(&mut server, "a%2Bb@school.example", "id-plus")
        .await
        .expect(1);
    // A leading dollar: Graph's router takes `/users/$x` for an OData segment; use a filter.
    let dollar = filter(
        &mut server,
        "userPrincipalName%20eq%20%27%24svc@school.example%27",
        &["id-dollar"],
    )
    .await
    .expect(1);
    let puts = server
        .mock(
            "PUT",
            Matcher::Regex(r"^/v1\.0/users/id-(guest|quote|plus|dollar)/photo/\$value$".into()),
        )
        .with_status(200)
        .expect(4)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    for (key, id) in [
        ("jo_partner.example#EXT#@school.onmicrosoft.com", "id-guest"),
        ("o'brien@school.example", "id-quote"),
        ("a+b@school.example", "id-plus"),
        ("$svc@school.example", "id-dollar"),
    ] {
        let r = t.put_photo(&subject(key), &photo(1)).await.expect(key);
        assert_eq!(r.remote_id.as_deref(), Some(id), "{key}");
    }
    guest.assert_async().await;
    quote_upn.assert_async().await;
    quote_mail.assert_async().await;
    plus.assert_async().await;
    dollar.assert_async().await;
    puts.assert_async().await;
}

#[tokio::test]
async fn reading_a_photo_distinguishes_no_photo_from_no_user() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok").await;
    let _u = user(&mut server, "a@school.example", "id-a").await;
    let _v = user(&mut server, "gone@school.example", "id-gone").await;
    server
        .mock("GET", put_path("id-a").as_str())
        .with_status(404)
        .with_body(r#"{"error":{"code":"ErrorEntityNotFound","message":"Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown."}}"#)
        .create_async()
        .await;
    server
        .mock("GET", put_path("id-gone").as_str())
        .with_status(404)
        .with_body(r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'id-gone' does not exist."}}"#)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    assert_eq!(
        t.get_photo(&subject("a@school.example")).await.unwrap(),
        None
    );
    let e = t
        .get_photo(&subject("gone@school.example"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.context_value("code"), Some("Request_ResourceNotFound"));
}

#[tokio::test]
async fn type_and_alias_are_registered() {
    let mut registry = picday_core::Registry::new();
    picday_target_entra::register(&mut registry);
    for name in ["entra", "azure-ad"] {
        let spec = picday_core::TargetSpec::new(
            "t",
            name,
            toml::from_str("tenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\ngraph_url = \"http://127.0.0.1:9\"\nlogin_url = \"http://127.0.0.1:9\"")
            .unwrap(),
            &support::fixtures(),
        );
        let t = registry.build(&spec).expect(name);
        assert_eq!(t.info().type_name, "entra");
        let caps = &t.info().capabilities;
        assert_eq!((caps.profile.width, caps.profile.height), (648, 648));
        assert_eq!(caps.profile.max_bytes, Some(4 * 1024 * 1024));
        assert!(caps.resolves_people && caps.read_back && caps.delete);
    }
    let bad = picday_core::TargetSpec::new(
        "t",
        "entra",
        toml::from_str(
            "tenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\nclient_scret = \"typo\"",
        )
        .unwrap(),
        &support::fixtures(),
    );
    let e = registry.build(&bad).unwrap_err();
    assert!(e.message().contains("client_scret"), "{e}");
}

/// `photo_info` reads the metadata (`GET /users/{id}/photo`), never the bytes. The
/// documentation's example for a user without a photo is a `1x1` `image/gif` with an empty
/// etag (learn.microsoft.com/graph/api/profilephoto-get), which is no photo.
#[tokio::test]
async fn photo_info_reads_metadata_and_the_1x1_placeholder_is_no_photo() {
    let mut server = mockito::Server::new_async().await;
    let _t = token(&mut server, "tok-1").await;
    let _u0 = user(&mut server, "student0@school.example", "id-0").await;
    let _u1 = user(&mut server, "student1@school.example", "id-1").await;
    let placeholder = server
        .mock("GET", "/v1.0/users/id-0/photo")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(
            r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('id-0')/photo/$entity","@odata.mediaContentType":"image/gif","@odata.mediaEtag":"","id":"1x1","width":1,"height":1}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let real = server
        .mock("GET", "/v1.0/users/id-1/photo")
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(
            r#"{"@odata.mediaContentType":"image/jpeg","@odata.mediaEtag":"W/\"abc\"","id":"648X648","width":648,"height":648}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let bytes = server
        .mock("GET", Matcher::Regex(r"/photo/\$value$".into()))
        .expect(0)
        .create_async()
        .await;
    let t = support::target(&server.url(), &server.url(), &[]);
    let none = t.photo_info(&subject("student0@school.example")).await;
    assert_eq!(none.unwrap(), None);
    let some = t
        .photo_info(&subject("student1@school.example"))
        .await
        .unwrap()
        .expect("a photo");
    assert_eq!((some.width, some.height), (Some(648), Some(648)));
    placeholder.assert_async().await;
    real.assert_async().await;
    bytes.assert_async().await;
}
