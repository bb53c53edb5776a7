//! Connections to the directory: how the transport is secured, a small pool of bound
//! connections, and LDAP result codes turned into picday errors.
//!
//! Domain controllers reject simple binds on plain port 389 once LDAP signing is required
//! (the default on new Windows Server 2025 domains), and a password sent in clear over a school
//! network is a gift, so the transport rules are decided here once: LDAPS or StartTLS, plain
//! LDAP only when asked for explicitly and only to this machine.
//!
//! `ldap3` has no pooling or reconnection. Opening a connection per photo costs a TCP and TLS
//! handshake plus a bind (several round trips to the DC, and a line in its security log each
//! time), so bound connections are kept in a small pool, at most `max_concurrency` of them, and
//! are dropped after a minute idle (well under AD's `MaxConnIdleTime` of 900 s, after which the
//! DC closes them). A request that fails on a reused connection because the connection broke
//! is retried once on a fresh one: every operation we send (search, Modify replace) is
//! idempotent.

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult};
use picday_core::{Error, ErrorKind, Result, Secret};
use rustls::ClientConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::Semaphore;

use crate::tls::{Check, Fingerprint, Verifier};

/// How long an unused connection is kept.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `ldaps://`: TLS from the first byte (port 636).
    Ldaps,
    /// `ldap://` upgraded with the StartTLS extended operation before the bind.
    StartTls,
    /// `ldap://` in clear; only with `insecure = true` and only to a loopback address.
    Plain,
}

impl Transport {
    pub fn describe(self) -> &'static str {
        match self {
            Transport::Ldaps => "LDAPS",
            Transport::StartTls => "StartTLS",
            Transport::Plain => "plain LDAP (not encrypted)",
        }
    }
}

/// Decides the transport from the URL and the options, refusing the unsafe combinations.
pub fn transport_for(url: &str, starttls: bool, insecure: bool) -> Result<Transport> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::config(format!("url `{url}` is not a valid LDAP URL: {e}")))?;
    let host = parsed
        .host()
        .ok_or_else(|| Error::config(format!("url `{url}` has no host")))?;
    match parsed.scheme() {
        "ldaps" => {
            if starttls {
                return Err(Error::config(format!(
                    "url `{url}` is already LDAPS: `starttls = true` is for ldap:// URLs"
                )));
            }
            Ok(Transport::Ldaps)
        }
        "ldap" if starttls => Ok(Transport::StartTls),
        "ldap" => {
            if !insecure {
                return Err(Error::config(format!(
                    "url `{url}` is plain LDAP: the password would cross the network in clear, \
                     and domain controllers that require LDAP signing refuse it. Use \
                     ldaps://HOST (port 636) or add `starttls = true`; `insecure = true` allows \
                     plain LDAP to this machine only, for tests"
                )));
            }
            if !is_loopback(&host) {
                return Err(Error::config(format!(
                    "url `{url}`: refusing to send the bind password in clear to {host}, which \
                     is not this machine, even with `insecure = true`; use ldaps:// or \
                     `starttls = true`"
                )));
            }
            Ok(Transport::Plain)
        }
        other => Err(Error::config(format!(
            "url `{url}`: unsupported scheme `{other}`, use ldaps:// or ldap:// with \
             `starttls = true`"
        ))),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        // For `ldap:` (not a "special" scheme to the URL standard) an IPv4 address comes back
        // as a domain.
        url::Host::Domain(d) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// The TLS settings: the one certificate pinned by `tls_fingerprint`, else a CA to trust
/// (else the system's store), or with `tls_verify = false` no verification at all. Refusals of
/// an old PKI are diagnosed (see [`crate::tls`]).
pub fn tls_config(
    ca_cert: Option<&Path>,
    verify: bool,
    pin: Option<Fingerprint>,
) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let check = match pin {
        Some(pin) => Check::Pinned(pin),
        None if !verify => Check::Any,
        None => {
            let roots = Arc::new(roots(ca_cert)?);
            let standard = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| Error::config(format!("TLS setup: {e}")))?;
            Check::Standard(standard)
        }
    };
    let verifier = Arc::new(Verifier {
        check,
        provider: provider.clone(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The CAs to trust: those in `ca_cert`, else the system's store.
fn roots(ca_cert: Option<&Path>) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_cert {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| Error::config(format!("ca_cert {}: {e}", path.display())))?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::config(format!("ca_cert {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(Error::config(format!(
                    "ca_cert {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    Error::config(format!(
                        "ca_cert {}: unusable certificate: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // Skip the odd broken certificate of a system store rather than fail.
                let _ = roots.add(cert);
            }
        }
    }
    Ok(roots)
}

/// Where and how to connect and bind.
#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    pub transport: Transport,
    pub tls: Arc<ClientConfig>,
    pub bind_dn: String,
    pub password: Secret,
    pub timeout: Duration,
}

