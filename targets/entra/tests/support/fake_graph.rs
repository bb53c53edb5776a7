//! A stateful fake of the parts of Microsoft Graph and the identity platform that picday uses,
//! on 127.0.0.1, for the conformance suite and the benchmark.
//!
//! mockito answers each request from a fixed script; this fake keeps users and photos, so that
//! a GET after a PUT returns what was stored, like Graph. It answers as Graph does, each form
//! with its source:
//!
//! - `200` with an empty body for a photo upload (profilephoto-update);
//! - the photo's metadata (`GET /users/{id}/photo`: size id, width, height, content type,
//!   etag; profilephoto-get) for a user with a photo;
//! - a user without a photo: `404` with any of the codes real tenants have used
//!   ([`NoPhoto`]; sources on each variant);
//! - a user whose photo Graph cannot read (no Exchange Online mailbox): [`Quirk::Unreadable`];
//! - a user without a mailbox whose upload is refused with a bare `404` ([`Quirk::PutRefused`],
//!   microsoft-graph-docs#8236, which reports the status but not the body);
//! - `404 Request_ResourceNotFound` for an unknown user (Graph errors reference,
//!   msgraph-sdk-dotnet#1101), `401 InvalidAuthenticationToken` for a missing or unknown token;
//! - `429` with `Retry-After` and Graph's error JSON when the write quota is spent
//!   (learn.microsoft.com/graph/throttling);
//! - `503 serviceNotAvailable` with `Retry-After` for a share of the writes, or for every
//!   request during a storm (learn.microsoft.com/graph/errors: "may repeat after a delay ...
//!   may be specified in a Retry-After header");
//! - a `request-id` header on every answer, the caller's `client-request-id` echoed, and both
//!   in `innerError` (learn.microsoft.com/graph/errors);
//! - the user list `GET /users?$select=...&$top=N` in pages with `@odata.nextLink` (a
//!   `$skiptoken` URL; learn.microsoft.com/graph/paging), `mail` and `proxyAddresses` when
//!   selected (user resource), and `$filter` on `userPrincipalName`, `mail` and
//!   `proxyAddresses/any(x:x eq '...')` (user resource, $filter docs), compared without regard
//!   to case as the directory does.
//!
//! It can add latency to every request and enforce a write quota (a token bucket, like Graph's
//! identity write limits).
//!
//! Simplification, said plainly: Graph re-encodes uploaded photos; this fake stores the bytes
//! as sent, so tests can compare them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// One user of the fake tenant.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub upn: String,
    pub mail: String,
    /// `SMTP:primary@...`, `smtp:alias@...`, `x500:...`
    pub proxy_addresses: Vec<String>,
    pub quirk: Quirk,
}

impl User {
    pub fn new(id: impl Into<String>, upn: impl Into<String>, mail: impl Into<String>) -> Self {
        User {
            id: id.into(),
            upn: upn.into(),
            mail: mail.into(),
            proxy_addresses: Vec::new(),
            quirk: Quirk::None,
        }
    }
    pub fn with_proxies(mut self, proxies: &[&str]) -> Self {
        self.proxy_addresses = proxies.iter().map(|p| p.to_string()).collect();
        self
    }
    pub fn with_quirk(mut self, quirk: Quirk) -> Self {
        self.quirk = quirk;
        self
    }
}

/// How Graph says "this user has no photo" (all `404`). The forms are those reported in
/// msgraph-sdk-dotnet-core#851 (`ImageNotFound`, and `ErrorEntityNotFound` with
/// ImageNotFoundException, also the Graph errors page's example), microsoft-graph-docs#2248,
/// microsoft-graph-docs-contrib#7939 (`ErrorItemNotFound` "The photo wasn't found.", with
/// `ConsumerPhotoIsNotSupported`) and msgraph-sample-aspnet-core#10 (`GetUserPhoto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPhoto {
    ImageNotFound,
    ErrorEntityNotFound,
    ErrorItemNotFound,
    GetUserPhoto,
    /// `ErrorItemNotFound` with `ConsumerPhotoIsNotSupported` inside.
    ConsumerPhoto,
}

/// What is unusual about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    None,
    /// Without a photo, reads answer this form of 404.
    NoPhoto(NoPhoto),
    /// Reads of the photo are refused with this code: `AuthenticationError` (400, "Error
    /// authenticating with resource": microsoft-graph-docs#8877, #4002),
    /// `MailboxNotEnabledForRESTAPI` (microsoft-graph-docs-contrib#405),
    /// `MailboxNotHostedInExchangeOnline` (msgraph-sdk-dotnet#688). Uploads still work.
    Unreadable(&'static str),
    /// Uploads are answered with a bare 404 (an Entra-only user, microsoft-graph-docs#8236).
    PutRefused,
}

