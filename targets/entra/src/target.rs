//! The Entra target itself: who is who, and the three photo operations.
//!
//! Graph addresses users by object id or userPrincipalName, but schools key their lists on
//! `mail`, which often differs from the UPN, and UPNs can hold characters (`#EXT#`, `'`, a
//! leading `$`) that break routing. So every key is resolved once per run to the user's object
//! id (by UPN, then by mail), and the photo requests use that id only. For a large run the
//! keys are matched against one listing of the directory instead ([`crate::directory`]).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use picday_core::{
    CheckReport, Error, ErrorKind, Photo, PhotoInfo, Receipt, Result, Subject, Target, TargetInfo,
    TargetIo, TargetSpec,
};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::TYPE;
use crate::auth::{Authenticator, Browser, Prompt, token_permissions};
use crate::client::{GraphClient, GraphResponse, encode_query, encode_segment, odata_string};
use crate::config::{BackupMode, Credential, Settings};
use crate::directory::{self, LIST_FROM, Listing};
use crate::error::{
    MAILBOX_ADVICE, ON_PREMISES_ADVICE, PERMISSION_ADVICE, PhotoAnswer, USER_GONE, rekind,
};

/// Permissions that allow writing other users' photos.
const WRITE_PERMISSIONS: &[&str] = &["ProfilePhoto.ReadWrite.All", "User.ReadWrite.All"];

/// Sends photos to Entra ID users through Microsoft Graph.
#[derive(Debug)]
pub struct EntraTarget {
    info: TargetInfo,
    settings: Settings,
    graph: GraphClient,
    /// Key -> object id (`None`: no such user), for the run.
    ids: Mutex<HashMap<String, Option<String>>>,
    /// The keys of the run, from [`TargetIo::prepare`].
    planned: Mutex<Vec<String>>,
    /// The one directory listing of a large run, made at its first lookup: `None` if the run
    /// is small or the listing could not be used (per-key lookups then).
    listing: tokio::sync::OnceCell<Option<Listing>>,
}

#[derive(Deserialize)]
struct UserRef {
    id: String,
    #[serde(default, rename = "userPrincipalName")]
    user_principal_name: Option<String>,
}

#[derive(Deserialize)]
struct UserList {
    value: Vec<UserRef>,
}

/// The tenant's photo policy (`GET /beta/admin/people/photoUpdateSettings`,
/// learn.microsoft.com/graph/profilephoto-configure-settings): `source` is `cloud`,
/// `onPremises`, or absent (never set: cloud).
#[derive(Deserialize)]
struct PhotoUpdateSettings {
    #[serde(default)]
    source: Option<String>,
}

impl EntraTarget {
    /// `check`'s look at the tenant's photo update settings: a hybrid tenant whose photos come
    /// from on-premises refuses every cloud write, which is worth knowing before a push. Only
    /// `beta` has the setting and reading it needs `PeopleSettings.Read.All`, which picday does
    /// not require: anything but a clear answer is a note, never a failed check.
    async fn check_photo_source(&self, report: &mut CheckReport) {
        let path = "/admin/people/photoUpdateSettings";
        let skipped = |why: &str| {
            format!(
                "not checked: the tenant's photo update settings ({why}); a hybrid tenant whose \
                 photos come from on-premises refuses cloud writes"
            )
        };
        let resp = match self.graph.send_beta(Method::GET, path).await {
            Ok(resp) => resp,
            Err(e) => {
                report.ok.push(skipped(e.message()));
                return;
            }
        };
        if resp.status == StatusCode::FORBIDDEN {
            report.ok.push(skipped(
                "reading them needs the optional permission PeopleSettings.Read.All",
            ));
            return;
        }
        if !resp.status.is_success() {
            report
                .ok
                .push(skipped(&format!("Graph answered {}", resp.status.as_u16())));
            return;
        }
        match serde_json::from_slice::<PhotoUpdateSettings>(&resp.body) {
            Ok(PhotoUpdateSettings {
                source: Some(source),
            }) if source.eq_ignore_ascii_case("onPremises") => {
                report.warnings.push(format!(
                    "the tenant's photo update settings say photos come from on-premises \
                     (source = {source}): Graph refuses photo writes from the cloud. {ON_PREMISES_ADVICE}"
                ));
            }
            Ok(PhotoUpdateSettings { source }) => report.ok.push(format!(
                "the tenant's photos are managed in the cloud (photo update settings: source = {})",
                source.as_deref().unwrap_or("not set")
            )),
            Err(_) => report
                .ok
                .push(skipped("Graph's answer was not the settings object")),
        }
    }

    /// Builds the target of a `[targets.NAME]` section with `type = "entra"`.
    pub fn from_spec(spec: &TargetSpec) -> Result<Self> {
        Self::build(spec, None, None)
    }

