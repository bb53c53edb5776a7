//! A stateful fake of the parts of Microsoft Graph and the identity platform that picday uses,
//! on 127.0.0.1, for the conformance suite and the benchmark.
//!
//! mockito answers each request from a fixed script; this fake keeps users and photos, so that
//! a GET after a PUT returns what was stored, like Graph. It answers as Graph documents it:
//! `200` with an empty body for a photo upload, `404 ImageNotFound` for a user without a
//! photo, `404 Request_ResourceNotFound` for an unknown user, `401 InvalidAuthenticationToken`
//! for a missing or unknown token, `429` with `Retry-After` and Graph's error JSON when the
//! write quota is spent, and a `request-id` header on every answer. It can add latency to every
//! request and enforce a write quota (a token bucket, like Graph's identity write limits).
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

    /// How many users hold a photo.
    pub fn photo_count(&self) -> usize {
        self.state.lock().unwrap().photos.len()
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
                    return graph_error(429, "TooManyRequests", "")
                        .with_header("retry-after", wait.to_string());
                }
                self.state
                    .lock()
                    .unwrap()
                    .photos
                    .insert(user.id.clone(), body.to_vec());
                self.stats.writes_accepted.fetch_add(1, Ordering::SeqCst);
                Reply::empty(200)
            }
            ("GET", "photo/$value") => match self.state.lock().unwrap().photos.get(&user.id) {
                Some(p) => Reply {
                    status: 200,
                    content_type: Some("image/jpeg"),
                    headers: Vec::new(),
                    body: p.clone(),
                },
                None => no_photo(),
            },
            ("DELETE", "photo/$value") => {
                if let Some(wait) = self.spend_write() {
                    return graph_error(429, "TooManyRequests", "")
                        .with_header("retry-after", wait.to_string());
                }
                match self.state.lock().unwrap().photos.remove(&user.id) {
                    Some(_) => Reply::empty(200),
                    None => no_photo(),
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
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match percent_decode(k).as_str() {
                "$filter" => filter = Some(percent_decode(v)),
                "$top" => top = v.parse::<usize>().ok(),
                _ => {}
            }
        }
        let matches: Vec<&User> = match &filter {
            None => s.users.iter().take(top.unwrap_or(100)).collect(),
            Some(f) => {
                let Some((prop, literal)) = parse_eq(f) else {
                    return graph_error(400, "Request_UnsupportedQuery", "Unsupported Query.");
                };
                s.users
                    .iter()
                    .filter(|u| match prop.as_str() {
                        "mail" => u.mail.eq_ignore_ascii_case(&literal),
                        "userPrincipalName" => u.upn.eq_ignore_ascii_case(&literal),
                        _ => false,
                    })
                    .collect()
            }
        };
        let value: Vec<String> = matches
            .iter()
            .map(|u| format!(r#"{{"id":"{}","userPrincipalName":"{}"}}"#, u.id, u.upn))
            .collect();
        Reply::json(
            200,
            format!(
                r#"{{"@odata.context":"$metadata#users(id,userPrincipalName)","value":[{}]}}"#,
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

fn no_photo() -> Reply {
    graph_error(
        404,
        "ImageNotFound",
        "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
    )
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
        _ => "Status",
    }
}