/// A few bound connections, reused across requests.
#[derive(Debug)]
pub struct Pool {
    endpoint: Endpoint,
    idle: Mutex<Vec<(Ldap, Instant)>>,
    permits: Semaphore,
}

impl Pool {
    pub fn new(endpoint: Endpoint, size: usize) -> Self {
        Pool {
            endpoint,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Opens a new connection and binds.
    pub async fn connect(&self) -> Result<Ldap> {
        let ep = &self.endpoint;
        let mut settings = LdapConnSettings::new().set_conn_timeout(ep.timeout);
        if ep.transport != Transport::Plain {
            settings = settings.set_config(ep.tls.clone());
        }
        if ep.transport == Transport::StartTls {
            settings = settings.set_starttls(true);
        }
        let connecting = LdapConnAsync::with_settings(settings, &ep.url);
        let (conn, mut ldap) = match tokio::time::timeout(ep.timeout, connecting).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(ldap_error(&format!("connecting to {}", ep.url), e)),
            Err(_) => {
                return Err(Error::unavailable(format!(
                    "connecting to {}: no answer within {} s",
                    ep.url,
                    ep.timeout.as_secs()
                )));
            }
        };
        ldap3::drive!(conn);
        let bound = ldap
            .with_timeout(ep.timeout)
            .simple_bind(&ep.bind_dn, ep.password.expose())
            .await;
        let what = format!("bind as {}", ep.bind_dn);
        match bound {
            Ok(res) if res.rc == 0 => Ok(ldap),
            Ok(res) => Err(result_error(&what, &res)),
            Err(e) => Err(ldap_error(&what, e)),
        }
    }

    /// Runs `op` on a bound connection, reusing an idle one when there is one.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn(Ldap) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::internal("the LDAP connection pool was closed"))?;
        if let Some(ldap) = self.take_idle() {
            match op(ldap.clone()).await {
                Err(e) if is_broken(&e) => {
                    // The DC closed it or the network dropped it: try once more, on a new one.
                    tracing::debug!("reused LDAP connection failed ({e}); reconnecting");
                }
                result => {
                    self.give_back(ldap);
                    return result;
                }
            }
        }
        let ldap = self.connect().await?;
        let result = op(ldap.clone()).await;
        match &result {
            Err(e) if is_broken(e) => {}
            _ => self.give_back(ldap),
        }
        result
    }

    fn take_idle(&self) -> Option<Ldap> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((mut ldap, since)) = idle.pop() {
            if since.elapsed() < IDLE_LIMIT && !ldap.is_closed() {
                return Some(ldap);
            }
        }
        None
    }

    fn give_back(&self, ldap: Ldap) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push((ldap, Instant::now()));
    }
}

/// Marks errors that mean the connection itself is unusable.
const BROKEN: &str = "connection";

fn is_broken(e: &Error) -> bool {
    e.kind() == ErrorKind::Unavailable && e.context_value("transport") == Some(BROKEN)
}

/// The name of an LDAP result code (RFC 4511 appendix A), for messages and reports.
pub fn rc_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        19 => "constraintViolation",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        64 => "namingViolation",
        65 => "objectClassViolation",
        80 => "other",
        _ => "unknown",
    }
}

