//! Getting (and keeping) a Graph access token from the Microsoft identity platform.
//!
//! Three ways, because schools differ: a client secret (simplest), a certificate (what security
//! teams ask for: the private key never leaves the machine, and Microsoft recommends it), and
//! the device code flow for an administrator who signs in interactively with delegated
//! permissions. Tokens are cached by [`picday_http::TokenCache`], renewed five minutes before
//! they expire, and the client retries once with a fresh token when Graph says a token is no
//! longer valid, so a run longer than a token's life never fails for that reason.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use picday_core::{Error, Result, Secret};
use picday_http::{AccessToken, TokenCache, TokenReply, TokenSource};
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde::Deserialize;

use crate::config::{AssertionAlg, Credential, Settings};
use crate::error::{TokenError, token_error};

/// Renew tokens this long before they expire.
pub const RENEW_EARLY: Duration = Duration::from_secs(300);
/// Lifetime of a certificate assertion (Microsoft accepts 5-10 minutes).
const ASSERTION_LIFETIME: u64 = 600;
/// The client-assertion type of the certificate flow.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The grant type the device code flow polls with.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Shows the sign-in instructions to the administrator (device code, browser).
pub type Prompt = Arc<dyn Fn(&str) + Send + Sync>;

/// Opens a sign-in page in the administrator's browser; whether it could.
pub type Browser = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The PEM sections of `text` that decode, in order; a damaged section is passed over.
fn pem_sections(text: &str) -> impl Iterator<Item = (SectionKind, Vec<u8>)> + '_ {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(text.as_bytes()).filter_map(|section| section.ok())
}

/// The DER body of the first PEM section labelled `label` (`CERTIFICATE`, `PRIVATE KEY`...).
pub fn pem_block(text: &str, label: &str) -> Option<Vec<u8>> {
    let kind = SectionKind::try_from(label.as_bytes()).ok()?;
    pem_sections(text)
        .find(|(k, der)| *k == kind && !der.is_empty())
        .map(|(_, der)| der)
}

/// The first private key PEM section in `text` as PEM: PKCS#8 (`PRIVATE KEY`) if there is
/// one, else PKCS#1 (`RSA PRIVATE KEY`), which is what `jsonwebtoken` reads.
pub fn private_key_pem(text: &str) -> Option<String> {
    [
        (SectionKind::PrivateKey, "PRIVATE KEY"),
        (SectionKind::RsaPrivateKey, "RSA PRIVATE KEY"),
    ]
    .into_iter()
    .find_map(|(kind, label)| {
        let der = pem_sections(text)
            .find(|(k, der)| *k == kind && !der.is_empty())?
            .1;
        Some(to_pem(label, &der))
    })
}

/// The certificate (DER) and its private key (PKCS#8 PEM) in a PKCS#12 file (`.pfx`, `.p12`),
/// as Windows exports them (`Export-PfxCertificate`: TripleDES-SHA1 by default, AES256-SHA256
/// on request) and as OpenSSL 3 writes them (AES-256). The error says what to do.
pub fn pkcs12(data: &[u8], password: &str) -> std::result::Result<(Vec<u8>, String), String> {
    use p12_keystore::error::Error as P12Error;
    use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
    let store =
        KeyStore::from_pkcs12(data, password, Pkcs12ImportPolicy::Strict).map_err(|e| match e {
            P12Error::MacError(_) => "its password is not `certificate_password` (or \
                                      `certificate_password` is missing)"
                .to_string(),
            P12Error::UnsupportedEncryptionScheme | P12Error::UnsupportedMacAlgorithm => {
                "it is protected with a scheme picday does not read; export it again with \
                 `Export-PfxCertificate -CryptoAlgorithmOption AES256_SHA256` (or TripleDES)"
                    .to_string()
            }
            other => format!("it is not a PKCS#12 (.pfx) file picday can read ({other})"),
        })?;
    let (_, chain) = store.private_key_chain().ok_or_else(|| {
        "it holds no private key with its certificate: export it with the private key \
         (Export-PfxCertificate, or \"Yes, export the private key\" in the wizard)"
            .to_string()
    })?;
    let cert = chain
        .certs()
        .first()
        .ok_or_else(|| "it holds a private key but not its certificate".to_string())?;
    Ok((
        cert.as_der().to_vec(),
        to_pem("PRIVATE KEY", chain.key().as_der()),
    ))
}

