//! A wrong client secret is asked about once per run, not once per person: after the token
//! endpoint refuses picday's credentials, the credentials breaker (`picday_core::layers`) fails
//! the rest of the target's people at once. Before it, 40 people meant 40 token requests.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use picday_core::engine::{Engine, Quiet, RunTarget};
use picday_core::layers::{StackOptions, stack};
use picday_core::{ErrorKind, Person, Status};
use tokio_util::sync::CancellationToken;

const TOKEN_PATH: &str = "/contoso-tenant/oauth2/v2.0/token";

#[tokio::test]
async fn a_refused_secret_costs_one_token_request_for_the_whole_run() {
    let mut server = mockito::Server::new_async().await;
    // Entra's answer to a wrong client secret (AADSTS7000215), as the token endpoint sends it:
    // https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
    let token = server
        .mock("POST", TOKEN_PATH)
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_body(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '11111111-2222-3333-4444-555555555555'.\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2024-07-03 10:00:00Z","error_codes":[7000215],"timestamp":"2024-07-03 10:00:00Z","trace_id":"trace-1","correlation_id":"corr-1"}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let target = Arc::new(support::target(&server.url(), &server.url(), &[]));
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<Person> = (0..40)
        .map(|n| {
            let photo = dir.path().join(format!("{n}.jpg"));
            std::fs::write(
                &photo,
                picday_testkit::fixtures::source_jpeg(64, 80, n as u8),
            )
            .unwrap();
            Person::new(&photo, [("mail", format!("student{n}@school.example"))])
        })
        .collect();
    let summary = Engine::default()
        .run(
            people,
            vec![RunTarget {
                name: "entra".into(),
                target: stack(target, &StackOptions::default()),
            }],
            Arc::new(Quiet),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(summary.outcomes.len(), 40);
    for o in &summary.outcomes {
        assert_eq!(o.status, Status::Failed, "{o:?}");
        assert_eq!(o.kind, Some(ErrorKind::Auth), "{}", o.reason);
        assert!(o.reason.contains("AADSTS7000215"), "{}", o.reason);
        assert!(!o.reason.contains(support::SECRET));
    }
    token.assert_async().await;
}
