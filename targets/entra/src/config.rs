//! The `[targets.NAME]` section of an Entra target, and what it resolves to.
//!
//! Kept apart from the target so that every mistake an administrator can make in the file
//! (two credentials, none, an unknown cloud, a photo larger than Graph takes) is refused when
//! the configuration is loaded, with the key named, before any request is sent.

use std::path::PathBuf;
use std::time::Duration;

use picday_core::{
    ConcurrencyOption, KeyOption, PhotoLimits, PhotoOption, Profile, Result, SecretSource, Shape,
    Shared, TargetSpec, Template,
};
use serde::Deserialize;

/// Graph refuses photos larger than this ("limited to 4 MB").
pub const GRAPH_MAX_BYTES: usize = 4 * 1024 * 1024;
/// The largest size Graph serves; uploading it makes every smaller size exist.
pub const DEFAULT_SIZE: u32 = 648;
/// Requests in flight at most, unless configured.
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// The options, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    pub tenant_id: String,
    pub client_id: String,
    /// `secret`, `certificate`, `device_code` or `browser`; inferred from the credential given.
    #[serde(default)]
    pub auth: Option<AuthMode>,
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// A PEM file with the certificate (and, unless `private_key` is set, its private key), or
    /// a PKCS#12 file (`.pfx`, `.p12`) with both.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// The password of a `.pfx` certificate, e.g. `{ env = "PICDAY_PFX_PASSWORD" }`.
    #[serde(default)]
    pub certificate_password: Option<SecretSource>,
    /// The certificate's private key (PEM, PKCS#8 or PKCS#1), e.g. `{ file = "key.pem" }`.
    #[serde(default)]
    pub private_key: Option<SecretSource>,
    /// `ps256` (current Microsoft guidance, `x5t#S256`) or `rs256` (older, SHA-1 `x5t`).
    #[serde(default)]
    pub assertion: AssertionAlg,
    #[serde(default)]
    pub cloud: Cloud,
    #[serde(default)]
    pub login_url: Option<String>,
    #[serde(default)]
    pub graph_url: Option<String>,
    /// Seconds before a single request is abandoned.
    #[serde(default)]
    pub timeout: Option<u64>,
    /// What to do when the current photo cannot be read for the backup (a user without an
    /// Exchange Online mailbox).
    #[serde(default)]
    pub backup: BackupMode,
}

/// Whether a photo may be changed when Graph cannot read the current one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupMode {
    /// Send anyway and flag "no backup possible" in the report.
    #[default]
    BestEffort,
    /// Change nothing without a backup: such a person fails.
    Required,
}

/// The shared options an Entra target takes: the user key, a square photo within Graph's
/// limits, requests at once.
pub fn shared() -> Shared {
    Shared {
        key: Some(KeyOption {
            name: "user",
            default: "{mail}",
            help: "the user's UPN, mail or object id",
        }),
        photo: Some(PhotoOption {
            max_bytes_help: Some(
                "largest photo in bytes (Graph takes 4 MB at most); quality is lowered to fit",
            ),
            ..PhotoOption::new(
                Shape::Square,
                PhotoLimits::square(DEFAULT_SIZE, 64..=4096).with_max_bytes(
                    Some(GRAPH_MAX_BYTES),
                    1..=GRAPH_MAX_BYTES,
                    Some("Graph's limit"),
                ),
            )
        }),
        concurrency: Some(ConcurrencyOption {
            default: DEFAULT_MAX_CONCURRENCY,
            max: 64,
            help: "most requests at once (picday starts at 4 and adapts)",
        }),
    }
}

/// How picday gets its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Client credentials with a client secret.
    Secret,
    /// Client credentials with a certificate-signed assertion.
    Certificate,
    /// An administrator signs in on another device (delegated permissions).
    DeviceCode,
    /// An administrator signs in in a browser on this computer (delegated permissions;
    /// authorization code with PKCE on a loopback redirect).
    Browser,
}

/// The signature of the certificate assertion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssertionAlg {
    /// RSASSA-PSS with SHA-256 and the SHA-256 thumbprint (`x5t#S256`).
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and the SHA-1 thumbprint (`x5t`).
    Rs256,
}