/// DER as a PEM section: base64 in lines of 64 characters between the markers.
fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The base64url SHA-256 thumbprint of a DER certificate (`x5t#S256`).
pub fn thumbprint_sha256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}

/// The base64url SHA-1 thumbprint of a DER certificate (`x5t`, the older form).
pub fn thumbprint_sha1(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        der,
    ))
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A signed client assertion for the certificate flow, as Microsoft documents it: `aud` is the
/// cloud's token endpoint (`audience`, whatever URL the request goes to), `iss` = `sub` = the client id, a fresh `jti`, valid for ten minutes.
pub fn client_assertion(
    audience: &str,
    client_id: &str,
    cert_der: &[u8],
    key_pem: &Secret,
    alg: AssertionAlg,
) -> Result<Secret> {
    let mut header = match alg {
        AssertionAlg::Ps256 => {
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
            h.x5t_s256 = Some(thumbprint_sha256(cert_der));
            h
        }
        AssertionAlg::Rs256 => {
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            h.x5t = Some(thumbprint_sha1(cert_der));
            h
        }
    };
    header.typ = Some("JWT".into());
    let now = now_secs();
    let claims = Claims {
        aud: audience,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now + ASSERTION_LIFETIME,
    };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose().as_bytes())
        .map_err(|_| Error::config("the certificate's private key is not a usable RSA key"))?;
    jsonwebtoken::encode(&header, &claims, &key)
        .map(Secret::new)
        .map_err(|e| Error::internal(format!("cannot sign the client assertion: {e}")))
}

#[derive(Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    verification_uri: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

/// Gets tokens for one target.
pub struct Authenticator {
    http: reqwest::Client,
    token_url: String,
    /// The `aud` of certificate assertions (see [`Settings::assertion_audience`]).
    assertion_audience: String,
    device_url: String,
    authorize_url: String,
    client_id: String,
    scope: String,
    credential: Credential,
    cache: TokenCache,
    refresh_token: tokio::sync::Mutex<Option<Secret>>,
    prompt: Prompt,
    browser: Browser,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field(
                "credential",
                &match self.credential {
                    Credential::Secret(_) => "secret",
                    Credential::Certificate { .. } => "certificate",
                    Credential::DeviceCode => "device code",
                    Credential::Browser => "browser",
                },
            )
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(http: reqwest::Client, settings: &Settings) -> Self {
        let base = format!("{}/{}/oauth2/v2.0", settings.login_url, settings.tenant_id);
        Authenticator {
            http,
            token_url: format!("{base}/token"),
            assertion_audience: settings.assertion_audience.clone(),
            device_url: format!("{base}/devicecode"),
            authorize_url: format!("{base}/authorize"),
            client_id: settings.client_id.clone(),
            scope: settings.scope.clone(),
            credential: settings.credential.clone(),
            cache: TokenCache::new(RENEW_EARLY),
            refresh_token: tokio::sync::Mutex::new(None),
            prompt: Arc::new(|message: &str| eprintln!("{message}")),
            browser: Arc::new(picday_http::open_in_browser),
        }
    }

    /// Replaces how the browser is opened for `auth = "browser"` (the system's default
    /// browser otherwise).
    pub fn set_browser(&mut self, browser: Browser) {
        self.browser = browser;
    }

    /// Replaces how device code instructions are shown (stderr by default).
    pub fn set_prompt(&mut self, prompt: Prompt) {
        self.prompt = prompt;
    }

    /// The token endpoint the requests go to.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// A valid access token, from the cache or freshly acquired.
    pub async fn token(&self) -> Result<Secret> {
        self.cache.get(|| self.acquire()).await
    }

