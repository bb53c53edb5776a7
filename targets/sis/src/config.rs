//! The options of the three SIS types, and the factory that turns a `[targets.NAME]` section
//! into a [`SisTarget`].
//!
//! Each type has its own config struct with `deny_unknown_fields`, so that a PowerSchool key
//! in an Aeries section is an error naming the key and its line, not silently ignored.

use std::path::PathBuf;
use std::sync::Arc;

use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{
    KeyOption, OptionSet, PhotoLimits, PhotoOption, Profile, Result, Shape, Shared, Target,
    TargetSpec, Template,
};
use serde::Deserialize;

use crate::package::check_id;
use crate::target::{Kind, SisTarget, Staff};

/// Default portrait size: 4:5, derived from the source photo, not from the square.
pub const DEFAULT_WIDTH: u32 = 240;
pub const DEFAULT_HEIGHT: u32 = 300;
/// Infinite Campus shows every photo at 175x263, 2:3 ("Photo Import",
/// <https://kb.infinitecampus.com/help/photo-import>): its default is 2:3 so that faces are
/// not stretched.
pub const IC_WIDTH: u32 = 200;
pub const IC_HEIGHT: u32 = 300;
/// Infinite Campus's default "upload file size" limit, 3 MB (same page). It may apply to the
/// uploaded zip rather than each photo; see docs/targets/sis.md.
pub const IC_MAX_BYTES: usize = 3_000_000;
/// Infinite Campus refuses zips of 100 MB or more (same page).
pub const IC_MAX_ZIP_BYTES: u64 = 100_000_000;
/// Aeries refuses pictures over 100 KB by default ("Mass Add Pictures",
/// <https://support.aeries.com/support/solutions/articles/14000086068>).
pub const AERIES_MAX_BYTES: usize = 100_000;

/// The vendor page each kind's limits come from.
pub fn vendor_source(kind: Kind) -> &'static str {
    match kind {
        Kind::PowerSchool => "https://ps.powerschool-docs.com/pssis-admin/23.5/photo-management",
        Kind::InfiniteCampus => "https://kb.infinitecampus.com/help/photo-import",
        Kind::Aeries => {
            "https://support.aeries.com/support/solutions/articles/14000086068-mass-add-pictures-overview"
        }
    }
}

/// A kind's default photo size and byte budget.
fn defaults(kind: Kind) -> ((u32, u32), Option<usize>) {
    match kind {
        Kind::PowerSchool => ((DEFAULT_WIDTH, DEFAULT_HEIGHT), None),
        Kind::InfiniteCampus => ((IC_WIDTH, IC_HEIGHT), Some(IC_MAX_BYTES)),
        Kind::Aeries => ((DEFAULT_WIDTH, DEFAULT_HEIGHT), Some(AERIES_MAX_BYTES)),
    }
}

/// A kind's default largest zip: Infinite Campus's 100 MB, else none.
fn default_max_zip_bytes(kind: Kind) -> u64 {
    match kind {
        Kind::InfiniteCampus => IC_MAX_ZIP_BYTES,
        Kind::PowerSchool | Kind::Aeries => u64::MAX,
    }
}

fn default_id() -> Template {
    Template::parse("{student_id}").expect("static template")
}

fn default_staff_id() -> Template {
    Template::parse("{teacher_number}").expect("static template")
}

fn default_staff_column() -> String {
    "grade".into()
}

fn default_staff_value() -> String {
    "STAFF".into()
}

