//! The plugin host end to end: both example plugins are built, discovered, loaded and run
//! through the conformance suite; each way a plugin can fail is shown to fail its own target
//! only, with a message naming the plugin.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use picday_core::{ErrorKind, Subject, Target};
use picday_testkit::{Harness, conformance, fixtures};
use sha2::{Digest, Sha256};

const SECRET: &str = "s3cret-for-tests";

/// A webhook receiver as documented in docs/adding-a-target.md: verifies the signature (401
/// otherwise), stores `photo.updated`, forgets `photo.removed`, answers pings; malformed
/// bodies get 400.
struct Receiver {
    server: mockito::ServerGuard,
    photos: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    deliveries: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn hmac(key: &[u8], msg: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |b: u8| block.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    async fn start() -> Receiver {
        let mut server = mockito::Server::new_async().await;
        let photos: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
        let deliveries: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let (p, d) = (photos.clone(), deliveries.clone());
        server
            .mock("POST", "/hooks/photos")
            .with_status_code_from_request(move |req| {
                let body = req.body().cloned().unwrap_or_default();
                let expected = format!("sha256={}", hmac(SECRET.as_bytes(), &body));
                let signed = req
                    .header("x-picday-signature")
                    .first()
                    .is_some_and(|v| v.to_str().ok() == Some(expected.as_str()));
                if !signed {
                    return 401;
                }
                let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
                    return 400;
                };
                d.lock().unwrap().push(json.clone());
                let key = json["key"].as_str().unwrap_or_default().to_string();
                match json["event"].as_str() {
                    Some("ping") => 200,
                    Some("photo.updated") => {
                        let data = json["photo"]["data"].as_str().unwrap_or_default();
                        match base64::engine::general_purpose::STANDARD.decode(data) {
                            Ok(bytes) if !key.is_empty() => {
                                p.lock().unwrap().insert(key, bytes);
                                200
                            }
                            _ => 400,
                        }
                    }
                    Some("photo.removed") => {
                        p.lock().unwrap().remove(&key);
                        200
                    }
                    _ => 400,
                }
            })
            .with_header("x-request-id", "req-42")
            .with_body("{}")
            .expect_at_least(0)
            .create_async()
            .await;
        server
            .mock("POST", "/hooks/busy")
            .with_status(429)
            .with_header("retry-after", "3")
            .with_body("slow down")
            .create_async()
            .await;
        Receiver {
            server,
            photos,
            deliveries,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }
}

struct WebhookHarness {
    receiver: Receiver,
    registry: picday_core::Registry,
}

#[async_trait]
impl Harness for WebhookHarness {
    async fn target(&self) -> Arc<dyn Target> {
        self.receiver.photos.lock().unwrap().clear();
        let options = format!(
            "url = {:?}\nsecret = {:?}\nkey = \"{{student_id}}\"\nsize = 128\n",
            self.receiver.url("/hooks/photos"),
            SECRET
        );
        common::build(&self.registry, "hooks", "webhook", &options)
    }

    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        self.receiver
            .photos
            .lock()
            .unwrap()
            .get(&subject.key)
            .cloned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_executable_plugin_passes_the_conformance_suite() {
    let registry = common::registry(&[common::examples_dir()]);
    let harness = WebhookHarness {
        receiver: Receiver::start().await,
        registry,
    };
    conformance::run(&harness).await;
    // The deliveries carry the person's columns and the photo's checksum.
    let deliveries = harness.receiver.deliveries.lock().unwrap();
    let first = deliveries
        .iter()
        .find(|d| d["event"] == "photo.updated")
        .unwrap();
    assert_eq!(first["person"]["last_name"], "Example");
    assert_eq!(first["photo"]["sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn webhook_check_pings_and_http_errors_keep_their_meaning() {
    let registry = common::registry(&[common::examples_dir()]);
    let receiver = Receiver::start().await;
    let ok = common::build(
        &registry,
        "hooks",
        "webhook",
        &format!(
            "url = {:?}\nsecret = {SECRET:?}",
            receiver.url("/hooks/photos")
        ),
    );
    let report = ok.check().await.unwrap();
    assert!(
        report.ok.iter().any(|l| l.contains("HTTP 200")),
        "{report:?}"
    );
    let s = ok.subject(fixtures::arc_person(1)).unwrap();
    let receipt = ok
        .put_photo(&s, &fixtures::photo(ok.info().capabilities.profile, 1))
        .await
        .unwrap();
    assert_eq!(receipt.request_id.as_deref(), Some("req-42"));

    // A wrong secret: the receiver says 401, which is an auth error, not worth retrying.
    let wrong = common::build(
        &registry,
        "hooks",
        "webhook",
        &format!(
            "url = {:?}\nsecret = \"nope\"",
            receiver.url("/hooks/photos")
        ),
    );
    let e = wrong
        .put_photo(&s, &fixtures::photo(wrong.info().capabilities.profile, 1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(!e.is_temporary());

    // 429 with Retry-After: throttled, temporary, with the hint for the retry layer.
    let busy = common::build(
        &registry,
        "hooks",
        "webhook",
        &format!("url = {:?}", receiver.url("/hooks/busy")),
    );
    let e = busy
        .put_photo(&s, &fixtures::photo(busy.info().capabilities.profile, 1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Throttled, "{e}");
    assert!(e.is_temporary());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
}

#[test]
fn webhook_options_are_checked_like_a_builtin_targets() {
    let registry = common::registry(&[common::examples_dir()]);
    let options: toml::Table = toml::from_str("url = \"ftp://x\"").unwrap();
    let spec = picday_core::TargetSpec::new("hooks", "webhook", options, &std::env::temp_dir());
    let e = registry.build(&spec).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("[targets.hooks]"), "{e}");
    let options: toml::Table = toml::from_str("url = \"http://x\"\ncolour = 1").unwrap();
    let spec = picday_core::TargetSpec::new("hooks", "webhook", options, &std::env::temp_dir());
    let e = registry.build(&spec).unwrap_err();
    assert!(e.message().contains("colour"), "{e}");
    // A secret given by reference that is not set is a configuration error naming the key.
    let options: toml::Table =
        toml::from_str("url = \"http://x\"\nsecret = { env = \"PICDAY_TEST_UNSET_SECRET\" }")
            .unwrap();
    let spec = picday_core::TargetSpec::new("hooks", "webhook", options, &std::env::temp_dir());
    let e = registry.build(&spec).unwrap_err();
    assert!(e.message().contains("`secret`"), "{e}");
    assert!(e.message().contains("PICDAY_TEST_UNSET_SECRET"), "{e}");
}

struct ShareHarness {
    root: tempfile::TempDir,
    current: Mutex<Option<PathBuf>>,
    registry: picday_core::Registry,
}

#[async_trait]
impl Harness for ShareHarness {
    async fn target(&self) -> Arc<dyn Target> {
        let dir = tempfile::tempdir_in(self.root.path()).unwrap().keep();
        *self.current.lock().unwrap() = Some(dir.clone());
        let options = format!(
            "dir = {:?}\nkey = \"{{student_id}}\"\nwidth = 96\nheight = 120",
            dir
        );
        common::build(&self.registry, "share", "share", &options)
    }

    async fn stored(&self, subject: &Subject) -> Option<Vec<u8>> {
        let dir = self.current.lock().unwrap().clone()?;
        std::fs::read(dir.join(format!("{}.jpg", subject.key))).ok()
    }
}

#[tokio::test]
async fn share_library_plugin_passes_the_conformance_suite() {
    let harness = ShareHarness {
        root: tempfile::tempdir().unwrap(),
        current: Mutex::new(None),
        registry: common::registry(&[common::examples_dir()]),
    };
    conformance::run(&harness).await;
}

#[tokio::test]
async fn share_index_is_written_at_finish_and_kept_across_runs() {
    let registry = common::registry(&[common::examples_dir()]);
    let dir = tempfile::tempdir().unwrap();
    let options = format!("dir = {:?}\ntitle = \"Room 12\"", dir.path());
    let t = common::build(&registry, "share", "share", &options);
    let profile = t.info().capabilities.profile;
    assert_eq!((profile.width, profile.height), (400, 500));
    for n in [1, 2] {
        let s = t.subject(fixtures::arc_person(n)).unwrap();
        t.put_photo(&s, &fixtures::photo(profile, n as u8))
            .await
            .unwrap();
    }
    let gone = t.subject(fixtures::arc_person(2)).unwrap();
    t.delete_photo(&gone).await.unwrap();
    let note = t.finish().await.unwrap().unwrap();
    assert!(note.contains("index of 1 photos"), "{note}");
    let csv = std::fs::read_to_string(dir.path().join("index.csv")).unwrap();
    assert_eq!(
        csv,
        "key,name,file\nstudent1@school.example,Student1 Example,student1@school.example.jpg\n"
    );
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(html.contains("<h1>Room 12</h1>") && html.contains("Student1 Example"));

    // The next run starts from the index on disk.
    let again = common::build(&registry, "share", "share", &options);
    let s = again.subject(fixtures::arc_person(3)).unwrap();
    again
        .put_photo(&s, &fixtures::photo(profile, 3))
        .await
        .unwrap();
    again.finish().await.unwrap();
    let csv = std::fs::read_to_string(dir.path().join("index.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

#[test]
fn discovered_plugins_are_listed_with_version_source_and_options() {
    let registry = common::registry(&[common::examples_dir()]);
    let types = registry.types();
    let webhook = types.iter().find(|t| t.name == "webhook").unwrap();
    assert_eq!(webhook.version, env!("CARGO_PKG_VERSION"));
    assert!(
        webhook.source.starts_with("executable plugin "),
        "{}",
        webhook.source
    );
    assert!(
        webhook
            .options
            .iter()
            .any(|o| o.name == "url" && o.required)
    );
    assert!(
        webhook
            .options
            .iter()
            .any(|o| o.name == "secret" && o.help.contains("env"))
    );
    let share = types.iter().find(|t| t.name == "share").unwrap();
    assert!(
        share.source.starts_with("library plugin "),
        "{}",
        share.source
    );
    assert!(share.options.iter().any(|o| o.name == "dir" && o.required));
}

/// The failing target's first put: the error, and how long it took.
async fn first_put(t: &Arc<dyn Target>) -> (picday_core::Error, Duration) {
    let s = t.subject(fixtures::arc_person(1)).unwrap();
    let photo = fixtures::photo(t.info().capabilities.profile, 1);
    let start = Instant::now();
    let e = t.put_photo(&s, &photo).await.unwrap_err();
    (e, start.elapsed())
}

/// Another target of the same registry still works.
async fn others_still_work(registry: &picday_core::Registry) {
    let dir = tempfile::tempdir().unwrap();
    let t = common::build(
        registry,
        "share",
        "share",
        &format!("dir = {:?}", dir.path()),
    );
    let s = t.subject(fixtures::arc_person(5)).unwrap();
    t.put_photo(&s, &fixtures::photo(t.info().capabilities.profile, 5))
        .await
        .expect("the other target must keep working");
}

#[tokio::test]
async fn wrong_protocol_version_fails_that_target_only() {
    let registry = common::registry(&[common::misbehaving_dir(), common::examples_dir()]);
    let info = registry
        .types()
        .into_iter()
        .find(|t| t.name == "oldproto")
        .unwrap();
    assert!(info.summary.starts_with("UNUSABLE"), "{}", info.summary);
    let t = common::build(&registry, "old", "oldproto", "");
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.message().contains("plugin `oldproto`"), "{e}");
    assert!(
        e.message().contains("protocol 99; this picday speaks 1"),
        "{e}"
    );
    let (e, _) = first_put(&t).await;
    assert!(e.message().contains("plugin `oldproto`"), "{e}");
    others_still_work(&registry).await;
}

#[tokio::test]
async fn a_crashing_plugin_fails_that_target_only_and_says_why() {
    let registry = common::registry(&[common::misbehaving_dir(), common::examples_dir()]);
    let t = common::build(&registry, "c", "crashy", "");
    t.check().await.expect("alive until the first put");
    let (e, _) = first_put(&t).await;
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(!e.is_temporary());
    assert!(e.message().contains("plugin `crashy`"), "{e}");
    assert!(e.message().contains("during `put`"), "{e}");
    assert!(e.message().contains("disk on fire"), "{e}");
    // Later calls fail at once with the same reason.
    let again = t.check().await.unwrap_err();
    assert_eq!(again.message(), e.message());
    others_still_work(&registry).await;
}

#[tokio::test]
async fn a_hung_plugin_times_out_and_fails_that_target_only() {
    let registry = common::registry(&[common::misbehaving_dir(), common::examples_dir()]);
    let t = common::build(&registry, "s", "sleepy", "plugin_timeout = 1");
    let (e, took) = first_put(&t).await;
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        e.message().contains("plugin `sleepy`")
            && e.message().contains("did not answer `put` within 1 s"),
        "{e}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let start = Instant::now();
    t.check().await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "a stopped plugin is not waited for again"
    );
    others_still_work(&registry).await;
}

#[tokio::test]
async fn nonsense_answers_are_protocol_errors_naming_the_plugin() {
    let registry = common::registry(&[common::misbehaving_dir(), common::examples_dir()]);
    let t = common::build(&registry, "b", "babble", "");
    let (e, _) = first_put(&t).await;
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.message().contains("plugin `babble`"), "{e}");
    assert!(e.message().contains("this is not json"), "{e}");
    others_still_work(&registry).await;
}

#[tokio::test]
async fn wrong_abi_version_or_table_size_fails_that_target_only() {
    let registry = common::registry(&[common::misbehaving_dir(), common::examples_dir()]);
    let future = common::build(&registry, "f", "future", "");
    let e = future.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.message().contains("plugin `future`"), "{e}");
    assert!(e.message().contains("ABI version 99"), "{e}");
    let small = common::build(&registry, "s", "small", "");
    let e = small.check().await.unwrap_err();
    assert!(e.message().contains("plugin `small`"), "{e}");
    assert!(e.message().contains("smaller than"), "{e}");
    others_still_work(&registry).await;
}
