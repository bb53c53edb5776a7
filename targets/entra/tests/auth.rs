//! Each way of getting a token, against a mockito server answering as the Microsoft identity
//! platform documents it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod support;

use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mockito::Matcher;
use picday_core::{ErrorKind, TargetIo};
use picday_target_entra::EntraTarget;
use serde_json::Value;
use support::{CLIENT, SECRET, spec, target};

const TOKEN_PATH: &str = "/contoso-tenant/oauth2/v2.0/token";
/// The `aud` of every certificate assertion: the global cloud's own token endpoint, although
/// the requests go to the test server (`login_url`), as they would through a proxy.
const CLOUD_TOKEN_URL: &str = "https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token";
const USERS_TOP: &str = "/v1.0/users?$top=1&$select=id,userPrincipalName";

fn token_body(token: &str) -> String {
    format!(
        r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{token}"}}"#
    )
}

async fn users_mock(server: &mut mockito::ServerGuard, token: &str) -> mockito::Mock {
    server
        .mock("GET", USERS_TOP)
        .match_header("authorization", format!("Bearer {token}").as_str())
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(r#"{"value":[{"id":"u-1","userPrincipalName":"first@school.example"}]}"#)
        .create_async()
        .await
}

#[tokio::test]
async fn client_secret_flow_posts_the_documented_form() {
    let mut server = mockito::Server::new_async().await;
    let token = server
        .mock("POST", TOKEN_PATH)
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "client_credentials".into()),
            Matcher::UrlEncoded("client_id".into(), CLIENT.into()),
            Matcher::UrlEncoded("client_secret".into(), SECRET.into()),
            Matcher::UrlEncoded(
                "scope".into(),
                "https://graph.microsoft.com/.default".into(),
            ),
        ]))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(token_body("tok-secret"))
        .expect(1)
        .create_async()
        .await;
    let users = users_mock(&mut server, "tok-secret").await;
    let t = target(&server.url(), &server.url(), &[]);
    let report = t.check().await.expect("check");
    assert!(
        report.ok.iter().any(|l| l.contains("first@school.example")),
        "{report:?}"
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("written into the configuration")),
        "an inline secret is warned about: {report:?}"
    );
    let debug = format!("{t:?} {report:?}");
    assert!(!debug.contains(SECRET), "the secret leaked: {debug}");
    token.assert_async().await;
    users.assert_async().await;
}

#[tokio::test]
async fn national_cloud_asks_for_its_own_graph_scope() {
    let mut server = mockito::Server::new_async().await;
    let token = server
        .mock("POST", TOKEN_PATH)
        .match_body(Matcher::UrlEncoded(
            "scope".into(),
            "https://dod-graph.microsoft.us/.default".into(),
        ))
        .with_status(200)
        .with_body(token_body("tok-dod"))
        .create_async()
        .await;
    let _users = users_mock(&mut server, "tok-dod").await;
    let t = target(&server.url(), &server.url(), &["cloud = \"usgov-dod\""]);
    t.check().await.expect("check");
    token.assert_async().await;
}

/// Captures the `client_assertion` of the token request and answers with a token.
async fn capture_assertion(server: &mut mockito::ServerGuard) -> Arc<Mutex<Option<String>>> {
    let seen = Arc::new(Mutex::new(None));
    let store = seen.clone();
    server
        .mock("POST", TOKEN_PATH)
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "client_credentials".into()),
            Matcher::UrlEncoded("client_id".into(), CLIENT.into()),
            Matcher::UrlEncoded(
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            Matcher::UrlEncoded(
                "scope".into(),
                "https://graph.microsoft.com/.default".into(),
            ),
        ]))
        .with_status(200)
        .with_body_from_request(move |req| {
            let body = req.utf8_lossy_body().unwrap().into_owned();
            let assertion = body
                .split('&')
                .find_map(|p| p.strip_prefix("client_assertion="))
                .map(str::to_string);
            *store.lock().unwrap() = assertion;
            token_body("tok-cert").into_bytes()
        })
        .create_async()
        .await;
    seen
}

