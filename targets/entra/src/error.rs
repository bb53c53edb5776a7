//! What Graph and the Microsoft identity platform say when something fails, turned into
//! picday's [`Error`].
//!
//! Graph documents one error shape (`{"error":{"code","message","innerError":{"request-id",
//! ...}}}`) and asks clients to act on `code`, never on `message`; the token endpoint has its own
//! shape (`error`, `error_description`, `error_codes` with the AADSTS numbers). Proxies and load
//! balancers in front of either may answer with HTML or nothing at all, so every parser here
//! tolerates bodies that are not JSON. The request ids are kept as error context because they
//! are what Microsoft support asks for.

use picday_core::{Error, ErrorKind};
use picday_http::{ServiceError, body_excerpt, response_error, retry_after, token_refusal_kind};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

/// A parsed Graph error body (and headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphError {
    /// `error.code`, e.g. `ImageNotFound`.
    pub code: Option<String>,
    /// `error.message`, or an excerpt of a body that was not Graph's JSON.
    pub message: Option<String>,
    /// Graph's `request-id` (header, else `innerError.request-id`).
    pub request_id: Option<String>,
    /// The `client-request-id` Graph echoed.
    pub client_request_id: Option<String>,
    /// Codes of nested `innerError`s, outermost first (e.g. throttling details).
    pub inner_codes: Vec<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    code: Option<String>,
    message: Option<String>,
    #[serde(rename = "innerError", alias = "innererror")]
    inner: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    code: Option<String>,
    #[serde(rename = "request-id")]
    request_id: Option<String>,
    #[serde(rename = "client-request-id")]
    client_request_id: Option<String>,
    #[serde(rename = "innerError", alias = "innererror")]
    inner: Option<Box<Inner>>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl GraphError {
    /// Parses a Graph error response. Never fails: a body that is not Graph's JSON becomes the
    /// message (shortened), an empty body leaves it `None`.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Self {
        let mut out = GraphError {
            request_id: header(headers, "request-id"),
            client_request_id: header(headers, "client-request-id"),
            ..GraphError::default()
        };
        match serde_json::from_slice::<Envelope>(body) {
            Ok(env) => {
                out.code = env.error.code.filter(|c| !c.is_empty());
                out.message = env.error.message.filter(|m| !m.trim().is_empty());
                let mut inner = env.error.inner;
                while let Some(i) = inner {
                    if out.request_id.is_none() {
                        out.request_id = i.request_id.clone();
                    }
                    if out.client_request_id.is_none() {
                        out.client_request_id = i.client_request_id.clone();
                    }
                    if let Some(code) = i.code.clone() {
                        out.inner_codes.push(code);
                    }
                    inner = i.inner.map(|b| *b);
                }
            }
            Err(_) => {
                let text = body_excerpt(body);
                if !text.is_empty() {
                    out.message = Some(text);
                }
            }
        }
        out
    }

    /// Whether the error's code is one of `codes` (case-insensitive, as Graph's casing varies).
    pub fn is(&self, codes: &[&str]) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| codes.iter().any(|k| c.eq_ignore_ascii_case(k)))
    }
}

/// Codes Graph has used for "this user has no photo" (`GET .../photo/$value`). picday does not
/// depend on the list: any 404 but [`USER_GONE`] on a photo URL means no photo.
/// `ImageNotFound`: msgraph-sdk-dotnet-core#851; `ErrorEntityNotFound` (ImageNotFoundException,
/// 2024): the Graph errors page's example; `ErrorItemNotFound` "The photo wasn't found.":
/// microsoft-graph-docs-contrib#7939; `GetUserPhoto`: msgraph-sample-aspnet-core#10.
pub const NO_PHOTO_CODES: &[&str] = &[
    "ImageNotFound",
    "ErrorEntityNotFound",
    "ErrorItemNotFound",
    "GetUserPhoto",
];

/// The code of a 404 about the user itself: no user has this id or UPN (Graph errors
/// reference; msgraph-sdk-dotnet#1101).
pub const USER_GONE: &str = "Request_ResourceNotFound";

