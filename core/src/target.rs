//! The `Target` trait: what a directory, a SIS package or a plugin must offer picday.
//!
//! A target is two things. What it *is* never changes while it runs: its name and type, the
//! photo it wants, what it can do, how it keys people, the retry policy its service calls for,
//! the settings that shape what it gets. That is one [`TargetInfo`] value, built when the
//! target is constructed. What it *does* is I/O: [`TargetIo`] (check, put, get, delete,
//! finish). Layers ([`crate::layers`]) wrap the I/O only, so metadata is never forwarded
//! through them, and the engine asks the info before it calls. Retries, throttling, dry-run
//! and the check that a photo fits the declared profile are layers around any target, never
//! code inside one: a target only classifies its errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Person, Photo, Profile, Subject, Template};

/// What a target can do, declared up front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// The photo the target wants.
    pub profile: Profile,
    /// `get_photo` is implemented (enables backups).
    pub read_back: bool,
    /// `delete_photo` is implemented.
    pub delete: bool,
    /// The target resolves people against a directory, so an unknown person is an error
    /// ([`crate::ErrorKind::NotFound`]). Export targets (folders, packages) accept anyone.
    pub resolves_people: bool,
    /// Requests the service tolerates at once.
    pub max_concurrency: usize,
    /// Two keys that differ only in case name the same photo (a directory account, an id, a
    /// file on a case-insensitive file system), so the engine compares keys case-folded when
    /// it checks that no two people share one. True unless the target declares otherwise:
    /// refusing a harmless pair is loud, sharing a photo is a silent loss.
    pub keys_case_insensitive: bool,
    /// Photos put during a run are only staged; [`TargetIo::finish`] commits them (a package
    /// written at the end). The engine records such a delivery as sent only once `finish` has
    /// succeeded, and asks [`Target::holds`] before it trusts an unchanged photo to be there.
    pub commits_at_finish: bool,
}

/// How often and how patiently to retry a temporary failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (1 = never retry).
    pub max_attempts: u32,
    /// The first backoff; doubled on each attempt.
    pub base_delay: Duration,
    /// The longest backoff (a Retry-After hint may ask for more and is honoured up to
    /// `max_retry_after`).
    pub max_delay: Duration,
    /// The longest Retry-After honoured; longer hints make the error final.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(600),
        }
    }
}

/// Everything the engine and the layers need to know about a configured target, fixed when
/// the target is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    /// The configured name (`[targets.NAME]`).
    pub name: String,
    /// The type (`type = "..."`).
    pub type_name: String,
    /// One line for people: where photos go, e.g. "folder out/ as {mail}.jpg". Free text:
    /// rewording it changes nothing that is sent (see [`TargetInfo::settings`]).
    pub summary: String,
    pub capabilities: Capabilities,
    /// The template that turns a mapping row into this target's key for the person.
    pub key: Template,
    /// Other templates this target keys some people with (PowerSchool keys staff by their
    /// teacher number, students by their student id). The mapping keeps a person for whom the
    /// fields of any one of this target's templates are filled in.
    pub other_keys: Vec<Template>,
    /// The retry policy the service calls for (documented backoff, number of tries), if it
    /// differs from the run's; [`crate::layers::stack`] prefers it.
    pub retry: Option<RetryPolicy>,
    /// A photo whose current one cannot be read ([`crate::ErrorKind::Unreadable`]) is not
    /// changed: the backup is required. Off, the delivery step sends it anyway and flags
    /// "no backup possible" in the outcome.
    pub backup_required: bool,
    /// The settings besides the profile and the keys that shape what the target ends up
    /// holding (its folder, its tenant, its attribute...), by name. With them, the type, the
    /// keys and the profile they make the fingerprint that decides whether an unchanged photo
    /// must be sent again; never secrets, never prose.
    pub settings: BTreeMap<String, String>,
    /// Where the target's photos end up, when two targets could write the same place (a
    /// folder, a package file): two targets of a configuration with the same place would
    /// overwrite each other's photos, so configurations with such a pair are refused
    /// ([`shared_places`]). `None`: a service whose place is not ours to compare.
    pub place: Option<String>,
    /// For a target that cannot remove photos: how to remove them where it sends them (a SIS
    /// package: which screen of the SIS does it). `picday remove` prints it.
    pub delete_advice: Option<String>,
}

