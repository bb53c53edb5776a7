//! The Google Workspace target: what `put_photo`, `get_photo`, `delete_photo` and `check` mean
//! against the Directory API.
//!
//! Google's `photos.update` can answer 200 and still keep a photo the user set themselves, so by
//! default the current photo is deleted first (a 404 there means there was none). Google's
//! delete is also known to fail with 500 in bulk; those failures are retried by the layers at
//! most [`DELETE_TRIES`] times for a user, after which the update goes ahead anyway (as GAM
//! does). The retry policy Google documents (exponential backoff capped at 60 s, about ten
//! tries) is declared in its [`TargetInfo::retry`], and applied by picday's layers.
//!
//! A 200 from the update is not taken as proof: the user's `thumbnailPhotoEtag` is read after it
//! (one field), and the photo is reported sent only when that etag exists and differs from the
//! one before the update (none after a delete; read before the update otherwise). When the
//! update fails after the delete removed the previous photo, the error says "previous photo
//! removed; new photo refused" and carries [`PREVIOUS_PHOTO_REMOVED`], so that the delivery step
//! names the backup that puts the photo back.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use picday_core::engine::PREVIOUS_PHOTO_REMOVED;
use picday_core::layers::RetryPolicy;
use picday_core::{
    CheckReport, Error, ErrorKind, Person, Photo, PhotoInfo, Receipt, Result, Subject, Target,
    TargetInfo, TargetIo,
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
    /// Users whose previous photo was removed and whose new one is not confirmed yet.
    removed: Mutex<HashSet<String>>,
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
            removed: Mutex::new(HashSet::new()),
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

    /// Users whose previous photo this target removed and whose new one is not confirmed yet.
    fn removed(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.removed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `e`, said as what it is when the user's previous photo is already gone: "previous
    /// photo removed; new photo refused: ...", marked so that the delivery step names the
    /// backup that restores it. A temporary error keeps the mark for the retry, which finds no
    /// photo to remove.
    fn after_removal(&self, key: &str, e: Error) -> Error {
        let mut removed = self.removed();
        if !removed.contains(key) {
            return e;
        }
        if !e.is_temporary() {
            removed.remove(key);
        }
        let (k, v) = PREVIOUS_PHOTO_REMOVED;
        e.prefixed("previous photo removed; new photo refused")
            .with_context(k, v)
    }
}

/// Whether the update changed the photo: the etag after it must exist and differ from the one
/// before. Google answers an update with 200 and still keeps a photo the user set themselves
/// (GAM-team/GAM wiki Users-Photo, "Update photo fails to change user's photo"); picday says
/// so instead of reporting a photo that is not there.
fn confirm(before: Option<&str>, after: Option<String>, replaced: bool) -> Result<()> {
    let advice = if replaced {
        "run the push again later; if it persists, check the user in the Admin console"
    } else {
        "Google keeps a photo the user set themselves: set `replace_user_photos = true` (the \
         default, removes it first) and turn off Photo under Directory settings > Profile \
         editing for these users. If this exact photo was already the user's (sent again with \
         --force), nothing is wrong"
    };
    match after {
        None => Err(Error::rejected(format!(
            "Google answered the update with success, but the user has no photo afterwards (no \
             thumbnailPhotoEtag); {advice}"
        ))
        .with_context("code", "photoNotStored")),
        Some(after) if before == Some(after.as_str()) => Err(Error::rejected(format!(
            "Google answered the update with success, but the user's photo did not change \
             (thumbnailPhotoEtag is still {after}); {advice}"
        ))
        .with_context("code", "photoUnchanged")),
        Some(_) => Ok(()),
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
        // The photo's etag just before the update: none after a delete that succeeded,
        // otherwise read.
        let mut before: Option<Option<String>> = None;
        if self.settings.replace_user_photos {
            let deleted = self
                .client
                .delete_photo(key)
                .await
                .map_err(|e| self.after_removal(key, e))?;
            match deleted {
                Deleted::Removed => {
                    self.delete_done(key);
                    self.removed().insert(key.to_string());
                    before = Some(None);
                }
                Deleted::NoPhoto => {
                    self.delete_done(key);
                    before = Some(None);
                }
                Deleted::InternalError(e) => {
                    if self.delete_failed(key) {
                        return Err(self.after_removal(key, e.prefixed("before the update")));
                    }
                    tracing::warn!(user = key, error = %e, "delete keeps failing; updating anyway");
                    note = " (the previous photo could not be removed: HTTP 500)";
                }
            }
            if self.removed().contains(key) {
                note = " (previous photo removed first)";
            }
        }
        let before = match before {
            Some(known) => known,
            None => self.client.photo_etag(key).await.map_err(|e| {
                self.after_removal(key, e.prefixed("before the update (nothing was sent)"))
            })?,
        };
        let updated = async {
            let stored = self
                .client
                .update_photo(key, &photo.bytes, photo.width, photo.height)
                .await?;
            let after = self.client.photo_etag(key).await.map_err(|e| {
                e.prefixed(
                    "Google accepted the update, but confirming it failed (picday will send it \
                     again)",
                )
            })?;
            confirm(before.as_deref(), after, self.settings.replace_user_photos)?;
            Ok(stored)
        }
        .await;
        match updated {
            Ok(stored) => {
                self.removed().remove(key);
                Ok(Receipt {
                    detail: format!("photo updated, confirmed by its new etag{note}"),
                    remote_id: stored.id,
                    request_id: None,
                })
            }
            Err(e) => Err(self.after_removal(key, e)),
        }
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.client.get_photo(&subject.key).await
    }

    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        Ok(self
            .client
            .photo_meta(&subject.key)
            .await?
            .map(|meta| PhotoInfo {
                width: meta.width,
                height: meta.height,
                ..PhotoInfo::default()
            }))
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
    fn an_update_is_confirmed_only_by_a_new_etag() {
        assert!(confirm(None, Some("\"e1\"".into()), true).is_ok());
        assert!(confirm(Some("\"e1\""), Some("\"e2\"".into()), false).is_ok());
        let e = confirm(Some("\"e1\""), Some("\"e1\"".into()), false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Rejected);
        assert_eq!(e.context_value("code"), Some("photoUnchanged"));
        assert!(e.message().contains("replace_user_photos = true"), "{e}");
        for before in [None, Some("\"e1\"")] {
            let e = confirm(before, None, true).unwrap_err();
            assert_eq!(e.context_value("code"), Some("photoNotStored"));
            assert!(!e.is_temporary());
        }
    }

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