/// Codes with which Graph says it cannot read a user's photo, though the user exists: no
/// Exchange Online mailbox (`AuthenticationError` "Error authenticating with resource",
/// microsoft-graph-docs#8877 and #4002), guests and unlicensed users
/// (`MailboxNotEnabledForRESTAPI`, microsoft-graph-docs-contrib#405), a mailbox on-premises
/// (`MailboxNotHostedInExchangeOnline`, msgraph-sdk-dotnet#688).
pub const UNREADABLE_CODES: &[&str] = &[
    "AuthenticationError",
    "MailboxNotEnabledForRESTAPI",
    "MailboxNotHostedInExchangeOnline",
];

/// What a failed `GET` or `DELETE .../photo/$value` says about the user's photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoAnswer {
    /// The user has no photo (any 404 but [`USER_GONE`]).
    NoPhoto,
    /// The user does not exist (any more).
    UserGone,
    /// The user exists but Graph cannot read their photo ([`UNREADABLE_CODES`] on a 400, or
    /// on a 404 as `MailboxNotEnabledForRESTAPI` has been seen).
    Unreadable,
    /// Anything else: an ordinary failure.
    Other,
}

impl PhotoAnswer {
    /// Reads a failed answer to a photo URL. The code decides, never the message.
    pub fn of(status: StatusCode, g: &GraphError) -> Self {
        match status {
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND if g.is(UNREADABLE_CODES) => {
                PhotoAnswer::Unreadable
            }
            StatusCode::NOT_FOUND if g.is(&[USER_GONE]) => PhotoAnswer::UserGone,
            StatusCode::NOT_FOUND => PhotoAnswer::NoPhoto,
            _ => PhotoAnswer::Other,
        }
    }
}

/// What to do when Graph will not read or take a photo of a user who exists.
pub const MAILBOX_ADVICE: &str = "Graph keeps the photos of users without an Exchange Online \
    mailbox (unlicensed users, guests, mailboxes still on-premises) only in some tenants: give \
    the user an Exchange Online licence, or, in a hybrid tenant whose photos come from \
    on-premises, set the photo in Active Directory (the `ldap` target)";

/// `e` with another kind and message, keeping its context (code, request ids), Retry-After
/// and temporariness decided anew by the caller.
pub fn rekind(e: &Error, kind: ErrorKind, message: String) -> Error {
    Error::new(kind, message).with_context_from(e)
}

/// Classifies a failed Graph response: 429 is `Throttled` (the application's quota is spent,
/// so the throttle layer pauses the whole target); 503 and 504 are `Unavailable`, temporary,
/// keeping their Retry-After (that request waits, the others go on); 400 is a rejected
/// request or photo; 401 auth; 403 permission with advice; 404 not found.
pub fn graph_error(what: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let g = GraphError::parse(headers, body);
    let service = ServiceError {
        code: g.code.clone(),
        message: g.message.clone(),
        request_id: g.request_id.clone(),
    };
    let mut e = response_error(what, status, headers, &service, None);
    if status == StatusCode::FORBIDDEN {
        e = Error::new(
            ErrorKind::Permission,
            format!(
                "{}; {PERMISSION_ADVICE}. If the permissions are granted: {ON_PREMISES_ADVICE}",
                e.message()
            ),
        )
        .with_context_from(&e);
    }
    if let Some(id) = &g.client_request_id {
        e = e.with_context("client_request_id", id.clone());
    }
    if !g.inner_codes.is_empty() {
        e = e.with_context("inner_code", g.inner_codes.join("/"));
    }
    e
}

/// What to do about a 403 from Graph.
pub const PERMISSION_ADVICE: &str = "the application lacks a Graph permission: grant the \
    application permissions ProfilePhoto.ReadWrite.All (or User.ReadWrite.All) and User.Read.All \
    in the app registration, then press \"Grant admin consent\"";

/// What to do in a hybrid tenant whose photos come from on-premises, where Graph refuses cloud
/// writes (learn.microsoft.com/graph/profilephoto-configure-settings).
pub const ON_PREMISES_ADVICE: &str = "in a hybrid tenant whose photo update settings say \
    photos come from on-premises, Graph refuses cloud writes: send the photos to Active \
    Directory with an `ldap` target instead (Entra Connect syncs them), or have the tenant's \
    photo source set to cloud (`picday check` reads it when the application has \
    PeopleSettings.Read.All)";

trait WithContextFrom {
    fn with_context_from(self, other: &Error) -> Self;
}