impl TargetInfo {
    /// A target named `name` of type `type_name`, keying people by `key` and wanting
    /// `profile`; it cannot read back or delete, accepts anyone and takes one request at a
    /// time until the builder methods say otherwise.
    pub fn new(
        name: impl Into<String>,
        type_name: impl Into<String>,
        key: Template,
        profile: Profile,
    ) -> Self {
        let type_name = type_name.into();
        TargetInfo {
            name: name.into(),
            summary: type_name.clone(),
            type_name,
            capabilities: Capabilities {
                profile,
                read_back: false,
                delete: false,
                resolves_people: false,
                max_concurrency: 1,
                keys_case_insensitive: true,
                commits_at_finish: false,
            },
            key,
            other_keys: Vec::new(),
            retry: None,
            backup_required: false,
            settings: BTreeMap::new(),
            place: None,
            delete_advice: None,
        }
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }
    /// `get_photo` works (backups, export).
    pub fn reads_back(mut self) -> Self {
        self.capabilities.read_back = true;
        self
    }
    /// `delete_photo` works (restore of a person who had none, removal).
    pub fn deletes(mut self) -> Self {
        self.capabilities.delete = true;
        self
    }
    /// Unknown people are errors: the target looks them up in a directory.
    pub fn resolves_people(mut self, yes: bool) -> Self {
        self.capabilities.resolves_people = yes;
        self
    }
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.capabilities.max_concurrency = n.max(1);
        self
    }
    /// Whether keys differing only in case name the same photo (the default: yes).
    pub fn keys_case_insensitive(mut self, yes: bool) -> Self {
        self.capabilities.keys_case_insensitive = yes;
        self
    }
    /// Photos are staged by `put_photo` and committed by `finish` (see
    /// [`Capabilities::commits_at_finish`]).
    pub fn commits_at_finish(mut self) -> Self {
        self.capabilities.commits_at_finish = true;
        self
    }
    /// Where the photos end up (see [`TargetInfo::place`]).
    pub fn place(mut self, place: impl Into<String>) -> Self {
        self.place = Some(place.into());
        self
    }
    pub fn other_keys(mut self, keys: impl IntoIterator<Item = Template>) -> Self {
        self.other_keys = keys.into_iter().collect();
        self
    }
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// Never change a photo whose current one could not be read (see
    /// [`TargetInfo::backup_required`]).
    pub fn backup_required(mut self, yes: bool) -> Self {
        self.backup_required = yes;
        self
    }
    /// What to tell a user who asks this target to remove photos when it cannot (see
    /// [`TargetInfo::delete_advice`]).
    pub fn delete_advice(mut self, advice: impl Into<String>) -> Self {
        self.delete_advice = Some(advice.into());
        self
    }
    /// One of the settings that shape what is sent (see [`TargetInfo::settings`]).
    pub fn setting(mut self, name: &str, value: impl ToString) -> Self {
        self.settings.insert(name.to_string(), value.to_string());
        self
    }

    /// The photo the target wants.
    pub fn profile(&self) -> Profile {
        self.capabilities.profile
    }

    /// Every key template, the main one first.
    pub fn key_templates(&self) -> impl Iterator<Item = &Template> {
        std::iter::once(&self.key).chain(&self.other_keys)
    }

    /// A key as this target compares it with others: case-folded when the target's keys are
    /// case-insensitive.
    pub fn folded_key(&self, key: &str) -> String {
        if self.capabilities.keys_case_insensitive {
            key.to_lowercase()
        } else {
            key.to_string()
        }
    }
}

/// A folder as a [`TargetInfo::place`]: absolute, `.` and `..` resolved (without following
/// links), case-folded where file systems usually ignore case (Windows, macOS). Two targets
/// naming one folder differently (`out`, `./out/`, `sub/../out`) get the same place.
pub fn folder_place(dir: &std::path::Path) -> String {
    use std::path::Component;
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut clean = std::path::PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let place = format!("folder {}", clean.display());
    if cfg!(any(windows, target_os = "macos")) {
        place.to_lowercase()
    } else {
        place
    }
}

/// The pairs of targets (by name, with the place) that would write the same place, or one
/// inside the other's folder (a folder target's file names may hold subfolders, `{grade}/...`,
/// and so reach into a folder below its own): see [`TargetInfo::place`]. A configuration with
/// such a pair must be refused before anything is sent.
pub fn shared_places<'a>(
    infos: impl IntoIterator<Item = &'a TargetInfo>,
) -> Vec<(String, String, String)> {
    let placed: Vec<(&str, &str)> = infos
        .into_iter()
        .filter_map(|info| Some((info.name.as_str(), info.place.as_deref()?)))
        .collect();
    let inside = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with(['/', '\\']))
    };
    let mut pairs = Vec::new();
    for (i, (first, a)) in placed.iter().enumerate() {
        for (second, b) in &placed[i + 1..] {
            let place = if a == b {
                a.to_string()
            } else if inside(b, a) {
                format!("{b} (inside {a})")
            } else if inside(a, b) {
                format!("{a} (inside {b})")
            } else {
                continue;
            };
            pairs.push((first.to_string(), second.to_string(), place));
        }
    }
    pairs
}

/// What a service said when it accepted a photo; kept in the report and the run state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// A short note ("accepted", "written to out/a.jpg").
    pub detail: String,
    /// The id the service knows the person by (Entra object id...).
    pub remote_id: Option<String>,
    /// The service's request id, for support cases.
    pub request_id: Option<String>,
}

impl Receipt {
    pub fn new(detail: impl Into<String>) -> Self {
        Receipt {
            detail: detail.into(),
            ..Receipt::default()
        }
    }
}

/// What a target can say about a person's current photo without sending its bytes: whatever
/// the service tells (a size, the dimensions it stores, when it changed). Every field is
/// optional: a service that only says "there is one" answers `PhotoInfo::default()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PhotoInfo {
    /// Size in bytes, when the service says.
    pub bytes: Option<u64>,
    /// Width and height in pixels, when the service says.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// When the photo last changed (RFC 3339), when the service says.
    pub modified: Option<String>,
}

