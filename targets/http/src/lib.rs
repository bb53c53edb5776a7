//! What picday's HTTP targets share, written once: a configured client, an access-token cache
//! that renews early and once on a rejected token, and the mapping of an HTTP response to
//! picday's [`Error`] (kind, temporary, Retry-After, request id).
//!
//! Targets keep only what is specific to their service: their URLs, their auth flow and the
//! shape of their error bodies (see [`ServiceError`]).

use std::future::Future;
use std::time::Duration;

use picday_core::layers::parse_retry_after;
use picday_core::{Error, ErrorKind, Result, Secret};
use reqwest::StatusCode;
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

/// What a service's error body said, as each target parses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceError {
    /// The service's error code (`ImageNotFound`, `userRateLimitExceeded`...).
    pub code: Option<String>,
    pub message: Option<String>,
    /// The service's request id, from headers or body.
    pub request_id: Option<String>,
}

/// The default meaning of an HTTP status, before a target refines it with the body.
pub fn kind_of_status(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        400 | 409 | 413 | 415 | 422 => ErrorKind::Rejected,
        401 => ErrorKind::Auth,
        403 => ErrorKind::Permission,
        404 | 410 => ErrorKind::NotFound,
        408 | 500 | 502..=504 => ErrorKind::Unavailable,
        429 => ErrorKind::Throttled,
        _ if status.is_server_error() => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    }
}

/// Reads a `Retry-After` header.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()
        .and_then(parse_retry_after)
}

/// Builds picday's error for a failed response: the kind from the status (or `kind` if the
/// target knows better), temporary for 408/429/5xx, the Retry-After hint, and the service's
/// code, message and request id as context.
pub fn response_error(
    what: &str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    service: &ServiceError,
    kind: Option<ErrorKind>,
) -> Error {
    let kind = kind.unwrap_or_else(|| kind_of_status(status));
    let detail = service
        .message
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .map(|m| format!(": {}", m.trim()))
        .unwrap_or_default();
    let temporary = matches!(status.as_u16(), 408 | 429) || status.is_server_error();
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
        assert_eq!(
            kind_of_status(StatusCode::TOO_MANY_REQUESTS),
            ErrorKind::Throttled
        );
        assert_eq!(
            kind_of_status(StatusCode::SERVICE_UNAVAILABLE),
            ErrorKind::Unavailable
        );
        assert_eq!(kind_of_status(StatusCode::NOT_FOUND), ErrorKind::NotFound);
        assert_eq!(kind_of_status(StatusCode::BAD_REQUEST), ErrorKind::Rejected);
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
