//! The `ldap` target: photos into on-prem Active Directory or any LDAP directory
//! (`thumbnailPhoto` or `jpegPhoto`).
//!
//! Schools that still run Exchange or SharePoint on-prem, or a badge or library system that
//! reads the directory, need the photo in AD itself. The target finds each person with a search
//! filter built from the mapping row (values escaped, exactly one entry must match) and writes
//! the JPEG with an LDAP Modify *replace* of the raw bytes, the operation that
//! `Set-ADUser -Replace @{thumbnailPhoto=...}` performs. Reading back (for backups) and removing
//! (a replace with no values) are supported too.
//!
//! `thumbnailPhoto` is single-valued and limited to 100 KiB by AD's schema (`rangeUpper`
//! 102400), and Outlook and Exchange Online want it small (96x96, about 10 KB), so that is the
//! default profile. `jpegPhoto` has no limit and gets a larger one.

mod conn;
pub mod filter;
pub mod tls;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, Mod, Scope, SearchOptions};
use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{
    CheckReport, ConcurrencyOption, Error, KeyOption, OptionSet, Person, Photo, PhotoInfo,
    PhotoLimits, PhotoOption, Receipt, Registry, Result, SecretSource, Shape, Shared, Subject,
    Target, TargetInfo, TargetIo, TargetSpec,
};
use serde::Deserialize;

pub use conn::Transport;

/// The type name in configuration files.
pub const TYPE: &str = "ldap";

/// The largest `thumbnailPhoto` Active Directory stores (`rangeUpper` of the attribute).
pub const THUMBNAIL_PHOTO_MAX_BYTES: usize = 102_400;

/// The size Exchange Online still imports from `thumbnailPhoto`, the default byte budget.
pub const THUMBNAIL_PHOTO_DEFAULT_BYTES: usize = 10_240;

/// Adds the ldap target type to a registry.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(LdapFactory));
}

/// The photo attribute written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PhotoAttribute {
    /// AD's `thumbnailPhoto` (Outlook's GAL photo): single-valued, at most 100 KiB.
    #[serde(rename = "thumbnailPhoto")]
    ThumbnailPhoto,
    /// `jpegPhoto` (inetOrgPerson, RFC 2798): no size limit.
    #[serde(rename = "jpegPhoto")]
    JpegPhoto,
}

impl PhotoAttribute {
    pub fn name(self) -> &'static str {
        match self {
            PhotoAttribute::ThumbnailPhoto => "thumbnailPhoto",
            PhotoAttribute::JpegPhoto => "jpegPhoto",
        }
    }

    /// The sizes and byte budgets the attribute takes.
    fn photo_limits(self) -> PhotoLimits {
        match self {
            PhotoAttribute::ThumbnailPhoto => PhotoLimits::square(96, 16..=4096).with_max_bytes(
                Some(THUMBNAIL_PHOTO_DEFAULT_BYTES),
                1..=THUMBNAIL_PHOTO_MAX_BYTES,
                Some("Active Directory refuses larger thumbnailPhoto values"),
            ),
            PhotoAttribute::JpegPhoto => PhotoLimits::square(648, 16..=4096),
        }
    }
}

/// `[targets.NAME]` with `type = "ldap"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LdapConfig {
    url: String,
    bind_dn: String,
    password: SecretSource,
    base: String,
    #[serde(default = "default_attribute")]
    attribute: PhotoAttribute,
    #[serde(default)]
    starttls: bool,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    ca_cert: Option<PathBuf>,
    #[serde(default = "yes")]
    tls_verify: bool,
    #[serde(default)]
    tls_fingerprint: Option<String>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

/// The shared options an LDAP target takes: the search filter as the key, a square photo
/// whose limits depend on the attribute, connections at once.
fn shared() -> Shared {
    let mut photo = PhotoOption::new(Shape::Square, PhotoAttribute::ThumbnailPhoto.photo_limits());
    photo.size_default_doc = Some("96 or 648");
    photo.max_bytes_doc = Some("10240 or none");
    photo.max_bytes_help = Some("largest photo; thumbnailPhoto at most 102400");
    Shared {
        key: Some(KeyOption {
            name: "filter",
            default: "(mail={mail})",
            help: "search filter template; values are escaped; exactly one entry must match",
        }),
        photo: Some(photo),
        concurrency: Some(ConcurrencyOption {
            default: 4,
            max: 16,
            help: "connections at once",
        }),
    }
}
fn default_attribute() -> PhotoAttribute {
    PhotoAttribute::ThumbnailPhoto
}
fn yes() -> bool {
    true
}

#[derive(Debug)]
struct LdapFactory;

