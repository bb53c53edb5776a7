//! Secrets in configuration: where they come from, and a type that never prints them.
//!
//! School IT keeps `picday.toml` in shares and tickets, so secrets are given by reference
//! (`{ env = "VAR" }` or `{ file = "path" }`). The resolved value lives in [`Secret`], whose
//! `Debug` and `Display` are redacted so it cannot leak into logs, reports or error messages.

use std::fmt;
use std::path::{Path, PathBuf};

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
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
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

#[cfg(test)]
mod tests {
    use super::*;

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
