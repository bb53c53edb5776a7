//! The messages of picday's plugin protocol, version [`PROTOCOL_VERSION`].
//!
//! They exist once, here, because both ends and both transports use them: the host
//! (`picday-plugin`) writes requests and reads replies, the SDK does the opposite, and an
//! executable plugin (one JSON object per line over stdin/stdout) and a dynamic library (the
//! same JSON as bytes through a C function table) carry exactly the same messages. A plugin in
//! another language implements these shapes; `docs/adding-a-target.md` is the prose version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The protocol this SDK and host speak. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request from picday, with the id the reply must carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub id: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// What picday asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// First message: versions and what the host offers. Reply: [`HelloOk`].
    Hello {
        protocol: u32,
        /// e.g. "picday 0.1.0".
        host: String,
        /// The photo transfers the host can do.
        photo_transfer: Vec<PhotoTransfer>,
    },
    /// The target's options from `picday.toml`; the plugin validates them and describes the
    /// configured target. Reply: [`DescribeOk`].
    Describe {
        /// The configured name (`[targets.NAME]`).
        target: String,
        /// The section's keys other than `type` and `enabled`, as JSON. Options the plugin
        /// declared `secret` arrive resolved (the value, not `{ env = ".." }`).
        options: serde_json::Map<String, serde_json::Value>,
        /// The configuration file's folder, for relative paths.
        base_dir: String,
        /// `[photo] quality`, the default JPEG quality.
        quality: u8,
    },
    /// A read-only check. Reply: [`CheckOk`].
    Check,
    /// Send one photo. Reply: [`Receipt`].
    Put { subject: Subject, photo: PhotoMsg },
    /// Read a photo back. Reply: [`GetOk`].
    Get { subject: Subject },
    /// Remove a photo. Reply: [`Receipt`].
    Delete { subject: Subject },
    /// After the last photo of a run. Reply: [`FinishOk`].
    Finish,
    /// The answer to the plugin's [`Reply::Http`] request (executable plugins only).
    HttpResponse {
        #[serde(flatten)]
        result: HttpResult,
    },
}

impl Request {
    /// The op name, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::Describe { .. } => "describe",
            Request::Check => "check",
            Request::Put { .. } => "put",
            Request::Get { .. } => "get",
            Request::Delete { .. } => "delete",
            Request::Finish => "finish",
            Request::HttpResponse { .. } => "http_response",
        }
    }
}

/// A plugin's answer: `{"id":N,"ok":{..}}`, `{"id":N,"error":{..}}` or, while handling a
/// request, `{"id":N,"http":{..}}` asking the host to make an HTTP request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyEnvelope {
    pub id: u64,
    #[serde(flatten)]
    pub reply: Reply,
}

/// The body of a reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(serde_json::Value),
    Error(ErrorMsg),
    Http(HttpRequest),
}

/// How the photo bytes of a `put` travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoTransfer {
    /// Inside the message, base64 (standard alphabet, padded).
    Base64,
    /// As the path of a temporary file picday owns and removes after the reply.
    File,
}

/// Reply to `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloOk {
    pub protocol: u32,
    /// The type name used in `picday.toml` (`type = "webhook"`).
    pub name: String,
    pub version: String,
    /// One line for `picday targets`.
    pub summary: String,
    pub capabilities: PluginCapabilities,
    /// The transfer the plugin wants, among those the host offered.
    pub photo_transfer: PhotoTransfer,
    /// The config schema: every option the plugin reads.
    pub options: Vec<OptionSpec>,
}

/// What the plugin can do, whatever its configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginCapabilities {
    /// `get` is implemented.
    pub read_back: bool,
    /// `delete` is implemented.
    pub delete: bool,
    /// An unknown person is an error (`not_found`), not a new entry.
    pub resolves_people: bool,
}

/// One option of the config schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionSpec {
    pub name: String,
    pub required: bool,
    /// The default as written in TOML, for documentation.
    #[serde(default)]
    pub default: Option<String>,
    pub help: String,
    /// The value is a secret: written `{ env = ".." }` or `{ file = ".." }` in picday.toml and
    /// resolved by picday before `describe`.
    #[serde(default)]
    pub secret: bool,
}

