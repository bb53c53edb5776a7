//! `picday review` end to end: the page's server (its token, its Host check, its routes,
//! decisions saved to review.toml and read back after a restart, stale decisions), `push`,
//! `check` and `preview` honouring the decisions, and the page itself in a real headless
//! Chromium driven over WebDriver (ChromeDriver), which moves a crop and marks a retake and
//! then checks that `push` sends the moved crop and not the retake. The browser test is
//! skipped when Chromium or ChromeDriver is missing, unless PICDAY_REQUIRE_CHROMIUM=1 (CI).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{http, ok, picday, picday_cmd, text};
use image::RgbImage;
use picday_core::Profile;
use picday_core::pipeline::Pipeline;
use picday_core::review::{CropBox, Decision, Decisions, Verdict};

const PEOPLE: usize = 5;
/// Person 4's photo has no face: flagged.
const NO_FACE: usize = 4;
const SIZE: u32 = 200;

fn mail(n: usize) -> String {
    format!("student{n}@school.example")
}

/// The key the folder target gives person `n`: where their decision is stored.
fn key(n: usize) -> String {
    format!("{}.jpg", mail(n))
}

/// Five people (four real portraits and one photo with no face) and a folder target.
fn school(dir: &Path) -> PathBuf {
    let portraits = picday_testkit::fixtures::portraits();
    let mut csv = String::from("path,mail,first_name,last_name\n");
    for n in 0..PEOPLE {
        let name = format!("p{n}.jpg");
        if n == NO_FACE {
            std::fs::write(
                dir.join(&name),
                picday_testkit::fixtures::source_jpeg(480, 600, 9),
            )
            .unwrap();
        } else {
            std::fs::copy(portraits.join(format!("010020{n}.jpg")), dir.join(&name)).unwrap();
        }
        csv.push_str(&format!("{name},{},Ana{n},Diaz\n", mail(n)));
    }
    std::fs::write(dir.join("photos.csv"), csv).unwrap();
    let config = dir.join("picday.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nmapping = \"photos.csv\"\n\n[targets.directory]\ntype = \"folder\"\n\
             dir = \"out\"\nfile_name = \"{{mail}}.jpg\"\nsize = {SIZE}\n\n\
             [targets.yearbook]\ntype = \"folder\"\ndir = \"yearbook\"\n\
             file_name = \"{{mail}}.jpg\"\nwidth = 160\nheight = 200\n"
        ),
    )
    .unwrap();
    config
}

fn hash(path: &Path) -> String {
    picday_core::files::hash_file(path).unwrap()
}

fn decision(dir: &Path, n: usize, verdict: Verdict, crop: Option<CropBox>) -> Decision {
    Decision {
        name: format!("Ana{n} Diaz"),
        also: Vec::new(),
        source: hash(&dir.join(format!("p{n}.jpg"))),
        verdict,
        rotate: 0,
        crop,
        decided: String::new(),
    }
}

/// What the pipeline makes of person `n`'s photo for the target, with `decision` or none.
fn render(dir: &Path, n: usize, decision: Option<&Decision>) -> RgbImage {
    let adjust = decision.map(Decision::adjustment);
    let p = Pipeline::default()
        .process_with(
            &dir.join(format!("p{n}.jpg")),
            &[Profile::square(SIZE)],
            adjust.as_ref(),
        )
        .unwrap();
    decode(&p.photos[&Profile::square(SIZE)].bytes)
}

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().into_rgb8()
}