fn thumbprint(kind: &str) -> String {
    let text = std::fs::read_to_string(support::fixtures().join("thumbprints.txt")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{kind} ")))
        .unwrap()
        .trim()
        .to_string()
}

/// Verifies the assertion's signature with the certificate's public key and its claims.
fn verify(assertion: &str, alg: Algorithm, token_url: &str) -> (jsonwebtoken::Header, Value) {
    let public = std::fs::read(support::fixtures().join("test-pub.pem")).unwrap();
    let key = DecodingKey::from_rsa_pem(&public).unwrap();
    let mut v = Validation::new(alg);
    v.set_audience(&[token_url]);
    v.set_issuer(&[CLIENT]);
    v.sub = Some(CLIENT.into());
    v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &v)
        .expect("the assertion verifies with the certificate's public key");
    (data.header, data.claims)
}

#[tokio::test]
async fn certificate_assertion_is_ps256_signed_with_x5t_s256() {
    let mut server = mockito::Server::new_async().await;
    let seen = capture_assertion(&mut server).await;
    let _users = users_mock(&mut server, "tok-cert").await;
    let t = target(
        &server.url(),
        &server.url(),
        &[
            "certificate = \"test-cert.pem\"",
            "private_key = { file = \"test-key.pem\" }",
        ],
    );
    t.check().await.expect("check");
    let assertion = seen.lock().unwrap().clone().expect("an assertion was sent");
    let (header, claims) = verify(&assertion, Algorithm::PS256, CLOUD_TOKEN_URL);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.x5t_s256, Some(thumbprint("x5t#S256")));
    assert_eq!(header.x5t, None);
    let (nbf, exp) = (
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(
        exp > nbf && exp - nbf <= 600,
        "valid for at most 10 minutes"
    );
    let jti = claims["jti"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(jti).is_ok(), "jti is a GUID: {jti}");
    // A PS256 signature does not verify as RS256: the padding really is PSS.
    let public = std::fs::read(support::fixtures().join("test-pub.pem")).unwrap();
    let mut parts = assertion.split('.');
    let (h, c, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let as_rs256 = jsonwebtoken::crypto::verify(
        s,
        format!("{h}.{c}").as_bytes(),
        &DecodingKey::from_rsa_pem(&public).unwrap(),
        Algorithm::RS256,
    )
    .unwrap_or(false);
    assert!(!as_rs256, "the signature must be PSS, not PKCS#1 v1.5");
}

#[tokio::test]
async fn certificate_assertion_rs256_fallback_uses_sha1_x5t_and_a_combined_pem() {
    let dir = tempfile::tempdir().unwrap();
    let cert = std::fs::read_to_string(support::fixtures().join("test-cert.pem")).unwrap();
    let key = std::fs::read_to_string(support::fixtures().join("test-key-pkcs1.pem")).unwrap();
    std::fs::write(dir.path().join("app.pem"), format!("{key}{cert}")).unwrap();
    let mut server = mockito::Server::new_async().await;
    let seen = capture_assertion(&mut server).await;
    let _users = users_mock(&mut server, "tok-cert").await;
    let spec = support::spec_in(
        dir.path(),
        &server.url(),
        &server.url(),
        &["certificate = \"app.pem\"", "assertion = \"rs256\""],
    );
    let t = EntraTarget::from_spec(&spec).unwrap();
    t.check().await.expect("check");
    let assertion = seen.lock().unwrap().clone().unwrap();
    let (header, _) = verify(&assertion, Algorithm::RS256, CLOUD_TOKEN_URL);
    assert_eq!(header.x5t, Some(thumbprint("x5t")));
    assert_eq!(header.x5t_s256, None);
}

#[tokio::test]
async fn certificate_without_a_private_key_is_a_config_error() {
    let e = EntraTarget::from_spec(&spec(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        &["certificate = \"test-cert.pem\""],
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("private_key"), "{e}");
}

#[tokio::test]
async fn device_code_polls_through_authorization_pending() {
    let mut server = mockito::Server::new_async().await;
    let device = server
        .mock("POST", "/contoso-tenant/oauth2/v2.0/devicecode")
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("client_id".into(), CLIENT.into()),
            Matcher::UrlEncoded(
                "scope".into(),
                "https://graph.microsoft.com/.default offline_access".into(),
            ),
        ]))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(
            r#"{"user_code":"FAKE-CODE","device_code":"dev-code-123","verification_uri":"https://login.example/device","expires_in":900,"interval":1,"message":"To sign in, open the page https://login.example/device and enter the code FAKE-CODE to authenticate."}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let poll = Matcher::AllOf(vec![
        Matcher::UrlEncoded(
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:device_code".into(),
        ),
        Matcher::UrlEncoded("device_code".into(), "dev-code-123".into()),
        Matcher::UrlEncoded("client_id".into(), CLIENT.into()),
    ]);
    let pending = server
        .mock("POST", TOKEN_PATH)
        .match_body(poll.clone())
        .with_status(400)
        .with_body(
            r#"{"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling.","error_codes":[70016]}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let granted = server
        .mock("POST", TOKEN_PATH)
        .match_body(poll)
        .with_status(200)
        .with_body(
            r#"{"token_type":"Bearer","scope":"ProfilePhoto.ReadWrite.All User.Read.All","expires_in":3599,"access_token":"tok-device","refresh_token":"refresh-1"}"#,
        )
        .expect(1)
        .create_async()
        .await;
    let users = users_mock(&mut server, "tok-device").await;
    let shown = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = shown.clone();
    let t = EntraTarget::with_prompt(
        &spec(&server.url(), &server.url(), &["auth = \"device_code\""]),
        Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string())),
    )
    .unwrap();
    t.check().await.expect("check after sign-in");
    assert_eq!(shown.lock().unwrap().len(), 1);
    assert!(shown.lock().unwrap()[0].contains("FAKE-CODE"));
    device.assert_async().await;
    pending.assert_async().await;
    granted.assert_async().await;
    users.assert_async().await;
}