/// A write quota: `rate` writes per second, up to `burst` at once.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub rate: f64,
    pub burst: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What the fake counted.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub writes_accepted: AtomicU64,
    pub throttled: AtomicU64,
    /// Answered `503` (a share of the writes, or a storm).
    pub unavailable: AtomicU64,
    /// Photo requests (reads, writes, removals), user lookups and list pages.
    pub photo_requests: AtomicU64,
    /// Lookups of one person: by UPN or id, or a `$filter` search.
    pub lookups: AtomicU64,
    /// Pages of the unfiltered user list.
    pub list_pages: AtomicU64,
    /// Write attempts (PUT/PATCH/DELETE of a photo), whatever the answer.
    pub write_attempts: AtomicU64,
    pub in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
}

#[derive(Debug)]
struct State {
    users: Vec<User>,
    photos: HashMap<String, Vec<u8>>,
    tokens: Vec<String>,
}

/// The fake service.
#[derive(Debug)]
pub struct FakeGraph {
    pub url: String,
    state: Mutex<State>,
    latency: Duration,
    quota: Option<(Quota, Mutex<Bucket>)>,
    pub stats: Stats,
    token_counter: AtomicU64,
    /// Every `n`th write is answered `503` with `Retry-After: 1` (0: never).
    fault_every: AtomicU64,
    /// The next `n` requests (after the token) are answered `503` with `Retry-After: 1`.
    storm: AtomicU64,
    /// Users per page of the user list at most (Graph: `$top` up to 999).
    page_size: AtomicUsize,
}