/// A PowerSchool section's own options (the shared ones are declared by [`shared`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerSchoolConfig {
    dir: PathBuf,
    #[serde(default)]
    package: Option<String>,
    #[serde(default = "default_staff_id")]
    staff_id: Template,
    #[serde(default = "default_staff_column")]
    staff_column: String,
    #[serde(default = "default_staff_value")]
    staff_value: String,
    #[serde(default)]
    max_zip_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InfiniteCampusConfig {
    dir: PathBuf,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    max_zip_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AeriesConfig {
    dir: PathBuf,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    max_zip_bytes: Option<u64>,
}

/// The shared options of a SIS type: the id template, a portrait photo of any width and
/// height (with the vendor's size and per-file budget by default). Packages are written on
/// this machine, so concurrency is not an option.
fn shared(kind: Kind) -> Shared {
    let (size, max_bytes) = defaults(kind);
    let mut limits = PhotoLimits::new(size, 16..=4096);
    if max_bytes.is_some() {
        limits = limits.with_max_bytes(max_bytes, 1..=usize::MAX, None);
    }
    let mut photo = PhotoOption::new(Shape::Sized, limits);
    photo.max_bytes_help = match kind {
        Kind::InfiniteCampus => Some(
            "largest photo in bytes; Infinite Campus's upload limit is 3 MB by default (kb.infinitecampus.com/help/photo-import)",
        ),
        Kind::Aeries => Some(
            "largest photo in bytes; Aeries refuses pictures over 100 KB by default (support.aeries.com article 14000086068)",
        ),
        Kind::PowerSchool => None,
    };
    Shared {
        key: Some(KeyOption {
            name: "id",
            default: "{student_id}",
            help: match kind {
                Kind::Aeries => "id template: the Permanent ID (STU.ID); file names are <id>.jpg",
                Kind::InfiniteCampus => {
                    "id template: the identifier the Photo Import matches (student number or person id)"
                }
                Kind::PowerSchool => "id template for students: the Student_Number",
            },
        }),
        photo: Some(photo),
        concurrency: None,
    }
}

/// Everything a [`SisTarget`] needs, whatever its type.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub kind: Kind,
    /// Where the package files go.
    pub dir: PathBuf,
    /// The id template (students for PowerSchool).
    pub id: Template,
    /// PowerSchool only: who is staff and their id template.
    pub staff: Option<Staff>,
    /// Base name of the package files.
    pub package: String,
    pub profile: Profile,
    /// Largest zip part; `u64::MAX` for no limit.
    pub max_zip_bytes: u64,
}

impl Settings {
    /// Settings with the type's defaults, for code and tests.
    pub fn new(name: &str, kind: Kind, dir: impl Into<PathBuf>) -> Self {
        let ((width, height), max_bytes) = defaults(kind);
        let mut profile = Profile::jpeg(width, height);
        profile.max_bytes = max_bytes;
        Settings {
            name: name.into(),
            kind,
            dir: dir.into(),
            id: default_id(),
            staff: (kind == Kind::PowerSchool).then(|| Staff {
                id: default_staff_id(),
                column: default_staff_column(),
                value: default_staff_value(),
            }),
            package: name.into(),
            profile,
            max_zip_bytes: default_max_zip_bytes(kind),
        }
    }
}

/// `max_zip_bytes` as configured, or the kind's default.
fn max_zip_bytes(spec: &TargetSpec, configured: Option<u64>, kind: Kind) -> Result<u64> {
    match configured {
        Some(max) if max < 4096 => {
            Err(spec.invalid("max_zip_bytes", format!("{max} is too small for any photo")))
        }
        Some(max) => Ok(max),
        None => Ok(default_max_zip_bytes(kind)),
    }
}

/// Builds one SIS type.
#[derive(Debug)]
pub struct SisFactory(pub Kind);

/// The documentation of a SIS type's own options.
fn own_options(kind: Kind) -> Vec<OptionDoc> {
    let mut options = vec![
        OptionDoc::required(
            "dir",
            "folder for the package files, relative to picday.toml; created if missing",
        ),
        OptionDoc::optional(
            "package",
            "the target's name",
            "base name of the package files (<package>.zip, <package>.manifest.json)",
        ),
    ];
    options.push(match kind {
        Kind::InfiniteCampus => OptionDoc::optional(
            "max_zip_bytes",
            "100000000",
            "largest zip; the package is split into numbered parts below it (Infinite Campus refuses zips of 100 MB or more: kb.infinitecampus.com/help/photo-import)",
        ),
        Kind::Aeries => OptionDoc::optional(
            "max_zip_bytes",
            "none",
            "largest zip; the package is split into numbered parts below it (Aeries: \"you may need to separate your zipped file into several files\", support.aeries.com article 14000110642)",
        ),
        Kind::PowerSchool => OptionDoc::optional(
            "max_zip_bytes",
            "none",
            "largest zip; the package is split into numbered parts below it, each with its own map file (set it to your server's upload limit)",
        ),
    });
    if kind == Kind::PowerSchool {
        options.extend([
            OptionDoc::optional(
                "staff_id",
                "\"{teacher_number}\"",
                "id template for staff: the TeacherNumber",
            ),
            OptionDoc::optional("staff_column", "\"grade\"", "the column that marks staff"),
            OptionDoc::optional(
                "staff_value",
                "\"STAFF\"",
                "the value of staff_column for staff (case ignored); staff go to a separate package, as do people a source marked role = staff",
            ),
        ]);
    }
    options
}