/// A device code sign-in whose poll the token endpoint answers 400 with `body`: the error
/// `check` ends with.
async fn device_code_refused(body: String) -> picday_core::Error {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/contoso-tenant/oauth2/v2.0/devicecode")
        .with_status(200)
        .with_body(r#"{"user_code":"C","device_code":"d","verification_uri":"https://login.example/device","expires_in":900,"interval":1}"#)
        .create_async()
        .await;
    server
        .mock("POST", TOKEN_PATH)
        .with_status(400)
        .with_header("content-type", "application/json; charset=utf-8")
        .with_body(body)
        .create_async()
        .await;
    let t = EntraTarget::with_prompt(
        &spec(&server.url(), &server.url(), &["auth = \"device_code\""]),
        Arc::new(|_: &str| {}),
    )
    .unwrap();
    t.check().await.unwrap_err()
}

#[tokio::test]
async fn device_code_declined_is_an_auth_error() {
    let e = device_code_refused(
        r#"{"error":"authorization_declined","error_description":"AADSTS70000: The user declined.","error_codes":[70000]}"#.into(),
    )
    .await;
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("declined"), "{e}");
}

/// A device code sign-in that a tenant's policy stops: the token endpoint's poll answers
/// `invalid_grant` with the AADSTS code (learn.microsoft.com/entra/identity/conditional-access/
/// concept-authentication-flows; codes from the AADSTS error reference). Each gets advice that
/// names another way in.
#[tokio::test]
async fn a_device_code_sign_in_blocked_by_policy_says_why_and_what_to_do() {
    for (code, words, advice) in [
        (
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
            "Conditional Access",
        ),
        (
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
            "multi-factor",
        ),
        (
            50105,
            "Your administrator has configured the application picday ('11111111-2222-3333-4444-555555555555') to block users unless they are specifically granted ('assigned') access to the application.",
            "not assigned",
        ),
    ] {
        let e = device_code_refused(format!(
            r#"{{"error":"invalid_grant","error_description":"AADSTS{code}: {words} Trace ID: 0000 Correlation ID: 1111 Timestamp: 2026-11-03 08:00:00Z","error_codes":[{code}],"timestamp":"2026-11-03 08:00:00Z","trace_id":"0000","correlation_id":"1111","suberror":"message_only"}}"#
        ))
        .await;
        assert_eq!(e.kind(), ErrorKind::Auth, "{code}");
        assert!(e.message().contains(advice), "{code}: {e}");
        assert!(
            e.message().contains(&format!("AADSTS{code}")),
            "{code}: {e}"
        );
    }
}

