//! Write a picday target plugin in safe Rust.
//!
//! picday can load targets it was not compiled with, either as an executable it starts and talks
//! to over stdin/stdout, or as a dynamic library. Both speak the same versioned messages
//! ([`protocol`]). This crate hides both transports: implement [`Plugin`], call
//! [`plugin!`] once, and build the crate as a binary (`picday-plugin-NAME`) or as a `cdylib`
//! (`picday_plugin_NAME`). The macro wraps every entry point in `catch_unwind`, so a panic
//! becomes an `internal` error for that one request instead of undefined behaviour.
//!
//! A plugin answers synchronously and does no networking of its own: [`Host::http`] asks
//! picday to make the HTTP request, so the client, TLS, timeouts, retries and throttling stay in
//! one place (picday), and the plugin only builds requests and interprets responses.

pub mod abi;
pub mod protocol;
mod session;
mod shared;
mod stdio;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::de::DeserializeOwned;

pub use base64;
pub use protocol::{
    CheckOk, DescribeOk, HttpRequest, HttpResponse, OptionSpec, PROTOCOL_VERSION, PhotoTransfer,
    PluginCapabilities, ProfileMsg, Receipt, Subject,
};
pub use serde_json;
#[doc(hidden)]
pub use session::Session;
pub use shared::{PhotoShape, Shared, SharedOptions};
#[doc(hidden)]
pub use stdio::run_stdio;

/// What a plugin is, before any configuration: the answer to `hello`.
#[derive(Debug, Clone)]
pub struct Info {
    /// The type name in `picday.toml`; must match the file name (`picday-plugin-NAME`).
    pub name: &'static str,
    pub version: &'static str,
    /// One line for `picday targets`.
    pub summary: &'static str,
    pub capabilities: PluginCapabilities,
    /// The options the plugin reads (its config schema).
    pub options: Vec<OptionSpec>,
    /// How `put` photos should travel for an executable plugin (a dynamic library always gets
    /// them in the message).
    pub photo_transfer: PhotoTransfer,
}

/// A target implemented as a plugin.
///
/// Methods take `&self` and may be called from several threads at once (up to the
/// `max_concurrency` the plugin declared), so keep mutable state behind a `Mutex`.
pub trait Plugin: Sized + Send + Sync + 'static {
    /// The plugin's name, version, capabilities and options.
    fn info() -> Info;

    /// Validates the target's options and describes the configured target.
    fn configure(config: &Config) -> Result<(Self, DescribeOk), PluginError>;

    /// Verifies the configuration without changing anything.
    fn check(&self, host: &Host<'_>) -> Result<CheckOk, PluginError>;

    /// Sends one person's photo. picday has already checked it matches the profile.
    fn put(
        &self,
        host: &Host<'_>,
        subject: &Subject,
        photo: &Photo,
    ) -> Result<Receipt, PluginError>;

    /// Reads a photo back (only with `capabilities.read_back`).
    fn get(&self, host: &Host<'_>, subject: &Subject) -> Result<Option<Vec<u8>>, PluginError> {
        let _ = (host, subject);
        Err(PluginError::new(
            ErrorKind::Unsupported,
            "this plugin cannot read photos back",
        ))
    }

    /// Removes a photo (only with `capabilities.delete`); removing a missing photo succeeds.
    fn delete(&self, host: &Host<'_>, subject: &Subject) -> Result<Receipt, PluginError> {
        let _ = (host, subject);
        Err(PluginError::new(
            ErrorKind::Unsupported,
            "this plugin cannot remove photos",
        ))
    }

    /// Called once after the last photo of a run (not in dry-run).
    fn finish(&self, host: &Host<'_>) -> Result<Option<String>, PluginError> {
        let _ = host;
        Ok(None)
    }
}

/// Makes a [`Plugin`] loadable by picday: defines `main` (the stdin/stdout loop, for a binary
/// crate) and exports the `picday_plugin_v1` entry point (for a `cdylib`). Use it once, at the
/// crate root.
#[macro_export]
macro_rules! plugin {
    ($plugin:ty) => {
        /// Runs the plugin over stdin/stdout (executable plugins).
        pub fn main() {
            $crate::run_stdio::<$plugin>()
        }

        /// The dynamic-library entry point: picday checks the table's ABI version and size
        /// before calling anything in it.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn picday_plugin_v1() -> *const $crate::abi::PluginV1 {
            static TABLE: $crate::abi::PluginV1 = $crate::abi::table::<$plugin>();
            &TABLE
        }
    };
}

/// The target's configuration, as `describe` brings it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configured name (`[targets.NAME]`).
    pub target: String,
    /// The options (secrets already resolved; do not log them).
    pub options: serde_json::Map<String, serde_json::Value>,
    /// The configuration file's folder.
    pub base_dir: PathBuf,
    /// `[photo] quality`.
    pub quality: u8,
}

impl Config {
    /// Deserialises the options into the plugin's config type (use
    /// `#[serde(deny_unknown_fields)]`); errors are `config` errors naming the target.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_value(serde_json::Value::Object(self.options.clone())).map_err(|e| {
            PluginError::new(
                ErrorKind::Config,
                format!(
                    "[targets.{}]: {}",
                    self.target,
                    strip_position(&e.to_string())
                ),
            )
        })
    }

    /// A path option resolved against the configuration's folder.
    pub fn resolve_path(&self, p: &Path) -> PathBuf {
        self.base_dir.join(p)
    }
}

