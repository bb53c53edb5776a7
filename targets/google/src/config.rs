//! The `[targets.NAME]` options of a `type = "google"` section, and their validation.
//!
//! Kept apart from the target so that every option is checked once, when the configuration is
//! loaded, with errors that name the key: a school finds a wrong `api_url` or size on
//! `picday check`, not halfway through 3,000 uploads.

use std::path::PathBuf;

use picday_core::{
    ConcurrencyOption, KeyOption, PhotoLimits, PhotoOption, Profile, Result, Shape, Shared,
    TargetSpec, Template,
};
use serde::Deserialize;

/// Google's Admin SDK host.
pub const DEFAULT_API_URL: &str = "https://admin.googleapis.com";
/// Width and height of the square photo sent by default.
pub const DEFAULT_SIZE: u32 = 512;
/// Requests at once by default (GAM's default too).
pub const DEFAULT_MAX_CONCURRENCY: usize = 5;
/// Attempts per request for temporary failures (GAM's default `api_calls_tries_limit`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Largest photo sent by default: well under the Admin console's 5 MB.
pub const DEFAULT_MAX_BYTES: usize = 1_000_000;

/// The options as written in `picday.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    /// The service account's JSON key file, relative to `picday.toml`.
    pub service_account_key: PathBuf,
    /// The administrator to act as (domain-wide delegation). Without it, the service account
    /// itself must hold an admin role (delegated-admin service account).
    #[serde(default)]
    pub admin: Option<String>,
    #[serde(default)]
    pub api_url: Option<String>,
    /// Delete the current photo before the update (replaces photos users set themselves).
    #[serde(default = "yes")]
    pub replace_user_photos: bool,
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// The user `check` reads when there is no `admin`.
    #[serde(default)]
    pub check_user: Option<String>,
}

/// The shared options a Google target takes: the user key, a square photo with a byte
/// budget, requests at once.
pub fn shared() -> Shared {
    Shared {
        key: Some(KeyOption {
            name: "user",
            default: "{mail}",
            help: "user key template: primary email, alias or user id",
        }),
        photo: Some(PhotoOption::new(
            Shape::Square,
            PhotoLimits::square(DEFAULT_SIZE, 96..=2048).with_max_bytes(
                Some(DEFAULT_MAX_BYTES),
                4096..=usize::MAX,
                Some("smaller cannot hold a photo"),
            ),
        )),
        concurrency: Some(ConcurrencyOption {
            default: DEFAULT_MAX_CONCURRENCY,
            max: 50,
            help: "requests at once",
        }),
    }
}

fn yes() -> bool {
    true
}

/// The validated settings the target runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub key_file: PathBuf,
    pub admin: Option<String>,
    pub user: Template,
    /// Without a trailing slash.
    pub api_url: String,
    pub profile: Profile,
    pub replace_user_photos: bool,
    pub max_concurrency: usize,
    pub max_attempts: u32,
    pub check_user: Option<String>,
}

impl Settings {
    /// Reads and validates a section.
    pub fn from_spec(spec: &TargetSpec) -> Result<Settings> {
        let shared = shared();
        let options = spec.options::<GoogleConfig>(&shared)?;
        let profile = options.profile()?;
        let max_concurrency = options.max_concurrency()?;
        let user = options.key()?;
        let cfg = options.own;
        let api_url = cfg
            .api_url
            .unwrap_or_else(|| DEFAULT_API_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        picday_http::check_service_url(&api_url).map_err(|why| spec.invalid("api_url", why))?;
        let admin = cfg.admin.map(|a| a.trim().to_string());
        if admin.as_deref().is_some_and(|a| !a.contains('@')) {
            return Err(spec.invalid("admin", "must be the administrator's email address"));
        }
        let max_attempts = cfg.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=30).contains(&max_attempts) {
            return Err(spec.invalid(
                "max_attempts",
                format!("{max_attempts} must be between 1 and 30"),
            ));
        }
        Ok(Settings {
            name: spec.name.clone(),
            key_file: spec.resolve_path(&cfg.service_account_key),
            admin,
            user,
            api_url,
            profile,
            replace_user_photos: cfg.replace_user_photos,
            max_concurrency,
            max_attempts,
            check_user: cfg.check_user,
        })
    }
}