impl TargetFactory for LdapFactory {
    fn info(&self) -> TypeInfo {
        let own = vec![
            OptionDoc::required(
                "url",
                "ldaps://dc1.school.example, or ldap://... with starttls = true",
            ),
            OptionDoc::required("bind_dn", "the service account's DN (or user@domain on AD)"),
            OptionDoc::required("password", "{ env = \"VAR\" } or { file = \"path\" }"),
            OptionDoc::required("base", "where people are searched, e.g. OU=Students,DC=..."),
            OptionDoc::optional(
                "attribute",
                "\"thumbnailPhoto\"",
                "thumbnailPhoto (96x96, <= 10 KB) or jpegPhoto (648x648)",
            ),
            OptionDoc::optional("starttls", "false", "upgrade ldap:// with StartTLS"),
            OptionDoc::optional(
                "insecure",
                "false",
                "allow plain ldap:// (only to this machine)",
            ),
            OptionDoc::optional("ca_cert", "system store", "PEM file of the CA to trust"),
            OptionDoc::optional(
                "tls_verify",
                "true",
                "false accepts any server certificate (unsafe)",
            ),
            OptionDoc::optional(
                "tls_fingerprint",
                "none",
                "\"sha256:...\": accept exactly this server certificate (old PKI)",
            ),
            OptionDoc::optional("timeout_secs", "30", "connect and request timeout"),
        ];
        TypeInfo::builtin(
            TYPE,
            &["active-directory", "ad"],
            "writes thumbnailPhoto or jpegPhoto in on-prem Active Directory or LDAP",
            &OptionSet::new::<LdapConfig>(shared(), own),
        )
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let shared = shared();
        let options = spec.options::<LdapConfig>(&shared)?;
        let cfg = &options.own;
        let name = &spec.name;
        let err = |msg: String| Error::config(format!("[targets.{name}]: {msg}"));
        let transport = conn::transport_for(&cfg.url, cfg.starttls, cfg.insecure)
            .map_err(|e| err(e.message().to_string()))?;
        if cfg.bind_dn.trim().is_empty() {
            // An empty DN is an anonymous bind: it would "succeed" and then fail every write.
            return Err(err("bind_dn is empty".into()));
        }
        if cfg.base.trim().is_empty() {
            return Err(err("base is empty".into()));
        }
        let filter = options.key()?;
        filter::validate_template(&filter).map_err(|e| err(e.message().to_string()))?;

        let attribute = cfg.attribute;
        let profile = options.profile_within(&attribute.photo_limits())?;
        let max_concurrency = options.max_concurrency()?;
        let ca_cert = cfg.ca_cert.as_deref().map(|p| spec.resolve_path(p));
        let pin = match &cfg.tls_fingerprint {
            None => None,
            Some(text) => {
                let clash = if transport == Transport::Plain {
                    Some("plain LDAP has no certificate to pin")
                } else if !cfg.tls_verify {
                    Some("`tls_verify = false` would accept any certificate; remove it")
                } else if cfg.ca_cert.is_some() {
                    Some("a pinned certificate needs no `ca_cert`; remove one of them")
                } else {
                    None
                };
                if let Some(why) = clash {
                    return Err(err(format!("tls_fingerprint: {why}")));
                }
                Some(tls::Fingerprint::parse(text).map_err(|e| err(e.message().to_string()))?)
            }
        };
        let tls = conn::tls_config(ca_cert.as_deref(), cfg.tls_verify, pin)
            .map_err(|e| err(e.message().to_string()))?;
        if !cfg.tls_verify {
            tracing::warn!(
                target = %name,
                "tls_verify = false: the directory server's certificate is NOT verified"
            );
        }
        let password = cfg
            .password
            .resolve(&spec.base_dir)
            .map_err(|e| err(e.message().to_string()))?;
        let timeout = Duration::from_secs(cfg.timeout_secs.unwrap_or(30).max(1));

        let endpoint = conn::Endpoint {
            url: cfg.url.clone(),
            transport,
            tls,
            bind_dn: cfg.bind_dn.clone(),
            password,
            timeout,
        };
        let info = TargetInfo::new(name, TYPE, filter.clone(), profile)
            .summary(format!(
                "{} of {} under {} ({}), people found by {}",
                attribute.name(),
                endpoint.url,
                cfg.base,
                endpoint.transport.describe(),
                filter
            ))
            .setting("url", &endpoint.url)
            .setting("base", &cfg.base)
            .setting("attribute", attribute.name())
            .setting(
                "tls_fingerprint",
                pin.map(|p| p.to_string()).unwrap_or_default(),
            )
            .reads_back()
            .deletes()
            .resolves_people(true)
            .max_concurrency(max_concurrency);
        Ok(Arc::new(LdapTarget {
            info,
            base: cfg.base.clone(),
            attribute,
            tls_verify: cfg.tls_verify,
            pin,
            inline_password: cfg.password.is_inline(),
            pool: conn::Pool::new(endpoint, max_concurrency),
        }))
    }
}

