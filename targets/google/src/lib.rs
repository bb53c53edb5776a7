//! The `google` target: Google Workspace user photos through the Admin SDK Directory API.
//!
//! Schools that live in Google manage accounts in the Admin console, and the Directory API's
//! `users.photos` is the only supported way to set their photos in bulk. This crate signs in with
//! a service account (domain-wide delegation, or a service account holding an admin role),
//! deletes and re-sets each photo as a square JPEG, and classifies Google's answers so that
//! picday's layers retry what Google says is temporary. See `docs/targets/google.md`.
//!
//! Modules: [`config`] (options), [`auth`] (JWTs and tokens), [`client`] (the API calls),
//! [`error`] (Google's error bodies), [`target`] (the [`Target`] implementation).

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod target;

use std::sync::Arc;

use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{OptionSet, Registry, Result, Target, TargetSpec};

pub use config::{GoogleConfig, Settings};
pub use target::{GoogleTarget, google_retry_policy};

/// The type name in configuration files.
pub const TYPE: &str = "google";

/// Adds the google target type to a registry.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(GoogleFactory));
}

#[derive(Debug)]
struct GoogleFactory;

impl TargetFactory for GoogleFactory {
    fn info(&self) -> TypeInfo {
        let own = vec![
            OptionDoc::required(
                "service_account_key",
                "the service account's JSON key file, relative to picday.toml",
            ),
            OptionDoc::optional(
                "admin",
                "none",
                "administrator to act as (domain-wide delegation); without it the service \
                     account itself needs an admin role",
            ),
            OptionDoc::optional(
                "replace_user_photos",
                "true",
                "delete the current photo before the update, so photos users set \
                     themselves are replaced",
            ),
            OptionDoc::optional(
                "max_attempts",
                "10",
                "tries per request on throttling and server errors (1-30)",
            ),
            OptionDoc::optional(
                "check_user",
                "none",
                "a user `picday check` reads when there is no `admin`",
            ),
            OptionDoc::optional(
                "api_url",
                "\"https://admin.googleapis.com\"",
                "the Admin SDK host (tests and proxies)",
            ),
        ];
        TypeInfo::builtin(
            TYPE,
            &["google-workspace", "gsuite"],
            "Google Workspace user photos (Admin SDK Directory API)",
            &OptionSet::new::<GoogleConfig>(config::shared(), own),
        )
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let settings = Settings::from_spec(spec)?;
        Ok(Arc::new(GoogleTarget::new(settings)?))
    }
}