impl FakeGraph {
    /// Starts a fake with these users, answering every request after `latency`.
    pub async fn start(users: Vec<User>, latency: Duration, quota: Option<Quota>) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let fake = Arc::new(FakeGraph {
            url: format!("http://{addr}"),
            state: Mutex::new(State {
                users,
                photos: HashMap::new(),
                tokens: Vec::new(),
            }),
            latency,
            quota: quota.map(|q| {
                (
                    q,
                    Mutex::new(Bucket {
                        tokens: q.burst,
                        at: Instant::now(),
                    }),
                )
            }),
            stats: Stats::default(),
            token_counter: AtomicU64::new(0),
            fault_every: AtomicU64::new(0),
            storm: AtomicU64::new(0),
            page_size: AtomicUsize::new(999),
        });
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let _ = server.serve(stream).await;
                });
            }
        });
        fake
    }

    /// The photo stored for a user, looked up by mail or UPN (not through Graph's API).
    pub fn photo_of(&self, key: &str) -> Option<Vec<u8>> {
        let s = self.state.lock().unwrap();
        let user = s.users.iter().find(|u| {
            u.mail.eq_ignore_ascii_case(key) || u.upn.eq_ignore_ascii_case(key) || u.id == key
        })?;
        s.photos.get(&user.id).cloned()
    }

    /// Deletes a user (as an administrator would, mid-run).
    pub fn remove_user(&self, id: &str) {
        self.state.lock().unwrap().users.retain(|u| u.id != id);
    }

    /// How many users hold a photo.
    pub fn photo_count(&self) -> usize {
        self.state.lock().unwrap().photos.len()
    }

    /// Answers every `n`th photo write with `503 serviceNotAvailable` and `Retry-After: 1`.
    pub fn fail_every_nth_write(&self, n: u64) {
        self.fault_every.store(n, Ordering::SeqCst);
    }

    /// Answers the next `n` Graph requests with `503` and `Retry-After: 1`.
    pub fn storm(&self, n: u64) {
        self.storm.store(n, Ordering::SeqCst);
    }

    /// Serves the user list in pages of at most `n` users.
    pub fn set_page_size(&self, n: usize) {
        self.page_size.store(n.max(1), Ordering::SeqCst);
    }

    /// Revokes every token issued so far (as if they had expired).
    pub fn expire_tokens(&self) {
        self.state.lock().unwrap().tokens.clear();
    }

    async fn serve(self: Arc<Self>, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let target = parts.next().unwrap_or("").to_string();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).await?;
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).await?;

            let n = self.stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.stats.peak_in_flight.fetch_max(n, Ordering::SeqCst);
            self.stats.requests.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.latency).await;
            let reply = self.answer(&method, &target, &headers, &body);
            self.stats.in_flight.fetch_sub(1, Ordering::SeqCst);

            let request_id = format!("fake-{}", self.stats.requests.load(Ordering::SeqCst));
            let mut head = format!(
                "HTTP/1.1 {} {}\r\ncontent-length: {}\r\nrequest-id: {request_id}\r\n",
                reply.status,
                reason(reply.status),
                reply.body.len()
            );
            if let Some(crid) = headers.get("client-request-id") {
                head.push_str(&format!("client-request-id: {crid}\r\n"));
            }
            if let Some(ct) = reply.content_type {
                head.push_str(&format!("content-type: {ct}\r\n"));
            }
            for (k, v) in &reply.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            write.write_all(head.as_bytes()).await?;
            write.write_all(&reply.body).await?;
            write.flush().await?;
        }
    }

    fn answer(
        &self,
        method: &str,
        target: &str,
        headers: &HashMap<String, String>,
        body: &[u8],
    ) -> Reply {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if method == "POST" && path.ends_with("/oauth2/v2.0/token") {
            return self.token(body);
        }
        let bearer = headers
            .get("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::to_string);
        let valid = bearer.is_some_and(|t| self.state.lock().unwrap().tokens.contains(&t));
        if !valid {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            );
        }
        if self
            .storm
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.stats.unavailable.fetch_add(1, Ordering::SeqCst);
            return unavailable();
        }
        let Some(rest) = path.strip_prefix("/v1.0/users") else {
            return graph_error(400, "BadRequest", "Invalid version.");
        };
        if rest.is_empty() {
            return self.list_users(query);
        }
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let (segment, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let key = percent_decode(segment);
        let user = {
            let s = self.state.lock().unwrap();
            s.users
                .iter()
                .find(|u| u.id == key || u.upn.eq_ignore_ascii_case(&key))
                .cloned()
        };
        let Some(user) = user else {
            return graph_error(
                404,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
                ),
            );
        };
        if tail.is_empty() {
            self.stats.lookups.fetch_add(1, Ordering::SeqCst);
        } else {
            self.stats.photo_requests.fetch_add(1, Ordering::SeqCst);
        }
        let writes = matches!(method, "PUT" | "PATCH" | "DELETE") && tail == "photo/$value";
        if writes {
            let n = self.stats.write_attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let every = self.fault_every.load(Ordering::SeqCst);
            if every > 0 && n.is_multiple_of(every) {
                self.stats.unavailable.fetch_add(1, Ordering::SeqCst);
                return unavailable();
            }
        }
        match (method, tail) {
            ("GET", "") => Reply::json(
                200,
                format!(
                    r#"{{"id":"{}","userPrincipalName":"{}"}}"#,
                    user.id, user.upn
                ),
            ),
            ("PUT" | "PATCH", "photo/$value") => {
                if !headers
                    .get("content-type")
                    .is_some_and(|c| c.starts_with("image/"))
                {
                    return graph_error(500, "ErrorInternalServerError", "");
                }
                if let Some(wait) = self.spend_write() {
                    return too_many(wait);
                }
                if user.quirk == Quirk::PutRefused {
                    return Reply::empty(404);
                }
                self.state
                    .lock()
                    .unwrap()
                    .photos
                    .insert(user.id.clone(), body.to_vec());
                self.stats.writes_accepted.fetch_add(1, Ordering::SeqCst);
                Reply::empty(200)
            }
            ("GET", "photo/$value") => {
                if let Quirk::Unreadable(code) = user.quirk {
                    return unreadable(code);
                }
                match self.state.lock().unwrap().photos.get(&user.id) {
                    Some(p) => Reply {
                        status: 200,
                        content_type: Some("image/jpeg"),
                        headers: Vec::new(),
                        body: p.clone(),
                    },
                    None => no_photo(user.quirk),
                }
            }
            // The metadata, not the bytes (profilephoto-get): `id` is the size, `width` and
            // `height`, the content type and an etag; no photo answers as `$value` does.
            ("GET", "photo") => {
                if let Quirk::Unreadable(code) = user.quirk {
                    return unreadable(code);
                }
                match self.state.lock().unwrap().photos.get(&user.id) {
                    Some(p) => Reply::json(
                        200,
                        format!(
                            r#"{{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users('{id}')/photo/$entity","@odata.mediaContentType":"image/jpeg","@odata.mediaEtag":"W/\"{len:x}\"","id":"648X648","width":648,"height":648}}"#,
                            id = user.id,
                            len = p.len()
                        ),
                    ),
                    None => no_photo(user.quirk),
                }
            }
            ("DELETE", "photo/$value") => {
                if let Some(wait) = self.spend_write() {
                    return too_many(wait);
                }
                match self.state.lock().unwrap().photos.remove(&user.id) {
                    Some(_) => Reply::empty(200),
                    None => no_photo(user.quirk),
                }
            }
            _ => graph_error(
                405,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            ),
        }
    }

    fn token(&self, body: &[u8]) -> Reply {
        self.stats.token_requests.fetch_add(1, Ordering::SeqCst);
        let form = String::from_utf8_lossy(body);
        if !form.contains("grant_type=client_credentials") {
            return Reply::json(
                400,
                r#"{"error":"unsupported_grant_type","error_description":"AADSTS70003: The app requested an unsupported grant type.","error_codes":[70003]}"#.into(),
            );
        }
        let n = self.token_counter.fetch_add(1, Ordering::SeqCst);
        let token = format!("fake-token-{n}");
        self.state.lock().unwrap().tokens.push(token.clone());
        Reply::json(
            200,
            format!(
                r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{token}"}}"#
            ),
        )
    }

    fn list_users(&self, query: &str) -> Reply {
        let s = self.state.lock().unwrap();
        let mut filter = None;
        let mut top = None;
        let mut skip = 0;
        let mut select = String::from("id,userPrincipalName");
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match percent_decode(k).as_str() {
                "$filter" => filter = Some(percent_decode(v)),
                "$top" => top = v.parse::<usize>().ok(),
                "$select" => select = percent_decode(v),
                // Graph's skip tokens are opaque; this fake's is an offset.
                "$skiptoken" => skip = v.parse::<usize>().unwrap_or(0),
                _ => {}
            }
        }
        // A filtered search is one person's lookup; a page without a filter is the listing.
        let counter = if filter.is_some() {
            &self.stats.lookups
        } else {
            &self.stats.list_pages
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let fields: Vec<&str> = select.split(',').map(str::trim).collect();
        let (matches, next): (Vec<&User>, Option<usize>) = match &filter {
            None => {
                let page = top
                    .unwrap_or(100)
                    .min(self.page_size.load(Ordering::SeqCst));
                let end = (skip + page).min(s.users.len());
                let next = (end < s.users.len()).then_some(end);
                (s.users[skip.min(end)..end].iter().collect(), next)
            }
            Some(f) => {
                let Some((prop, literal)) = parse_filter(f) else {
                    return graph_error(400, "Request_UnsupportedQuery", "Unsupported Query.");
                };
                let found = s
                    .users
                    .iter()
                    .filter(|u| match prop.as_str() {
                        "mail" => u.mail.eq_ignore_ascii_case(&literal),
                        "userPrincipalName" => u.upn.eq_ignore_ascii_case(&literal),
                        "proxyAddresses" => u
                            .proxy_addresses
                            .iter()
                            .any(|p| p.eq_ignore_ascii_case(&literal)),
                        _ => false,
                    })
                    .collect();
                (found, None)
            }
        };
        let value: Vec<String> = matches.iter().map(|u| user_json(u, &fields)).collect();
        let next_link = next
            .map(|n| {
                format!(
                    r#","@odata.nextLink":"{}/v1.0/users?$select={select}&$top={}&$skiptoken={n}""#,
                    self.url,
                    top.unwrap_or(100)
                )
            })
            .unwrap_or_default();
        Reply::json(
            200,
            format!(
                r#"{{"@odata.context":"$metadata#users({select})","value":[{}]{next_link}}}"#,
                value.join(",")
            ),
        )
    }

    /// Takes one write from the bucket, or says how many whole seconds to wait.
    fn spend_write(&self) -> Option<u64> {
        let (q, bucket) = self.quota.as_ref()?;
        let mut b = bucket.lock().unwrap();
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * q.rate).min(q.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            None
        } else {
            self.stats.throttled.fetch_add(1, Ordering::SeqCst);
            Some((((1.0 - b.tokens) / q.rate).ceil() as u64).max(1))
        }
    }
}

