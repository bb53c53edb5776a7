//! The vocabulary that picday, its targets and its plugins share, written once.
//!
//! An [`ErrorKind`] crosses three boundaries: the engine's own errors (`picday-core`), the HTTP
//! targets' classification of a response (`picday-http`), and the plugin protocol, where it
//! travels as a snake_case string between picday and a plugin built with `picday-plugin-sdk`
//! (possibly from another release of picday). Keeping the enum and the table that turns an HTTP
//! status into a kind in one small crate, with no dependency but serde, is what keeps all three
//! in agreement: a plugin SDK cannot lag behind core's kinds, and a 429 means `throttled`
//! whoever reads it.

use std::fmt;

/// What went wrong, in terms the engine and the user can act on.
///
/// The serde form (and [`ErrorKind::as_str`]) is the stable snake_case name used in reports,
/// in the state database and on the plugin protocol's wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The person (or the resource) does not exist on the target.
    NotFound,
    /// The target refused the request or the photo as invalid (a 400, a photo too large...).
    Rejected,
    /// The target asked us to slow down (429, quota exceeded).
    Throttled,
    /// Credentials are missing, wrong or expired.
    Auth,
    /// Authenticated, but not allowed to do this.
    Permission,
    /// The configuration is invalid.
    Config,
    /// A row of the mapping or a source photo is unusable.
    Input,
    /// The service is unreachable or failing (5xx, network).
    Unavailable,
    /// A local file system problem.
    Io,
    /// The target does not offer this operation.
    Unsupported,
    /// The current photo exists, or may, but cannot be read with these credentials (Graph:
    /// the user's mailbox is not in Exchange Online). Unlike the other kinds it is no reason to
    /// stop a change: the delivery step sends without a backup and flags it, unless the target
    /// requires backups.
    Unreadable,
    /// The peer answered something we could not understand.
    Protocol,
    /// The run was interrupted before this was done.
    Cancelled,
    /// A bug or an unexpected state.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::NotFound,
        ErrorKind::Rejected,
        ErrorKind::Throttled,
        ErrorKind::Auth,
        ErrorKind::Permission,
        ErrorKind::Config,
        ErrorKind::Input,
        ErrorKind::Unavailable,
        ErrorKind::Io,
        ErrorKind::Unsupported,
        ErrorKind::Unreadable,
        ErrorKind::Protocol,
        ErrorKind::Cancelled,
        ErrorKind::Internal,
    ];

    /// Stable snake_case name, as used in reports and on the plugin protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::Config => "config",
            ErrorKind::Input => "input",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Io => "io",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unreadable => "unreadable",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind named `name` ([`ErrorKind::as_str`]), if there is one.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether errors of this kind are temporary unless said otherwise: only `throttled` and
    /// `unavailable`.
    pub fn temporary_by_default(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Unavailable)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default meaning of an HTTP status, before a service's error body refines it:
/// 400/409/413/415/422 rejected, 401 auth, 403 permission, 404/410 not found, 429 throttled,
/// 408 and 5xx unavailable, anything else (including a 2xx or 3xx that was not expected)
/// protocol.
pub fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        400 | 409 | 413 | 415 | 422 => ErrorKind::Rejected,
        401 => ErrorKind::Auth,
        403 => ErrorKind::Permission,
        404 | 410 => ErrorKind::NotFound,
        429 => ErrorKind::Throttled,
        408 | 500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Protocol,
    }
}

/// Whether a failure with this HTTP status is worth retrying later: 408, 429 and 5xx.
pub fn status_is_temporary(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names_and_round_trip() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
            assert_eq!(ErrorKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ErrorKind::Cancelled.as_str(), "cancelled");
        assert_eq!(ErrorKind::NotFound.as_str(), "not_found");
        assert_eq!(ErrorKind::from_name("NotFound"), None);
        assert_eq!(ErrorKind::from_name("oops"), None);
    }

    #[test]
    fn only_throttled_and_unavailable_are_temporary_by_default() {
        let temporary: Vec<_> = ErrorKind::ALL
            .into_iter()
            .filter(|k| k.temporary_by_default())
            .collect();
        assert_eq!(temporary, [ErrorKind::Throttled, ErrorKind::Unavailable]);
    }

    #[test]
    fn statuses_map_to_kinds_and_temporariness() {
        let table = [
            (400, ErrorKind::Rejected, false),
            (401, ErrorKind::Auth, false),
            (403, ErrorKind::Permission, false),
            (404, ErrorKind::NotFound, false),
            (405, ErrorKind::Protocol, false),
            (408, ErrorKind::Unavailable, true),
            (409, ErrorKind::Rejected, false),
            (410, ErrorKind::NotFound, false),
            (412, ErrorKind::Protocol, false),
            (413, ErrorKind::Rejected, false),
            (415, ErrorKind::Rejected, false),
            (422, ErrorKind::Rejected, false),
            (429, ErrorKind::Throttled, true),
            (500, ErrorKind::Unavailable, true),
            (501, ErrorKind::Unavailable, true),
            (502, ErrorKind::Unavailable, true),
            (503, ErrorKind::Unavailable, true),
            (504, ErrorKind::Unavailable, true),
            (599, ErrorKind::Unavailable, true),
            (200, ErrorKind::Protocol, false),
            (302, ErrorKind::Protocol, false),
            (600, ErrorKind::Protocol, false),
        ];
        for (status, kind, temporary) in table {
            assert_eq!(kind_for_status(status), kind, "{status}");
            assert_eq!(status_is_temporary(status), temporary, "{status}");
        }
    }
}
