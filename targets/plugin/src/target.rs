//! The one host-side wrapper: a plugin session seen as a [`Target`], whatever the transport.
//!
//! picday does what can be done without the plugin here, so every plugin gets it right: the
//! photo is checked against the declared profile before anything is sent (by the contract
//! layer, as for every target), secrets are
//! resolved from `{ env = ".." }`/`{ file = ".." }`, keys are rendered from the plugin's
//! template, and every answer is checked against the reply type of its request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use picday_core::{
    CheckReport, Error, ErrorKind, Format, Person, Photo, Profile, Receipt, Result, SecretSource,
    Subject, Target, TargetInfo, TargetIo, TargetSpec, Template,
};
use picday_plugin_sdk::protocol::{
    self, CheckOk, DescribeOk, FinishOk, GetOk, HelloOk, PhotoMsg, PhotoTransfer, Request,
};
use serde::de::DeserializeOwned;
use sha2::Digest;

use crate::{Candidate, Kind, dylib, exec, label};

/// The option picday reads itself and does not forward to the plugin.
const TIMEOUT_OPTION: &str = "plugin_timeout";

#[derive(Debug)]
enum Conn {
    Exec(Arc<exec::Process>),
    Library(Arc<dylib::Session>),
}

impl Conn {
    async fn call(&self, request: Request) -> Result<serde_json::Value> {
        match self {
            Conn::Exec(p) => p.call(request).await,
            Conn::Library(s) => s.call(request).await,
        }
    }
}

/// A target whose work is done by a plugin.
#[derive(Debug)]
pub struct PluginTarget {
    info: TargetInfo,
    label: String,
    conn: Conn,
    hello: HelloOk,
    /// Where photos are handed over as files, for plugins that asked for that.
    photo_dir: Option<tempfile::TempDir>,
}