/// `check` reads the tenant's photo update settings (beta; PeopleSettings.Read.All). The
/// object as Graph returns it (learn.microsoft.com/graph/api/photoupdatesettings-get):
/// `source` `onPremises` is a warning with the `ldap` route, `cloud` an ok line, and a 403
/// (permission not granted, Graph's `Authorization_RequestDenied`) only a note.
#[tokio::test]
async fn check_reads_whether_the_tenant_takes_photos_from_on_premises() {
    let on_prem = r#"{"@odata.context":"https://graph.microsoft.com/beta/$metadata#admin/people/photoUpdateSettings/$entity","id":"photoUpdateSettings","source":"onPremises","allowedRoles":[]}"#;
    let cloud = r#"{"@odata.context":"https://graph.microsoft.com/beta/$metadata#admin/people/photoUpdateSettings/$entity","id":"photoUpdateSettings","source":"cloud","allowedRoles":["62e90394-69f5-4237-9190-012177145e10"]}"#;
    let denied = r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2026-11-03T08:00:00","request-id":"r","client-request-id":"c"}}}"#;
    for (status, body, expect_warning, words) in [
        (200, on_prem, true, "ldap"),
        (200, cloud, false, "managed in the cloud"),
        (403, denied, false, "PeopleSettings.Read.All"),
    ] {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", TOKEN_PATH)
            .with_status(200)
            .with_body(token_body("tok"))
            .create_async()
            .await;
        let _users = users_mock(&mut server, "tok").await;
        let settings = server
            .mock("GET", "/beta/admin/people/photoUpdateSettings")
            .match_header("authorization", "Bearer tok")
            .with_status(status)
            .with_header("content-type", "application/json")
            .with_body(body)
            .create_async()
            .await;
        let report = target(&server.url(), &server.url(), &[])
            .check()
            .await
            .unwrap();
        settings.assert_async().await;
        let lines = if expect_warning {
            &report.warnings
        } else {
            &report.ok
        };
        assert!(
            lines.iter().any(|l| l.contains(words)),
            "{status}: {report:?}"
        );
        if !expect_warning {
            assert!(
                !report.warnings.iter().any(|w| w.contains("on-premises")),
                "{report:?}"
            );
        }
    }
}

#[tokio::test]
async fn check_turns_common_token_failures_into_advice() {
    for (code, advice) in [
        (700016, "check client_id and tenant_id"),
        (7000215, "not its Secret ID"),
        (700027, "upload its public part"),
    ] {
        let mut server = mockito::Server::new_async().await;
        server
            .mock("POST", TOKEN_PATH)
            .with_status(if code == 700016 { 400 } else { 401 })
            .with_header("content-type", "application/json")
            .with_body(format!(
                r#"{{"error":"{}","error_description":"AADSTS{code}: Something about the client.\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2024-07-03 10:00:00Z","error_codes":[{code}],"timestamp":"2024-07-03 10:00:00Z","trace_id":"trace-{code}","correlation_id":"corr-{code}"}}"#,
                if code == 700016 { "unauthorized_client" } else { "invalid_client" }
            ))
            .create_async()
            .await;
        let t = target(&server.url(), &server.url(), &[]);
        let e = t.check().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{code}");
        assert!(e.message().contains(advice), "{code}: {e}");
        assert_eq!(
            e.context_value("code"),
            Some(format!("AADSTS{code}").as_str())
        );
        assert_eq!(
            e.context_value("request_id"),
            Some(format!("trace-{code}").as_str())
        );
        assert!(!e.to_string().contains(SECRET));
    }
}

