//! Service-account authentication for the Directory API, in the two ways Google offers.
//!
//! * **Domain-wide delegation** (`admin` set): picday signs an RS256 JWT with the key file's
//!   private key (`iss` the service account, `sub` the administrator it acts as, `scope`
//!   admin.directory.user, `aud` the key's `token_uri`) and exchanges it at `token_uri` with the
//!   jwt-bearer grant for a one-hour access token. There is no refresh token: a new JWT is signed
//!   when the token nears its end.
//! * **Delegated-admin service account** (no `admin`): the service account holds an admin role
//!   itself, and a self-signed JWT whose audience is the API is the Bearer token; nothing is
//!   exchanged.
//!
//! Tokens live in a [`TokenCache`] that renews five minutes early. The failures schools hit when
//! setting this up (`unauthorized_client`, `invalid_grant`) are turned into advice here, because
//! only here is it known which client id and scope must be authorised.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use picday_core::{Error, Result, Secret};
use picday_http::{AccessToken, OAuthError, TokenCache, TokenReply, TokenSource};
use serde::{Deserialize, Serialize};

/// The one scope picday asks for: read and write users (photos are part of users).
pub const SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user";
/// The OAuth grant for a signed JWT assertion (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Where Google's key files send token requests when they do not say.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How far in the past `iat` is set, so that a clock a little ahead of Google's is accepted.
pub const CLOCK_SKEW: Duration = Duration::from_secs(30);
/// Lifetime asked for in the JWT (`exp - iat`), under Google's one-hour maximum.
pub const JWT_LIFETIME: Duration = Duration::from_secs(3300);

/// The fields picday reads from a service account's JSON key file.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    private_key: String,
    client_email: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// A loaded service account key. The private key never leaves this struct and is not printed.
pub struct ServiceAccount {
    pub client_email: String,
    pub client_id: Option<String>,
    pub private_key_id: Option<String>,
    pub token_uri: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .field("token_uri", &self.token_uri)
            .field("private_key", &"***")
            .finish()
    }
}

impl ServiceAccount {
    /// Reads a key file. Errors name the file but never show its content.
    pub fn load(path: &Path) -> Result<ServiceAccount> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read the service account key {}: {e}",
                path.display()
            ))
        })?;
        Self::from_json(&text).map_err(|e| e.prefixed(path.display()))
    }

    /// Parses the content of a key file.
    pub fn from_json(text: &str) -> Result<ServiceAccount> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            // serde_json's message names the field and position, never the value.
            Error::config(format!(
                "not a Google service account JSON key ({e}); download a JSON key for the \
                 service account in the Cloud console"
            ))
        })?;
        if let Some(kind) = file.kind.as_deref()
            && kind != "service_account"
        {
            return Err(Error::config(format!(
                "the key file is of type {kind:?}, not \"service_account\""
            )));
        }
        let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes())
            .map_err(|e| Error::config(format!("the key file's private_key is unusable: {e}")))?;
        let token_uri = file
            .token_uri
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_string());
        // The signed assertion goes there: the key file's word alone is not enough.
        picday_http::check_service_url(&token_uri)
            .map_err(|why| Error::config(format!("the key file's token_uri: {why}")))?;
        Ok(ServiceAccount {
            client_email: file.client_email,
            client_id: file.client_id,
            private_key_id: file.private_key_id,
            token_uri,
            key,
        })
    }

    /// Signs claims with RS256; `kid` names the key (Google wants it for self-signed JWTs).
    pub fn sign(&self, claims: &Claims, with_kid: bool) -> Result<Secret> {
        let mut header = Header::new(Algorithm::RS256);
        if with_kid {
            header.kid = self.private_key_id.clone();
        }
        jsonwebtoken::encode(&header, claims, &self.key)
            .map(Secret::new)
            .map_err(|e| Error::internal(format!("cannot sign the JWT: {e}")))
    }
}

/// The claims of the JWTs picday signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// Which of Google's two service-account flows is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Domain-wide delegation, acting as this administrator.
    Delegated { admin: String },
    /// A delegated-admin service account: a self-signed JWT for this audience.
    SelfSigned { audience: String },
}