    /// Like [`EntraTarget::from_spec`], showing sign-in instructions through `prompt`.
    pub fn with_prompt(spec: &TargetSpec, prompt: Prompt) -> Result<Self> {
        Self::build(spec, Some(prompt), None)
    }

    /// Like [`EntraTarget::with_prompt`], opening the sign-in page of `auth = "browser"`
    /// through `browser` instead of the system's browser.
    pub fn with_browser(spec: &TargetSpec, prompt: Prompt, browser: Browser) -> Result<Self> {
        Self::build(spec, Some(prompt), Some(browser))
    }

    fn build(spec: &TargetSpec, prompt: Option<Prompt>, browser: Option<Browser>) -> Result<Self> {
        let settings = Settings::from_spec(spec)?;
        let http = picday_http::client(settings.timeout)?;
        let mut auth = Authenticator::new(http.clone(), &settings);
        if let Some(p) = prompt {
            auth.set_prompt(p);
        }
        if let Some(b) = browser {
            auth.set_browser(b);
        }
        let graph = GraphClient::new(http, auth, &settings.graph_url);
        let host = settings
            .graph_url
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let info = TargetInfo::new(&spec.name, TYPE, settings.user.clone(), settings.profile)
            .summary(format!(
                "Entra ID tenant {} via {host}, users by {}",
                settings.tenant_id, settings.user
            ))
            .setting("tenant_id", &settings.tenant_id)
            .setting("graph_url", &settings.graph_url)
            .reads_back()
            .deletes()
            .resolves_people(true)
            .backup_required(settings.backup == BackupMode::Required)
            .max_concurrency(settings.max_concurrency);
        Ok(EntraTarget {
            info,
            settings,
            graph,
            ids: Mutex::new(HashMap::new()),
            planned: Mutex::new(Vec::new()),
            listing: tokio::sync::OnceCell::new(),
        })
    }

