//! One error type for every library crate of picday.
//!
//! Targets talk to very different services, but the engine and the layers must make the same
//! decisions about all of them: is this worth retrying, should the whole target pause, is it the
//! person, the photo or the configuration that is wrong? So every failure carries a [`ErrorKind`],
//! whether it is temporary, an optional Retry-After hint, and context (service error code,
//! request id) that ends up in the report for support cases. Targets classify; layers decide.

use std::fmt;
use std::time::Duration;

// The kinds live in `picday-protocol`, shared with the plugin SDK so that both sides of the
// plugin protocol name them alike; core's API is unchanged.
pub use picday_protocol::ErrorKind;

/// picday's error: a kind, a message for humans, whether retrying may help, and context.
#[derive(thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    temporary: bool,
    retry_after: Option<Duration>,
    context: Vec<(&'static str, String)>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result alias used across picday's libraries.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error; temporary by default for `Throttled` and `Unavailable` only.
    /// The message never quotes a secret: see [`crate::secret::scrub`].
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: crate::secret::scrub(&message.into()).into_owned(),
            temporary: kind.temporary_by_default(),
            retry_after: None,
            context: Vec::new(),
            source: None,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Rejected, message)
    }
    pub fn throttled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Throttled, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Input, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn unreadable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unreadable, message)
    }
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Cancelled, message)
    }

    /// An I/O error about `path`, with advice where the cause is common.
    pub fn io(path: &std::path::Path, err: std::io::Error) -> Self {
        let kind = match err.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("{}: {err}", path.display())).with_source(err)
    }

    /// Marks the error temporary (worth retrying) or permanent.
    pub fn temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// Attaches the service's Retry-After hint (implies temporary).
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        if after.is_some() {
            self.temporary = true;
        }
        self.retry_after = after;
        self
    }

    /// Adds a piece of context, e.g. `("request_id", "...")` or `("code", "ImageNotFound")`.
    pub fn with_context(mut self, key: &'static str, value: impl Into<String>) -> Self {
        let value = crate::secret::scrub(&value.into()).into_owned();
        self.context.push((key, value));
        self
    }

    /// Keeps the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Prefixes the message, e.g. with the file or target it concerns.
    pub fn prefixed(mut self, prefix: impl fmt::Display) -> Self {
        self.message = crate::secret::scrub(&format!("{prefix}: {}", self.message)).into_owned();
        self
    }

    /// Adds to the end of the message, e.g. where the photo that was there is kept.
    pub fn suffixed(mut self, suffix: impl fmt::Display) -> Self {
        self.message = crate::secret::scrub(&format!("{}{suffix}", self.message)).into_owned();
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }
    /// The value of one context entry.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("temporary", &self.temporary)
            .field("retry_after", &self.retry_after)
            .field("context", &self.context)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_and_unavailable_are_temporary_by_default() {
        assert!(Error::throttled("x").is_temporary());
        assert!(Error::unavailable("x").is_temporary());
        assert!(!Error::rejected("x").is_temporary());
        assert!(!Error::not_found("x").is_temporary());
    }

    #[test]
    fn retry_after_makes_an_error_temporary() {
        let e = Error::rejected("busy").with_retry_after(Some(Duration::from_secs(3)));
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn display_includes_context() {
        let e = Error::not_found("no such user")
            .with_context("code", "Request_ResourceNotFound")
            .with_context("request_id", "abc");
        assert_eq!(
            e.to_string(),
            "no such user (code: Request_ResourceNotFound, request_id: abc)"
        );
        assert_eq!(e.context_value("request_id"), Some("abc"));
    }
}
