//! `picday review`: a page on 127.0.0.1 where a person fixes, before a push, what the
//! pipeline could not settle: a crop moved and resized on the source (one square every
//! target's shape is derived from), a quarter turn, "retake" (never sent), or "accept as it
//! is". Decisions are saved to `review.toml` as they are made ([`picday_core::review`]), and
//! `push`, `check` and `preview` honour them.
//!
//! One binary, nothing to install: the page, its style and its script are embedded
//! (`review.html`), served by hyper (already built for reqwest) on a random free port of the
//! loopback address only. A random token in every path keeps other local users out, and the
//! `Host` header is checked so that a web page elsewhere cannot reach it through DNS
//! rebinding. Every image the page shows is made by the real pipeline, so what it shows is
//! what a push sends.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use picday_core::pipeline::{FaceBox, Pipeline, Processed, Rect, render_source};
use picday_core::review::{Adjustment, Book, CropBox, Decision, Decisions, Verdict};
use picday_core::{Person, Profile};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::exit::{Outcome, usage};
use crate::setup;

/// The flag `check` and `preview` show for a photo marked for a retake.
pub const RETAKE_FLAG: &str = "marked for a retake on the review page: push will not send it";

/// Whether the person's decision is "retake" (the caller knows it applies to their photo).
pub fn is_retake(book: Option<&Book>, person: &Person) -> bool {
    book.and_then(|b| b.find(&Arc::new(person.clone())))
        .is_some_and(|d| d.verdict == Verdict::Retake)
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not open the page in the default browser (print its address only).
    #[arg(long)]
    pub no_open: bool,
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Only these targets' photo shapes; repeatable.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

/// The longest side of the source image the page shows.
const SOURCE_VIEW: u32 = 900;
/// Rendered crops kept for the page to fetch (each state of each person viewed).
const CACHE: usize = 64;

pub async fn run(config_path: &std::path::Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    let loaded = setup::load(config_path, &args.targets)?;
    let mapping = loaded.input()?.mapping;
    let path = super::review_path(&loaded.config);
    let decisions = Decisions::load(&path).map_err(usage)?;
    let targets: Vec<_> = loaded.targets.iter().map(|(_, t)| t.clone()).collect();
    let book = Book::new(Decisions::default(), targets);
    let profiles = super::profiles_of(loaded.targets.iter().map(|(_, t)| t));
    let shapes: Vec<Shape> = profiles
        .iter()
        .map(|p| Shape {
            width: p.width,
            height: p.height,
            targets: loaded
                .targets
                .iter()
                .filter(|(_, t)| t.info().capabilities.profile == *p)
                .map(|(n, _)| n.clone())
                .collect(),
        })
        .collect();

    // Everyone once, as the pipeline sees them without a decision: the flags, the face.
    let engine = super::engine(&loaded.config);
    let mut people = Vec::new();
    engine
        .process_all(&mapping.people, &profiles, |person, result| {
            let person = Arc::new(person);
            let keys = book.keys(&person);
            let (hash, flags, error) = match &result {
                Ok(p) => (Some(p.source_hash.clone()), p.flags.clone(), None),
                Err(e) => (None, Vec::new(), Some(e.message().to_string())),
            };
            people.push(Entry {
                name: person.label(),
                line: person.origin.line,
                keys: loaded
                    .targets
                    .iter()
                    .filter_map(|(n, t)| Some((n.clone(), t.subject(person.clone()).ok()?.key)))
                    .collect(),
                key: keys.first().cloned(),
                also: keys.into_iter().skip(1).collect(),
                person,
                hash,
                flags,
                error,
            });
        })
        .await;
    // Problems first, then mapping order: the page opens on what needs a person.
    people.sort_by_key(|e| (e.error.is_none(), e.flags.is_empty(), e.line));

    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    let page = Arc::new(Page {
        token: format!("{:032x}", rand::random::<u128>()),
        port,
        config: loaded.config.path.display().to_string(),
        pipeline: engine.pipeline.clone(),
        profiles,
        shapes,
        people,
        decisions: Mutex::new(decisions),
        rendered: Mutex::default(),
        stop: CancellationToken::new(),
    });
    let url = format!("http://127.0.0.1:{port}/{}/", page.token);
    if json {
        say!("{}", json!({ "url": url, "people": page.people.len() }));
    } else {
        say!(
            "review page for {} people: {url}\n(decisions are saved to {} as they are made; \
             stop with Ctrl-C or the page's Stop button)",
            page.people.len(),
            path.display()
        );
    }
    if !args.no_open && !picday_http::open_in_browser(&url) {
        say!("could not open a browser: open the address above");
    }
    let stop = page.stop.clone();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        }
    });
    serve(listener, page.clone(), stop).await;

    let decisions = page.decisions_lock();
    let retake = decisions
        .iter()
        .filter(|(_, d)| d.verdict == Verdict::Retake)
        .count();
    if !json {
        say!(
            "review stopped: {} decisions in {} ({retake} marked for a retake)",
            decisions.len(),
            path.display()
        );
    }
    Ok(Outcome::Ok)
}