#[tokio::test]
async fn check_turns_a_403_into_permission_advice() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", TOKEN_PATH)
        .with_status(200)
        .with_body(token_body("tok"))
        .create_async()
        .await;
    server
        .mock("GET", USERS_TOP)
        .with_status(403)
        .with_header("request-id", "req-403")
        .with_body(r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2024-07-03T10:00:00","request-id":"req-403","client-request-id":"c"}}}"#)
        .create_async()
        .await;
    let e = target(&server.url(), &server.url(), &[])
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permission);
    assert!(e.message().contains("ProfilePhoto.ReadWrite.All"), "{e}");
    assert!(e.message().contains("admin consent"), "{e}");
    // The other cause of a 403 on a photo: a hybrid tenant whose photos come from AD.
    assert!(e.message().contains("on-premises"), "{e}");
    assert_eq!(e.context_value("request_id"), Some("req-403"));
}

#[tokio::test]
async fn check_warns_when_the_token_lacks_a_photo_write_permission() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwt = format!(
        "{}.{}.sig",
        b64.encode(br#"{"typ":"JWT","alg":"RS256"}"#),
        b64.encode(br#"{"aud":"https://graph.microsoft.com","roles":["User.Read.All"]}"#)
    );
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", TOKEN_PATH)
        .with_status(200)
        .with_body(token_body(&jwt))
        .create_async()
        .await;
    let _users = users_mock(&mut server, &jwt).await;
    let report = target(&server.url(), &server.url(), &[])
        .check()
        .await
        .unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("User.Read.All") && w.contains("ProfilePhoto.ReadWrite.All")),
        "{report:?}"
    );
}