/// The Microsoft cloud the tenant lives in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    #[default]
    Global,
    /// US Government GCC High (L4).
    Usgov,
    /// US Government DoD (L5).
    UsgovDod,
    /// Microsoft Azure operated by 21Vianet.
    China,
}

impl Cloud {
    /// The sign-in host.
    pub fn login_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::Usgov | Cloud::UsgovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// The Graph host; its `/.default` is the token scope.
    pub fn graph_url(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::Usgov => "https://graph.microsoft.us",
            Cloud::UsgovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }
}

/// A credential, resolved (secrets read) but not yet used.
#[derive(Debug, Clone)]
pub enum Credential {
    Secret(picday_core::Secret),
    Certificate {
        /// The certificate's DER bytes (for the thumbprint).
        cert_der: Vec<u8>,
        /// The private key PEM.
        key_pem: picday_core::Secret,
        alg: AssertionAlg,
    },
    DeviceCode,
    Browser,
}

/// Everything the target needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: Credential,
    /// Without a trailing slash.
    pub login_url: String,
    /// Without a trailing slash.
    pub graph_url: String,
    /// The `aud` of certificate assertions: the cloud's own token endpoint, also when
    /// `login_url` points at a proxy or a test server (Microsoft checks the audience against
    /// its own endpoint, learn.microsoft.com/entra/identity-platform/certificate-credentials).
    pub assertion_audience: String,
    /// The `.default` scope of the Graph resource (always the cloud's public Graph host, so
    /// that a `graph_url` override pointing at a proxy still asks for the right audience).
    pub scope: String,
    pub user: Template,
    pub profile: Profile,
    pub max_concurrency: usize,
    pub timeout: Duration,
    /// The credential was written into the file (warned about by `check`).
    pub inline_secret: bool,
    pub backup: BackupMode,
}