/// One target shape on the page, with the targets that use it.
#[derive(Debug, Serialize)]
struct Shape {
    width: u32,
    height: u32,
    targets: Vec<String>,
}

/// One person on the page.
#[derive(Debug)]
struct Entry {
    person: Arc<Person>,
    name: String,
    line: u64,
    /// (target, key) for every target that can key the person.
    keys: Vec<(String, String)>,
    /// Where a decision is stored (`None`: no target can key the person).
    key: Option<String>,
    also: Vec<String>,
    hash: Option<String>,
    flags: Vec<String>,
    error: Option<String>,
}

#[derive(Debug)]
struct Page {
    token: String,
    port: u16,
    config: String,
    pipeline: Pipeline,
    profiles: Vec<Profile>,
    shapes: Vec<Shape>,
    people: Vec<Entry>,
    decisions: Mutex<Decisions>,
    /// Photos made for a person in one state of the page, by (person, state).
    rendered: Mutex<HashMap<(usize, String), Arc<Processed>>>,
    stop: CancellationToken,
}

/// What the page asks the pipeline for: a turn and, once placed, a crop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct View {
    rotate: u16,
    crop: Option<CropBox>,
}

impl View {
    /// From `rotate=90&crop=0.5,0.4,0.3`.
    fn parse(query: &str) -> Result<View, Refusal> {
        Self::parse_text(query).map_err(|e| Refusal(StatusCode::BAD_REQUEST, e))
    }

    fn parse_text(query: &str) -> Result<View, String> {
        let mut view = View::default();
        for (k, v) in query.split('&').filter_map(|p| p.split_once('=')) {
            match k {
                "rotate" => {
                    view.rotate = v
                        .parse()
                        .ok()
                        .filter(|r: &u16| r.is_multiple_of(90) && *r < 360)
                        .ok_or("rotate must be 0, 90, 180 or 270")?
                }
                "crop" => {
                    let n: Vec<f64> = v.split(',').filter_map(|x| x.parse().ok()).collect();
                    let [x, y, size] = n[..] else {
                        return Err("crop must be x,y,size".into());
                    };
                    let c = CropBox { x, y, size };
                    if !c.is_valid() {
                        return Err("crop is out of range".into());
                    }
                    view.crop = Some(c);
                }
                _ => {}
            }
        }
        Ok(view)
    }

    fn key(&self) -> String {
        format!(
            "{}|{:?}",
            self.rotate,
            self.crop.map(|c| (c.x, c.y, c.size))
        )
    }
}

/// The body of a decision the page posts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Posted {
    /// "accept", "retake" or "clear".
    verdict: String,
    #[serde(default)]
    rotate: u16,
    #[serde(default)]
    crop: Option<CropBox>,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, kind: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Nothing but this page's own requests; the token never leaves in a Referer.
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; \
             script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn json_reply(status: StatusCode, value: serde_json::Value) -> Reply {
    reply(status, "application/json", value.to_string())
}

fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    json_reply(status, json!({ "error": message.into() }))
}

/// A request refused, before it becomes a [`Reply`] (which is large to pass around).
#[derive(Debug)]
struct Refusal(StatusCode, String);

impl From<Refusal> for Reply {
    fn from(Refusal(status, message): Refusal) -> Reply {
        error(status, message)
    }
}

