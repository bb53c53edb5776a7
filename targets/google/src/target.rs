//! The Google Workspace target: what `put_photo`, `get_photo`, `delete_photo` and `check` mean
//! against the Directory API.
//!
//! Google's `photos.update` can answer 200 and still keep a photo the user set themselves, so by
//! default the current photo is deleted first (a 404 there means there was none). Google's
//! delete is also known to fail with 500 in bulk; those failures are retried by the layers at
//! most [`DELETE_TRIES`] times for a user, after which the update goes ahead anyway (as GAM
//! does). The retry policy Google documents (exponential backoff capped at 60 s, about ten
//! tries) is declared in its [`TargetInfo::retry`], and applied by picday's layers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use picday_core::layers::RetryPolicy;
use picday_core::{
    CheckReport, Error, ErrorKind, Person, Photo, Receipt, Result, Subject, Target, TargetInfo,
    TargetIo,
};

use crate::TYPE;
use crate::auth::{Authenticator, Mode, SCOPE, ServiceAccount};
use crate::client::{Deleted, DirectoryClient};
use crate::config::Settings;

/// Tries of a delete that fails with HTTP 500, per user, before picday stops retrying it.
pub const DELETE_TRIES: u32 = 2;

/// Photos of a Google Workspace domain.
#[derive(Debug)]
pub struct GoogleTarget {
    info: TargetInfo,
    settings: Settings,
    client: DirectoryClient,
    /// Users whose delete failed with a 500, and how often.
    delete_failures: Mutex<HashMap<String, u32>>,
}

/// How the target signs in, for people.
fn mode_summary(settings: &Settings) -> String {
    match &settings.admin {
        Some(a) => format!("as {a} (domain-wide delegation)"),
        None => "as the service account (admin role)".to_string(),
    }
}

/// Google's documented backoff: 1, 2, 4... seconds up to 60, with jitter, `max_attempts` tries.
pub fn google_retry_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
        max_retry_after: Duration::from_secs(600),
    }
}