impl OptionSpec {
    pub fn required(name: &str, help: &str) -> Self {
        OptionSpec {
            name: name.into(),
            required: true,
            default: None,
            help: help.into(),
            secret: false,
        }
    }
    pub fn optional(name: &str, default: &str, help: &str) -> Self {
        OptionSpec {
            name: name.into(),
            required: false,
            default: Some(default.into()),
            help: help.into(),
            secret: false,
        }
    }
    /// Marks the option as a secret.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// Reply to `describe`: the configured target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DescribeOk {
    /// The photo the target wants.
    pub profile: ProfileMsg,
    /// The key template, e.g. `{mail}`; picday renders it for each person.
    pub key: String,
    /// One line: where photos go.
    pub summary: String,
    /// Requests at once the target tolerates.
    pub max_concurrency: usize,
}

/// A photo profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileMsg {
    pub width: u32,
    pub height: u32,
    /// Only `"jpeg"` in protocol 1.
    pub format: String,
    pub quality: u8,
    #[serde(default)]
    pub max_bytes: Option<usize>,
}

impl ProfileMsg {
    /// A JPEG profile.
    pub fn jpeg(width: u32, height: u32, quality: u8) -> Self {
        ProfileMsg {
            width,
            height,
            format: "jpeg".into(),
            quality,
            max_bytes: None,
        }
    }
}

/// A person as the target sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The rendered key template.
    pub key: String,
    /// Every mapping column (lower-case names).
    pub fields: BTreeMap<String, String>,
    /// A human label ("Ada Lovelace").
    pub label: String,
}

/// A photo in a `put`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoMsg {
    pub width: u32,
    pub height: u32,
    /// `"jpeg"`.
    pub format: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// The bytes, base64, with [`PhotoTransfer::Base64`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The temporary file, with [`PhotoTransfer::File`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Reply to `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckOk {
    #[serde(default)]
    pub ok: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Reply to `put` and `delete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub detail: String,
    #[serde(default)]
    pub remote_id: Option<String>,
    #[serde(default)]
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

/// Reply to `get`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetOk {
    /// The photo, base64; `null` when the person has none.
    pub photo: Option<String>,
}

/// Reply to `finish`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishOk {
    /// A note for the run report ("index of 412 photos written").
    #[serde(default)]
    pub note: Option<String>,
}

/// An error reply: the same vocabulary as picday's own errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorMsg {
    /// One of: not_found, rejected, throttled, auth, permission, config, input, unavailable,
    /// io, unsupported, unreadable, protocol, internal.
    pub kind: String,
    pub message: String,
    /// Worth retrying later.
    #[serde(default)]
    pub temporary: bool,
    /// The service's Retry-After, in seconds.
    #[serde(default)]
    pub retry_after_secs: Option<f64>,
    /// Service error code, request id...
    #[serde(default)]
    pub context: BTreeMap<String, String>,
}

/// An HTTP request the plugin asks picday to make (picday keeps the client, TLS and
/// timeouts; retries and throttling stay in picday's layers, driven by the plugin's errors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body, base64.
    #[serde(default)]
    pub body: String,
}

/// The outcome of an [`HttpRequest`]: a response, or a transport error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpResult {
    Response(HttpResponse),
    Error(ErrorMsg),
}

/// An HTTP response, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body, base64.
    #[serde(default)]
    pub body: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_have_the_documented_shape() {
        let line = serde_json::to_string(&Envelope {
            id: 7,
            request: Request::Delete {
                subject: Subject {
                    key: "a@x".into(),
                    fields: BTreeMap::new(),
                    label: "A".into(),
                },
            },
        })
        .unwrap();
        assert_eq!(
            line,
            r#"{"id":7,"op":"delete","subject":{"key":"a@x","fields":{},"label":"A"}}"#
        );
        let back: Envelope = serde_json::from_str(r#"{"op":"check","id":3}"#).unwrap();
        assert_eq!(back.id, 3);
        assert!(matches!(back.request, Request::Check));
    }

    #[test]
    fn replies_and_http_results_round_trip() {
        let r: ReplyEnvelope =
            serde_json::from_str(r#"{"id":1,"error":{"kind":"rejected","message":"no"}}"#).unwrap();
        assert!(matches!(r.reply, Reply::Error(ref e) if e.kind == "rejected" && !e.temporary));
        let h: Envelope = serde_json::from_str(
            r#"{"id":2,"op":"http_response","response":{"status":204,"headers":[["a","b"]],"body":""}}"#,
        )
        .unwrap();
        assert!(matches!(
            h.request,
            Request::HttpResponse {
                result: HttpResult::Response(HttpResponse { status: 204, .. })
            }
        ));
        assert!(serde_json::from_str::<ReplyEnvelope>(r#"{"id":1,"maybe":1}"#).is_err());
    }
}
