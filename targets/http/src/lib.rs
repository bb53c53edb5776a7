//! What picday's HTTP targets (and the plugin host, which makes HTTP requests for plugins)
//! share, written once: a configured client; one way to send a request and read its answer
//! ([`send`]: transport errors mapped once, error bodies read only up to
//! [`ERROR_BODY_LIMIT`]); bearer tokens that are cached, renewed early and renewed once more
//! when the service refuses one ([`TokenCache`], [`send_with_token`]); the OAuth token endpoint
//! call ([`request_token`]); path segments escaped so a user key cannot reach another URL
//! ([`encode_segment`]); and the mapping of a failed response to picday's [`Error`] (kind and
//! temporariness from `picday-protocol`'s one status table, Retry-After, request id).
//!
//! Targets keep only what is specific to their service: their URLs, their auth flow and the
//! shape of their error bodies (see [`ServiceError`]).

use std::future::Future;
use std::time::Duration;

pub use percent_encoding::AsciiSet;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use picday_core::layers::parse_retry_after;
use picday_core::{Error, ErrorKind, Result, Secret};
use picday_protocol::{kind_for_status, status_is_temporary};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The User-Agent picday sends.
pub const USER_AGENT: &str = concat!("picday/", env!("CARGO_PKG_VERSION"));

/// A client with picday's defaults: user agent, connect and request timeouts.
pub fn client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(15))
        .timeout(timeout)
        .build()
        .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")).with_source(e))
}

/// A fresh id for a `client-request-id` style header.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A transport failure (connection refused, timeout...) as a temporary error.
pub fn transport_error(what: &str, e: reqwest::Error) -> Error {
    let msg = if e.is_timeout() {
        format!("{what}: timed out")
    } else if e.is_connect() {
        format!("{what}: cannot connect ({e})")
    } else {
        format!("{what}: {e}")
    };
    Error::unavailable(msg).with_source(e)
}

/// How much of a failed response's body is kept: enough for any service's error JSON and for
/// messages, not a proxy's multi-megabyte page.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// An answer that arrived, whatever its status.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The whole body of a 2xx answer; at most [`ERROR_BODY_LIMIT`] bytes of any other.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The first value of header `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `request` and reads the answer: status, headers and body. A transport failure
/// (cannot connect, timed out, connection lost while reading) is a temporary
/// [`ErrorKind::Unavailable`] error about `what`; every status is an `Ok` for the caller to
/// interpret. The body of a 2xx answer is read in full (photos are megabytes); the body of
/// any other is read up to [`ERROR_BODY_LIMIT`] and the rest left unread.
pub async fn send(what: &str, request: reqwest::RequestBuilder) -> Result<Response> {
    let mut response = request.send().await.map_err(|e| transport_error(what, e))?;
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let body = if status.is_success() {
        response
            .bytes()
            .await
            .map_err(|e| transport_error(what, e))?
            .to_vec()
    } else {
        read_capped(what, &mut response, ERROR_BODY_LIMIT).await?
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Reads at most `limit` bytes of a body, chunk by chunk, and drops the rest unread.
async fn read_capped(
    what: &str,
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(what, e))?
    {
        let room = limit - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            tracing::debug!(what, limit, "error body cut at the limit");
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An access token and when it stops being valid.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub secret: Secret,
    pub expires_at: Instant,
}

impl AccessToken {
    /// A token valid for `lifetime` from now.
    pub fn new(secret: Secret, lifetime: Duration) -> Self {
        AccessToken {
            secret,
            expires_at: Instant::now() + lifetime,
        }
    }
}

/// Caches one access token and renews it `early` before it expires. Concurrent callers share
/// one renewal.
#[derive(Debug)]
pub struct TokenCache {
    current: Mutex<Option<AccessToken>>,
    early: Duration,
}

impl TokenCache {
    /// Renews `early` before expiry (5 minutes is what Microsoft and Google advise).
    pub fn new(early: Duration) -> Self {
        TokenCache {
            current: Mutex::new(None),
            early,
        }
    }

    /// A valid token, fetching a new one with `fetch` when there is none or it is about to
    /// expire.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Secret>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken>>,
    {
        let mut current = self.current.lock().await;
        if let Some(t) = current.as_ref()
            && t.expires_at > Instant::now() + self.early
        {
            return Ok(t.secret.clone());
        }
        let fresh = fetch().await?;
        let secret = fresh.secret.clone();
        *current = Some(fresh);
        Ok(secret)
    }

    /// Forgets `stale` (a token the service refused), so that the next `get` fetches anew.
    /// A token already renewed by another caller is kept.
    pub async fn invalidate(&self, stale: &Secret) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|t| &t.secret == stale) {
            *current = None;
        }
    }
}