/// A proxy or gateway in front of the service may answer with the request it was given, form
/// body and headers included (Squid and corporate filters print the request on their error
/// pages; ASP.NET developer error pages list the headers). What picday prints, reports and keeps
/// must not quote the secret or the token, however the service words it.
#[tokio::test]
async fn a_service_that_echoes_the_request_never_gets_the_secret_or_token_printed() {
    // The token endpoint answers (so a token exists), then the gateway in front of Graph
    // echoes the Authorization header in a 502 page.
    let shown = echoed(200, 502, |req| {
        let auth = req.header("authorization");
        let auth = auth.first().and_then(|v| v.to_str().ok()).unwrap_or("");
        format!("Bad gateway. Request was: GET /v1.0/users\nAuthorization: {auth}\n")
    })
    .await;
    assert!(
        shown.contains("Bearer ***"),
        "the echo is kept, the value is not: {shown}"
    );
    assert!(!shown.contains("tok-echoed"), "{shown}");

    // The token endpoint itself echoes the posted form, secret form-encoded ("~" as "%7E").
    let shown = echoed(400, 200, |req| {
        let body = String::from_utf8_lossy(req.body().unwrap_or(&Vec::new())).into_owned();
        format!("<html><body><h1>Bad Request</h1><pre>{body}</pre></body></html>")
    })
    .await;
    assert!(
        shown.contains("client_secret=***"),
        "the echo is kept, the value is not: {shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}

/// `check` against a token endpoint answering `token_status` and a Graph answering
/// `graph_status`; the one that fails answers with `echo` of the request. Returns the error as
/// it would be shown and logged.
async fn echoed(
    token_status: usize,
    graph_status: usize,
    echo: fn(&mockito::Request) -> String,
) -> String {
    let mut server = mockito::Server::new_async().await;
    let token = server.mock("POST", TOKEN_PATH).with_status(token_status);
    let token = if token_status == 200 {
        token.with_body(token_body("eyJ0eXAi.tok-echoed.sig"))
    } else {
        token.with_body_from_request(move |req| echo(req).into())
    };
    token.create_async().await;
    server
        .mock("GET", USERS_TOP)
        .with_status(graph_status)
        .with_body_from_request(move |req| echo(req).into())
        .create_async()
        .await;
    let e = target(&server.url(), &server.url(), &[])
        .check()
        .await
        .unwrap_err();
    format!("{e} {e:?}")
}

/// A `.pfx` as Windows exports it (TripleDES-SHA1) and as OpenSSL 3 writes it (AES-256) signs
/// the same assertion as the PEM pair it was made from: the signature verifies with the
/// certificate's public key, the thumbprint is the certificate's, and the password comes from
/// a file, as a secret.
#[tokio::test]
async fn a_pfx_certificate_signs_like_its_pem_pair() {
    for pfx in ["test-3des.pfx", "test-aes.pfx"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(support::fixtures().join(pfx), dir.path().join("app.pfx")).unwrap();
        std::fs::write(dir.path().join("pfx-password"), "picday-test").unwrap();
        let mut server = mockito::Server::new_async().await;
        let seen = capture_assertion(&mut server).await;
        let _users = users_mock(&mut server, "tok-cert").await;
        let spec = support::spec_in(
            dir.path(),
            &server.url(),
            &server.url(),
            &[
                "certificate = \"app.pfx\"",
                "certificate_password = { file = \"pfx-password\" }",
            ],
        );
        let t = EntraTarget::from_spec(&spec).unwrap();
        let report = t.check().await.expect("check");
        assert!(
            !report.warnings.iter().any(|w| w.contains("written into")),
            "{pfx}: {report:?}"
        );
        let assertion = seen.lock().unwrap().clone().expect("an assertion was sent");
        let (header, _) = verify(&assertion, Algorithm::PS256, CLOUD_TOKEN_URL);
        assert_eq!(header.x5t_s256, Some(thumbprint("x5t#S256")), "{pfx}");
    }
}

/// What goes wrong with a `.pfx` is said when the configuration loads, naming the key: a wrong
/// or missing password, a file exported without its private key, a `private_key` beside it.
#[test]
fn a_pfx_that_cannot_be_used_is_refused_with_what_to_do() {
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &[
                "certificate = \"test-3des.pfx\"",
                "certificate_password = \"not-the-password\"",
            ],
            "certificate",
            "certificate_password",
        ),
        (
            &["certificate = \"test-aes.pfx\""],
            "certificate",
            "certificate_password",
        ),
        (
            &[
                "certificate = \"test-nokey.pfx\"",
                "certificate_password = \"picday-test\"",
            ],
            "certificate",
            "private key",
        ),
        (
            &[
                "certificate = \"test-aes.pfx\"",
                "certificate_password = \"picday-test\"",
                "private_key = { file = \"test-key.pem\" }",
            ],
            "private_key",
            "leave `private_key` out",
        ),
    ];
    for (extra, key, words) in cases {
        let e = EntraTarget::from_spec(&spec("http://127.0.0.1:9", "http://127.0.0.1:9", extra))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{extra:?}: {e}");
        assert!(e.to_string().contains(key), "{extra:?}: {e}");
        assert!(e.to_string().contains(words), "{extra:?}: {e}");
        assert!(!e.to_string().contains("not-the-password"), "{e}");
    }
}

/// The query parameters of a URL, decoded.
fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            (k.to_string(), v.into_owned())
        })
        .collect()
}