/// Writes photos into a directory's person entries.
#[derive(Debug)]
pub struct LdapTarget {
    info: TargetInfo,
    base: String,
    attribute: PhotoAttribute,
    tls_verify: bool,
    pin: Option<tls::Fingerprint>,
    inline_password: bool,
    pool: conn::Pool,
}

/// Builds a target from a TOML snippet of options, as `[targets.NAME]` would hold them.
/// Relative paths are resolved against `base_dir`. For tests and embedding.
pub fn from_options(
    name: &str,
    options: toml::Table,
    base_dir: &std::path::Path,
) -> Result<Arc<dyn Target>> {
    LdapFactory.build(&TargetSpec::new(name, TYPE, options, base_dir))
}

/// The type names (and aliases) of this target and of the Entra target.
const LDAP_TYPES: [&str; 3] = [TYPE, "active-directory", "ad"];
const ENTRA_TYPES: [&str; 2] = ["entra", "azure-ad"];

/// The hybrid warning for `picday check`, which sees every target when a target sees only
/// itself: when an enabled ldap target writes `thumbnailPhoto` and an Entra target is enabled
/// too, Entra Connect (on a synced tenant) copies the small AD photo over the Graph one.
/// Returns the names of the ldap targets concerned and the warning.
pub fn hybrid_warning(specs: &[TargetSpec]) -> Option<(Vec<String>, String)> {
    let enabled = || specs.iter().filter(|s| s.enabled);
    let entra: Vec<&str> = enabled()
        .filter(|s| ENTRA_TYPES.contains(&s.type_name.as_str()))
        .map(|s| s.name.as_str())
        .collect();
    let ldap: Vec<String> = enabled()
        .filter(|s| LDAP_TYPES.contains(&s.type_name.as_str()))
        .filter(|s| match s.options.get("attribute") {
            None => true,
            Some(v) => v.as_str() == Some(PhotoAttribute::ThumbnailPhoto.name()),
        })
        .map(|s| s.name.clone())
        .collect();
    if entra.is_empty() || ldap.is_empty() {
        return None;
    }
    let warning = format!(
        "thumbnailPhoto is written here and Entra ID by [targets.{}]: on a tenant synced by \
         Entra Connect, the small AD thumbnail is copied over the sharper Graph photo at each \
         sync. On a synced tenant, disable one of them (usually this one, see \
         docs/targets/ldap.md)",
        entra.join("], [targets.")
    );
    Some((ldap, warning))
}

/// One entry found for a person.
struct Found {
    dn: String,
    values: Vec<Vec<u8>>,
    /// The entry has the photo attribute (asked with `typesOnly`, it comes without values).
    present: bool,
}

/// What a search for a person's entry asks for besides the DN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Dn,
    Photo,
    /// Whether the photo attribute is there, without its values (RFC 4511 `typesOnly`).
    Presence,
}

impl LdapTarget {
    /// The attribute this target writes.
    pub fn attribute(&self) -> PhotoAttribute {
        self.attribute
    }

    /// Finds the one entry a subject's filter matches, with the photo attribute if asked.
    async fn find(&self, ldap: Ldap, filter: &str, want: Want) -> Result<Found> {
        let mut ldap = ldap;
        let attrs: Vec<&str> = if want == Want::Dn {
            vec!["1.1"] // RFC 4511: no attributes, the DN is enough.
        } else {
            vec![self.attribute.name()]
        };
        let what = format!("search {filter} under {}", self.base);
        let result = ldap
            .with_search_options(
                SearchOptions::new()
                    .sizelimit(2)
                    .typesonly(want == Want::Presence),
            )
            .with_timeout(self.pool.endpoint().timeout)
            .search(&self.base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| conn::ldap_error(&what, e))?;
        let ldap3::SearchResult(entries, res) = result;
        // 4 = sizeLimitExceeded: more than the two we asked for, the entries we got are kept.
        // 10 = referral: AD's answer for parts of the forest it does not hold.
        match res.rc {
            0 | 4 | 10 => {}
            32 => {
                return Err(Error::config(format!(
                    "the search base `{}` does not exist on the server",
                    self.base
                ))
                .with_context("ldap_code", "32 noSuchObject"));
            }
            _ => return Err(conn::result_error(&what, &res)),
        }
        let mut found: Vec<Found> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .filter_map(|e| entry_values(e.0, self.attribute.name()))
            .collect();
        match found.len() {
            0 => Err(Error::not_found(format!(
                "no entry under {} matches {filter}",
                self.base
            ))),
            1 => Ok(found.remove(0)),
            n => {
                let dns: Vec<&str> = found.iter().map(|f| f.dn.as_str()).collect();
                let more = if res.rc == 4 || n > 2 {
                    " and more"
                } else {
                    ""
                };
                Err(Error::rejected(format!(
                    "{filter} matches several entries ({}{more}); the person was skipped: make \
                     the mapping value unique or the filter more specific",
                    dns.join("; ")
                )))
            }
        }
    }