impl GoogleTarget {
    /// A target for validated settings; reads the key file.
    pub fn new(settings: Settings) -> Result<Self> {
        let account = ServiceAccount::load(&settings.key_file)
            .map_err(|e| e.prefixed(format!("[targets.{}]", settings.name)))?;
        let mode = match &settings.admin {
            Some(admin) => Mode::Delegated {
                admin: admin.clone(),
            },
            None => Mode::SelfSigned {
                audience: format!("{}/", settings.api_url),
            },
        };
        let http = picday_http::client(Duration::from_secs(60))?;
        let auth = Authenticator::new(account, mode, http.clone());
        let client = DirectoryClient::new(http, settings.api_url.clone(), auth);
        let mode = mode_summary(&settings);
        let info = TargetInfo::new(
            &settings.name,
            TYPE,
            settings.user.clone(),
            settings.profile,
        )
        .summary(format!(
            "Google Workspace {mode}, user {}, {}{}",
            settings.user,
            settings.profile,
            if settings.replace_user_photos {
                ", replacing user-set photos"
            } else {
                ""
            }
        ))
        .setting("api_url", &settings.api_url)
        .setting("admin", settings.admin.as_deref().unwrap_or(""))
        .setting("replace_user_photos", settings.replace_user_photos)
        .reads_back()
        .deletes()
        .resolves_people(true)
        .max_concurrency(settings.max_concurrency)
        .retry(google_retry_policy(settings.max_attempts));
        Ok(GoogleTarget {
            info,
            settings,
            client,
            delete_failures: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the declared retry policy (embedding, tests).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.info.retry = Some(policy);
        self
    }

    /// The Directory API client.
    pub fn client(&self) -> &DirectoryClient {
        &self.client
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.delete_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a 500 on a delete for `key`; true while more tries are allowed.
    fn delete_failed(&self, key: &str) -> bool {
        let mut f = self.failures();
        let n = f.entry(key.to_string()).or_insert(0);
        *n += 1;
        if *n >= DELETE_TRIES {
            f.remove(key);
            false
        } else {
            true
        }
    }

    fn delete_done(&self, key: &str) {
        self.failures().remove(key);
    }
}

impl Target for GoogleTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn subject(&self, person: Arc<Person>) -> Result<Subject> {
        let key = self.settings.user.render(&person)?;
        if key.trim().is_empty() || key.chars().any(char::is_control) {
            return Err(Error::input(format!("{key:?} is not a Google user key")));
        }
        Ok(Subject::new(key.trim(), person))
    }
}

#[async_trait]
impl TargetIo for GoogleTarget {
    async fn check(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        let auth = self.client.auth();
        auth.token()
            .await
            .map_err(|e| e.prefixed("cannot get an access token"))?;
        report.ok.push(format!(
            "access token for {} {}",
            auth.account().client_email,
            mode_summary(&self.settings)
        ));
        let who = self
            .settings
            .admin
            .as_deref()
            .or(self.settings.check_user.as_deref());
        let role_advice = |e: Error| {
            if e.kind() == ErrorKind::Permission {
                let actor = match &self.settings.admin {
                    Some(a) => format!("the administrator {a}"),
                    None => format!("the service account {}", auth.account().client_email),
                };
                e.prefixed(format!(
                    "{actor} may not read users: give it a role with the Users privileges Read \
                     and Update (User Management, or super admin) in the Admin console"
                ))
            } else {
                e
            }
        };
        match who {
            Some(user) => {
                let v = self.client.get_user(user).await.map_err(|e| {
                    let e = role_advice(e);
                    if e.kind() == ErrorKind::NotFound {
                        e.prefixed(format!("{user} is not a user of the domain"))
                    } else {
                        e
                    }
                })?;
                let role = if v["isAdmin"].as_bool() == Some(true) {
                    "super admin"
                } else if v["isDelegatedAdmin"].as_bool() == Some(true) {
                    "delegated admin"
                } else {
                    "not an administrator"
                };
                report.ok.push(format!("read user {user} ({role})"));
                if self.settings.admin.is_some() && role == "not an administrator" {
                    report.warnings.push(format!(
                        "{user} is not an administrator: photo updates will be refused (403); \
                         set `admin` to an administrator who can manage users"
                    ));
                }
                if v["suspended"].as_bool() == Some(true) {
                    report.warnings.push(format!("{user} is suspended"));
                }
            }
            None => {
                let first = self.client.list_one_user().await.map_err(role_advice)?;
                report.ok.push(match first {
                    Some(u) => format!("listed users (first: {u})"),
                    None => "listed users (none found)".to_string(),
                });
            }
        }
        report.ok.push(format!("scope {SCOPE}"));
        if !self.settings.replace_user_photos {
            report.warnings.push(
                "replace_user_photos = false: photos users set themselves may be kept by Google \
                 even though the update succeeds"
                    .into(),
            );
        }
        Ok(report)
    }

    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        let key = subject.key.as_str();
        let mut note = "";
        if self.settings.replace_user_photos {
            match self.client.delete_photo(key).await? {
                Deleted::Removed => {
                    self.delete_done(key);
                    note = " (previous photo removed first)";
                }
                Deleted::NoPhoto => self.delete_done(key),
                Deleted::InternalError(e) => {
                    if self.delete_failed(key) {
                        return Err(e.prefixed("before the update"));
                    }
                    tracing::warn!(user = key, error = %e, "delete keeps failing; updating anyway");
                    note = " (the previous photo could not be removed: HTTP 500)";
                }
            }
        }
        let stored = self
            .client
            .update_photo(key, &photo.bytes, photo.width, photo.height)
            .await?;
        Ok(Receipt {
            detail: format!("photo updated{note}"),
            remote_id: stored.id,
            request_id: None,
        })
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.client.get_photo(&subject.key).await
    }

    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        let key = subject.key.as_str();
        match self.client.delete_photo(key).await? {
            Deleted::Removed => {
                self.delete_done(key);
                Ok(Receipt::new("photo removed"))
            }
            Deleted::NoPhoto => {
                self.delete_done(key);
                Ok(Receipt::new("had no photo"))
            }
            Deleted::InternalError(e) => {
                let again = self.delete_failed(key);
                Err(e.temporary(again))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_googles_backoff() {
        let p = google_retry_policy(10);
        assert_eq!(p.max_attempts, 10);
        // 1, 2, 4... s, capped at 60 s.
        for attempt in 1..=12u32 {
            let window =
                Duration::from_secs(1u64 << (attempt - 1).min(10)).min(Duration::from_secs(60));
            let d = p.delay(attempt, None);
            assert!(d <= window && d >= window / 2, "attempt {attempt}: {d:?}");
        }
    }
}
