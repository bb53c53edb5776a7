//! The `folder` target: every person's photo written into a folder, one file each.
//!
//! It is the simplest useful target (a share for the yearbook, the badge printer, a system that
//! imports a folder) and the one every installation can try first. File names come from a
//! template; a name that would leave the folder is refused, and every file is written to a
//! temporary name and renamed, so a reader never sees half a photo.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{
    Capabilities, CheckReport, Error, Photo, PhotoLimits, PhotoOptions, Profile, Receipt, Registry,
    Result, Subject, Target, TargetInfo, TargetSpec, Template, ensure_profile,
};
use serde::Deserialize;

/// The type name in configuration files.
pub const TYPE: &str = "folder";

/// Adds the folder target type to a registry.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(FolderFactory));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderConfig {
    dir: PathBuf,
    #[serde(default = "default_file_name")]
    file_name: Template,
    #[serde(default)]
    size: Option<u32>,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    quality: Option<u8>,
    #[serde(default)]
    max_bytes: Option<usize>,
    #[serde(default)]
    max_concurrency: Option<usize>,
}

fn default_file_name() -> Template {
    Template::parse("{mail}.jpg").expect("static template")
}

#[derive(Debug)]
struct FolderFactory;

impl TargetFactory for FolderFactory {
    fn info(&self) -> TypeInfo {
        TypeInfo {
            name: TYPE.into(),
            aliases: vec!["directory".into()],
            summary: "writes each photo into a folder, one file per person".into(),
            source: "built-in".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            options: vec![
                OptionDoc::required(
                    "dir",
                    "the folder, relative to picday.toml; created if missing",
                ),
                OptionDoc::optional(
                    "file_name",
                    "\"{mail}.jpg\"",
                    "file name template; also the person's key",
                ),
                OptionDoc::optional("size", "648", "width and height of a square photo"),
                OptionDoc::optional("width", "size", "photo width, for a portrait shape"),
                OptionDoc::optional("height", "size", "photo height, for a portrait shape"),
                OptionDoc::optional("quality", "[photo] quality", "JPEG quality, 1-100"),
                OptionDoc::optional(
                    "max_bytes",
                    "none",
                    "largest file; quality is lowered to fit",
                ),
                OptionDoc::optional("max_concurrency", "8", "files written at once"),
            ],
        }
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let cfg: FolderConfig = spec.parse()?;
        let profile = spec.profile(
            PhotoOptions {
                size: cfg.size,
                width: cfg.width,
                height: cfg.height,
                quality: cfg.quality,
                max_bytes: cfg.max_bytes,
            },
            &PhotoLimits::square(648, 16..=4096),
        )?;
        Ok(Arc::new(FolderTarget {
            name: spec.name.clone(),
            dir: spec.resolve_path(&cfg.dir),
            file_name: cfg.file_name,
            profile,
            max_concurrency: cfg.max_concurrency.unwrap_or(8).max(1),
        }))
    }
}

/// Writes photos as files in a folder.
#[derive(Debug)]
pub struct FolderTarget {
    name: String,
    dir: PathBuf,
    file_name: Template,
    profile: Profile,
    max_concurrency: usize,
}

impl FolderTarget {
    /// A folder target writing `file_name` files of `profile` into `dir`.
    pub fn new(
        name: &str,
        dir: impl Into<PathBuf>,
        file_name: &str,
        profile: Profile,
    ) -> Result<Self> {
        Ok(FolderTarget {
            name: name.into(),
            dir: dir.into(),
            file_name: Template::parse(file_name)?,
            profile,
            max_concurrency: 8,
        })
    }

    /// The file a subject's photo goes to, refusing anything that would leave the folder.
    fn path_of(&self, subject: &Subject) -> Result<PathBuf> {
        let name = self
            .file_name
            .render_checked(&subject.person, |field, value| {
                if value.contains(['/', '\\', '\0']) || value == "." || value == ".." {
                    Err(Error::input(format!(
                        "`{field}` value {value:?} cannot be used in a file name"
                    )))
                } else {
                    Ok(())
                }
            })?;
        let rel = Path::new(&name);
        let safe = !name.is_empty()
            && rel.components().all(|c| matches!(c, Component::Normal(_)))
            && !name.contains(':');
        if !safe {
            return Err(Error::input(format!(
                "file name {name:?} would be written outside {}",
                self.dir.display()
            )));
        }
        Ok(self.dir.join(rel))
    }
}

#[async_trait]
impl Target for FolderTarget {
    fn describe(&self) -> TargetInfo {
        TargetInfo {
            name: self.name.clone(),
            type_name: TYPE.into(),
            summary: format!("folder {} as {}", self.dir.display(), self.file_name),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            profile: self.profile,
            read_back: true,
            delete: true,
            resolves_people: false,
            max_concurrency: self.max_concurrency,
        }
    }

    fn key_template(&self) -> &Template {
        &self.file_name
    }

    fn subject(&self, person: Arc<picday_core::Person>) -> Result<Subject> {
        let subject = Subject::new(self.file_name.render(&person)?, person);
        self.path_of(&subject)?;
        Ok(subject)
    }

    async fn check(&self) -> Result<CheckReport> {
        let dir = self.dir.clone();
        blocking(move || {
            let mut report = CheckReport::default();
            if dir.is_dir() {
                tempfile::NamedTempFile::new_in(&dir)
                    .map_err(|e| Error::io(&dir, e).prefixed("the folder is not writable"))?;
                report.ok.push(format!("{} is writable", dir.display()));
            } else if dir.exists() {
                return Err(Error::config(format!("{} is not a folder", dir.display())));
            } else {
                report.ok.push(format!("{} will be created", dir.display()));
            }
            Ok(report)
        })
        .await
    }

    async fn put_photo(&self, subject: &Subject, photo: &Photo) -> Result<Receipt> {
        ensure_profile(&self.capabilities(), photo)?;
        let path = self.path_of(subject)?;
        let bytes = photo.bytes.clone();
        blocking(move || {
            let parent = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            let mut tmp = tempfile::Builder::new()
                .prefix(".picday-")
                .suffix(".tmp")
                .tempfile_in(parent)
                .map_err(|e| Error::io(parent, e))?;
            std::io::Write::write_all(&mut tmp, &bytes).map_err(|e| Error::io(tmp.path(), e))?;
            tmp.as_file().sync_all().map_err(|e| Error::io(&path, e))?;
            // Temporary files are private (0600); the photo gets ordinary permissions.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
                    .map_err(|e| Error::io(tmp.path(), e))?;
            }
            tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
            Ok(Receipt::new(format!("written to {}", path.display())))
        })
        .await
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        let path = self.path_of(subject)?;
        blocking(move || match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        })
        .await
    }

    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        let path = self.path_of(subject)?;
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => Ok(Receipt::new(format!("removed {}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Receipt::new("had no photo")),
            Err(e) => Err(Error::io(&path, e)),
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::internal(format!("file worker failed: {e}"))))
}