impl WithContextFrom for Error {
    fn with_context_from(self, other: &Error) -> Self {
        let mut e = self
            .temporary(other.is_temporary())
            .with_retry_after(other.retry_after());
        for (k, v) in other.context() {
            e = e.with_context(k, v.clone());
        }
        e
    }
}

/// A token endpoint error body (`/oauth2/v2.0/token`, `/devicecode`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenError {
    /// `invalid_client`, `authorization_pending`...
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

impl TokenError {
    /// Parses a token error body; anything else becomes a description excerpt.
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_else(|_| TokenError {
            error_description: body_excerpt(body),
            ..TokenError::default()
        })
    }

    /// The first AADSTS code, as written in Microsoft's messages (`AADSTS700016`).
    pub fn aadsts(&self) -> Option<String> {
        if let Some(n) = self.error_codes.first() {
            return Some(format!("AADSTS{n}"));
        }
        let start = self.error_description.find("AADSTS")?;
        let digits: String = self.error_description[start + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!digits.is_empty()).then(|| format!("AADSTS{digits}"))
    }

    /// Advice for the failures administrators meet most.
    pub fn advice(&self) -> Option<&'static str> {
        Some(match self.aadsts()?.as_str() {
            "AADSTS700016" => {
                "the application (client) id was not found in this tenant: check client_id and \
                 tenant_id (both are on the app registration's Overview page) and the cloud"
            }
            "AADSTS7000215" => {
                "the client secret is wrong: use the secret's Value (shown once when it is \
                 created), not its Secret ID"
            }
            "AADSTS7000222" => {
                "the client secret has expired: create a new one under Certificates & secrets"
            }
            "AADSTS700027" => {
                "the certificate is not registered for this application: upload its public part \
                 (.cer/.pem) under Certificates & secrets, or check that the private key matches"
            }
            "AADSTS90002" => "the tenant was not found: check tenant_id and the cloud",
            "AADSTS65001" | "AADSTS650057" => {
                "the permissions were not consented: press \"Grant admin consent\" in the app \
                 registration's API permissions"
            }
            "AADSTS53003" => {
                "Conditional Access blocked this sign-in (device code sign-ins are often blocked \
                 by policy): use `auth = \"certificate\"` or a client secret for an \
                 application, or ask for an exclusion for the administrator"
            }
            "AADSTS50076" | "AADSTS50079" => {
                "the sign-in needs multi-factor authentication that this flow did not satisfy: \
                 complete MFA in the browser when the device code page asks, or use \
                 `auth = \"certificate\"` for an application"
            }
            "AADSTS50105" => {
                "the signed-in administrator is not assigned to the application (assignment \
                 required): add them under Enterprise applications > Users and groups, or sign \
                 in with an assigned account"
            }
            "AADSTS7000218" => {
                "the app registration does not allow public clients: enable \"Allow public client \
                 flows\" under Authentication for the device code sign-in"
            }
            _ => return None,
        })
    }

    /// The description's first line (Microsoft appends trace and correlation ids).
    pub fn summary(&self) -> String {
        let first = self.error_description.lines().next().unwrap_or("").trim();
        match (self.error.is_empty(), first.is_empty()) {
            (false, false) => format!("{}: {first}", self.error),
            (false, true) => self.error.clone(),
            (true, false) => first.to_string(),
            (true, true) => "no details".to_string(),
        }
    }
}