/// Where bearer tokens come from: a target's authenticator, usually a [`TokenCache`] in front
/// of the service's token flow.
pub trait TokenSource: Send + Sync {
    /// A token valid now.
    fn token(&self) -> impl Future<Output = Result<Secret>> + Send;
    /// Forgets `stale`, a token the service refused, so that the next `token` is a new one.
    fn invalidate(&self, stale: &Secret) -> impl Future<Output = ()> + Send;
}

/// Sends the request `build` makes, with a bearer token from `tokens`. When the answer is a
/// 401 and `refused` agrees that it is about the token (expired early, revoked), the token is
/// forgotten and the request built and sent once more with a fresh one; any other answer,
/// and the second 401, go back to the caller. That is token handling, not a retry policy:
/// temporary failures are the layers' business.
pub async fn send_with_token<S, B, R>(
    tokens: &S,
    what: &str,
    mut build: B,
    refused: R,
) -> Result<Response>
where
    S: TokenSource + ?Sized,
    B: FnMut() -> reqwest::RequestBuilder,
    R: Fn(&Response) -> bool,
{
    let mut renewed = false;
    loop {
        let token = tokens.token().await?;
        let response = send(what, build().bearer_auth(token.expose())).await?;
        if response.status == StatusCode::UNAUTHORIZED && !renewed && refused(&response) {
            tracing::debug!(what, "the service refused the token; renewing it once");
            tokens.invalidate(&token).await;
            renewed = true;
            continue;
        }
        return Ok(response);
    }
}

/// A token endpoint's answer to a granted request (RFC 6749 section 5.1).
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    access_token: String,
    /// `Bearer`, as a rule.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds the token lives; a number, or a string of digits as some servers send it.
    #[serde(default, deserialize_with = "seconds")]
    pub expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(u64),
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Seconds>::deserialize(d)? {
        Some(Seconds::Number(n)) => Some(n),
        Some(Seconds::Text(s)) => s.trim().parse().ok(),
        Some(Seconds::Other(_)) | None => None,
    })
}

impl TokenResponse {
    /// The access token, living `expires_in` or else `default_lifetime`.
    pub fn access_token(&self, default_lifetime: Duration) -> AccessToken {
        let lifetime = self
            .expires_in
            .map_or(default_lifetime, Duration::from_secs);
        AccessToken::new(Secret::new(self.access_token.clone()), lifetime)
    }

    /// The refresh token, when the grant gave one.
    pub fn refresh_token(&self) -> Option<Secret> {
        self.refresh_token.clone().map(Secret::new)
    }
}

/// An OAuth error body (RFC 6749 section 5.2): `invalid_grant`, `authorization_pending`...
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl OAuthError {
    /// The body's OAuth error, if it is one.
    pub fn parse(body: &[u8]) -> Option<OAuthError> {
        serde_json::from_slice(body).ok()
    }
}

/// What a token endpoint answered.
#[derive(Debug)]
pub enum TokenReply {
    /// A 2xx with a non-empty access token.
    Granted(TokenResponse),
    /// Any other status, for the service to explain (its error bodies and advice differ).
    Refused(Response),
}

/// Posts `form` to a token endpoint (`request` is the POST, with whatever headers the service
/// wants) and reads the answer. A 2xx without a usable `access_token` is a protocol error.
pub async fn request_token(
    what: &str,
    request: reqwest::RequestBuilder,
    form: &[(&str, &str)],
) -> Result<TokenReply> {
    let response = send(what, request.form(form)).await?;
    if !response.is_success() {
        return Ok(TokenReply::Refused(response));
    }
    let token: TokenResponse = serde_json::from_slice(&response.body).map_err(|e| {
        Error::protocol(format!(
            "{what}: the token endpoint answered without an access_token ({e})"
        ))
    })?;
    if token.access_token.is_empty() {
        return Err(Error::protocol(format!(
            "{what}: the token endpoint answered with an empty access_token"
        )));
    }
    match token.expires_in {
        Some(secs) => tracing::info!("{what}: access token obtained, valid {secs} s"),
        None => tracing::info!("{what}: access token obtained"),
    }
    Ok(TokenReply::Granted(token))
}