    fn cached(&self, key: &str) -> Option<Option<String>> {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key.to_lowercase())
            .cloned()
    }

    fn remember(&self, key: &str, id: Option<String>) {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_lowercase(), id);
    }

    /// The object id of the user a key names; `NotFound` if there is none.
    pub async fn resolve(&self, key: &str) -> Result<String> {
        if self.cached(key).is_none() {
            self.listed().await?;
        }
        let found = match self.cached(key) {
            Some(hit) => hit,
            None => {
                let found = self.lookup(key).await?;
                self.remember(key, found.clone());
                found
            }
        };
        found.ok_or_else(|| {
            Error::not_found(format!(
                "no user with userPrincipalName, mail or proxy address {key:?} in this tenant"
            ))
        })
    }

    /// For a run of [`LIST_FROM`] people or more: lists the directory once (the first caller
    /// does, the others wait) and remembers what every key of the run names. A temporary
    /// failure (throttled, unavailable) is returned, for the retry layer, and the next lookup
    /// lists again; any other failure is logged and the run looks people up one by one.
    async fn listed(&self) -> Result<()> {
        let keys = {
            let planned = self.planned.lock().unwrap_or_else(|p| p.into_inner());
            if planned.len() < LIST_FROM {
                return Ok(());
            }
            planned.clone()
        };
        self.listing
            .get_or_try_init(|| async {
                tracing::info!(
                    "{}: listing the directory once to find {} people",
                    self.info.name,
                    keys.len()
                );
                match directory::list(&self.graph).await {
                    Ok((users, listing)) => {
                        for (key, id) in directory::matches(&users, &keys) {
                            self.remember(&key, id);
                        }
                        Ok(Some(listing))
                    }
                    Err(e) if e.is_temporary() => Err(e),
                    Err(e) => {
                        tracing::warn!(
                            "{}: the directory could not be listed ({e}); looking people up \
                             one by one",
                            self.info.name
                        );
                        Ok(None)
                    }
                }
            })
            .await
            .map(|_| ())
    }

    /// Asks Graph: by id or userPrincipalName, then by mail, then by a proxy address.
    async fn lookup(&self, key: &str) -> Result<Option<String>> {
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::input("the user key is empty"));
        }
        // A leading `$` is taken for an OData segment by Graph's router; such keys are looked
        // up with a filter only.
        if !key.starts_with('$') {
            let path = format!(
                "/users/{}?$select=id,userPrincipalName",
                encode_segment(key)
            );
            let resp = self.graph.send(Method::GET, &path, None).await?;
            match resp.status {
                s if s.is_success() => {
                    let user: UserRef = serde_json::from_slice(&resp.body).map_err(|_| {
                        Error::protocol("Graph answered a user lookup without an id")
                    })?;
                    return Ok(Some(user.id));
                }
                // 404 is "no such UPN"; 400 is what Graph says for keys it cannot parse as a
                // UPN or id. Either way the mail filter may still find the person.
                StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => {}
                _ => return Err(resp.error("looking up the user")),
            }
        } else if let Some(id) = self.filter("userPrincipalName", key).await? {
            return Ok(Some(id));
        }
        if key.contains('@') {
            if let Some(id) = self.filter("mail", key).await? {
                return Ok(Some(id));
            }
            // A secondary address (`smtp:` in proxyAddresses; the directory compares without
            // regard to case, so the primary `SMTP:` matches too).
            return self.filter("proxyAddresses", key).await;
        }
        Ok(None)
    }

    async fn filter(&self, property: &str, key: &str) -> Result<Option<String>> {
        let filter = if property == "proxyAddresses" {
            format!(
                "proxyAddresses/any(x:x eq {})",
                odata_string(&format!("smtp:{key}"))
            )
        } else {
            format!("{property} eq {}", odata_string(key))
        };
        let path = format!(
            "/users?$filter={}&$select=id,userPrincipalName",
            encode_query(&filter)
        );
        let resp = self.graph.send(Method::GET, &path, None).await?;
        if !resp.status.is_success() {
            return Err(resp.error("looking up the user by mail"));
        }
        let list: UserList = serde_json::from_slice(&resp.body)
            .map_err(|_| Error::protocol("Graph answered a user search without a value list"))?;
        match list.value.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.id.clone())),
            many => Err(Error::input(format!(
                "{} users have {property} {key:?}: {}",
                many.len(),
                many.iter()
                    .map(|u| u.user_principal_name.as_deref().unwrap_or(&u.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn photo_path(id: &str) -> String {
        format!("/users/{}/photo/$value", encode_segment(id))
    }

    fn forget(&self, key: &str) {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key.to_lowercase());
    }

    /// A failed answer to a photo read or removal: `Ok` if the user simply has no photo.
    fn no_photo(&self, key: &str, resp: &GraphResponse, what: &str) -> Result<()> {
        let g = resp.graph_error();
        match PhotoAnswer::of(resp.status, &g) {
            PhotoAnswer::NoPhoto => Ok(()),
            PhotoAnswer::UserGone => {
                // The id no longer names a user (deleted during the run): look it up anew.
                self.forget(key);
                Err(resp.error(what))
            }
            PhotoAnswer::Unreadable => {
                let e = resp.error(what);
                Err(rekind(
                    &e,
                    ErrorKind::Unreadable,
                    format!(
                        "{what}: Graph cannot read this user's photo ({}): the user has no \
                         Exchange Online mailbox, or it is on-premises",
                        g.code.as_deref().unwrap_or("no code")
                    ),
                ))
            }
            PhotoAnswer::Other => Err(resp.error(what)),
        }
    }

    /// A 404 to an upload for a user this run has resolved. Graph has answered so for users
    /// without an Exchange Online mailbox (microsoft-graph-docs#8236), so unless Graph says the
    /// user is gone, and a lookup of the id agrees, it is a refusal with advice, not a key
    /// that names nobody.
    async fn put_not_found(&self, key: &str, id: &str, resp: &GraphResponse) -> Error {
        let e = resp.error("uploading the photo");
        if resp.graph_error().is(&[USER_GONE]) {
            let path = format!("/users/{}?$select=id", encode_segment(id));
            match self.graph.send(Method::GET, &path, None).await {
                Ok(r) if r.status == StatusCode::NOT_FOUND => {
                    self.forget(key);
                    return rekind(
                        &e,
                        ErrorKind::NotFound,
                        format!("the user {key:?} (object id {id}) was removed during the run"),
                    );
                }
                _ => {}
            }
        }
        rekind(
            &e,
            ErrorKind::Rejected,
            format!(
                "Graph refused the photo for an existing user (no Exchange Online mailbox?): \
                 {key:?} is object id {id}, but the upload was answered 404; {MAILBOX_ADVICE}"
            ),
        )
    }
}

impl Target for EntraTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }
}

#[async_trait]
impl TargetIo for EntraTarget {
    async fn check(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        if self.settings.inline_secret {
            report.warnings.push(
                "the credential is written into the configuration; prefer { env = \"...\" } or \
                 { file = \"...\" }"
                    .into(),
            );
        }
        let token = self.graph.auth().token().await?;
        report.ok.push(format!(
            "token acquired from {} for application {}",
            self.settings.login_url, self.settings.client_id
        ));
        match token_permissions(&token) {
            Some(perms)
                if perms
                    .iter()
                    .any(|p| WRITE_PERMISSIONS.contains(&p.as_str())) =>
            {
                report
                    .ok
                    .push(format!("the token carries {}", perms.join(", ")));
            }
            Some(perms) => {
                let what = if matches!(
                    self.settings.credential,
                    Credential::DeviceCode | Credential::Browser
                ) {
                    "the signed-in administrator's token"
                } else {
                    "the application's token"
                };
                report.warnings.push(format!(
                    "{what} carries [{}] but neither ProfilePhoto.ReadWrite.All nor \
                     User.ReadWrite.All: photo uploads will be refused; {PERMISSION_ADVICE}",
                    perms.join(", ")
                ));
            }
            None => {}
        }
        let resp = self
            .graph
            .send(
                Method::GET,
                "/users?$top=1&$select=id,userPrincipalName",
                None,
            )
            .await?;
        if !resp.status.is_success() {
            return Err(resp.error("reading one user"));
        }
        let list: UserList = serde_json::from_slice(&resp.body)
            .map_err(|_| Error::protocol("Graph answered a user list without a value list"))?;
        report.ok.push(match list.value.first() {
            Some(u) => format!(
                "read user {}",
                u.user_principal_name.as_deref().unwrap_or(&u.id)
            ),
            None => "read the user list (it is empty)".into(),
        });
        self.check_photo_source(&mut report).await;
        Ok(report)
    }

    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        let id = self.resolve(&subject.key).await?;
        let resp = self
            .graph
            .send(
                Method::PUT,
                &Self::photo_path(&id),
                Some((&photo.bytes, photo.profile.format.mime())),
            )
            .await?;
        if resp.status.is_success() {
            return Ok(Receipt {
                // Graph took it; Teams and Outlook show it hours later.
                detail: "accepted".into(),
                remote_id: Some(id),
                request_id: resp.request_id(),
            });
        }
        if resp.status == StatusCode::NOT_FOUND {
            return Err(self.put_not_found(&subject.key, &id, &resp).await);
        }
        Err(resp.error("uploading the photo"))
    }

    /// Remembers the run's keys: from [`LIST_FROM`] of them, the first lookup lists the
    /// directory instead of asking per person.
    async fn prepare(&self, keys: &[String]) -> Result<()> {
        *self.planned.lock().unwrap_or_else(|p| p.into_inner()) = keys.to_vec();
        Ok(())
    }

    /// What the directory listing cost, when there was one.
    async fn finish(&self) -> Result<Option<String>> {
        Ok(self.listing.get().cloned().flatten().map(|l| {
            format!(
                "users found with one directory listing: {} users in {} pages, {:.1} s",
                l.users,
                l.pages,
                l.elapsed.as_secs_f64()
            )
        }))
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        let id = self.resolve(&subject.key).await?;
        let resp = self
            .graph
            .send(Method::GET, &Self::photo_path(&id), None)
            .await?;
        match resp.status {
            s if s.is_success() => Ok(Some(resp.body)),
            _ => self
                .no_photo(&subject.key, &resp, "reading the photo")
                .map(|()| None),
        }
    }

    /// `GET /users/{id}/photo`: the photo's metadata (its size in pixels), not its bytes
    /// (learn.microsoft.com/graph/api/profilephoto-get). A user without a photo is a `404`
    /// in any of the forms [`Self::no_photo`] knows, or, as the documentation's example shows,
    /// a `1x1` `image/gif` placeholder with an empty etag.
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        let id = self.resolve(&subject.key).await?;
        let path = format!("/users/{}/photo", encode_segment(&id));
        let resp = self.graph.send(Method::GET, &path, None).await?;
        if !resp.status.is_success() {
            return self
                .no_photo(&subject.key, &resp, "reading the photo's metadata")
                .map(|()| None);
        }
        let meta: PhotoMeta = serde_json::from_slice(&resp.body)
            .map_err(|_| Error::protocol("Graph answered photo metadata that is not JSON"))?;
        let placeholder = meta.id.as_deref() == Some("1x1")
            || meta
                .content_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("image/gif"))
                && meta.etag.as_deref().unwrap_or("").is_empty();
        Ok((!placeholder).then_some(PhotoInfo {
            width: meta.width,
            height: meta.height,
            ..PhotoInfo::default()
        }))
    }

    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        let id = self.resolve(&subject.key).await?;
        let resp = self
            .graph
            .send(Method::DELETE, &Self::photo_path(&id), None)
            .await?;
        let receipt = |detail: &str| Receipt {
            detail: detail.into(),
            remote_id: Some(id.clone()),
            request_id: resp.request_id(),
        };
        match resp.status {
            s if s.is_success() => Ok(receipt("removed")),
            _ => self
                .no_photo(&subject.key, &resp, "removing the photo")
                .map(|()| receipt("had no photo")),
        }
    }
}

/// The fields of a `profilePhoto` picday reads.
#[derive(Debug, serde::Deserialize)]
struct PhotoMeta {
    id: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    #[serde(rename = "@odata.mediaContentType")]
    content_type: Option<String>,
    #[serde(rename = "@odata.mediaEtag")]
    etag: Option<String>,
}