/// Classifies a failed token request ([`token_refusal_kind`]): throttling and server failures
/// are temporary, anything else is an authentication error with advice where Microsoft's code
/// is a common one.
pub fn token_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let t = TokenError::parse(body);
    let mut message = format!(
        "token request failed: HTTP {}: {}",
        status.as_u16(),
        t.summary()
    );
    if let Some(advice) = t.advice() {
        message.push_str(" -- ");
        message.push_str(advice);
    }
    let kind = token_refusal_kind(status);
    let mut e = Error::new(kind, message).with_retry_after(retry_after(headers));
    if let Some(code) = t.aadsts() {
        e = e.with_context("code", code);
    } else if !t.error.is_empty() {
        e = e.with_context("code", t.error.clone());
    }
    if let Some(id) = t
        .trace_id
        .clone()
        .or_else(|| header(headers, "x-ms-request-id"))
    {
        e = e.with_context("request_id", id);
    }
    if let Some(id) = t.correlation_id {
        e = e.with_context("correlation_id", id);
    }
    e
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn graph_error_body_gives_code_message_and_request_id() {
        let body = br#"{"error":{"code":"ErrorEntityNotFound","message":"Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.","innerError":{"date":"2024-07-03T10:00:00","request-id":"r-123","client-request-id":"c-456"}}}"#;
        let g = GraphError::parse(&HeaderMap::new(), body);
        assert_eq!(g.code.as_deref(), Some("ErrorEntityNotFound"));
        assert_eq!(g.request_id.as_deref(), Some("r-123"));
        assert_eq!(g.client_request_id.as_deref(), Some("c-456"));
        assert!(g.is(NO_PHOTO_CODES));
    }

    #[test]
    fn nested_inner_errors_are_collected() {
        let body = br#"{"error":{"code":"activityLimitReached","message":"","innerError":{"code":"throttledRequest","request-id":"r","innerError":{"code":"quota"}}}}"#;
        let g = GraphError::parse(&HeaderMap::new(), body);
        assert_eq!(g.inner_codes, vec!["throttledRequest", "quota"]);
        assert_eq!(g.message, None, "an empty message is no message");
    }

    #[test]
    fn non_json_bodies_are_tolerated() {
        let h = headers(&[("request-id", "hdr-1")]);
        let g = GraphError::parse(&h, b"<html><body>502 Bad Gateway</body></html>");
        assert_eq!(g.code, None);
        assert_eq!(g.request_id.as_deref(), Some("hdr-1"));
        assert!(g.message.unwrap().contains("502 Bad Gateway"));
        let g = GraphError::parse(&h, &[0xff, 0xfe, 0x00]);
        assert!(g.message.unwrap().contains("binary"));
        assert_eq!(GraphError::parse(&h, b"").message, None);
        let e = graph_error("PUT photo", StatusCode::BAD_GATEWAY, &h, b"oops");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
    }

    #[test]
    fn service_unavailable_keeps_its_retry_after_but_is_no_throttling() {
        let body = br#"{"error":{"code":"serviceNotAvailable","message":"busy"}}"#;
        let e = graph_error(
            "PUT photo",
            StatusCode::SERVICE_UNAVAILABLE,
            &headers(&[("retry-after", "12")]),
            body,
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable, "about this request only");
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(12)));
        let e = graph_error(
            "PUT photo",
            StatusCode::GATEWAY_TIMEOUT,
            &HeaderMap::new(),
            body,
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), None);
    }

    #[test]
    fn forbidden_carries_permission_advice_and_ids() {
        let body = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"request-id":"r-9"}}}"#;
        let e = graph_error("PUT photo", StatusCode::FORBIDDEN, &HeaderMap::new(), body);
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert!(!e.is_temporary());
        assert!(e.message().contains("ProfilePhoto.ReadWrite.All"));
        assert_eq!(e.context_value("code"), Some("Authorization_RequestDenied"));
        assert_eq!(e.context_value("request_id"), Some("r-9"));
    }

    #[test]
    fn token_errors_get_advice_for_common_aadsts_codes() {
        for (code, needle) in [
            (700016u64, "client_id"),
            (7000215, "secret's Value"),
            (700027, "certificate is not registered"),
        ] {
            let body = format!(
                r#"{{"error":"invalid_client","error_description":"AADSTS{code}: something.\r\nTrace ID: t\r\nCorrelation ID: c","error_codes":[{code}],"trace_id":"t-1","correlation_id":"c-1"}}"#
            );
            let e = token_error(StatusCode::UNAUTHORIZED, &HeaderMap::new(), body.as_bytes());
            assert_eq!(e.kind(), ErrorKind::Auth);
            assert!(!e.is_temporary());
            assert!(e.message().contains(needle), "{code}: {}", e.message());
            assert!(!e.message().contains("Trace ID"), "only the first line");
            assert_eq!(
                e.context_value("code"),
                Some(format!("AADSTS{code}").as_str())
            );
            assert_eq!(e.context_value("request_id"), Some("t-1"));
        }
    }

    #[test]
    fn token_error_without_json_is_still_an_error() {
        let e = token_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"Service Unavailable",
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert!(e.message().contains("Service Unavailable"));
    }
}