/// An LDAP result with an error code, as a picday error. `what` says what was attempted.
pub fn result_error(what: &str, res: &LdapResult) -> Error {
    let name = rc_name(res.rc);
    let diag = res.text.trim();
    let detail = if diag.is_empty() {
        format!("{what}: {name}")
    } else {
        format!("{what}: {name}: {diag}")
    };
    let e = match res.rc {
        49 => Error::auth(format!("{detail}; check bind_dn and the password")),
        48 | 7 => Error::auth(detail),
        8 | 13 => Error::config(format!(
            "{detail}; the server requires a protected connection: use ldaps:// or \
             `starttls = true`"
        )),
        50 => Error::new(
            ErrorKind::Permission,
            format!(
                "{detail}; delegate \"Write\" on the photo attribute to the bind account on \
                 the people's OUs (see docs/targets/ldap.md)"
            ),
        ),
        17 => Error::config(format!(
            "{detail}; the directory's schema does not have this attribute"
        )),
        19 | 21 => Error::rejected(detail),
        65 => Error::rejected(format!(
            "{detail}; the entry's object classes do not allow the photo attribute"
        )),
        32 => Error::not_found(detail),
        34 => Error::config(detail),
        3 | 51 | 52 => Error::unavailable(detail),
        11 => Error::throttled(detail),
        53 => Error::rejected(detail),
        _ => Error::protocol(detail),
    };
    let mut e = e.with_context("ldap_code", format!("{} {name}", res.rc));
    if !res.matched.is_empty() && res.rc == 32 {
        e = e.with_context("matched_dn", res.matched.clone());
    }
    e
}

/// A change answered with a referral (result code 10): the server holds a read-only copy of
/// the directory (an Active Directory RODC, an OpenLDAP consumer with `updateref`) and names
/// the server that takes writes.
pub fn read_only(what: &str, url: &str, res: &LdapResult) -> Error {
    let to = if res.refs.is_empty() {
        String::new()
    } else {
        format!(" (it refers writes to {})", res.refs.join(", "))
    };
    Error::config(format!(
        "{what}: {url} answered with a referral{to}: this domain controller is read-only; \
         point `url` at a writable one"
    ))
    .with_context("ldap_code", "10 referral")
}

/// The ports of Active Directory's Global Catalog (3268 plain or StartTLS, 3269 LDAPS): a
/// partial, read-only copy of the forest, which does not carry `thumbnailPhoto` by default
/// (the attribute is not in the partial attribute set unless Exchange's schema update put it
/// there).
pub fn global_catalog_warning(url: &str) -> Option<String> {
    let port = url::Url::parse(url).ok()?.port()?;
    matches!(port, 3268 | 3269).then(|| {
        let instead = if port == 3269 {
            "636 (LDAPS)"
        } else {
            "389 with `starttls = true`"
        };
        format!(
            "port {port} is Active Directory's Global Catalog, a read-only partial copy that \
             does not carry thumbnailPhoto by default: photos cannot be written there and may \
             read as missing. Use port {instead} of a writable domain controller"
        )
    })
}

/// A failed `ldap3` call as a picday error.
pub fn ldap_error(what: &str, e: LdapError) -> Error {
    match e {
        LdapError::LdapResult { result } => result_error(what, &result),
        LdapError::Io { source } => {
            if let Some(tls) = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return tls_error(what, tls);
            }
            Error::unavailable(format!("{what}: {source}"))
                .with_context("transport", BROKEN)
                .with_source(source)
        }
        LdapError::Rustls { source } => tls_error(what, &source),
        LdapError::DNSName { source } => Error::config(format!(
            "{what}: the host name is not valid for TLS: {source}"
        )),
        LdapError::Timeout { .. } => Error::unavailable(format!("{what}: no answer in time"))
            .with_context("transport", BROKEN),
        LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::EndOfStream
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. } => {
            Error::unavailable(format!("{what}: the connection was closed ({e})"))
                .with_context("transport", BROKEN)
        }
        LdapError::FilterParsing => {
            Error::config(format!("{what}: the search filter is not valid"))
        }
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => {
            Error::config(format!("{what}: {e}"))
        }
        other => Error::protocol(format!("{what}: {other}")),
    }
}

fn tls_error(what: &str, e: &rustls::Error) -> Error {
    if let Some(r) = crate::tls::refusal(e) {
        return Error::config(format!("{what}: TLS: {r}"));
    }
    let advice = match e {
        rustls::Error::InvalidCertificate(_) => {
            "; set `ca_cert` to the PEM certificate of the CA that issued the domain \
             controller's certificate, and connect by the name in that certificate"
        }
        _ => "",
    };
    Error::config(format!("{what}: TLS: {e}{advice}"))
}