    /// Forgets a token Graph refused.
    pub async fn invalidate(&self, stale: &Secret) {
        self.cache.invalidate(stale).await;
    }

    async fn acquire(&self) -> Result<AccessToken> {
        match &self.credential {
            Credential::Secret(secret) => {
                self.request(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &self.client_id),
                    ("client_secret", secret.expose()),
                    ("scope", &self.scope),
                ])
                .await
            }
            Credential::Certificate {
                cert_der,
                key_pem,
                alg,
            } => {
                let assertion = client_assertion(
                    &self.assertion_audience,
                    &self.client_id,
                    cert_der,
                    key_pem,
                    *alg,
                )?;
                self.request(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &self.client_id),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.expose()),
                    ("scope", &self.scope),
                ])
                .await
            }
            Credential::DeviceCode => self.device_code().await,
            Credential::Browser => self.browser_sign_in().await,
        }
    }

    /// Posts a token request and reads the answer.
    async fn request(&self, form: &[(&str, &str)]) -> Result<AccessToken> {
        let (token, refresh) = self.post_token(form).await.map_err(|(e, _)| e)?;
        if let Some(r) = refresh {
            *self.refresh_token.lock().await = Some(r);
        }
        Ok(token)
    }

    /// Posts to the token endpoint; a failure comes with the parsed body (for device polling).
    async fn post_token(
        &self,
        form: &[(&str, &str)],
    ) -> std::result::Result<(AccessToken, Option<Secret>), (Error, TokenError)> {
        let request = self
            .http
            .post(&self.token_url)
            .header("client-request-id", picday_http::request_id());
        match picday_http::request_token("token request", request, form).await {
            Ok(TokenReply::Granted(t)) => {
                Ok((t.access_token(Duration::from_secs(3599)), t.refresh_token()))
            }
            Ok(TokenReply::Refused(r)) => Err((
                token_error(r.status, &r.headers, &r.body),
                TokenError::parse(&r.body),
            )),
            Err(e) => Err((e, TokenError::default())),
        }
    }

    /// A token from the refresh token of an earlier sign-in, if there is one and it still
    /// works (a long run does not ask the administrator again).
    async fn refreshed(&self) -> Option<AccessToken> {
        let refresh = self.refresh_token.lock().await.clone()?;
        match self
            .request(&[
                ("grant_type", "refresh_token"),
                ("client_id", &self.client_id),
                ("refresh_token", refresh.expose()),
                ("scope", &self.scope_offline()),
            ])
            .await
        {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "refreshing the token failed; signing in again");
                None
            }
        }
    }

    /// The browser flow ([`crate::browser`]): opens the authorize page, waits for the
    /// loopback redirect with its code, and redeems it with the PKCE verifier.
    async fn browser_sign_in(&self) -> Result<AccessToken> {
        if let Some(t) = self.refreshed().await {
            return Ok(t);
        }
        let pkce = crate::browser::Pkce::new()?;
        let redirect = crate::browser::Redirect::listen().await?;
        let scope = self.scope_offline();
        let q = |v: &str| {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let url = format!(
            "{}?client_id={}&response_type=code&redirect_uri={}&response_mode=query&scope={}\
             &code_challenge={}&code_challenge_method=S256&state={}&prompt=select_account",
            self.authorize_url,
            q(&self.client_id),
            q(&redirect.uri),
            q(&scope),
            pkce.challenge,
            pkce.state
        );
        let message = if (self.browser)(&url) {
            format!(
                "Sign in in the browser window picday opened. If none opened, open this \
                 address on this computer:\n{url}"
            )
        } else {
            format!("To sign in, open this address in a browser on this computer:\n{url}")
        };
        (self.prompt)(&message);
        let code = redirect.code(&pkce.state).await?;
        self.request(&[
            ("grant_type", "authorization_code"),
            ("client_id", &self.client_id),
            ("code", code.expose()),
            ("redirect_uri", &redirect.uri),
            ("code_verifier", pkce.verifier.expose()),
            ("scope", &scope),
        ])
        .await
        .map_err(|e| e.prefixed("browser sign-in"))
    }

    /// The device code flow: renew with the refresh token when there is one, else show the
    /// code and poll until the administrator has signed in.
    async fn device_code(&self) -> Result<AccessToken> {
        if let Some(t) = self.refreshed().await {
            return Ok(t);
        }
        let request = self
            .http
            .post(&self.device_url)
            .header("client-request-id", picday_http::request_id())
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("scope", &self.scope_offline()),
            ]);
        let r = picday_http::send("device code request", request).await?;
        if !r.is_success() {
            return Err(token_error(r.status, &r.headers, &r.body).prefixed("device code sign-in"));
        }
        let dc: DeviceCodeResponse = serde_json::from_slice(&r.body)
            .map_err(|_| Error::protocol("the device code endpoint answered without a code"))?;
        let message = dc.message.clone().unwrap_or_else(|| {
            format!(
                "To sign in, open {} and enter the code {}.",
                dc.verification_uri, dc.user_code
            )
        });
        (self.prompt)(&message);
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(dc.expires_in.unwrap_or(900));
        let mut interval = Duration::from_secs(dc.interval.unwrap_or(5));
        loop {
            tokio::time::sleep(interval).await;
            if tokio::time::Instant::now() > deadline {
                return Err(Error::auth(
                    "device code sign-in: the code expired before anyone signed in",
                ));
            }
            let form = [
                ("grant_type", DEVICE_CODE_GRANT),
                ("client_id", self.client_id.as_str()),
                ("device_code", dc.device_code.as_str()),
            ];
            match self.post_token(&form).await {
                Ok((token, refresh)) => {
                    *self.refresh_token.lock().await = refresh;
                    return Ok(token);
                }
                Err((_, t)) if t.error == "authorization_pending" => {}
                Err((_, t)) if t.error == "slow_down" => interval += Duration::from_secs(5),
                Err((e, t)) => {
                    let why = match t.error.as_str() {
                        "authorization_declined" => "the administrator declined the sign-in",
                        "expired_token" => "the code expired before anyone signed in",
                        "bad_verification_code" => "the identity platform did not know the code",
                        _ => return Err(e.prefixed("device code sign-in")),
                    };
                    return Err(Error::auth(format!("device code sign-in: {why}"))
                        .with_context("code", t.error));
                }
            }
        }
    }

    fn scope_offline(&self) -> String {
        format!("{} offline_access", self.scope)
    }
}