/// Builds the target of one configuration section: starts (or opens) the plugin, says hello,
/// and describes the target with its options. Options the plugin rejects are a configuration
/// error, as for a built-in target; a plugin that fails to start or answer gives a
/// [`FailedTarget`], so that only this target fails.
pub(crate) fn build(
    candidate: &Candidate,
    known: &HelloOk,
    spec: &TargetSpec,
    default_timeout: Duration,
) -> Result<Arc<dyn Target>> {
    let mut options = spec.options.clone();
    let timeout = match options.remove(TIMEOUT_OPTION) {
        None => default_timeout,
        Some(toml::Value::Integer(s)) if s > 0 => Duration::from_secs(s as u64),
        Some(toml::Value::Float(s)) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        Some(_) => {
            return Err(Error::config(format!(
                "[targets.{}]: `{TIMEOUT_OPTION}` must be a positive number of seconds",
                spec.name
            )));
        }
    };
    let mut json = serde_json::Map::new();
    // The options that shape what the plugin does with a photo, secrets left out: part of the
    // fingerprint that decides whether an unchanged photo is sent again.
    let mut settings = Vec::new();
    for (key, value) in options {
        let secret = known.options.iter().any(|o| o.name == key && o.secret);
        let value = if secret {
            let source: SecretSource = value.try_into().map_err(|e: toml::de::Error| {
                Error::config(format!(
                    "[targets.{}]: `{key}`: {} (write {{ env = \"VAR\" }} or {{ file = \"path\" }})",
                    spec.name,
                    e.message().trim()
                ))
            })?;
            let secret = source
                .resolve(&spec.base_dir)
                .map_err(|e| e.prefixed(format!("[targets.{}]: `{key}`", spec.name)))?;
            serde_json::Value::String(secret.expose().to_string())
        } else {
            let value = serde_json::to_value(value).map_err(|e| Error::internal(e.to_string()))?;
            settings.push((format!("option.{key}"), value.to_string()));
            value
        };
        json.insert(key, value);
    }
    let failed = |e: Error| -> Result<Arc<dyn Target>> { Ok(Arc::new(FailedTarget::new(spec, e))) };
    let opened = match candidate.kind {
        Kind::Exec => exec::open(candidate, timeout).map(|(p, h)| (Conn::Exec(p), h)),
        Kind::Library => dylib::open(candidate, timeout).map(|(s, h)| (Conn::Library(s), h)),
    };
    let (conn, hello) = match opened {
        Ok(o) => o,
        Err(e) => return failed(e),
    };
    let label = label(candidate);
    let describe = Request::Describe {
        target: spec.name.clone(),
        options: json,
        base_dir: spec.base_dir.display().to_string(),
        quality: spec.photo.quality,
    };
    let conn = Arc::new(conn);
    let answer = crate::host::block_on({
        let conn = conn.clone();
        async move { conn.call(describe).await }
    });
    let described: DescribeOk = match answer.and_then(|v| parse(&label, "describe", v)) {
        Ok(d) => d,
        // The plugin said the options are wrong: a configuration error, like a built-in's.
        Err(e) if e.kind() == ErrorKind::Config => return Err(e),
        Err(e) => return failed(e),
    };
    let profile = match profile_of(&described.profile) {
        Ok(p) => p,
        Err(e) => return failed(e.prefixed(&label)),
    };
    let key = match Template::parse(&described.key) {
        Ok(k) => k,
        Err(e) => return failed(e.prefixed(format!("{label}: key template"))),
    };
    let photo_dir = if hello.photo_transfer == PhotoTransfer::File {
        match tempfile::Builder::new().prefix("picday-plugin-").tempdir() {
            Ok(d) => Some(d),
            Err(e) => return failed(Error::io(&std::env::temp_dir(), e)),
        }
    } else {
        None
    };
    let Ok(conn) = Arc::try_unwrap(conn) else {
        return Err(Error::internal("the plugin connection is still shared"));
    };
    let caps = &hello.capabilities;
    let mut info = TargetInfo::new(&spec.name, &spec.type_name, key, profile)
        .summary(described.summary)
        .setting("plugin", &label)
        .resolves_people(caps.resolves_people)
        .max_concurrency(described.max_concurrency.clamp(1, 64));
    if caps.read_back {
        info = info.reads_back();
    }
    if caps.delete {
        info = info.deletes();
    }
    for (name, value) in settings {
        info = info.setting(&name, value);
    }
    Ok(Arc::new(PluginTarget {
        info,
        label,
        conn,
        hello,
        photo_dir,
    }))
}

fn profile_of(p: &protocol::ProfileMsg) -> Result<Profile> {
    if p.format != "jpeg" {
        return Err(Error::protocol(format!(
            "asks for `{}` photos; protocol 1 knows only jpeg",
            p.format
        )));
    }
    if !(16..=4096).contains(&p.width) || !(16..=4096).contains(&p.height) {
        return Err(Error::protocol(format!(
            "asks for {}x{} photos; sizes must be between 16 and 4096",
            p.width, p.height
        )));
    }
    if !(1..=100).contains(&p.quality) {
        return Err(Error::protocol(format!(
            "asks for JPEG quality {}; it must be 1-100",
            p.quality
        )));
    }
    let mut profile = Profile::jpeg(p.width, p.height).with_quality(p.quality);
    profile.max_bytes = p.max_bytes;
    Ok(profile)
}

/// Reads an `ok` answer as the reply type of its request.
fn parse<T: DeserializeOwned>(label: &str, op: &str, value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| {
        Error::protocol(format!(
            "{label} answered `{op}` with an unexpected reply: {e}"
        ))
    })
}

fn subject_msg(subject: &Subject) -> protocol::Subject {
    protocol::Subject {
        key: subject.key.clone(),
        fields: subject.person.fields.clone(),
        label: subject.person.label(),
    }
}

impl PluginTarget {
    async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T> {
        let op = request.op();
        let value = self.conn.call(request).await?;
        parse(&self.label, op, value)
    }

    /// The plugin's name, version and declared capabilities.
    pub fn plugin(&self) -> &HelloOk {
        &self.hello
    }
}

impl Target for PluginTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }
}

