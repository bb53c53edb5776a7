//! Benchmark: 2,000 users against a local fake Graph that adds latency to every request and
//! enforces a write quota with 429 + Retry-After. Compares the classic one-at-a-time script,
//! picday (the Entra target through `picday_core::layers::stack`) and the quota itself.
//!
//! Run: `cargo run --release -p picday-target-entra --example graph_bench`
//! Options (all optional): `--users 2000 --latency-ms 50 --quota 100 --burst 100
//! --baseline-users 500 --fault-every 0 --reads`. The one-at-a-time baseline is serial, so its
//! time is linear in the number of users; by default it runs 500 users and scales to the full
//! count (say `--baseline-users 2000` to measure it all, which takes about 100 s more).
//!
//! `--realistic` is a tenant as schools meet it: 250 ms on every request, Graph's 20 writes/s
//! with 429 + Retry-After, every 20th write (5 %) answered `503` with `Retry-After: 1`, and for
//! each person what a push does: the backup read of the current photo, then the write, after
//! one directory listing (the run's keys go to `prepare` first, as the engine does).

#![allow(clippy::unwrap_used)] // a benchmark that cannot unwrap has failed

#[path = "../tests/support/fake_graph.rs"]
mod fake_graph;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fake_graph::{FakeGraph, Quota, User};
use picday_core::layers::{StackOptions, stack};
use picday_core::{Person, Profile, Subject, Target, TargetSpec};
use picday_target_entra::EntraTarget;

#[derive(Debug)]
struct Args {
    users: usize,
    latency: Duration,
    quota: f64,
    burst: f64,
    baseline_users: usize,
    /// Every `n`th write is answered 503 with Retry-After: 1 (0: never).
    fault_every: u64,
    /// Read each user's current photo before writing it (the backup of a push).
    reads: bool,
}

fn args() -> Args {
    let mut a = Args {
        users: 2000,
        latency: Duration::from_millis(50),
        quota: 100.0,
        burst: 100.0,
        baseline_users: 500,
        fault_every: 0,
        reads: false,
    };
    let mut argv = std::env::args().skip(1);
    let mut burst_set = false;
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "--realistic" => {
                a.latency = Duration::from_millis(250);
                a.quota = 20.0;
                a.burst = 20.0;
                burst_set = true;
                a.fault_every = 20;
                a.reads = true;
                continue;
            }
            "--reads" => {
                a.reads = true;
                continue;
            }
            _ => {}
        }
        let value = argv.next().unwrap_or_default();
        let num = || {
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--users" => a.users = num() as usize,
            "--latency-ms" => a.latency = Duration::from_millis(num() as u64),
            "--quota" => a.quota = num(),
            "--burst" => {
                a.burst = num();
                burst_set = true;
            }
            "--baseline-users" => a.baseline_users = num() as usize,
            "--fault-every" => a.fault_every = num() as u64,
            other => panic!("unknown option {other}"),
        }
    }
    if !burst_set {
        a.burst = a.quota;
    }
    a.baseline_users = a.baseline_users.min(a.users).max(1);
    a
}

fn tenant(n: usize) -> Vec<User> {
    (0..n)
        .map(|i| {
            User::new(
                format!("00000000-0000-4000-8000-{i:012}"),
                format!("user{i}@bench.example"),
                format!("user{i}@bench.example"),
            )
        })
        .collect()
}

/// The classic script: one `PUT /users/{mail}/photo/$value` at a time, no retries.
async fn one_at_a_time(fake: &FakeGraph, users: usize, photo: &[u8]) -> (Duration, usize) {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/bench/oauth2/v2.0/token", fake.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "bench"),
            ("client_secret", "bench"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let token = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let start = Instant::now();
    let mut lost = 0;
    for i in 0..users {
        let ok = http
            .put(format!(
                "{}/v1.0/users/user{i}@bench.example/photo/$value",
                fake.url
            ))
            .bearer_auth(&token)
            .header("content-type", "image/jpeg")
            .body(photo.to_vec())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if !ok {
            lost += 1;
        }
    }
    (start.elapsed(), lost)
}

/// picday: the Entra target through the standard layers, every user queued at once; with
/// `reads`, each person's current photo is read (the backup) before the write.
async fn picday(
    fake: &FakeGraph,
    users: usize,
    photo: picday_core::Photo,
    reads: bool,
) -> (Duration, usize) {
    let options: toml::Table = toml::from_str(&format!(
        "tenant_id = \"bench\"\nclient_id = \"bench\"\nclient_secret = \"bench\"\n\
         login_url = \"{0}\"\ngraph_url = \"{0}\"\n",
        fake.url
    ))
    .expect("toml");
    let spec = TargetSpec::new("entra", "entra", options, std::path::Path::new("."));
    let target: Arc<dyn Target> = Arc::new(EntraTarget::from_spec(&spec).expect("target"));
    let stacked = stack(target.clone(), &StackOptions::default());
    let start = Instant::now();
    let subjects: Vec<Subject> = (0..users)
        .map(|i| {
            let person = Arc::new(Person::new(
                format!("{i}.jpg"),
                [("mail", format!("user{i}@bench.example"))],
            ));
            target.subject(person).expect("subject")
        })
        .collect();
    let keys: Vec<String> = subjects.iter().map(|s| s.key.clone()).collect();
    stacked.prepare(&keys).await.expect("prepare");
    let mut tasks = tokio::task::JoinSet::new();
    for subject in subjects {
        let t = stacked.clone();
        let photo = photo.clone();
        tasks.spawn(async move {
            if reads {
                t.get_photo(&subject).await?;
            }
            t.put_photo(&subject, &photo).await
        });
    }
    let mut lost = 0;
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.expect("task") {
            eprintln!("lost: {e}");
            lost += 1;
        }
    }
    (start.elapsed(), lost)
}

