//! Google's error bodies, and what they mean for picday.
//!
//! The Directory API answers failures with `{"error":{"code":..,"message":..,"errors":[{"reason":
//! ..}],"status":..}}`, but its front ends also send HTML pages and plain text ("Request rate
//! higher than configured", "Quota exceeded for ..."), so nothing here assumes JSON. The same HTTP
//! status means different things depending on the reason: a 403 is a rate limit when the reason
//! is `userRateLimitExceeded` and a missing privilege when it is `forbidden`. This module turns a
//! response into picday's [`Error`], keeping `error.code`, `errors[0].reason` and the message for
//! the report, so that the layers retry what Google says is temporary and nothing else.

use picday_core::{Error, ErrorKind};
use picday_http::{ServiceError, body_excerpt, response_error};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

/// What a Google error body said. Every field is optional: the body may not be JSON at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoogleError {
    /// `error.code`, the HTTP status Google repeats in the body.
    pub code: Option<u16>,
    /// `errors[0].reason`, e.g. `userRateLimitExceeded`, `notFound`, `invalid`.
    pub reason: Option<String>,
    /// `error.message`, else `errors[0].message`, else an excerpt of a non-JSON body.
    pub message: Option<String>,
    /// `error.status`, e.g. `PERMISSION_DENIED`.
    pub status: Option<String>,
    /// The body was not a Google JSON error.
    pub not_json: bool,
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    errors: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl GoogleError {
    /// Parses a response body, tolerating anything that is not Google's JSON error.
    pub fn parse(body: &[u8]) -> GoogleError {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => {
                let first = error.errors.into_iter().next();
                let (reason, item_message) = match first {
                    Some(i) => (i.reason, i.message),
                    None => (None, None),
                };
                GoogleError {
                    code: error.code,
                    reason: reason.filter(|r| !r.is_empty()),
                    message: error
                        .message
                        .filter(|m| !m.trim().is_empty())
                        .or(item_message),
                    status: error.status,
                    not_json: false,
                }
            }
            Err(_) => {
                let text = body_excerpt(body);
                GoogleError {
                    message: (!text.is_empty()).then_some(text),
                    not_json: true,
                    ..GoogleError::default()
                }
            }
        }
    }

    fn reason_is(&self, reasons: &[&str]) -> bool {
        self.reason.as_deref().is_some_and(|r| reasons.contains(&r))
    }

    fn message_contains(&self, needle: &str) -> bool {
        self.message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains(needle))
    }

    /// A 404 about the user (`Resource Not Found: userKey`, `userNotFound`) rather than about
    /// the photo: the user does not exist (or is outside the domain).
    pub fn is_unknown_user(&self) -> bool {
        self.reason_is(&["userNotFound"])
            || (self.message_contains("userkey") && !self.message_contains("photo"))
    }

    /// The kind of failure: [`picday_protocol::kind_for_status`], refined by the reason (a 403
    /// may be a rate limit) and for 412.
    pub fn kind(&self, status: StatusCode) -> ErrorKind {
        const RATE: &[&str] = &[
            "userRateLimitExceeded",
            "rateLimitExceeded",
            "quotaExceeded",
            "dailyLimitExceeded",
        ];
        match status.as_u16() {
            403 if self.reason_is(RATE) => ErrorKind::Throttled,
            // Plain-text 403s from Google's front end ("Request rate higher than configured").
            403 if self.not_json
                && (self.message_contains("rate") || self.message_contains("quota")) =>
            {
                ErrorKind::Throttled
            }
            // A failed precondition (an etag that no longer matches): the request, not the
            // protocol, is wrong.
            412 => ErrorKind::Rejected,
            s => picday_protocol::kind_for_status(s),
        }
    }

    /// picday's error for a failed call `what`: kind, temporary (throttled, 5xx), Retry-After,
    /// and Google's code, reason and status as context.
    pub fn to_error(&self, what: &str, status: StatusCode, headers: &HeaderMap) -> Error {
        let kind = self.kind(status);
        let service = ServiceError {
            code: self.reason.clone(),
            message: self.message.clone().map(|m| advice(kind, self, &m)),
            request_id: None,
        };
        let mut e = response_error(what, status, headers, &service, Some(kind));
        if let Some(code) = self.code {
            e = e.with_context("error_code", code.to_string());
        }
        if let Some(s) = &self.status {
            e = e.with_context("status", s.clone());
        }
        e
    }
}

