//! What the host does for every plugin, whatever its transport: the I/O runtime plugin work
//! runs on, HTTP on the plugin's behalf, and turning protocol errors into picday errors.
//!
//! Plugin calls run on one small runtime of their own rather than the caller's, so that a
//! target can be built from synchronous code (`TargetFactory::build`), used from any runtime
//! (the CLI's, a test's), and a blocked plugin never occupies the engine's worker threads.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use picday_core::{Error, ErrorKind, Result};
use picday_plugin_sdk::protocol::{ErrorMsg, HttpRequest, HttpResponse, HttpResult};

static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
static CLIENT: OnceLock<std::result::Result<reqwest::Client, String>> = OnceLock::new();

/// The plugins' runtime: one worker for pipes and timers, and a blocking pool for libraries.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("picday-plugins")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::internal(format!("cannot start the plugin runtime: {e}")))
}

/// Runs `f` on the plugins' runtime and waits for it from any async context.
pub(crate) async fn on_runtime<T: Send + 'static>(
    f: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    runtime()?
        .spawn(f)
        .await
        .unwrap_or_else(|e| Err(Error::internal(format!("a plugin task failed: {e}"))))
}

/// Runs `f` on the plugins' runtime and waits for it from synchronous code (which may itself
/// be running inside another runtime: the wait blocks only the calling thread).
pub(crate) fn block_on<T: Send + 'static>(
    f: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let handle = runtime()?.spawn(f);
    futures::executor::block_on(handle)
        .unwrap_or_else(|e| Err(Error::internal(format!("a plugin task failed: {e}"))))
}

/// Runs a blocking library call on the plugins' blocking pool, giving up after `timeout`.
/// A call that never returns keeps its thread: native code cannot be interrupted.
pub(crate) async fn blocking<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<Option<T>> {
    let task = runtime()?.spawn_blocking(f);
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(v)) => Ok(Some(v)),
        Ok(Err(e)) => Err(Error::internal(format!("a plugin call failed: {e}"))),
        Err(_) => Ok(None),
    }
}

/// Makes an HTTP request a plugin asked for, with picday's shared client and
/// [`picday_http::send`] (so a non-2xx body reaches the plugin cut at
/// [`picday_http::ERROR_BODY_LIMIT`]).
pub(crate) async fn http(request: HttpRequest) -> HttpResult {
    match send(request).await {
        Ok(r) => HttpResult::Response(r),
        Err(e) => HttpResult::Error(error_msg(&e)),
    }
}

async fn send(request: HttpRequest) -> Result<HttpResponse> {
    let client = CLIENT
        .get_or_init(|| picday_http::client(Duration::from_secs(60)).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::internal(e.clone()))?;
    let url = reqwest::Url::parse(&request.url)
        .map_err(|e| Error::protocol(format!("the plugin asked for a bad URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::protocol(format!(
            "the plugin asked for a {} URL; only http and https are made",
            url.scheme()
        )));
    }
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| Error::protocol(format!("bad HTTP method {:?}", request.method)))?;
    let body = base64::engine::general_purpose::STANDARD
        .decode(&request.body)
        .map_err(|e| Error::protocol(format!("the HTTP body is not base64: {e}")))?;
    let mut builder = client.request(method, url);
    for (k, v) in &request.headers {
        builder = builder.header(k, v);
    }
    let what = format!("{} {}", request.method, request.url);
    let response = picday_http::send(&what, builder.body(body)).await?;
    let headers = response
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(HttpResponse {
        status: response.status.as_u16(),
        headers,
        body: base64::engine::general_purpose::STANDARD.encode(&response.body),
    })
}

/// A picday error as the protocol carries it (to a plugin, about its HTTP request).
pub(crate) fn error_msg(e: &Error) -> ErrorMsg {
    ErrorMsg {
        kind: e.kind().as_str().into(),
        message: e.message().into(),
        temporary: e.is_temporary(),
        retry_after_secs: e.retry_after().map(|d| d.as_secs_f64()),
        context: e
            .context()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// A plugin's error reply as a picday error. An unknown kind is the plugin's mistake
/// (`protocol`); a Retry-After that is not a sane number of seconds is dropped.
pub(crate) fn from_error_msg(label: &str, m: ErrorMsg) -> Error {
    let mut e = match ErrorKind::from_name(&m.kind) {
        Some(kind) => Error::new(kind, m.message).temporary(m.temporary),
        None => Error::protocol(format!(
            "{label} answered with an unknown error kind `{}`: {}",
            m.kind, m.message
        )),
    };
    let after = m
        .retry_after_secs
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64);
    if after.is_some() {
        e = e.with_retry_after(after);
    }
    for (k, v) in m.context {
        e = match k.as_str() {
            "code" => e.with_context("code", v),
            "request_id" => e.with_context("request_id", v),
            "status" => e.with_context("status", v),
            _ => e.with_context("detail", format!("{k}={v}")),
        };
    }
    e
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_keep_kind_temporary_and_retry_after() {
        let e = from_error_msg(
            "plugin `x`",
            ErrorMsg {
                kind: "throttled".into(),
                message: "slow down".into(),
                temporary: true,
                retry_after_secs: Some(2.5),
                context: [("request_id".to_string(), "r1".to_string())].into(),
            },
        );
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_millis(2500)));
        assert_eq!(e.context_value("request_id"), Some("r1"));
    }

    #[test]
    fn an_unknown_error_kind_is_a_protocol_error_naming_the_plugin() {
        let e = from_error_msg(
            "plugin `x`",
            ErrorMsg {
                kind: "oops".into(),
                message: "m".into(),
                temporary: false,
                retry_after_secs: Some(f64::NAN),
                context: Default::default(),
            },
        );
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.message().contains("plugin `x`"), "{e}");
        assert_eq!(e.retry_after(), None);
    }
}