/// Mean difference per channel of two images of one size, 0-255.
fn distance(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn sent(dir: &Path, n: usize) -> Option<RgbImage> {
    std::fs::read(dir.join("out").join(key(n)))
        .ok()
        .map(|b| decode(&b))
}

/// A `picday review --no-open` running on the test's configuration.
struct Page {
    child: Child,
    port: u16,
    /// `/TOKEN/`
    base: String,
}

impl Page {
    fn start(config: &Path) -> Page {
        let mut child = picday_cmd(config, &["--json", "review", "--no-open"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let said: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{e}: the review command printed {line:?}"));
        let url = said["url"].as_str().unwrap().to_string();
        let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
        let (port, path) = rest.split_once('/').unwrap();
        Page {
            child,
            port: port.parse().unwrap(),
            base: format!("/{path}"),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.base)
    }

    fn get(&self, path: &str) -> common::Answer {
        http(
            self.port,
            "GET",
            &format!("{}{path}", self.base),
            None,
            None,
        )
    }

    fn post(&self, path: &str, body: &str) -> common::Answer {
        http(
            self.port,
            "POST",
            &format!("{}{path}", self.base),
            None,
            Some(("application/json", body)),
        )
    }

    /// The page's people, by person number (from their mail).
    fn people(&self) -> Vec<serde_json::Value> {
        let answer = self.get("api/people");
        assert_eq!(answer.status, 200);
        let mut people = answer.json()["people"].as_array().unwrap().clone();
        people.sort_by_key(|p| p["line"].as_u64());
        people
    }

    /// Waits for the command to end after the page's Stop, which must be a success.
    fn wait(mut self) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "review ended with {status}");
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "review did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(self) {
        let answer = self.post("api/stop", "{}");
        assert_eq!(answer.status, 200);
        self.wait();
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_page_answers_only_with_its_token_and_keeps_its_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = school(dir);
    let page = Page::start(&config);

    // The page itself, with a policy that lets it talk to nobody else.
    let html = page.get("");
    assert_eq!(html.status, 200);
    assert!(
        html.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(String::from_utf8_lossy(&html.body).contains("picday review"));
    let csp = html.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(html.header("referrer-policy"), Some("no-referrer"));

    // Without the token, or through another host name (DNS rebinding), nothing.
    let token = page.base.trim_matches('/');
    let last = if token.ends_with('0') { '1' } else { '0' };
    let wrong = format!("/{}{last}/api/people", &token[..token.len() - 1]);
    assert_eq!(http(page.port, "GET", &wrong, None, None).status, 404);
    assert_eq!(
        http(page.port, "GET", "/api/people", None, None).status,
        404
    );
    let evil = format!("evil.example:{}", page.port);
    let rebound = http(
        page.port,
        "GET",
        &format!("{}api/people", page.base),
        Some(&evil),
        None,
    );
    assert_eq!(rebound.status, 404);
    assert!(!String::from_utf8_lossy(&rebound.body).contains("Ana"));

    // Everyone, the flagged photo first.
    let answer = page.get("api/people");
    let listed = answer.json()["people"].as_array().unwrap().clone();
    assert_eq!(listed.len(), PEOPLE);
    assert_eq!(listed[0]["keys"][0][1], key(NO_FACE));
    assert!(!listed[0]["flags"].as_array().unwrap().is_empty());
    let id = |n: usize| {
        listed.iter().find(|p| p["keys"][0][1] == key(n)).unwrap()["id"]
            .as_u64()
            .unwrap()
    };

    // A quarter turn swaps the frame; a crop is rendered at the target's size.
    let upright = page.get(&format!("api/plan/{}?rotate=0", id(1))).json();
    let turned = page.get(&format!("api/plan/{}?rotate=90", id(1))).json();
    assert_eq!(
        (&upright["width"], &upright["height"]),
        (&turned["height"], &turned["width"])
    );
    assert_eq!(
        page.get(&format!("api/plan/{}?rotate=45", id(1))).status,
        400
    );
    // Each target shape, at its own size.
    let shapes = answer.json()["shapes"].as_array().unwrap().clone();
    assert_eq!(shapes.len(), 2);
    for (i, shape) in shapes.iter().enumerate() {
        let crop = page.get(&format!("img/crop/{}/{i}?crop=0.4,0.3,0.3", id(1)));
        assert_eq!(crop.header("content-type"), Some("image/jpeg"));
        let size = (
            shape["width"].as_u64().unwrap() as u32,
            shape["height"].as_u64().unwrap() as u32,
        );
        assert_eq!(decode(&crop.body).dimensions(), size);
    }
    assert_eq!(page.get(&format!("img/crop/{}/2", id(1))).status, 404);
    let source = page.get(&format!("img/source/{}?rotate=90", id(1)));
    let shown = decode(&source.body);
    // The portrait, turned: a landscape frame.
    assert!(shown.width() > shown.height(), "{:?}", shown.dimensions());

    // Decisions: only JSON, only known verdicts, only crops inside the frame.
    let url = format!("{}api/decide/{}", page.base, id(1));
    let form = http(
        page.port,
        "POST",
        &url,
        None,
        Some(("text/plain", "verdict=retake")),
    );
    assert_eq!(form.status, 415);
    assert_eq!(
        page.post(&format!("api/decide/{}", id(1)), r#"{"verdict":"maybe"}"#)
            .status,
        400
    );
    let outside = page.post(
        &format!("api/decide/{}", id(1)),
        r#"{"verdict":"accept","crop":{"x":0.5,"y":1.5,"size":0.3}}"#,
    );
    assert_eq!(outside.status, 400);
    let saved = page.post(
        &format!("api/decide/{}", id(1)),
        r#"{"verdict":"accept","rotate":90,"crop":{"x":0.4,"y":0.3,"size":0.3}}"#,
    );
    assert_eq!(
        saved.status,
        200,
        "{}",
        String::from_utf8_lossy(&saved.body)
    );
    assert_eq!(saved.json()["decision"]["rotate"], 90);
    let retake = page.post(&format!("api/decide/{}", id(2)), r#"{"verdict":"retake"}"#);
    assert_eq!(retake.status, 200);
    // Saved as made: on disk before the page stops.
    let file = Decisions::load(&dir.join("review.toml")).unwrap();
    assert_eq!(file.len(), 2);
    let (_, d) = file.find(&[key(1)]).unwrap();
    assert_eq!(d.source, hash(&dir.join("p1.jpg")));
    assert_eq!(d.crop.unwrap().size, 0.3);
    page.stop();

    // A new photo for person 1 makes their decision stale; person 2's still holds.
    std::fs::copy(
        picday_testkit::fixtures::portraits().join("0100206.jpg"),
        dir.join("p1.jpg"),
    )
    .unwrap();
    let page = Page::start(&config);
    let people = page.people();
    assert_eq!(people[1]["stale"], true, "{}", people[1]);
    assert_eq!(people[2]["stale"], false);
    assert_eq!(people[2]["decision"]["verdict"], "retake");
    // Undone from the page: gone from the file.
    let cleared = page.post(
        &format!("api/decide/{}", people[2]["id"]),
        r#"{"verdict":"clear"}"#,
    );
    assert_eq!(cleared.json()["decision"], serde_json::Value::Null);
    page.stop();
    let file = Decisions::load(&dir.join("review.toml")).unwrap();
    assert!(file.find(&[key(2)]).is_none());
}

#[test]
fn push_check_and_preview_honour_the_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = school(dir);
    let moved = CropBox {
        x: 0.62,
        y: 0.4,
        size: 0.3,
    };
    let mut decisions = Decisions::load(&dir.join("review.toml")).unwrap();
    let adjusted = decision(dir, 1, Verdict::Accept, Some(moved));
    decisions.set(&key(1), Some(adjusted.clone())).unwrap();
    decisions
        .set(&key(2), Some(decision(dir, 2, Verdict::Retake, None)))
        .unwrap();
    decisions
        .set(
            &key(NO_FACE),
            Some(decision(dir, NO_FACE, Verdict::Accept, None)),
        )
        .unwrap();
    decisions.save().unwrap();

    // check counts them and shows the retake.
    let check = picday(&config, &["--json", "check"]);
    let said: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(said["review"]["reviewed"], 3, "{said}");
    assert_eq!(said["review"]["retake"], 1);
    assert_eq!(
        said["review"]["pending"], 0,
        "the flagged photo was accepted"
    );
    assert_eq!(said["review"]["stale"], 0);
    assert!(
        said["photos_flagged"].to_string().contains("retake"),
        "{said}"
    );

    // push sends the placed crop, never the retake.
    let out = ok(&picday(&config, &["push"]));
    assert!(out.contains("1 marked for a retake"), "{out}");
    assert!(sent(dir, 2).is_none(), "a retake is never sent");
    let pushed = sent(dir, 1).unwrap();
    let placed = distance(&pushed, &render(dir, 1, Some(&adjusted)));
    let automatic = distance(&pushed, &render(dir, 1, None));
    assert!(placed < 3.0, "the placed crop was sent ({placed})");
    assert!(automatic > 10.0, "not the automatic crop ({automatic})");
    let report = std::fs::read_to_string(
        std::fs::read_dir(dir.join("reports"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .unwrap()
            .join("report.csv"),
    )
    .unwrap();
    assert!(
        report.contains("marked for a retake on the review page"),
        "{report}"
    );

    // Nothing changed: nothing sent. The crop moved: that person is sent again.
    let out = ok(&picday(&config, &["push"]));
    assert!(out.contains("sent     0"), "{out}");
    let again = decision(dir, 1, Verdict::Accept, Some(CropBox { x: 0.4, ..moved }));
    decisions.set(&key(1), Some(again.clone())).unwrap();
    decisions.save().unwrap();
    let out = ok(&picday(&config, &["push"]));
    assert!(out.contains("sent     1"), "{out}");
    assert!(distance(&sent(dir, 1).unwrap(), &render(dir, 1, Some(&again))) < 3.0);

    // A new photo: the decision is void, said so, and the pipeline's own crop is sent.
    std::fs::copy(
        picday_testkit::fixtures::portraits().join("0100206.jpg"),
        dir.join("p1.jpg"),
    )
    .unwrap();
    let out = picday(&config, &["push"]);
    assert!(text(&out).contains("sent     1"), "{}", text(&out));
    assert!(distance(&sent(dir, 1).unwrap(), &render(dir, 1, None)) < 3.0);
    let check = picday(&config, &["check"]);
    let said = text(&check);
    assert!(said.contains("1 stale"), "{said}");
    assert!(said.contains("no longer applies"), "{said}");

    // preview shows the retake on its card.
    let out = ok(&picday(&config, &["preview"]));
    let _ = out;
    let sheet = std::fs::read_to_string(dir.join("preview/index.html")).unwrap();
    assert!(sheet.contains("marked for a retake"), "{sheet}");
}

/// A ChromeDriver with one headless Chromium session, ended on drop.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// `None` when Chromium or ChromeDriver is not installed (and CI does not require them).
    fn start() -> Option<Browser> {
        let (chromium, driver) = (
            Path::new("/usr/bin/chromium"),
            Path::new("/usr/bin/chromedriver"),
        );
        if !chromium.exists() || !driver.exists() {
            assert!(
                std::env::var_os("PICDAY_REQUIRE_CHROMIUM").is_none(),
                "PICDAY_REQUIRE_CHROMIUM is set but /usr/bin/chromium or /usr/bin/chromedriver \
                 is missing (Debian packages chromium and chromium-driver)"
            );
            eprintln!("skipped: Chromium and ChromeDriver are not installed");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        // The flags keep a headless Chromium from reaching for the network at start (this
        // machine has none) and from needing a sandbox as root.
        let caps = serde_json::json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=1280,900",
                         format!("--user-data-dir={}", browser._profile.path().display())],
            },
        }}});
        let session = browser.call("POST", "session", Some(caps));
        browser.session = session["sessionId"].as_str().unwrap().to_string();
        Some(browser)
    }

    /// A WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        let path = if self.session.is_empty() {
            format!("/{path}")
        } else {
            format!("/session/{}/{path}", self.session)
        };
        let body = body.map(|b| b.to_string());
        let answer = http(
            self.port,
            method,
            path.trim_end_matches('/'),
            None,
            body.as_deref().map(|b| ("application/json", b)),
        );
        let value = answer.json()["value"].clone();
        assert_eq!(answer.status, 200, "{method} {path}: {value}");
        value
    }

    /// Runs a script in the page; its result.
    fn script(&self, script: &str) -> serde_json::Value {
        self.call(
            "POST",
            "execute/sync",
            Some(serde_json::json!({ "script": script, "args": [] })),
        )
    }

    /// Waits until `script` returns true.
    fn until(&self, what: &str, script: &str) {
        let start = Instant::now();
        while self.script(script) != serde_json::Value::Bool(true) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            "element",
            Some(serde_json::json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    fn click(&self, css: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &format!("element/{id}/click"),
            Some(serde_json::json!({})),
        );
    }

    /// A real mouse drag: press in the middle of the element, move by (dx, dy), release.
    fn drag(&self, css: &str, dx: i64, dy: i64) {
        let id = self.element(css);
        let actions = serde_json::json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [
                { "type": "pointerMove", "duration": 0, "origin": { ELEMENT: id }, "x": 0, "y": 0 },
                { "type": "pointerDown", "button": 0 },
                { "type": "pointerMove", "duration": 250, "origin": "pointer", "x": dx, "y": dy },
                { "type": "pointerUp", "button": 0 },
            ],
        }]});
        self.call("POST", "actions", Some(actions));
        self.call("DELETE", "actions", None);
    }

    /// A key pressed and released, as a person types it.
    fn key(&self, key: &str) {
        let actions = serde_json::json!({ "actions": [{
            "type": "key", "id": "keyboard",
            "actions": [{ "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }],
        }]});
        self.call("POST", "actions", Some(actions));
        self.call("DELETE", "actions", None);
    }

    fn screenshot(&self, to: &Path) {
        use base64::Engine as _;
        let png = self.call("GET", "screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(to, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Waits until `review.toml` says what `done` looks for.
fn until_saved(dir: &Path, what: &str, done: impl Fn(&Decisions) -> bool) -> Decisions {
    let start = Instant::now();
    loop {
        if let Ok(d) = Decisions::load(&dir.join("review.toml"))
            && done(&d)
        {
            return d;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn in_a_real_browser_a_moved_crop_and_a_retake_are_what_push_does() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let config = school(dir);
    let page = Page::start(&config);
    browser.call(
        "POST",
        "url",
        Some(serde_json::json!({ "url": page.url() })),
    );
    // The list, the flagged photo first and selected, its source shown.
    browser.until(
        "the list",
        &format!("return document.querySelectorAll('#list li').length === {PEOPLE}"),
    );
    let first = browser.script("return document.querySelector('#list li').dataset.key");
    assert_eq!(first, serde_json::json!(key(NO_FACE)));

    // Person 1: drag the crop to the left and down.
    browser.click(&format!("#list li[data-key=\"{}\"]", key(1)));
    browser.until(
        "person 1's photo",
        "return document.getElementById('source').complete \
         && document.getElementById('source').naturalWidth > 0 \
         && document.getElementById('crop').offsetWidth > 0",
    );
    browser.drag("#crop", -60, 40);
    let saved = until_saved(dir, "the moved crop", |d| {
        d.find(&[key(1)]).is_some_and(|(_, d)| d.crop.is_some())
    });
    let (_, moved) = saved.find(&[key(1)]).unwrap();
    assert_eq!(moved.verdict, Verdict::Accept);
    let automatic = render(dir, 1, None);

    // Person 2: the keyboard only. Down the list to them, then "r".
    browser.click(&format!("#list li[data-key=\"{}\"]", key(1)));
    browser.key("j");
    browser.until(
        "person 2 selected",
        &format!(
            "return document.querySelector('#list li[aria-selected=\"true\"]').dataset.key === '{}'",
            key(2)
        ),
    );
    browser.key("r");
    until_saved(dir, "the retake", |d| {
        d.find(&[key(2)])
            .is_some_and(|(_, d)| d.verdict == Verdict::Retake)
    });
    browser.until(
        "the retake shown in the list",
        "return !!document.querySelector('#list .tag.retake')",
    );

    // The picture for docs/review.md: person 1 with the moved crop and every target's shape.
    browser.click(&format!("#list li[data-key=\"{}\"]", key(1)));
    browser.until(
        "the crops of person 1",
        "return [...document.querySelectorAll('#crops img')].every(i => i.complete && i.naturalWidth > 0) \
         && document.querySelectorAll('#crops img').length > 0",
    );
    let shot = std::env::var_os("PICDAY_REVIEW_SCREENSHOT")
        .map_or_else(|| dir.join("review.png"), PathBuf::from);
    browser.screenshot(&shot);
    assert!(image::open(&shot).unwrap().width() >= 1000);

    // Stopped from the page.
    browser.click("#stop");
    page.wait();

    // push: the moved crop is sent, the retake is not.
    let out = ok(&picday(&config, &["push"]));
    assert!(out.contains("1 marked for a retake"), "{out}");
    assert!(sent(dir, 2).is_none(), "the retake was sent: {out}");
    let pushed = sent(dir, 1).unwrap();
    let placed = distance(&pushed, &render(dir, 1, Some(moved)));
    assert!(placed < 3.0, "the moved crop was sent ({placed})");
    assert!(distance(&pushed, &automatic) > 5.0, "the crop really moved");
}