impl TokenSource for Authenticator {
    async fn token(&self) -> Result<Secret> {
        Authenticator::token(self).await
    }

    async fn invalidate(&self, stale: &Secret) {
        Authenticator::invalidate(self, stale).await;
    }
}

/// The application permissions (`roles`) or delegated scopes (`scp`) of an access token, read
/// without verifying it (only Graph verifies tokens; this is for advice in `check`).
pub fn token_permissions(token: &Secret) -> Option<Vec<String>> {
    let payload = token.expose().split('.').nth(1)?;
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let mut out: Vec<String> = json
        .get("roles")
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if let Some(scp) = json.get("scp").and_then(|s| s.as_str()) {
        out.extend(scp.split_whitespace().map(String::from));
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_found_among_others() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n\
                    -----BEGIN PRIVATE KEY-----\nxyz\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_block(text, "CERTIFICATE"), Some(vec![1, 2, 3, 4]));
        assert!(
            private_key_pem(text)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert_eq!(pem_block("nothing", "CERTIFICATE"), None);
    }

    #[test]
    fn token_permissions_reads_roles_and_scopes() {
        let payload = URL_SAFE_NO_PAD.encode(
            br#"{"roles":["ProfilePhoto.ReadWrite.All"],"scp":"User.Read offline_access"}"#,
        );
        let t = Secret::new(format!("h.{payload}.s"));
        assert_eq!(
            token_permissions(&t).unwrap(),
            vec!["ProfilePhoto.ReadWrite.All", "User.Read", "offline_access"]
        );
        assert_eq!(token_permissions(&Secret::new("opaque")), None);
    }
}