fn option_set(kind: Kind) -> OptionSet {
    let (shared, own) = (shared(kind), own_options(kind));
    match kind {
        Kind::PowerSchool => OptionSet::new::<PowerSchoolConfig>(shared, own),
        Kind::InfiniteCampus => OptionSet::new::<InfiniteCampusConfig>(shared, own),
        Kind::Aeries => OptionSet::new::<AeriesConfig>(shared, own),
    }
}

impl TargetFactory for SisFactory {
    fn info(&self) -> TypeInfo {
        let kind = self.0;
        let aliases: &[&str] = match kind {
            Kind::InfiniteCampus => &["infinitecampus"],
            Kind::PowerSchool | Kind::Aeries => &[],
        };
        let summary = match kind {
            Kind::PowerSchool => {
                "PowerSchool Import Pictures package: flat zip of JPEGs + tab-delimited map; 240x300 (limits: ps.powerschool-docs.com/pssis-admin/23.5/photo-management)"
            }
            Kind::InfiniteCampus => {
                "Infinite Campus Photo Import package: zip of <id>.jpg, 200x300 (2:3, shown at 175x263), 3 MB a file, split below 100 MB (limits: kb.infinitecampus.com/help/photo-import)"
            }
            Kind::Aeries => {
                "Aeries Mass Add Pictures package: zip of <permanent id>.jpg, at most 100 KB a picture (limits: support.aeries.com article 14000086068)"
            }
        };
        TypeInfo::builtin(kind.type_name(), aliases, summary, &option_set(kind))
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let kind = self.0;
        let mut settings = Settings::new(&spec.name, kind, PathBuf::new());
        let shared = shared(kind);
        let (dir, package, profile, id) = match kind {
            Kind::PowerSchool => {
                let o = spec.options::<PowerSchoolConfig>(&shared)?;
                let c = &o.own;
                settings.staff = Some(Staff {
                    id: c.staff_id.clone(),
                    column: c.staff_column.trim().to_lowercase(),
                    value: c.staff_value.clone(),
                });
                settings.max_zip_bytes = max_zip_bytes(spec, c.max_zip_bytes, kind)?;
                (c.dir.clone(), c.package.clone(), o.profile()?, o.key()?)
            }
            Kind::InfiniteCampus => {
                let o = spec.options::<InfiniteCampusConfig>(&shared)?;
                let c = &o.own;
                settings.max_zip_bytes = max_zip_bytes(spec, c.max_zip_bytes, kind)?;
                (c.dir.clone(), c.package.clone(), o.profile()?, o.key()?)
            }
            Kind::Aeries => {
                let o = spec.options::<AeriesConfig>(&shared)?;
                let c = &o.own;
                settings.max_zip_bytes = max_zip_bytes(spec, c.max_zip_bytes, kind)?;
                (c.dir.clone(), c.package.clone(), o.profile()?, o.key()?)
            }
        };
        let package = package.unwrap_or_else(|| spec.name.clone());
        check_id(&package).map_err(|e| {
            spec.invalid(
                "package",
                format!("{package:?} is not a safe file name: {}", e.message()),
            )
        })?;
        settings.dir = spec.resolve_path(&dir);
        settings.id = id;
        settings.package = package;
        settings.profile = profile;
        Ok(Arc::new(SisTarget::new(settings)))
    }
}