/// A user as Graph lists it, with the selected properties (a user without mail has
/// `"mail":null`; `proxyAddresses` is always a list).
fn user_json(u: &User, fields: &[&str]) -> String {
    let quoted = |v: &str| format!("\"{v}\"");
    let mut out = Vec::new();
    for f in fields {
        let value = match *f {
            "id" => quoted(&u.id),
            "userPrincipalName" => quoted(&u.upn),
            "mail" if u.mail.is_empty() => "null".into(),
            "mail" => quoted(&u.mail),
            "proxyAddresses" => format!(
                "[{}]",
                u.proxy_addresses
                    .iter()
                    .map(|p| quoted(p))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            _ => continue,
        };
        out.push(format!("\"{f}\":{value}"));
    }
    format!("{{{}}}", out.join(","))
}

/// `prop eq 'literal'`, or `proxyAddresses/any(x:x eq 'literal')`.
fn parse_filter(filter: &str) -> Option<(String, String)> {
    if let Some(inner) = filter
        .strip_prefix("proxyAddresses/any(x:x eq ")
        .and_then(|r| r.strip_suffix(')'))
    {
        let (_, literal) = parse_eq(&format!("x eq {inner}"))?;
        return Some(("proxyAddresses".into(), literal));
    }
    parse_eq(filter)
}

/// `prop eq 'literal'` with doubled quotes inside the literal.
fn parse_eq(filter: &str) -> Option<(String, String)> {
    let (prop, rest) = filter.split_once(" eq ")?;
    let inner = rest.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    if inner.replace("''", "").contains('\'') {
        return None;
    }
    Some((prop.trim().to_string(), inner.replace("''", "'")))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Reply {
    status: u16,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: String) -> Self {
        Reply {
            status,
            content_type: Some("application/json"),
            headers: Vec::new(),
            body: body.into_bytes(),
        }
    }
    fn empty(status: u16) -> Self {
        Reply {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    fn with_header(mut self, k: &'static str, v: String) -> Self {
        self.headers.push((k, v));
        self
    }
}

fn graph_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        format!(
            r#"{{"error":{{"code":"{code}","message":"{}","innerError":{{"date":"2024-07-03T10:00:00","request-id":"inner-req","client-request-id":"inner-client"}}}}}}"#,
            message.replace('"', "'")
        ),
    )
}

fn no_photo(quirk: Quirk) -> Reply {
    let (code, message) = match quirk {
        Quirk::NoPhoto(NoPhoto::ErrorEntityNotFound) => (
            "ErrorEntityNotFound",
            "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
        ),
        Quirk::NoPhoto(NoPhoto::ErrorItemNotFound) => {
            ("ErrorItemNotFound", "The photo wasn't found.")
        }
        Quirk::NoPhoto(NoPhoto::GetUserPhoto) => ("GetUserPhoto", "Not Found"),
        Quirk::NoPhoto(NoPhoto::ConsumerPhoto) => {
            return Reply::json(
                404,
                r#"{"error":{"code":"ErrorItemNotFound","message":"The photo wasn't found.","innerError":{"code":"ConsumerPhotoIsNotSupported","date":"2024-07-03T10:00:00","request-id":"inner-req","client-request-id":"inner-client"}}}"#.into(),
            );
        }
        _ => (
            "ImageNotFound",
            "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
        ),
    };
    graph_error(404, code, message)
}

/// A photo read Graph refuses for a user without an Exchange Online mailbox.
fn unreadable(code: &str) -> Reply {
    let message = match code {
        "AuthenticationError" => "Error authenticating with resource",
        "MailboxNotEnabledForRESTAPI" => {
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
        }
        _ => "The mailbox is not hosted in Exchange Online.",
    };
    graph_error(400, code, message)
}

/// The write quota is spent (learn.microsoft.com/graph/throttling: 429 with Retry-After; the
/// nested codes as in the throttling page's example).
fn too_many(wait: u64) -> Reply {
    Reply::json(
        429,
        r#"{"error":{"code":"TooManyRequests","message":"","innerError":{"code":"throttledRequest","date":"2024-07-03T10:00:00","request-id":"inner-req","client-request-id":"inner-client","innerError":{"code":"quota"}}}}"#.into(),
    )
    .with_header("retry-after", wait.to_string())
}

/// A transient outage (learn.microsoft.com/graph/errors: 503 "may repeat after a delay ... may
/// be specified in a Retry-After header").
fn unavailable() -> Reply {
    graph_error(
        503,
        "serviceNotAvailable",
        "Service unavailable, please try again later.",
    )
    .with_header("retry-after", "1".into())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