/// Hands out valid access tokens for one service account.
#[derive(Debug)]
pub struct Authenticator {
    account: ServiceAccount,
    mode: Mode,
    http: reqwest::Client,
    cache: TokenCache,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Authenticator {
    pub fn new(account: ServiceAccount, mode: Mode, http: reqwest::Client) -> Self {
        Authenticator {
            account,
            mode,
            http,
            cache: TokenCache::new(Duration::from_secs(300)),
        }
    }

    pub fn account(&self) -> &ServiceAccount {
        &self.account
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The claims of the JWT for the current mode, issued now.
    pub fn claims(&self) -> Claims {
        let iat = unix_now().saturating_sub(CLOCK_SKEW.as_secs());
        let exp = iat + JWT_LIFETIME.as_secs();
        match &self.mode {
            Mode::Delegated { admin } => Claims {
                iss: self.account.client_email.clone(),
                scope: Some(SCOPE.to_string()),
                aud: self.account.token_uri.clone(),
                iat,
                exp,
                sub: Some(admin.clone()),
            },
            Mode::SelfSigned { audience } => Claims {
                iss: self.account.client_email.clone(),
                scope: None,
                aud: audience.clone(),
                iat,
                exp,
                sub: Some(self.account.client_email.clone()),
            },
        }
    }

    /// A valid access token, renewed five minutes before it ends.
    pub async fn token(&self) -> Result<Secret> {
        self.cache.get(|| self.fetch()).await
    }

    /// Forgets a token the API refused.
    pub async fn invalidate(&self, stale: &Secret) {
        self.cache.invalidate(stale).await;
    }

    async fn fetch(&self) -> Result<AccessToken> {
        let claims = self.claims();
        match &self.mode {
            Mode::SelfSigned { .. } => {
                let jwt = self.account.sign(&claims, true)?;
                let left = claims.exp.saturating_sub(unix_now());
                Ok(AccessToken::new(jwt, Duration::from_secs(left)))
            }
            Mode::Delegated { .. } => self.exchange(&claims).await,
        }
    }

    async fn exchange(&self, claims: &Claims) -> Result<AccessToken> {
        let jwt = self.account.sign(claims, false)?;
        let form = [("grant_type", JWT_BEARER), ("assertion", jwt.expose())];
        let request = self.http.post(&self.account.token_uri);
        match picday_http::request_token("token request", request, &form).await? {
            TokenReply::Granted(t) => Ok(t.access_token(Duration::from_secs(3600))),
            TokenReply::Refused(r) => Err(self.token_error(r.status, &r.headers, &r.body)),
        }
    }

    /// The error for a refused token request, with advice for the common set-up mistakes.
    fn token_error(
        &self,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Error {
        let what = "token request";
        let Some(oauth) = OAuthError::parse(body) else {
            // Not OAuth's JSON: a front end's page or a Google-style error.
            return crate::error::api_error(what, status, headers, body);
        };
        let description = oauth
            .error_description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let client = self
            .account
            .client_id
            .as_deref()
            .unwrap_or("(see client_id in the key file)");
        let advice = match oauth.error.as_str() {
            "unauthorized_client" | "access_denied" => format!(
                " -- domain-wide delegation is not set up for this service account: in the Admin \
                 console, Security > Access and data control > API controls > Manage Domain Wide \
                 Delegation, add client ID {client} with the scope {SCOPE} (changes can take up \
                 to 24 hours to apply)"
            ),
            "invalid_grant" => {
                let admin = match &self.mode {
                    Mode::Delegated { admin } => admin.as_str(),
                    Mode::SelfSigned { .. } => "",
                };
                format!(
                    " -- check that this computer's clock is right (the JWT is dated now and \
                     valid under an hour), and that `admin` = {admin:?} is an existing \
                     administrator of the domain, spelled as their primary email"
                )
            }
            "invalid_client" => " -- the key may have been deleted or the service account \
                 disabled: create a new JSON key"
                .to_string(),
            _ => String::new(),
        };
        let kind = picday_http::token_refusal_kind(status);
        let message = format!(
            "{what}: HTTP {} {}{description}{advice}",
            status.as_u16(),
            oauth.error
        );
        Error::new(kind, message)
            .with_retry_after(picday_http::retry_after(headers))
            .with_context("code", oauth.error)
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