#[tokio::main]
async fn main() {
    let a = args();
    let profile = Profile::square(648).with_max_bytes(4 * 1024 * 1024);
    let photo = picday_testkit::fixtures::photo(profile, 1);
    let quota = Quota {
        rate: a.quota,
        burst: a.burst,
    };
    println!(
        "graph_bench: {} users, {} ms per request, write quota {} writes/s (burst {}), photo {} bytes{}{}",
        a.users,
        a.latency.as_millis(),
        a.quota,
        a.burst,
        photo.len(),
        if a.fault_every > 0 {
            format!(
                ", every {}th write answered 503 (Retry-After: 1)",
                a.fault_every
            )
        } else {
            String::new()
        },
        if a.reads {
            ", a backup read before each write"
        } else {
            ""
        },
    );

    let fake = FakeGraph::start(tenant(a.users), a.latency, Some(quota)).await;
    fake.fail_every_nth_write(a.fault_every);
    let (base_time, base_lost) = one_at_a_time(&fake, a.baseline_users, &photo.bytes).await;
    let base_full = base_time.mul_f64(a.users as f64 / a.baseline_users as f64);
    let base_stored = fake.photo_count();

    let fake = FakeGraph::start(tenant(a.users), a.latency, Some(quota)).await;
    fake.fail_every_nth_write(a.fault_every);
    let (pd_time, pd_lost) = picday(&fake, a.users, photo.clone(), a.reads).await;
    let stored = fake.photo_count();
    let s = &fake.stats;

    let quota_time = Duration::from_secs_f64(((a.users as f64 - a.burst).max(0.0)) / a.quota);
    let rate = |t: Duration| a.users as f64 / t.as_secs_f64();
    println!();
    println!(
        "{:<28} {:>10} {:>12} {:>8} {:>10}",
        "", "time (s)", "writes/s", "lost", "% quota"
    );
    println!(
        "{:<28} {:>10.1} {:>12.1} {:>8} {:>9.0}%{}",
        "one at a time (classic)",
        base_full.as_secs_f64(),
        rate(base_full),
        base_lost,
        100.0 * quota_time.as_secs_f64() / base_full.as_secs_f64(),
        if a.baseline_users < a.users {
            format!(
                "  (measured on {} users: {:.1} s, scaled)",
                a.baseline_users,
                base_time.as_secs_f64()
            )
        } else {
            String::new()
        }
    );
    println!(
        "{:<28} {:>10.1} {:>12.1} {:>8} {:>9.0}%",
        "picday (layers::stack)",
        pd_time.as_secs_f64(),
        rate(pd_time),
        pd_lost,
        100.0 * quota_time.as_secs_f64() / pd_time.as_secs_f64()
    );
    println!(
        "{:<28} {:>10.1} {:>12.1} {:>8} {:>9.0}%",
        "the quota itself",
        quota_time.as_secs_f64(),
        a.quota,
        "-",
        100.0
    );
    println!();
    println!(
        "picday: {:.1}x faster than one at a time; {} photos stored of {} ({} lost); \
         {} requests, {} answered 429, peak {} in flight, {} token request(s)",
        base_full.as_secs_f64() / pd_time.as_secs_f64(),
        stored,
        a.users,
        a.users - stored,
        s.requests.load(Ordering::SeqCst),
        s.throttled.load(Ordering::SeqCst),
        s.peak_in_flight.load(Ordering::SeqCst),
        s.token_requests.load(Ordering::SeqCst),
    );
    let per = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::SeqCst) as f64 / a.users as f64;
    println!(
        "picday requests per person: {:.2} in all ({:.2} lookups, {:.3} list pages, {:.2} photo \
         requests of which {:.2} write attempts); {} answered 503",
        per(&s.requests),
        per(&s.lookups),
        per(&s.list_pages),
        per(&s.photo_requests),
        per(&s.write_attempts),
        s.unavailable.load(Ordering::SeqCst),
    );
    println!(
        "one at a time: {base_stored} photos stored of {} sent ({base_lost} lost: no retries)",
        a.baseline_users
    );
    assert_eq!(pd_lost, 0, "picday lost photos");
    assert_eq!(stored, a.users, "the fake holds fewer photos than users");
}
