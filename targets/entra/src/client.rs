//! A small Graph client: URLs built safely, a bearer token on every request, a fresh
//! `client-request-id` on every request, and one retry with a new token when Graph says the
//! token is no longer valid.
//!
//! Retries for throttling and outages are deliberately *not* here: the core layers do them for
//! every target alike. This module only makes single requests and reports what happened.

use std::fmt;

use picday_core::{Error, Result};
use picday_http::{AsciiSet, SEGMENT, encode_segment_with};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::auth::Authenticator;
use crate::error::{GraphError, graph_error};

/// What Graph needs escaped: [`picday_http::SEGMENT`] but for `@`, which Graph routes by in
/// user principal names. `#` (guest UPNs), `'`, `+`, `$`, `/`, `?` and `%` are all escaped.
const GRAPH: &AsciiSet = &SEGMENT.remove(b'@');

/// Percent-encodes a URL path segment: everything but RFC 3986 unreserved characters and `@`
/// (and `.` and `..` as a whole, which would be path steps).
pub fn encode_segment(value: &str) -> String {
    encode_segment_with(value, GRAPH)
}

/// Percent-encodes a query value (spaces as `%20`, `+` as `%2B`).
pub fn encode_query(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, GRAPH).to_string()
}

/// An OData string literal: single quotes, with quotes inside doubled.
pub fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A Graph response that arrived (any status).
#[derive(Debug)]
pub struct GraphResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The `client-request-id` this request was sent with.
    pub client_request_id: String,
}

impl GraphResponse {
    /// Graph's parsed error body.
    pub fn graph_error(&self) -> GraphError {
        GraphError::parse(&self.headers, &self.body)
    }

    /// Graph's `request-id` header.
    pub fn request_id(&self) -> Option<String> {
        self.headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The failure as picday's error, with Graph's code, message and ids as context.
    pub fn error(&self, what: &str) -> Error {
        let e = graph_error(what, self.status, &self.headers, &self.body);
        if e.context_value("client_request_id").is_none() {
            e.with_context("client_request_id", self.client_request_id.clone())
        } else {
            e
        }
    }
}

/// Talks to one Graph endpoint for one application.
pub struct GraphClient {
    http: reqwest::Client,
    auth: Authenticator,
    /// `https://graph.microsoft.com`
    root: String,
    /// `https://graph.microsoft.com/v1.0`
    base: String,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base)
            .field("auth", &self.auth)
            .finish()
    }
}

impl GraphClient {
    pub fn new(http: reqwest::Client, auth: Authenticator, graph_url: &str) -> Self {
        GraphClient {
            http,
            auth,
            root: graph_url.to_string(),
            base: format!("{graph_url}/v1.0"),
        }
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }

    /// `https://graph.../v1.0`
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends one request to `{base}{path}` (path already encoded). A 401 for a token Graph
    /// considers invalid or expired is retried once with a fresh token; every other status is
    /// returned for the caller to interpret.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&[u8], &'static str)>,
    ) -> Result<GraphResponse> {
        let url = format!("{}{path}", self.base);
        self.send_to(method, url, path, body).await
    }

    /// Like [`GraphClient::send`], to Graph's `beta` version: only for what `v1.0` does not
    /// have (the tenant's photo update settings), and only where a failure is harmless.
    pub async fn send_beta(&self, method: Method, path: &str) -> Result<GraphResponse> {
        let url = format!("{}/beta{path}", self.root);
        self.send_to(method, url, path, None).await
    }

    async fn send_to(
        &self,
        method: Method,
        url: String,
        path: &str,
        body: Option<(&[u8], &'static str)>,
    ) -> Result<GraphResponse> {
        let what = format!("{method} {path}");
        let mut client_request_id = String::new();
        let response = picday_http::send_with_token(
            &self.auth,
            &what,
            || {
                client_request_id = picday_http::request_id();
                let req = self
                    .http
                    .request(method.clone(), &url)
                    .header("client-request-id", &client_request_id)
                    .header("return-client-request-id", "true");
                match body {
                    Some((bytes, content_type)) => req
                        .header(reqwest::header::CONTENT_TYPE, content_type)
                        .body(bytes.to_vec()),
                    None if method == Method::PUT || method == Method::POST => {
                        req.header(reqwest::header::CONTENT_LENGTH, "0")
                    }
                    None => req,
                }
            },
            |r| {
                // Graph's own 401s about the token carry this code, or no body at all.
                let g = GraphError::parse(&r.headers, &r.body);
                g.code.is_none() || g.is(&["InvalidAuthenticationToken"])
            },
        )
        .await?;
        Ok(GraphResponse {
            status: response.status,
            headers: response.headers,
            body: response.body,
            client_request_id,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn segments_escape_what_breaks_graph_routing() {
        assert_eq!(
            encode_segment("jo_x#EXT#@school.onmicrosoft.com"),
            "jo_x%23EXT%23@school.onmicrosoft.com"
        );
        assert_eq!(encode_segment("o'brien@x.org"), "o%27brien@x.org");
        assert_eq!(encode_segment("a+b@x.org"), "a%2Bb@x.org");
        assert_eq!(encode_segment("$admin@x.org"), "%24admin@x.org");
        assert_eq!(encode_segment("a/b?c%d e"), "a%2Fb%3Fc%25d%20e");
        assert_eq!(encode_segment("é@x"), "%C3%A9@x");
    }

    #[test]
    fn odata_strings_double_quotes() {
        assert_eq!(odata_string("o'brien@x.org"), "'o''brien@x.org'");
        assert_eq!(
            encode_query(&format!("mail eq {}", odata_string("o'b+c@x"))),
            "mail%20eq%20%27o%27%27b%2Bc@x%27"
        );
    }
}
