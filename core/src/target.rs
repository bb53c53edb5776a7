//! The `Target` trait: what a directory, a SIS package or a plugin must offer picday.
//!
//! The trait is small on purpose. A target declares its [`Capabilities`] (the profile it wants,
//! whether it can read back or delete, how much concurrency it tolerates) and the engine asks
//! before it calls. Retries, throttling and dry-run are layers around any target
//! (see [`crate::layers`]), never code inside one: a target only classifies its errors.

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
}

/// A human description of a configured target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetInfo {
    /// The configured name (`[targets.NAME]`).
    pub name: String,
    /// The type (`type = "..."`).
    pub type_name: String,
    /// One line: where photos go, e.g. "folder out/ as {mail}.jpg".
    pub summary: String,
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

/// The result of a read-only `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// What was verified ("token acquired", "out/ is writable").
    pub ok: Vec<String>,
    /// Things that work but deserve attention.
    pub warnings: Vec<String>,
}

/// A place photos go. Implementations must be cheap to share (`Arc<dyn Target>`).
#[async_trait]
pub trait Target: Send + Sync + std::fmt::Debug {
    /// Name, type and a one-line summary.
    fn describe(&self) -> TargetInfo;

    /// What the target wants and can do.
    fn capabilities(&self) -> Capabilities;

    /// The template that turns a mapping row into this target's key for the person.
    fn key_template(&self) -> &Template;

    /// Other templates this target keys some people with (PowerSchool keys staff by their
    /// teacher number, students by their student id). The mapping keeps a person for whom the
    /// fields of any one of this target's templates are filled in.
    fn other_key_templates(&self) -> Vec<&Template> {
        Vec::new()
    }

    /// The key of a person for this target.
    fn subject(&self, person: std::sync::Arc<Person>) -> Result<Subject> {
        let key = self.key_template().render(&person)?;
        Ok(Subject::new(key, person))
    }

    /// The retry policy this target's service calls for (documented backoff, number of tries),
    /// if it differs from the run's. [`crate::layers::stack`] uses it instead of
    /// [`crate::layers::StackOptions::retry`]. Layers forward it.
    fn retry_policy(&self) -> Option<crate::layers::RetryPolicy> {
        None
    }

    /// Verifies configuration, credentials and reachability without changing anything.
    async fn check(&self) -> Result<CheckReport>;

    /// Sends one person's photo.
    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt>;

    /// Reads the current photo, `None` if the person has none. Only if `read_back`.
    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        let _ = subject;
        Err(Error::unsupported(format!(
            "{} cannot read photos back",
            self.describe().type_name
        )))
    }

    /// Removes the person's photo. Only if `delete`.
    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        let _ = subject;
        Err(Error::unsupported(format!(
            "{} cannot remove photos",
            self.describe().type_name
        )))
    }

    /// Called once after the last photo of a run, e.g. to close a package. Not called in
    /// dry-run.
    async fn finish(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Checks that a photo is what the target declared it wants; targets call it first in
/// `put_photo` so that a wrong photo is refused before anything is sent.
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