/// Adds what to do to the messages whose fix is known.
fn advice(kind: ErrorKind, g: &GoogleError, message: &str) -> String {
    if kind == ErrorKind::Permission && g.reason_is(&["forbidden"]) {
        format!(
            "{message} (the user may be outside the domain, or the administrator picday acts as \
             lacks a role that can manage users)"
        )
    } else if kind == ErrorKind::Rejected && g.message_contains("photodata") {
        format!("{message} (Google refused the image bytes)")
    } else {
        message.to_string()
    }
}

/// picday's error for a failed response.
pub fn api_error(what: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    GoogleError::parse(body).to_error(what, status, headers)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> Error {
        api_error(
            "PUT photo",
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    fn google(code: u16, reason: &str, message: &str, status: &str) -> String {
        serde_json::json!({"error": {
            "code": code, "message": message, "status": status,
            "errors": [{"message": message, "domain": "global", "reason": reason}]
        }})
        .to_string()
    }

    #[test]
    fn rate_limit_403s_are_throttled_and_temporary() {
        for reason in ["userRateLimitExceeded", "quotaExceeded"] {
            let e = err(
                403,
                &google(403, reason, "Quota exceeded", "PERMISSION_DENIED"),
            );
            assert_eq!(e.kind(), ErrorKind::Throttled, "{reason}");
            assert!(e.is_temporary());
            assert_eq!(e.context_value("code"), Some(reason));
            assert_eq!(e.context_value("error_code"), Some("403"));
            assert_eq!(e.context_value("status"), Some("PERMISSION_DENIED"));
        }
        let e = err(
            429,
            &google(429, "rateLimitExceeded", "Too many", "RESOURCE_EXHAUSTED"),
        );
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert!(e.is_temporary());
    }

    #[test]
    fn forbidden_403_is_a_permanent_permission_error_with_advice() {
        let e = err(
            403,
            &google(
                403,
                "forbidden",
                "Not Authorized to access this resource/api",
                "PERMISSION_DENIED",
            ),
        );
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert!(!e.is_temporary());
        assert!(e.message().contains("Not Authorized"), "{e}");
        assert!(e.message().contains("role"), "{e}");
    }

    #[test]
    fn non_json_bodies_are_tolerated() {
        let e = err(503, "Quota exceeded for the current request");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert!(
            e.message()
                .contains("Quota exceeded for the current request")
        );
        let e = err(403, "Request rate higher than configured.");
        assert_eq!(e.kind(), ErrorKind::Throttled);
        assert!(e.is_temporary());
        let e = err(502, "<html><body>Bad Gateway</body></html>");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let e = err(500, "");
        assert_eq!(e.message(), "PUT photo: HTTP 500");
        let binary = GoogleError::parse(&[0xff, 0xfe, 0x00]);
        assert!(binary.not_json);
    }

    #[test]
    fn statuses_map_as_the_issue_requires() {
        let body = |c: u16, r: &str| google(c, r, "m", "");
        assert_eq!(err(400, &body(400, "invalid")).kind(), ErrorKind::Rejected);
        assert_eq!(err(401, &body(401, "authError")).kind(), ErrorKind::Auth);
        assert_eq!(err(404, &body(404, "notFound")).kind(), ErrorKind::NotFound);
        assert!(!err(404, &body(404, "notFound")).is_temporary());
        assert_eq!(
            err(500, &body(500, "backendError")).kind(),
            ErrorKind::Unavailable
        );
        assert!(err(500, &body(500, "internalError")).is_temporary());
    }

    #[test]
    fn unknown_user_is_told_apart_from_a_missing_photo() {
        let user = GoogleError::parse(
            google(404, "notFound", "Resource Not Found: userKey", "NOT_FOUND").as_bytes(),
        );
        assert!(user.is_unknown_user());
        let photo = GoogleError::parse(
            google(404, "notFound", "Resource Not Found: photo", "NOT_FOUND").as_bytes(),
        );
        assert!(!photo.is_unknown_user());
    }

    #[test]
    fn message_falls_back_to_the_first_item() {
        let g = GoogleError::parse(br#"{"error":{"code":400,"errors":[{"reason":"invalid","message":"Invalid Input: photoData"}]}}"#);
        assert_eq!(g.message.as_deref(), Some("Invalid Input: photoData"));
        assert_eq!(g.reason.as_deref(), Some("invalid"));
        let e = g.to_error("PUT photo", StatusCode::BAD_REQUEST, &HeaderMap::new());
        assert!(e.message().contains("refused the image"), "{e}");
    }
}