impl PhotoInfo {
    /// What the bytes of a photo themselves say: their size, and the dimensions in their
    /// header (JPEG or PNG).
    pub fn of_bytes(bytes: &[u8]) -> PhotoInfo {
        let dims = crate::pipeline::inspect(bytes, u64::MAX).ok();
        PhotoInfo {
            bytes: Some(bytes.len() as u64),
            width: dims.as_ref().map(|d| d.width),
            height: dims.as_ref().map(|d| d.height),
            modified: None,
        }
    }

    /// With the time the photo last changed (a file's modification time), as RFC 3339.
    pub fn modified_at(mut self, at: std::time::SystemTime) -> Self {
        self.modified = jiff::Timestamp::try_from(at).ok().map(|t| t.to_string());
        self
    }
}

/// The result of a read-only `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// What was verified ("token acquired", "out/ is writable").
    pub ok: Vec<String>,
    /// Things that work but deserve attention.
    pub warnings: Vec<String>,
}

/// What a target does: its I/O. Layers implement and wrap this trait only.
///
/// `get_photo` and `delete_photo` are called only when [`Capabilities`] declares them (the
/// always-on contract layer refuses the others before they reach the target), and `put_photo`
/// only with a photo of the declared profile.
#[async_trait]
pub trait TargetIo: Send + Sync + std::fmt::Debug {
    /// Verifies configuration, credentials and reachability without changing anything.
    async fn check(&self) -> Result<CheckReport>;

    /// Sends one person's photo.
    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt>;

    /// Reads the current photo, `None` if the person has none. Only if `read_back`.
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        let _ = subject;
        Err(Error::unsupported("this target cannot read photos back"))
    }

    /// Called once before a run's first request with the key of every person the run may
    /// touch. A target whose service can look many people up at once remembers them, and
    /// uses one bulk read instead of a lookup per person when it is worth it (Entra: one
    /// paged directory listing for a large mapping). The default does nothing; a target must
    /// work the same whether it was called or not.
    async fn prepare(&self, keys: &[String]) -> Result<()> {
        let _ = keys;
        Ok(())
    }

    /// Whether the person has a photo, asked cheaply: `None` if they have none, else what the
    /// service says about it (see [`PhotoInfo`]). Only if `read_back`. The default reads the
    /// whole photo with [`TargetIo::get_photo`]; a target whose service can answer with less
    /// (photo metadata, an attribute's presence, a file's existence) overrides it, which
    /// `push --missing-only`, `remove` and the opt-out check of `push` use once per person.
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        Ok(self
            .get_photo(subject)
            .await?
            .map(|bytes| PhotoInfo::of_bytes(&bytes)))
    }

    /// Removes the person's photo. Only if `delete`.
    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        let _ = subject;
        Err(Error::unsupported("this target cannot remove photos"))
    }

    /// Called once after the last photo of a run, e.g. to close a package. Not called in
    /// dry-run.
    async fn finish(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

/// A place photos go: one [`TargetInfo`], the rule that keys a person, and the I/O.
/// Implementations must be cheap to share (`Arc<dyn Target>`).
pub trait Target: TargetIo {
    /// What the target is, wants and can do.
    fn info(&self) -> &TargetInfo;

    /// The key of a person for this target. Targets whose keys have rules of their own (a
    /// file name that must stay in its folder, an escaped LDAP filter) check them here, so
    /// that a bad key is refused before any photo is made for it.
    fn subject(&self, person: Arc<Person>) -> Result<Subject> {
        let key = self.info().key.render(&person)?;
        Ok(Subject::new(key, person))
    }

    /// For a target that commits at finish: whether what it last committed still holds this
    /// person's photo, asked when the journal says the photo is unchanged. `false` makes the
    /// engine send the photo again rather than trust a package that lost it. A target that
    /// cannot tell says `true`.
    fn holds(&self, subject: &Subject) -> bool {
        let _ = subject;
        true
    }
}

/// Checks that a photo is what the target declared it wants. The contract layer applies it
/// to every `put_photo`; it is public for code that builds photos for a target by hand.
pub fn ensure_profile(caps: &Capabilities, photo: &Photo) -> Result<()> {
    let want = &caps.profile;
    if photo.profile.format != want.format {
        return Err(Error::rejected(format!(
            "expected a {:?} photo, got {:?}",
            want.format, photo.profile.format
        )));
    }
    if (photo.width, photo.height) != (want.width, want.height) {
        return Err(Error::rejected(format!(
            "expected {}x{}, got {}x{}",
            want.width, want.height, photo.width, photo.height
        )));
    }
    if let Some(max) = want.max_bytes
        && photo.len() > max
    {
        return Err(Error::rejected(format!(
            "the photo is {} bytes, more than the {max} bytes allowed",
            photo.len()
        )));
    }
    if photo.is_empty() {
        return Err(Error::rejected("the photo is empty"));
    }
    Ok(())
}