    async fn modify(&self, ldap: Ldap, dn: &str, values: HashSet<Vec<u8>>) -> Result<()> {
        let mut ldap = ldap;
        let attr = self.attribute.name().as_bytes().to_vec();
        let what = format!("modify {} of {dn}", self.attribute.name());
        let res = ldap
            .with_timeout(self.pool.endpoint().timeout)
            .modify(dn, vec![Mod::Replace(attr, values)])
            .await
            .map_err(|e| conn::ldap_error(&what, e))?;
        match res.rc {
            0 => Ok(()),
            10 => Err(conn::read_only(&what, &self.pool.endpoint().url, &res)),
            _ => Err(conn::result_error(&what, &res)),
        }
    }

    fn filter_for(&self, subject: &Subject) -> Result<String> {
        // The key is the rendered, escaped filter (see `subject`); re-render if a caller built
        // a Subject by hand with something else.
        if subject.key.starts_with('(') {
            Ok(subject.key.clone())
        } else {
            filter::render(&self.info.key, &subject.person)
        }
    }
}

/// The DN and the values of one attribute of a search entry, without panicking on odd data
/// (`ldap3::SearchEntry::construct` panics, and turns values that happen to be UTF-8 into
/// strings).
fn entry_values(tag: ldap3::asn1::StructureTag, attribute: &str) -> Option<Found> {
    let mut parts = tag.match_id(4)?.expect_constructed()?.into_iter();
    let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
    let mut values = Vec::new();
    let mut present = false;
    for attr in parts.next()?.expect_constructed()? {
        let mut pa = attr.expect_constructed()?.into_iter();
        let name = String::from_utf8(pa.next()?.expect_primitive()?).ok()?;
        // AD may answer `thumbnailPhoto;binary` or a differently cased name.
        let base = name.split(';').next().unwrap_or(&name);
        if !base.eq_ignore_ascii_case(attribute) {
            continue;
        }
        present = true;
        for v in pa.next()?.expect_constructed()? {
            values.push(v.expect_primitive()?);
        }
    }
    Some(Found {
        dn,
        values,
        present,
    })
}

impl Target for LdapTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn subject(&self, person: Arc<Person>) -> Result<Subject> {
        let key = filter::render(&self.info.key, &person)?;
        Ok(Subject::new(key, person))
    }
}