/// Equal without telling, by its timing, how much of a guess was right.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn serve(listener: TcpListener, page: Arc<Page>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let page = page.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let page = page.clone();
                async move { Ok::<_, Infallible>(page.handle(req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

impl Page {
    fn decisions_lock(&self) -> std::sync::MutexGuard<'_, Decisions> {
        self.decisions.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Reply {
        let host_ok = req
            .headers()
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| {
                h == format!("127.0.0.1:{}", self.port) || h == format!("localhost:{}", self.port)
            });
        let path = req.uri().path().to_string();
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let token_ok = parts.next().is_some_and(|t| same(t, &self.token));
        if !host_ok || !token_ok {
            // Nothing about why: whoever has no token learns nothing.
            return reply(StatusCode::NOT_FOUND, "text/plain", "not found");
        }
        let rest: Vec<&str> = parts.next().unwrap_or("").split('/').collect();
        let query = req.uri().query().unwrap_or("").to_string();
        match (req.method().clone(), rest.as_slice()) {
            (Method::GET, [""]) => reply(
                StatusCode::OK,
                "text/html; charset=utf-8",
                include_str!("review.html"),
            ),
            (Method::GET, ["api", "people"]) => json_reply(StatusCode::OK, self.people_json()),
            (Method::GET, ["api", "plan", id]) => {
                self.plan(id, &query).await.unwrap_or_else(Reply::from)
            }
            (Method::GET, ["img", "source", id]) => {
                self.source(id, &query).await.unwrap_or_else(Reply::from)
            }
            (Method::GET, ["img", "crop", id, shape]) => self
                .crop(id, shape, &query)
                .await
                .unwrap_or_else(Reply::from),
            (Method::POST, ["api", "decide", id]) => {
                let json_body = req
                    .headers()
                    .get(CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
                if !json_body {
                    return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON");
                }
                match Limited::new(req.into_body(), 16 * 1024).collect().await {
                    Ok(body) => self.decide(id, &body.to_bytes()),
                    Err(_) => error(StatusCode::PAYLOAD_TOO_LARGE, "the request is too large"),
                }
            }
            (Method::POST, ["api", "stop"]) => {
                // After this answer has gone out.
                let stop = self.stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    stop.cancel();
                });
                json_reply(StatusCode::OK, json!({ "stopped": true }))
            }
            _ => error(StatusCode::NOT_FOUND, "no such page"),
        }
    }

    fn entry(&self, id: &str) -> Result<(usize, &Entry), Refusal> {
        id.parse::<usize>()
            .ok()
            .and_then(|i| Some((i, self.people.get(i)?)))
            .ok_or_else(|| Refusal(StatusCode::NOT_FOUND, "no such person".into()))
    }

    fn person_json(&self, id: usize, e: &Entry, decisions: &Decisions) -> serde_json::Value {
        let decision = e.key.as_ref().and_then(|k| {
            decisions
                .find(
                    &std::iter::once(k.clone())
                        .chain(e.also.clone())
                        .collect::<Vec<_>>(),
                )
                .map(|(_, d)| d.clone())
        });
        let stale = match (&decision, &e.hash) {
            (Some(d), Some(h)) => &d.source != h,
            _ => false,
        };
        json!({
            "id": id,
            "name": e.name,
            "line": e.line,
            "keys": e.keys,
            "flags": e.flags,
            "error": e.error,
            "decision": decision,
            "stale": stale,
        })
    }

    fn people_json(&self) -> serde_json::Value {
        let decisions = self.decisions_lock();
        json!({
            "config": self.config,
            "shapes": self.shapes,
            "people": self.people.iter().enumerate()
                .map(|(i, e)| self.person_json(i, e, &decisions))
                .collect::<Vec<_>>(),
        })
    }

    /// The pipeline's result for a person in one state of the page (cached: the page asks
    /// for the plan, then for each crop).
    async fn processed(self: &Arc<Self>, id: usize, view: View) -> Result<Arc<Processed>, Refusal> {
        let key = (id, view.key());
        if let Some(p) = self.rendered_lock().get(&key) {
            return Ok(p.clone());
        }
        let e = &self.people[id];
        let hash = e.hash.clone().ok_or_else(|| {
            Refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the photo is unreadable".into(),
            )
        })?;
        let adjust = Adjustment {
            source: hash,
            quarter_turns: u8::try_from(view.rotate / 90).unwrap_or(0),
            crop: view.crop,
            accepted: false,
        };
        let (pipeline, path, profiles) = (
            self.pipeline.clone(),
            e.person.photo.clone(),
            self.profiles.clone(),
        );
        let done = tokio::task::spawn_blocking(move || {
            pipeline.process_with(&path, &profiles, Some(&adjust))
        })
        .await;
        let processed = match done {
            Ok(Ok(p)) => Arc::new(p),
            Ok(Err(e)) => {
                return Err(Refusal(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    e.message().to_string(),
                ));
            }
            Err(_) => {
                return Err(Refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the photo failed".into(),
                ));
            }
        };
        let mut cache = self.rendered_lock();
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(key, processed.clone());
        Ok(processed)
    }

    fn rendered_lock(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, String), Arc<Processed>>> {
        self.rendered.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn plan(self: &Arc<Self>, id: &str, query: &str) -> Result<Reply, Refusal> {
        let (id, _) = self.entry(id)?;
        let p = self.processed(id, View::parse(query)?).await?;
        let crops: Vec<Option<Rect>> = self
            .profiles
            .iter()
            .map(|profile| p.crops.get(profile).copied())
            .collect();
        Ok(json_reply(
            StatusCode::OK,
            json!({
                "width": p.width,
                "height": p.height,
                "face": p.face.map(|f: FaceBox| json!({"x": f.x, "y": f.y, "width": f.width, "height": f.height})),
                "crops": crops,
                "flags": p.flags,
            }),
        ))
    }

    async fn source(self: &Arc<Self>, id: &str, query: &str) -> Result<Reply, Refusal> {
        let (_, e) = self.entry(id)?;
        let view = View::parse(query)?;
        let (pipeline, path) = (self.pipeline.clone(), e.person.photo.clone());
        let turns = u8::try_from(view.rotate / 90).unwrap_or(0);
        let done = tokio::task::spawn_blocking(move || {
            render_source(&pipeline, &path, SOURCE_VIEW, turns)
        })
        .await;
        Ok(match done {
            Ok(Ok((jpeg, _, _))) => reply(StatusCode::OK, "image/jpeg", jpeg),
            Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, e.message()),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the photo failed"),
        })
    }

    async fn crop(self: &Arc<Self>, id: &str, shape: &str, query: &str) -> Result<Reply, Refusal> {
        let (id, _) = self.entry(id)?;
        let no_shape = || Refusal(StatusCode::NOT_FOUND, "no such shape".into());
        let profile = shape
            .parse::<usize>()
            .ok()
            .and_then(|i| self.profiles.get(i))
            .ok_or_else(no_shape)?;
        let p = self.processed(id, View::parse(query)?).await?;
        let photo = p.photos.get(profile).ok_or_else(no_shape)?;
        Ok(reply(StatusCode::OK, "image/jpeg", photo.bytes.to_vec()))
    }

    fn decide(&self, id: &str, body: &[u8]) -> Reply {
        let (id, e) = match self.entry(id) {
            Ok(e) => e,
            Err(r) => return r.into(),
        };
        let posted: Posted = match serde_json::from_slice(body) {
            Ok(p) => p,
            Err(err) => return error(StatusCode::BAD_REQUEST, err.to_string()),
        };
        if !posted.rotate.is_multiple_of(90) || posted.rotate >= 360 {
            return error(StatusCode::BAD_REQUEST, "rotate must be 0, 90, 180 or 270");
        }
        if posted.crop.is_some_and(|c| !c.is_valid()) {
            return error(StatusCode::BAD_REQUEST, "the crop is outside the photo");
        }
        let (Some(key), Some(hash)) = (&e.key, &e.hash) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this person has no key or no readable photo: nothing to decide",
            );
        };
        let verdict = match posted.verdict.as_str() {
            "accept" => Some(Verdict::Accept),
            "retake" => Some(Verdict::Retake),
            "clear" => None,
            other => return error(StatusCode::BAD_REQUEST, format!("no verdict {other:?}")),
        };
        let decision = verdict.map(|verdict| Decision {
            name: e.name.clone(),
            also: e.also.clone(),
            source: hash.clone(),
            verdict,
            rotate: posted.rotate,
            crop: posted.crop,
            decided: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .map_or_else(|_| String::new(), |t| t.to_string()),
        });
        let mut decisions = self.decisions_lock();
        let mut next = decisions.clone();
        if let Err(err) = next.set(key, decision).and_then(|()| next.save()) {
            return error(StatusCode::UNPROCESSABLE_ENTITY, err.to_string());
        }
        *decisions = next;
        json_reply(StatusCode::OK, self.person_json(id, e, &decisions))
    }
}
