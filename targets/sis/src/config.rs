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
/// Infinite Campus's default per-file upload limit.
pub const IC_MAX_BYTES: usize = 3_000_000;
/// Infinite Campus refuses zips of 100 MB or more.
pub const IC_MAX_ZIP_BYTES: u64 = 100_000_000;

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
}

/// The shared options of a SIS type: the id template, a portrait photo of any width and
/// height (with Infinite Campus's per-file budget by default). Packages are written on this
/// machine, so concurrency is not an option.
fn shared(kind: Kind) -> Shared {
    let mut limits = PhotoLimits::new((DEFAULT_WIDTH, DEFAULT_HEIGHT), 16..=4096);
    if kind == Kind::InfiniteCampus {
        limits = limits.with_max_bytes(Some(IC_MAX_BYTES), 1..=usize::MAX, None);
    }
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
        photo: Some(PhotoOption::new(Shape::Sized, limits)),
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
    /// Largest zip part (Infinite Campus); `u64::MAX` for no limit.
    pub max_zip_bytes: u64,
}

impl Settings {
    /// Settings with the type's defaults, for code and tests.
    pub fn new(name: &str, kind: Kind, dir: impl Into<PathBuf>) -> Self {
        let mut profile = Profile::jpeg(DEFAULT_WIDTH, DEFAULT_HEIGHT);
        if kind == Kind::InfiniteCampus {
            profile.max_bytes = Some(IC_MAX_BYTES);
        }
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
            max_zip_bytes: if kind == Kind::InfiniteCampus {
                IC_MAX_ZIP_BYTES
            } else {
                u64::MAX
            },
        }
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
    match kind {
        Kind::InfiniteCampus => options.push(OptionDoc::optional(
            "max_zip_bytes",
            "100000000",
            "largest zip; the package is split into parts below it",
        )),
        Kind::PowerSchool => options.extend([
            OptionDoc::optional(
                "staff_id",
                "\"{teacher_number}\"",
                "id template for staff: the TeacherNumber",
            ),
            OptionDoc::optional("staff_column", "\"grade\"", "the column that marks staff"),
            OptionDoc::optional(
                "staff_value",
                "\"STAFF\"",
                "the value of staff_column for staff (case ignored); staff go to a separate package",
            ),
        ]),
        Kind::Aeries => {}
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
                "PowerSchool Import Pictures package: flat zip of JPEGs + tab-delimited map"
            }
            Kind::InfiniteCampus => {
                "Infinite Campus Photo Import package: zip of <id>.jpg, split below 100 MB"
            }
            Kind::Aeries => "Aeries Mass Add Pictures package: zip of <permanent id>.jpg",
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
                (c.dir.clone(), c.package.clone(), o.profile()?, o.key()?)
            }
            Kind::InfiniteCampus => {
                let o = spec.options::<InfiniteCampusConfig>(&shared)?;
                let c = &o.own;
                if let Some(max) = c.max_zip_bytes {
                    if max < 4096 {
                        return Err(spec.invalid(
                            "max_zip_bytes",
                            format!("{max} is too small for any photo"),
                        ));
                    }
                    settings.max_zip_bytes = max;
                }
                (c.dir.clone(), c.package.clone(), o.profile()?, o.key()?)
            }
            Kind::Aeries => {
                let o = spec.options::<AeriesConfig>(&shared)?;
                let c = &o.own;
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