#[async_trait]
impl TargetIo for LdapTarget {
    async fn check(&self) -> Result<CheckReport> {
        let ep = self.pool.endpoint();
        let mut report = CheckReport::default();
        let ldap = self.pool.connect().await?;
        report.ok.push(format!(
            "bound to {} as {} over {}",
            ep.url,
            ep.bind_dn,
            ep.transport.describe()
        ));
        let mut ldap = ldap;
        let what = format!("read the search base {}", self.base);
        let res = ldap
            .with_timeout(ep.timeout)
            .search(&self.base, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await
            .map_err(|e| conn::ldap_error(&what, e))?;
        match res.1.rc {
            0 if !res.0.is_empty() => report
                .ok
                .push(format!("search base {} is readable", self.base)),
            0 | 32 => {
                return Err(Error::config(format!(
                    "the search base `{}` does not exist or is not visible to {}",
                    self.base, ep.bind_dn
                )));
            }
            _ => return Err(conn::result_error(&what, &res.1)),
        }
        let _ = ldap.unbind().await;

        if let Some(pin) = self.pin {
            report
                .ok
                .push(format!("the server presented the pinned certificate {pin}"));
        }
        if let Some(w) = conn::global_catalog_warning(&ep.url) {
            report.warnings.push(w);
        }
        if !self.tls_verify {
            report.warnings.push(
                "tls_verify = false: the server's certificate is NOT verified, so anyone on the \
                 network path can pose as the directory and collect the bind password; set \
                 ca_cert instead"
                    .into(),
            );
        }
        if ep.transport == Transport::Plain {
            report.warnings.push(
                "insecure = true: plain LDAP, the password and photos are not encrypted".into(),
            );
        }
        if self.inline_password {
            report.warnings.push(
                "the password is written in the configuration; use { env = \"...\" } or \
                 { file = \"...\" }"
                    .into(),
            );
        }
        if self.attribute == PhotoAttribute::ThumbnailPhoto
            && self
                .info
                .profile()
                .max_bytes
                .is_some_and(|m| m > THUMBNAIL_PHOTO_DEFAULT_BYTES)
        {
            report.warnings.push(format!(
                "max_bytes {} is above 10 KB: Exchange Online ignores a larger thumbnailPhoto",
                self.info.profile().max_bytes.unwrap_or_default()
            ));
        }
        if ep.transport != Transport::Plain
            && self.tls_verify
            && url::Url::parse(&ep.url)
                .ok()
                .and_then(|u| u.host_str().map(conn::is_ip_literal))
                .unwrap_or(false)
        {
            report.warnings.push(
                "the url names the server by IP address: its certificate must list that \
                 address, so prefer the DC's host name"
                    .into(),
            );
        }
        Ok(report)
    }

    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        if self.attribute == PhotoAttribute::ThumbnailPhoto
            && photo.len() > THUMBNAIL_PHOTO_MAX_BYTES
        {
            return Err(Error::rejected(format!(
                "the photo is {} bytes; thumbnailPhoto holds at most {THUMBNAIL_PHOTO_MAX_BYTES}",
                photo.len()
            )));
        }
        let filter = self.filter_for(subject)?;
        let bytes = photo.bytes.to_vec();
        let dn = self
            .pool
            .run(|ldap| {
                let (filter, bytes) = (&filter, &bytes);
                async move {
                    let found = self.find(ldap.clone(), filter, Want::Dn).await?;
                    self.modify(ldap, &found.dn, HashSet::from([bytes.clone()]))
                        .await?;
                    Ok(found.dn)
                }
            })
            .await?;
        Ok(Receipt {
            detail: format!(
                "{} of {dn} replaced ({} bytes)",
                self.attribute.name(),
                bytes.len()
            ),
            remote_id: Some(dn),
            request_id: None,
        })
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        let filter = self.filter_for(subject)?;
        let found = self
            .pool
            .run(|ldap| {
                let filter = &filter;
                async move { self.find(ldap, filter, Want::Photo).await }
            })
            .await?;
        Ok(found.values.into_iter().next())
    }

    /// Whether the entry has the photo attribute, asked with `typesOnly` so that no photo
    /// crosses the wire.
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        let filter = self.filter_for(subject)?;
        let found = self
            .pool
            .run(|ldap| {
                let filter = &filter;
                async move { self.find(ldap, filter, Want::Presence).await }
            })
            .await?;
        Ok(found.present.then(PhotoInfo::default))
    }

    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        let filter = self.filter_for(subject)?;
        let dn = self
            .pool
            .run(|ldap| {
                let filter = &filter;
                async move {
                    let found = self.find(ldap.clone(), filter, Want::Dn).await?;
                    // A replace with no values removes the attribute, and is a no-op when the
                    // entry has none (RFC 4511 section 4.6), so deleting twice is fine.
                    self.modify(ldap, &found.dn, HashSet::new()).await?;
                    Ok(found.dn)
                }
            })
            .await?;
        Ok(Receipt {
            detail: format!("{} of {dn} removed", self.attribute.name()),
            remote_id: Some(dn),
            request_id: None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec(name: &str, type_name: &str, options: &str) -> TargetSpec {
        let options: toml::Table = toml::from_str(options).expect("options");
        TargetSpec::new(name, type_name, options, std::path::Path::new("."))
    }

    #[test]
    fn hybrid_warning_needs_an_enabled_entra_target_and_thumbnail_photo() {
        let ad = spec("ad", "ldap", "");
        let entra = spec("m365", "azure-ad", "");
        let (names, warning) = hybrid_warning(&[ad.clone(), entra.clone()]).expect("warning");
        assert_eq!(names, vec!["ad".to_string()]);
        assert!(warning.contains("[targets.m365]"), "{warning}");
        assert!(hybrid_warning(std::slice::from_ref(&ad)).is_none());
        let jpeg = spec("ad", "ldap", "attribute = \"jpegPhoto\"");
        assert!(hybrid_warning(&[jpeg, entra.clone()]).is_none());
        let mut off = entra;
        off.enabled = false;
        assert!(hybrid_warning(&[ad, off]).is_none());
    }
}