/// A test "browser": what the identity platform does once the administrator has signed in.
/// A stray request (a favicon) comes first and must be waited past; then the redirect to
/// `redirect_uri` with `redirect` (a code or an error) and the request's `state`.
fn browser(
    seen: Arc<Mutex<Option<String>>>,
    redirect: &'static str,
) -> picday_target_entra::auth::Browser {
    Arc::new(move |url: &str| {
        *seen.lock().unwrap() = Some(url.to_string());
        let q = query_of(url);
        let back = q["redirect_uri"].clone();
        let state = q["state"].clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let stray = http
                .get(format!("{back}/favicon.ico"))
                .send()
                .await
                .unwrap();
            assert_eq!(stray.status(), 404);
            let page = http
                .get(format!(
                    "{back}/?{redirect}&state={state}&session_state=s-1"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200);
        });
        true
    })
}

/// `auth = "browser"`: the authorization code flow with PKCE on a loopback redirect, as the
/// identity platform documents it (learn.microsoft.com/entra/identity-platform/
/// v2-oauth2-auth-code-flow): the authorize URL carries the S256 challenge, a state and
/// `offline_access`; the code comes back to `http://localhost:PORT` with that state; the
/// token request redeems it with the verifier whose S256 is the challenge.
#[tokio::test]
async fn a_browser_sign_in_redeems_the_code_with_the_pkce_verifier() {
    let mut server = mockito::Server::new_async().await;
    let form = Arc::new(Mutex::new(String::new()));
    let store = form.clone();
    let token = server
        .mock("POST", TOKEN_PATH)
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
            Matcher::UrlEncoded("client_id".into(), CLIENT.into()),
            Matcher::UrlEncoded("code".into(), "0.AXcode-from-entra".into()),
        ]))
        .with_status(200)
        .with_body_from_request(move |req| {
            *store.lock().unwrap() = req.utf8_lossy_body().unwrap().into_owned();
            br#"{"token_type":"Bearer","scope":"https://graph.microsoft.com/.default","expires_in":4766,"ext_expires_in":4766,"access_token":"tok-browser","refresh_token":"rt-1"}"#.to_vec()
        })
        .create_async()
        .await;
    let users = users_mock(&mut server, "tok-browser").await;
    let url = Arc::new(Mutex::new(None));
    let t = EntraTarget::with_browser(
        &spec(&server.url(), &server.url(), &["auth = \"browser\""]),
        Arc::new(|_: &str| {}),
        browser(url.clone(), "code=0.AXcode-from-entra"),
    )
    .unwrap();
    t.check().await.expect("check after the browser sign-in");
    token.assert_async().await;
    users.assert_async().await;

    let url = url.lock().unwrap().clone().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/contoso-tenant/oauth2/v2.0/authorize?",
            server.url()
        )),
        "{url}"
    );
    let asked = query_of(&url);
    assert_eq!(asked["client_id"], CLIENT);
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert!(asked["scope"].contains("offline_access"), "{url}");
    assert!(
        asked["redirect_uri"].starts_with("http://localhost:"),
        "{url}"
    );
    let sent = query_of(&format!("?{}", form.lock().unwrap()));
    assert_eq!(sent["redirect_uri"], asked["redirect_uri"]);
    use base64::Engine as _;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sent["code_verifier"].as_bytes()),
    );
    assert_eq!(
        challenge, asked["code_challenge"],
        "the verifier answers the challenge"
    );
    assert!(
        !format!("{t:?}").contains("rt-1"),
        "the refresh token stays out of Debug"
    );
}

/// A sign-in the identity platform refuses comes back as an error redirect; picday says why.
#[tokio::test]
async fn a_refused_browser_sign_in_is_an_auth_error_with_the_reason() {
    let server = mockito::Server::new_async().await;
    let t = EntraTarget::with_browser(
        &spec(&server.url(), &server.url(), &["auth = \"browser\""]),
        Arc::new(|_: &str| {}),
        browser(
            Arc::default(),
            "error=access_denied&error_description=AADSTS53003%3A+Access+has+been+blocked+by+Conditional+Access+policies.",
        ),
    )
    .unwrap();
    let e = t.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(e.message().contains("access_denied"), "{e}");
    assert!(e.message().contains("AADSTS53003"), "{e}");
    assert!(
        e.message().contains("auth = \"certificate\""),
        "advice: {e}"
    );
}
