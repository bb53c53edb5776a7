//! The options of the three SIS types, and the factory that turns a `[targets.NAME]` section
//! into a [`SisTarget`].
//!
//! Each type has its own config struct with `deny_unknown_fields`, so that a PowerSchool key
//! in an Aeries section is an error naming the key and its line, not silently ignored.

use std::path::PathBuf;
use std::sync::Arc;

use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{PhotoLimits, PhotoOptions, Profile, Result, Target, TargetSpec, Template};
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerSchoolConfig {
    dir: PathBuf,
    #[serde(default = "default_id")]
    id: Template,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    quality: Option<u8>,
    #[serde(default)]
    max_bytes: Option<usize>,
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
    #[serde(default = "default_id")]
    id: Template,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    quality: Option<u8>,
    #[serde(default)]
    max_bytes: Option<usize>,
    #[serde(default)]
    max_zip_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AeriesConfig {
    dir: PathBuf,
    #[serde(default = "default_id")]
    id: Template,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    quality: Option<u8>,
    #[serde(default)]
    max_bytes: Option<usize>,
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

fn common_options(kind: Kind) -> Vec<OptionDoc> {
    let mut options = vec![
        OptionDoc::required(
            "dir",
            "folder for the package files, relative to picday.toml; created if missing",
        ),
        OptionDoc::optional(
            "id",
            "\"{student_id}\"",
            match kind {
                Kind::Aeries => "id template: the Permanent ID (STU.ID); file names are <id>.jpg",
                Kind::InfiniteCampus => {
                    "id template: the identifier the Photo Import matches (student number or person id)"
                }
                Kind::PowerSchool => "id template for students: the Student_Number",
            },
        ),
        OptionDoc::optional(
            "package",
            "the target's name",
            "base name of the package files (<package>.zip, <package>.manifest.json)",
        ),
        OptionDoc::optional("width", "240", "photo width in pixels"),
        OptionDoc::optional(
            "height",
            "300",
            "photo height in pixels (portrait: 4:5 or 2:3)",
        ),
        OptionDoc::optional("quality", "[photo] quality", "JPEG quality, 1-100"),
    ];
    match kind {
        Kind::InfiniteCampus => {
            options.push(OptionDoc::optional(
                "max_bytes",
                "3000000",
                "largest photo file; quality is lowered to fit",
            ));
            options.push(OptionDoc::optional(
                "max_zip_bytes",
                "100000000",
                "largest zip; the package is split into parts below it",
            ));
        }
        Kind::PowerSchool => {
            options.push(OptionDoc::optional(
                "max_bytes",
                "none",
                "largest photo file; quality is lowered to fit",
            ));
            options.push(OptionDoc::optional(
                "staff_id",
                "\"{teacher_number}\"",
                "id template for staff: the TeacherNumber",
            ));
            options.push(OptionDoc::optional(
                "staff_column",
                "\"grade\"",
                "the column that marks staff",
            ));
            options.push(OptionDoc::optional(
                "staff_value",
                "\"STAFF\"",
                "the value of staff_column for staff (case ignored); staff go to a separate package",
            ));
        }
        Kind::Aeries => options.push(OptionDoc::optional(
            "max_bytes",
            "none",
            "largest photo file; quality is lowered to fit",
        )),
    }
    options
}

impl TargetFactory for SisFactory {
    fn info(&self) -> TypeInfo {
        let kind = self.0;
        TypeInfo {
            name: kind.type_name().into(),
            aliases: match kind {
                Kind::InfiniteCampus => vec!["infinitecampus".into()],
                Kind::PowerSchool | Kind::Aeries => Vec::new(),
            },
            summary: match kind {
                Kind::PowerSchool => {
                    "PowerSchool Import Pictures package: flat zip of JPEGs + tab-delimited map"
                }
                Kind::InfiniteCampus => {
                    "Infinite Campus Photo Import package: zip of <id>.jpg, split below 100 MB"
                }
                Kind::Aeries => "Aeries Mass Add Pictures package: zip of <permanent id>.jpg",
            }
            .into(),
            source: "built-in".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            options: common_options(kind),
        }
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let kind = self.0;
        let mut settings = Settings::new(&spec.name, kind, PathBuf::new());
        let (dir, id, package, photo) = match kind {
            Kind::PowerSchool => {
                let c: PowerSchoolConfig = spec.parse()?;
                settings.staff = Some(Staff {
                    id: c.staff_id,
                    column: c.staff_column.trim().to_lowercase(),
                    value: c.staff_value,
                });
                (
                    c.dir,
                    c.id,
                    c.package,
                    PhotoOptions::sized(c.width, c.height, c.quality, c.max_bytes),
                )
            }
            Kind::InfiniteCampus => {
                let c: InfiniteCampusConfig = spec.parse()?;
                if let Some(max) = c.max_zip_bytes {
                    if max < 4096 {
                        return Err(spec.invalid(
                            "max_zip_bytes",
                            format!("{max} is too small for any photo"),
                        ));
                    }
                    settings.max_zip_bytes = max;
                }
                (
                    c.dir,
                    c.id,
                    c.package,
                    PhotoOptions::sized(
                        c.width,
                        c.height,
                        c.quality,
                        c.max_bytes.or(Some(IC_MAX_BYTES)),
                    ),
                )
            }
            Kind::Aeries => {
                let c: AeriesConfig = spec.parse()?;
                (
                    c.dir,
                    c.id,
                    c.package,
                    PhotoOptions::sized(c.width, c.height, c.quality, c.max_bytes),
                )
            }
        };
        let profile = spec.profile(
            photo,
            &PhotoLimits::new((DEFAULT_WIDTH, DEFAULT_HEIGHT), 16..=4096),
        )?;
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