#[async_trait]
impl TargetIo for PluginTarget {
    async fn check(&self) -> Result<CheckReport> {
        let ok: CheckOk = self.call(Request::Check).await?;
        let mut report = CheckReport {
            ok: ok.ok,
            warnings: ok.warnings,
        };
        report
            .ok
            .insert(0, format!("{} {} answered", self.label, self.hello.version));
        Ok(report)
    }

    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        let sha256 = hex(&sha2::Sha256::digest(&photo.bytes));
        let format = match photo.profile.format {
            Format::Jpeg => "jpeg",
        };
        let mut msg = PhotoMsg {
            width: photo.width,
            height: photo.height,
            format: format.into(),
            sha256,
            data: None,
            path: None,
        };
        // Kept until the plugin has answered; removed when dropped.
        let mut _file = None;
        match &self.photo_dir {
            Some(dir) => {
                let bytes = photo.bytes.clone();
                let dir = dir.path().to_path_buf();
                let file =
                    tokio::task::spawn_blocking(move || -> Result<tempfile::NamedTempFile> {
                        let mut f = tempfile::Builder::new()
                            .suffix(".jpg")
                            .tempfile_in(&dir)
                            .map_err(|e| Error::io(&dir, e))?;
                        std::io::Write::write_all(&mut f, &bytes)
                            .map_err(|e| Error::io(&dir, e))?;
                        Ok(f)
                    })
                    .await
                    .map_err(|e| Error::internal(e.to_string()))??;
                msg.path = Some(file.path().display().to_string());
                _file = Some(file);
            }
            None => msg.data = Some(base64::engine::general_purpose::STANDARD.encode(&photo.bytes)),
        }
        let r: protocol::Receipt = self
            .call(Request::Put {
                subject: subject_msg(subject),
                photo: msg,
            })
            .await?;
        Ok(receipt(r))
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        let got: GetOk = self
            .call(Request::Get {
                subject: subject_msg(subject),
            })
            .await?;
        got.photo
            .map(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| {
                        Error::protocol(format!(
                            "{} sent a photo that is not base64: {e}",
                            self.label
                        ))
                    })
            })
            .transpose()
    }

    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        let r: protocol::Receipt = self
            .call(Request::Delete {
                subject: subject_msg(subject),
            })
            .await?;
        Ok(receipt(r))
    }

    async fn finish(&self) -> Result<Option<String>> {
        let done: FinishOk = self.call(Request::Finish).await?;
        Ok(done.note)
    }
}

fn receipt(r: protocol::Receipt) -> Receipt {
    Receipt {
        detail: r.detail,
        remote_id: r.remote_id,
        request_id: r.request_id,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A target whose plugin cannot be used (wrong version, does not start, does not answer):
/// every operation fails with the reason, so that the other targets of the run finish.
#[derive(Debug)]
pub struct FailedTarget {
    info: TargetInfo,
    kind: ErrorKind,
    message: String,
}

impl FailedTarget {
    pub fn new(spec: &TargetSpec, error: Error) -> Self {
        tracing::error!("[targets.{}]: {error}", spec.name);
        // No placeholder: the mapping needs no column for a target that cannot run.
        let key = Template::parse("unavailable").unwrap_or_else(|_| unreachable!());
        let message = error.message().to_string();
        FailedTarget {
            info: TargetInfo::new(&spec.name, &spec.type_name, key, Profile::square(648))
                .summary(format!("unusable: {message}")),
            kind: error.kind(),
            message,
        }
    }

    fn error(&self) -> Error {
        Error::new(self.kind, self.message.clone()).temporary(false)
    }
}

impl Target for FailedTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn subject(&self, person: Arc<Person>) -> Result<Subject> {
        Ok(Subject::new(String::new(), person))
    }
}

#[async_trait]
impl TargetIo for FailedTarget {
    async fn check(&self) -> Result<CheckReport> {
        Err(self.error())
    }

    async fn put_photo(&self, _subject: &Subject, _photo: &Photo) -> Result<Receipt> {
        Err(self.error())
    }

    async fn finish(&self) -> Result<Option<String>> {
        Ok(None)
    }
}
