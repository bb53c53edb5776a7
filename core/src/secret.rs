//! Secrets in configuration: where they come from, and a type that never prints them.
//!
//! School IT keeps `picday.toml` in shares and tickets, so secrets are given by reference
//! (`{ env = "VAR" }` or `{ file = "path" }`). The resolved value lives in [`Secret`], whose
//! `Debug` and `Display` are redacted so it cannot leak into logs, reports or error messages.
//!
//! Redacting our own printing is not enough: a token endpoint, a proxy's error page or an API
//! error may echo the request back (the form body with `client_secret=...`, an
//! `Authorization: Bearer ...` header), and that text becomes an error message, then a line on
//! the terminal, in three report files and in the state. So every [`Secret`] made in this
//! process (configured secrets, and each access token as it is obtained) is remembered, and
//! [`scrub`] replaces any of them, as written or form-encoded, before a message becomes an
//! [`Error`] (which every error of picday's libraries is).

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Where a secret comes from, as written in the configuration.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    /// `{ env = "PICDAY_ENTRA_SECRET" }`
    Env { env: String },
    /// `{ file = "secrets/entra.txt" }`, relative to the configuration file.
    File { file: PathBuf },
    /// A literal value. Accepted, but `picday check` warns about it.
    Inline(String),
}

impl SecretSource {
    /// Reads the secret now. Trailing newlines of secret files are dropped.
    pub fn resolve(&self, base_dir: &Path) -> Result<Secret> {
        match self {
            SecretSource::Env { env } => match std::env::var(env) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                _ => Err(Error::config(format!(
                    "the environment variable {env} is not set (it should hold the secret)"
                ))),
            },
            SecretSource::File { file } => {
                let path = base_dir.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| Error::config(format!("secret file {}: {e}", path.display())))?;
                let value = text.trim_end_matches(['\r', '\n']).to_string();
                if value.is_empty() {
                    return Err(Error::config(format!(
                        "secret file {} is empty",
                        path.display()
                    )));
                }
                Ok(Secret::new(value))
            }
            SecretSource::Inline(v) => Ok(Secret::new(v.clone())),
        }
    }

    /// True for a literal secret written into the configuration.
    pub fn is_inline(&self) -> bool {
        matches!(self, SecretSource::Inline(_))
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env { env } => write!(f, "{{ env = {env:?} }}"),
            SecretSource::File { file } => write!(f, "{{ file = {:?} }}", file.display()),
            SecretSource::Inline(_) => f.write_str("\"***\""),
        }
    }
}

/// A secret value (password, client secret, token). Redacted in `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret value; remembered so that no error message can quote it (see [`scrub`]).
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        remember(&value);
        Secret(value)
    }
    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Every secret value of this process, as written and form-encoded, longest first.
static KNOWN: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Shorter values are not scrubbed: replacing every "abc" would mangle messages for nothing.
const MIN_LEN: usize = 6;
/// Tokens renew about hourly; a very long run keeps the newest this many values.
const MAX_KNOWN: usize = 4096;

fn remember(value: &str) {
    if value.len() < MIN_LEN {
        return;
    }
    let mut known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    for form in [value.to_string(), form_encoded(value)] {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    if known.len() > MAX_KNOWN {
        let extra = known.len() - MAX_KNOWN;
        known.drain(..extra);
    }
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `application/x-www-form-urlencoded`, as a form body carries the value.
fn form_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `text` with every secret value this process knows replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let known = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in known.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_secrets_and_tokens_are_scrubbed_as_written_and_form_encoded() {
        let secret = Secret::new("s3cret~value+/=");
        let token = Secret::new("eyJ0eXAiOiJKV1Qi.payload.sig");
        let echoed = format!(
            "400 Bad Request: grant_type=client_credentials&client_secret=s3cret%7Evalue%2B%2F%3D \
             Authorization: Bearer {} and {}",
            token.expose(),
            secret.expose()
        );
        let clean = scrub(&echoed);
        assert!(!clean.contains(secret.expose()), "{clean}");
        assert!(!clean.contains("s3cret%7Evalue"), "{clean}");
        assert!(!clean.contains(token.expose()), "{clean}");
        assert!(clean.contains("client_secret=***"), "{clean}");
        assert!(clean.contains("Bearer ***"), "{clean}");
        // Every error of picday's libraries goes through it.
        let e = Error::protocol(echoed.clone()).with_context("body", echoed.clone());
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(!e.to_string().contains("payload.sig"), "{e}");
        let e = Error::protocol("x").prefixed(echoed);
        assert!(!e.to_string().contains("payload.sig"), "{e}");
        // Short values are left alone.
        let _ = Secret::new("abc");
        assert_eq!(scrub("abc abc"), "abc abc");
    }

    #[test]
    fn secret_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "Secret(***) ***");
        let src = SecretSource::Inline("hunter2".into());
        assert!(!format!("{src:?}").contains("hunter2"));
    }

    #[test]
    fn secret_from_file_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "abc\r\n").unwrap();
        let src = SecretSource::File {
            file: "s.txt".into(),
        };
        assert_eq!(src.resolve(dir.path()).unwrap().expose(), "abc");
    }

    #[test]
    fn missing_env_names_the_variable() {
        let src = SecretSource::Env {
            env: "PICDAY_TEST_SURELY_UNSET".into(),
        };
        let e = src.resolve(Path::new(".")).unwrap_err();
        assert!(e.message().contains("PICDAY_TEST_SURELY_UNSET"));
    }
}