/// The kind of a token endpoint's refusal: throttling and failures the table calls
/// temporary keep their kind; anything else means the credentials were refused (`auth`).
pub fn token_refusal_kind(status: StatusCode) -> ErrorKind {
    let status = status.as_u16();
    if status_is_temporary(status) {
        kind_for_status(status)
    } else {
        ErrorKind::Auth
    }
}

/// Escaped in a URL path segment: everything but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`). A service that needs another character kept can remove it
/// (`SEGMENT.remove(b'@')`) and use [`encode_segment_with`].
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `value` as one URL path segment: `/`, `?`, `#`, `%`, spaces and non-ASCII
/// bytes (as UTF-8) are all escaped, and `.` and `..` become `%2E` and `%2E%2E` so they cannot
/// be read as path steps. Whatever a user key holds, the URL stays on its resource.
pub fn encode_segment(value: &str) -> String {
    encode_segment_with(value, SEGMENT)
}

/// [`encode_segment`] with another set of escaped characters (it must escape at least `/`,
/// `?`, `#` and `%`).
pub fn encode_segment_with(value: &str, escaped: &'static AsciiSet) -> String {
    match value {
        "." => "%2E".to_string(),
        ".." => "%2E%2E".to_string(),
        _ => utf8_percent_encode(value, escaped).to_string(),
    }
}

/// What a service's error body said, as each target parses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceError {
    /// The service's error code (`ImageNotFound`, `userRateLimitExceeded`...).
    pub code: Option<String>,
    pub message: Option<String>,
    /// The service's request id, from headers or body.
    pub request_id: Option<String>,
}

/// Reads a `Retry-After` header.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()
        .and_then(parse_retry_after)
}

/// Builds picday's error for a failed response: the kind from the status
/// ([`picday_protocol::kind_for_status`], or `kind` if the target knows better), temporary for
/// 408/429/5xx ([`picday_protocol::status_is_temporary`]), the Retry-After hint, and the service's
/// code, message and request id as context.
pub fn response_error(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    service: &ServiceError,
    kind: Option<ErrorKind>,
) -> Error {
    let kind = kind.unwrap_or_else(|| kind_for_status(status.as_u16()));
    let detail = service
        .message
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .map(|m| format!(": {}", m.trim()))
        .unwrap_or_default();
    let temporary = status_is_temporary(status.as_u16());
    let mut e = Error::new(kind, format!("{what}: HTTP {}{detail}", status.as_u16()))
        .temporary(temporary || kind == ErrorKind::Throttled)
        .with_retry_after(retry_after(headers));
    if let Some(code) = &service.code {
        e = e.with_context("code", code.clone());
    }
    if let Some(id) = &service.request_id {
        e = e.with_context("request_id", id.clone());
    }
    e
}

/// A body for messages: the text if it is short and printable, else its length.
pub fn body_excerpt(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(s) if s.len() <= 300 => s.trim().to_string(),
        Ok(s) => {
            let mut end = 300;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}...", s[..end].trim())
        }
        Err(_) => format!("<{} bytes of binary>", body.len()),
    }
}