/// serde_json appends "at line 1 column 2" about the JSON picday built, which means nothing to
/// the user; the message itself names the key.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

/// A photo to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of `bytes`, hex, as computed by picday.
    pub sha256: String,
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// What picday does for the plugin: HTTP.
pub struct Host<'a> {
    bridge: &'a dyn HttpBridge,
}

impl fmt::Debug for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Host")
    }
}

/// The transport's way to reach picday's HTTP client.
pub(crate) trait HttpBridge {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PluginError>;
}

impl<'a> Host<'a> {
    pub(crate) fn new(bridge: &'a dyn HttpBridge) -> Self {
        Host { bridge }
    }

    /// Asks picday to make an HTTP request. Any status is a response; only transport failures
    /// (cannot connect, timed out) are errors, already classified (`unavailable`, temporary).
    pub fn http(&self, request: &HttpRequest) -> Result<HttpResponse, PluginError> {
        self.bridge.send(request)
    }
}

impl HttpRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: &str) -> Self {
        HttpRequest {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, bytes: &[u8]) -> Self {
        self.body = base64::engine::general_purpose::STANDARD.encode(bytes);
        self
    }
}

impl HttpResponse {
    /// The body's bytes (empty if the host sent something that is not base64).
    pub fn body_bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.body)
            .unwrap_or_default()
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Ok` for 2xx; otherwise the error picday's own targets would report for that status:
    /// 400/409/413/415/422 rejected, 401 auth, 403 permission, 404/410 not found, 429
    /// throttled, 408 and 5xx unavailable; 408/429/5xx temporary, with the Retry-After hint.
    pub fn error_for_status(self, what: &str) -> Result<HttpResponse, PluginError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        let kind = picday_protocol::kind_for_status(self.status);
        let temporary = picday_protocol::status_is_temporary(self.status);
        let body = self.body_bytes();
        let excerpt = String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_string();
        let detail = if excerpt.is_empty() {
            String::new()
        } else {
            format!(": {excerpt}")
        };
        let mut e = PluginError::new(kind, format!("{what}: HTTP {}{detail}", self.status))
            .temporary(temporary);
        if let Some(secs) = self
            .header("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
        {
            e = e.retry_after(secs);
        }
        Err(e)
    }
}

/// The kinds of failure picday understands: picday's own [`ErrorKind`], from
/// `picday-protocol`, so that both ends of the protocol name them alike.
pub use picday_protocol::ErrorKind;

/// A plugin's error: what picday reports and what its retry layer decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
    /// Worth retrying later (default: only for throttled and unavailable).
    pub temporary: bool,
    /// The service's Retry-After, in seconds.
    pub retry_after_secs: Option<f64>,
    pub context: BTreeMap<String, String>,
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
            temporary: kind.temporary_by_default(),
            retry_after_secs: None,
            context: BTreeMap::new(),
        }
    }
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Rejected, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    /// A file system error about `path`.
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Self::new(kind, format!("{}: {e}", path.display()))
    }
    pub fn temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }
    /// A Retry-After hint (implies temporary).
    pub fn retry_after(mut self, secs: f64) -> Self {
        self.temporary = true;
        self.retry_after_secs = Some(secs);
        self
    }
    pub fn with_context(mut self, key: &str, value: impl Into<String>) -> Self {
        self.context.insert(key.into(), value.into());
        self
    }

    pub(crate) fn to_msg(&self) -> protocol::ErrorMsg {
        protocol::ErrorMsg {
            kind: self.kind.as_str().into(),
            message: self.message.clone(),
            temporary: self.temporary,
            retry_after_secs: self.retry_after_secs,
            context: self.context.clone(),
        }
    }

    pub(crate) fn from_msg(m: protocol::ErrorMsg) -> Self {
        let kind = ErrorKind::from_name(&m.kind).unwrap_or(ErrorKind::Internal);
        PluginError {
            kind,
            message: m.message,
            temporary: m.temporary,
            retry_after_secs: m.retry_after_secs,
            context: m.context,
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for PluginError {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_for_status_classifies_like_picday_targets() {
        let r = |status, headers: Vec<(String, String)>| HttpResponse {
            status,
            headers,
            body: String::new(),
        };
        assert!(r(204, vec![]).error_for_status("x").is_ok());
        let e = r(429, vec![("Retry-After".into(), "7".into())])
            .error_for_status("x")
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Throttled);
        assert!(e.temporary);
        assert_eq!(e.retry_after_secs, Some(7.0));
        let e = r(422, vec![]).error_for_status("x").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert!(!e.temporary);
        assert_eq!(
            r(503, vec![]).error_for_status("x").unwrap_err().kind,
            ErrorKind::Unavailable
        );
    }

    #[test]
    fn config_errors_name_the_target_and_key_without_json_positions() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct C {
            url: String,
        }
        let mut options = serde_json::Map::new();
        options.insert("url".into(), "u".into());
        options.insert("colour".into(), "blue".into());
        let c = Config {
            target: "hooks".into(),
            options,
            base_dir: PathBuf::from("."),
            quality: 85,
        };
        let e = c.parse::<C>().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(
            e.message
                .starts_with("[targets.hooks]: unknown field `colour`"),
            "{e}"
        );
        assert!(!e.message.contains("line 1"), "{e}");
    }
}