impl Settings {
    /// Reads and checks a section.
    pub fn from_spec(spec: &TargetSpec) -> Result<Self> {
        let shared = shared();
        let options = spec.options::<EntraConfig>(&shared)?;
        let cfg = &options.own;
        for (key, value) in [("tenant_id", &cfg.tenant_id), ("client_id", &cfg.client_id)] {
            let v = value.trim();
            if v.is_empty() || v.contains(['/', '?', '#', ' ']) {
                return Err(spec.error_at(key, format!("`{key}` {value:?} is not a valid id")));
            }
        }
        let mode = match (cfg.auth, &cfg.client_secret, &cfg.certificate) {
            (_, Some(_), Some(_)) => {
                return Err(spec.error_at(
                    "certificate",
                    "set either `client_secret` or `certificate`, not both",
                ));
            }
            (Some(m), _, _) => m,
            (None, Some(_), None) => AuthMode::Secret,
            (None, None, Some(_)) => AuthMode::Certificate,
            (None, None, None) => {
                return Err(spec.error_at(
                    "client_id",
                    "no credential: set `client_secret = { env = \"...\" }`, `certificate = \
                     \"app.pem\"`, or `auth = \"device_code\"` / `\"browser\"`",
                ));
            }
        };
        let mut inline_secret = false;
        let credential = match mode {
            AuthMode::Secret => {
                let src = cfg.client_secret.as_ref().ok_or_else(|| {
                    spec.error_at("auth", "`auth = \"secret\"` needs `client_secret`")
                })?;
                inline_secret = src.is_inline();
                Credential::Secret(src.resolve(&spec.base_dir)?)
            }
            AuthMode::Certificate => {
                let path = cfg.certificate.as_ref().ok_or_else(|| {
                    spec.error_at("auth", "`auth = \"certificate\"` needs `certificate`")
                })?;
                let path = spec.resolve_path(path);
                let bytes = std::fs::read(&path).map_err(|e| {
                    spec.error_at(
                        "certificate",
                        format!("cannot read the certificate {}: {e}", path.display()),
                    )
                })?;
                let (cert_der, key_pem) = if is_pkcs12(&path, &bytes) {
                    if cfg.private_key.is_some() {
                        return Err(spec.error_at(
                            "private_key",
                            "a .pfx holds its private key: leave `private_key` out",
                        ));
                    }
                    let password = match &cfg.certificate_password {
                        Some(src) => {
                            inline_secret |= src.is_inline();
                            src.resolve(&spec.base_dir)?
                        }
                        None => picday_core::Secret::new(String::new()),
                    };
                    let (cert_der, key_pem) = crate::auth::pkcs12(&bytes, password.expose())
                        .map_err(|why| {
                            spec.error_at(
                                "certificate",
                                format!("cannot use {}: {why}", path.display()),
                            )
                        })?;
                    (cert_der, picday_core::Secret::new(key_pem))
                } else {
                    if cfg.certificate_password.is_some() {
                        return Err(spec.error_at(
                            "certificate_password",
                            "`certificate_password` is for a .pfx/.p12 certificate; a PEM key \
                             must be unencrypted",
                        ));
                    }
                    pem_credential(spec, cfg, &path, &bytes, &mut inline_secret)?
                };
                // Refuse a key that cannot sign now rather than at the first photo.
                jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose().as_bytes()).map_err(
                    |_| {
                        spec.error_at(
                            "private_key",
                            "the private key is not an unencrypted RSA key in PEM form \
                             (PKCS#8 or PKCS#1)",
                        )
                    },
                )?;
                Credential::Certificate {
                    cert_der,
                    key_pem,
                    alg: cfg.assertion,
                }
            }
            AuthMode::DeviceCode => Credential::DeviceCode,
            AuthMode::Browser => Credential::Browser,
        };
        let trim = |s: &str| s.trim_end_matches('/').to_string();
        let login_url = trim(cfg.login_url.as_deref().unwrap_or(cfg.cloud.login_url()));
        let graph_url = trim(cfg.graph_url.as_deref().unwrap_or(cfg.cloud.graph_url()));
        for (key, url) in [("login_url", &login_url), ("graph_url", &graph_url)] {
            picday_http::check_service_url(url).map_err(|why| spec.invalid(key, why))?;
        }
        let profile = options.profile()?;
        Ok(Settings {
            tenant_id: cfg.tenant_id.trim().to_string(),
            client_id: cfg.client_id.trim().to_string(),
            credential,
            login_url,
            graph_url,
            assertion_audience: format!(
                "{}/{}/oauth2/v2.0/token",
                cfg.cloud.login_url(),
                cfg.tenant_id.trim()
            ),
            scope: format!("{}/.default", cfg.cloud.graph_url()),
            user: options.key()?,
            profile,
            max_concurrency: options.max_concurrency()?,
            timeout: Duration::from_secs(cfg.timeout.unwrap_or(120).max(1)),
            inline_secret,
            backup: cfg.backup,
        })
    }
}

/// Whether a certificate file is PKCS#12: by its name (`.pfx`, `.p12`) or, for a file named
/// otherwise, by its first byte (DER starts with a SEQUENCE, PEM with text).
fn is_pkcs12(path: &std::path::Path, bytes: &[u8]) -> bool {
    let named = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pfx") || e.eq_ignore_ascii_case("p12"));
    named || bytes.first() == Some(&0x30)
}

/// The certificate (DER) and private key (PEM) of a PEM certificate file, the key from
/// `private_key` when set, else from the same file.
fn pem_credential(
    spec: &TargetSpec,
    cfg: &EntraConfig,
    path: &std::path::Path,
    bytes: &[u8],
    inline_secret: &mut bool,
) -> Result<(Vec<u8>, picday_core::Secret)> {
    let text = String::from_utf8_lossy(bytes);
    let cert_der = crate::auth::pem_block(&text, "CERTIFICATE").ok_or_else(|| {
        spec.error_at(
            "certificate",
            format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----) and is not a .pfx",
                path.display()
            ),
        )
    })?;
    let key_pem = match &cfg.private_key {
        Some(src) => {
            *inline_secret |= src.is_inline();
            src.resolve(&spec.base_dir)?
        }
        None => picday_core::Secret::new(crate::auth::private_key_pem(&text).ok_or_else(|| {
            spec.error_at(
                "private_key",
                format!(
                    "{} holds no private key: add it to the file or set \
                     `private_key = {{ file = \"...\" }}`",
                    path.display()
                ),
            )
        })?),
    };
    Ok((cert_der, key_pem))
}