/// Opens `url` in the default browser (Entra's `auth = "browser"` sign-in, `picday review`);
/// whether the system accepted the request.
pub fn open_in_browser(url: &str) -> bool {
    #[cfg(windows)]
    let mut command = {
        // `start` would need the `&`s escaped for cmd; the URL protocol handler takes it as is.
        let mut c = std::process::Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", url]);
        c
    };
    #[cfg(target_os = "macos")]
    let mut command = {
        let mut c = std::process::Command::new("open");
        c.arg(url);
        c
    };
    #[cfg(not(any(windows, target_os = "macos")))]
    let mut command = {
        let mut c = std::process::Command::new("xdg-open");
        c.arg(url);
        c
    };
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn token_is_cached_renewed_early_and_invalidated() {
        let cache = TokenCache::new(Duration::from_secs(300));
        let fetches = AtomicUsize::new(0);
        let fetch = |life: u64| {
            let n = fetches.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(AccessToken::new(
                    Secret::new(format!("t{n}")),
                    Duration::from_secs(life),
                ))
            }
        };
        let a = cache.get(|| fetch(3600)).await.unwrap();
        let b = cache.get(|| fetch(3600)).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        cache.invalidate(&a).await;
        let c = cache.get(|| fetch(200)).await.unwrap();
        assert_ne!(a, c);
        // Lives 200 s, renewed 300 s early: every get fetches again.
        let d = cache.get(|| fetch(3600)).await.unwrap();
        assert_ne!(c, d);
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let kind = |status: StatusCode| {
            response_error(
                "x",
                status,
                &HeaderMap::new(),
                &ServiceError::default(),
                None,
            )
        };
        assert_eq!(
            kind(StatusCode::TOO_MANY_REQUESTS).kind(),
            ErrorKind::Throttled
        );
        assert!(kind(StatusCode::TOO_MANY_REQUESTS).is_temporary());
        assert_eq!(
            kind(StatusCode::SERVICE_UNAVAILABLE).kind(),
            ErrorKind::Unavailable
        );
        assert!(kind(StatusCode::REQUEST_TIMEOUT).is_temporary());
        assert_eq!(kind(StatusCode::NOT_FOUND).kind(), ErrorKind::NotFound);
        assert_eq!(kind(StatusCode::BAD_REQUEST).kind(), ErrorKind::Rejected);
        assert!(!kind(StatusCode::BAD_REQUEST).is_temporary());
    }

    #[test]
    fn token_refusals_are_auth_unless_temporary() {
        for (status, kind) in [
            (400, ErrorKind::Auth),
            (401, ErrorKind::Auth),
            (403, ErrorKind::Auth),
            (404, ErrorKind::Auth),
            (408, ErrorKind::Unavailable),
            (429, ErrorKind::Throttled),
            (500, ErrorKind::Unavailable),
            (503, ErrorKind::Unavailable),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(token_refusal_kind(status), kind, "{status}");
        }
    }

    #[test]
    fn segments_escape_everything_that_could_leave_the_resource() {
        assert_eq!(encode_segment("a/b"), "a%2Fb");
        assert_eq!(encode_segment("x#EXT#"), "x%23EXT%23");
        assert_eq!(encode_segment("a?b=c&d"), "a%3Fb%3Dc%26d");
        assert_eq!(encode_segment("100%"), "100%25");
        assert_eq!(encode_segment("jo smith"), "jo%20smith");
        assert_eq!(
            encode_segment("Zoë Ødegård"),
            "Zo%C3%AB%20%C3%98deg%C3%A5rd"
        );
        assert_eq!(encode_segment("a.b-c_d~e@f+g"), "a.b-c_d~e%40f%2Bg");
        assert_eq!(encode_segment("."), "%2E");
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("../x"), "..%2Fx");
        assert_eq!(encode_segment(""), "");
        const KEEP_AT: &AsciiSet = &SEGMENT.remove(b'@');
        assert_eq!(encode_segment_with("a b@x/y", KEEP_AT), "a%20b@x%2Fy");
        assert_eq!(encode_segment_with("..", KEEP_AT), "%2E%2E");
    }

    /// Counts the tokens handed out and the ones invalidated.
    #[derive(Default)]
    struct Tokens {
        cache: Option<TokenCache>,
        issued: AtomicUsize,
        invalidated: AtomicUsize,
    }

    impl TokenSource for Tokens {
        async fn token(&self) -> Result<Secret> {
            let cache = self.cache.as_ref().unwrap();
            cache
                .get(|| async {
                    let n = self.issued.fetch_add(1, Ordering::SeqCst);
                    Ok(AccessToken::new(
                        Secret::new(format!("t{n}")),
                        Duration::from_secs(3600),
                    ))
                })
                .await
        }
        async fn invalidate(&self, stale: &Secret) {
            self.invalidated.fetch_add(1, Ordering::SeqCst);
            self.cache.as_ref().unwrap().invalidate(stale).await;
        }
    }

    fn tokens() -> Tokens {
        Tokens {
            cache: Some(TokenCache::new(Duration::from_secs(300))),
            ..Tokens::default()
        }
    }

    #[tokio::test]
    async fn a_refused_token_is_renewed_once_and_the_request_sent_again() {
        let mut server = mockito::Server::new_async().await;
        let stale = server
            .mock("GET", "/r")
            .match_header("authorization", "Bearer t0")
            .with_status(401)
            .expect(1)
            .create_async()
            .await;
        let fresh = server
            .mock("GET", "/r")
            .match_header("authorization", "Bearer t1")
            .with_status(200)
            .with_body("ok")
            .expect(1)
            .create_async()
            .await;
        let http = client(Duration::from_secs(10)).unwrap();
        let url = format!("{}/r", server.url());
        let tokens = tokens();
        let mut built = 0;
        let r = send_with_token(
            &tokens,
            "GET r",
            || {
                built += 1;
                http.get(&url)
            },
            |_| true,
        )
        .await
        .unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, b"ok");
        assert_eq!(built, 2);
        assert_eq!(tokens.issued.load(Ordering::SeqCst), 2);
        assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
        stale.assert_async().await;
        fresh.assert_async().await;
    }

    #[tokio::test]
    async fn a_second_401_and_a_401_not_about_the_token_go_back_to_the_caller() {
        let mut server = mockito::Server::new_async().await;
        let always = server
            .mock("GET", "/r")
            .with_status(401)
            .with_body("no")
            .expect(3)
            .create_async()
            .await;
        let http = client(Duration::from_secs(10)).unwrap();
        let url = format!("{}/r", server.url());
        let tokens = tokens();
        let r = send_with_token(&tokens, "GET r", || http.get(&url), |_| true)
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
        // The caller says this 401 is not about the token: no renewal at all.
        let r = send_with_token(&tokens, "GET r", || http.get(&url), |_| false)
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body, b"no");
        assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);
        always.assert_async().await;
    }

    #[tokio::test]
    async fn error_bodies_are_capped_and_success_bodies_read_whole() {
        let mut server = mockito::Server::new_async().await;
        let big = vec![b'x'; ERROR_BODY_LIMIT * 4];
        let _err = server
            .mock("GET", "/err")
            .with_status(502)
            .with_body(&big)
            .create_async()
            .await;
        let _ok = server
            .mock("GET", "/ok")
            .with_status(200)
            .with_body(&big)
            .create_async()
            .await;
        let http = client(Duration::from_secs(10)).unwrap();
        let r = send("GET err", http.get(format!("{}/err", server.url())))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::BAD_GATEWAY);
        assert_eq!(r.body.len(), ERROR_BODY_LIMIT);
        let r = send("GET ok", http.get(format!("{}/ok", server.url())))
            .await
            .unwrap();
        assert!(r.is_success());
        assert_eq!(r.body.len(), big.len());
    }

    #[tokio::test]
    async fn transport_failures_are_temporary_unavailable() {
        let http = client(Duration::from_secs(5)).unwrap();
        // Nothing listens on the discard port of the loopback address.
        let e = send("GET x", http.get("http://127.0.0.1:9/x"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert!(e.message().starts_with("GET x: "), "{e}");
    }

    #[tokio::test]
    async fn token_endpoint_grants_refuses_and_rejects_nonsense() {
        let mut server = mockito::Server::new_async().await;
        let _granted = server
            .mock("POST", "/granted")
            .match_header("content-type", "application/x-www-form-urlencoded")
            .match_body(mockito::Matcher::UrlEncoded(
                "grant_type".into(),
                "client_credentials".into(),
            ))
            .with_status(200)
            .with_body(r#"{"access_token":"a1","token_type":"Bearer","expires_in":"120","refresh_token":"r1"}"#)
            .create_async()
            .await;
        let _refused = server
            .mock("POST", "/refused")
            .with_status(400)
            .with_body(r#"{"error":"invalid_grant","error_description":"bad"}"#)
            .create_async()
            .await;
        let _empty = server
            .mock("POST", "/empty")
            .with_status(200)
            .with_body(r#"{"access_token":"","expires_in":10}"#)
            .create_async()
            .await;
        let _html = server
            .mock("POST", "/html")
            .with_status(200)
            .with_body("<html></html>")
            .create_async()
            .await;
        let http = client(Duration::from_secs(10)).unwrap();
        let form = [("grant_type", "client_credentials")];
        let post = |path: &str| http.post(format!("{}{path}", server.url()));

        let TokenReply::Granted(t) = request_token("token", post("/granted"), &form)
            .await
            .unwrap()
        else {
            panic!("not granted")
        };
        assert_eq!(t.expires_in, Some(120));
        assert_eq!(t.token_type.as_deref(), Some("Bearer"));
        assert_eq!(t.access_token(Duration::ZERO).secret.expose(), "a1");
        assert_eq!(t.refresh_token().unwrap().expose(), "r1");

        let TokenReply::Refused(r) = request_token("token", post("/refused"), &form)
            .await
            .unwrap()
        else {
            panic!("not refused")
        };
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let oauth = OAuthError::parse(&r.body).unwrap();
        assert_eq!(oauth.error, "invalid_grant");
        assert_eq!(oauth.error_description.as_deref(), Some("bad"));

        for path in ["/empty", "/html"] {
            let e = request_token("token", post(path), &form).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{path}");
        }
    }

    #[test]
    fn token_lifetimes_default_when_missing_or_unreadable() {
        for (json, secs) in [
            (r#"{"access_token":"a","expires_in":7}"#, 7),
            (r#"{"access_token":"a","expires_in":" 8 "}"#, 8),
            (r#"{"access_token":"a","expires_in":null}"#, 99),
            (r#"{"access_token":"a","expires_in":1.5}"#, 99),
            (r#"{"access_token":"a"}"#, 99),
        ] {
            let t: TokenResponse = serde_json::from_str(json).unwrap();
            let life = t.access_token(Duration::from_secs(99)).expires_at - Instant::now();
            assert!(
                life <= Duration::from_secs(secs)
                    && life > Duration::from_secs(secs) - Duration::from_secs(2),
                "{json}: {life:?}"
            );
        }
    }

    #[test]
    fn response_error_keeps_code_request_id_and_retry_after() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        let e = response_error(
            "PUT photo",
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            &ServiceError {
                code: Some("TooManyRequests".into()),
                message: Some("slow down".into()),
                request_id: Some("r-1".into()),
            },
            None,
        );
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.context_value("code"), Some("TooManyRequests"));
        assert_eq!(e.context_value("request_id"), Some("r-1"));
        assert_eq!(e.message(), "PUT photo: HTTP 429: slow down");
    }
}

/// The one rule for every service URL picday sends credentials or photos to: a URL that
/// parses, without a user name or password in it, over `https`, or over `http` only when the
/// host is this machine (`localhost` or a loopback address: tests and local proxies). A
/// prefix check is not enough: `http://127.0.0.1@192.0.2.2/` names the host 192.0.2.2.
/// Returns why not, for the caller to name the option.
pub fn check_service_url(url: &str) -> std::result::Result<reqwest::Url, String> {
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{url:?} holds a user name or password; write the host alone"
        ));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(format!(
            "{url:?} is plain http to another machine: credentials and photos would cross the \
             network unencrypted; use https:// (plain http is allowed only to localhost)"
        )),
        _ => Err(format!("{url:?} must be an https:// URL")),
    }
}

#[cfg(test)]
mod url_rule {
    use super::check_service_url;

    #[test]
    fn https_anywhere_http_only_to_this_machine() {
        for ok in [
            "https://graph.microsoft.com",
            "https://login.microsoftonline.us/",
            "http://127.0.0.1:18081",
            "http://127.8.9.10/x",
            "http://localhost:8080",
            "http://[::1]:9000",
        ] {
            assert!(check_service_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            // The downgrade reported in issue 24: a loopback-looking prefix, a remote host.
            ("http://127.0.0.1@192.0.2.2:18081", "user name"),
            ("http://192.0.2.2:18081", "plain http"),
            ("http://localhost.example.org", "plain http"),
            ("http://127.0.0.1.example.org", "plain http"),
            ("https://user:pw@graph.microsoft.com", "user name"),
            ("ftp://127.0.0.1", "https://"),
            ("graph.microsoft.com", "not a URL"),
        ] {
            let e = check_service_url(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