/// Whether an address string is an IP literal (for messages about certificates).
pub fn is_ip_literal(host: &str) -> bool {
    host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_ldap_without_insecure_is_refused() {
        let e = transport_for("ldap://dc1.school.example", false, false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("starttls = true"), "{e}");
    }

    #[test]
    fn insecure_plain_bind_to_a_remote_host_is_refused() {
        for url in [
            "ldap://dc1.school.example",
            "ldap://10.0.0.5:389",
            "ldap://[2001:db8::1]",
        ] {
            let e = transport_for(url, false, true).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{url}");
            assert!(e.message().contains("in clear"), "{e}");
        }
    }

    #[test]
    fn insecure_plain_ldap_to_loopback_is_allowed() {
        for url in [
            "ldap://127.0.0.1:3890",
            "ldap://localhost",
            "ldap://[::1]:389",
        ] {
            assert_eq!(transport_for(url, false, true).unwrap(), Transport::Plain);
        }
    }

    #[test]
    fn ldaps_and_starttls_are_accepted() {
        assert_eq!(
            transport_for("ldaps://dc1.school.example", false, false).unwrap(),
            Transport::Ldaps
        );
        assert_eq!(
            transport_for("ldap://dc1.school.example", true, false).unwrap(),
            Transport::StartTls
        );
        assert!(transport_for("ldaps://dc1.school.example", true, false).is_err());
        assert!(transport_for("ldapi:///run/slapd.sock", false, true).is_err());
        assert!(transport_for("http://dc1", false, false).is_err());
    }

    #[test]
    fn result_codes_map_to_kinds() {
        let res = |rc: u32| LdapResult {
            rc,
            matched: String::new(),
            text: "diag".into(),
            refs: vec![],
            ctrls: vec![],
        };
        assert_eq!(result_error("x", &res(49)).kind(), ErrorKind::Auth);
        assert_eq!(result_error("x", &res(50)).kind(), ErrorKind::Permission);
        assert_eq!(result_error("x", &res(19)).kind(), ErrorKind::Rejected);
        assert_eq!(result_error("x", &res(8)).kind(), ErrorKind::Config);
        assert!(result_error("x", &res(51)).is_temporary());
        assert!(!result_error("x", &res(32)).is_temporary());
        assert_eq!(
            result_error("x", &res(19)).context_value("ldap_code"),
            Some("19 constraintViolation")
        );
    }

    #[test]
    fn global_catalog_ports_get_a_warning_and_others_do_not() {
        for url in [
            "ldap://dc1.school.example:3268",
            "ldaps://dc1.school.example:3269",
        ] {
            let w = global_catalog_warning(url).unwrap_or_else(|| panic!("{url}"));
            assert!(
                w.contains("Global Catalog") && w.contains("thumbnailPhoto"),
                "{w}"
            );
        }
        assert!(
            global_catalog_warning("ldaps://dc1.school.example:3269")
                .unwrap()
                .contains("636")
        );
        for url in [
            "ldaps://dc1.school.example",
            "ldap://dc1.school.example:389",
            "ldaps://dc1.school.example:636",
            "ldap://dc3268.school.example",
        ] {
            assert!(global_catalog_warning(url).is_none(), "{url}");
        }
    }

    #[test]
    fn a_referral_to_a_change_says_the_server_is_read_only() {
        let res = LdapResult {
            rc: 10,
            matched: String::new(),
            text: String::new(),
            refs: vec!["ldap://dc1.school.example/".into()],
            ctrls: vec![],
        };
        let e = read_only(
            "modify thumbnailPhoto of uid=a",
            "ldaps://rodc.school.example",
            &res,
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.is_temporary());
        let m = e.message();
        assert!(
            m.contains("this domain controller is read-only; point `url` at a writable one"),
            "{m}"
        );
        assert!(m.contains("ldap://dc1.school.example/"), "{m}");
    }

    #[test]
    fn missing_ca_cert_file_is_a_config_error() {
        let e = tls_config(Some(Path::new("/nonexistent/ca.pem")), true, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
