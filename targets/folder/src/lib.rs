//! The `folder` target: every person's photo written into a folder, one file each.
//!
//! It is the simplest useful target (a share for the yearbook, the badge printer, a system that
//! imports a folder) and the one every installation can try first. File names come from a
//! template; a name that would leave the folder is refused, and every file is written to a
//! temporary name and renamed, so a reader never sees half a photo.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use picday_core::files;
use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{
    CheckReport, ConcurrencyOption, Error, KeyOption, OptionSet, Photo, PhotoInfo, PhotoLimits,
    PhotoOption, Profile, Receipt, Registry, Result, Shape, Shared, Subject, Target, TargetInfo,
    TargetIo, TargetSpec, Template,
};
use serde::Deserialize;

/// The type name in configuration files.
pub const TYPE: &str = "folder";

/// Adds the folder target type to a registry.
pub fn register(registry: &mut Registry) {
    registry.register(Arc::new(FolderFactory));
}

/// The folder's own options; the shared ones are declared by [`shared`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderConfig {
    dir: PathBuf,
}

/// The shared options a folder takes: a file name template, any photo shape, a byte budget,
/// files written at once.
fn shared() -> Shared {
    Shared {
        key: Some(KeyOption {
            name: "file_name",
            default: "{mail}.jpg",
            help: "file name template; also the person's key",
        }),
        photo: Some(PhotoOption::new(
            Shape::Any,
            PhotoLimits::square(648, 16..=4096),
        )),
        concurrency: Some(ConcurrencyOption {
            default: 8,
            max: 256,
            help: "files written at once",
        }),
    }
}

#[derive(Debug)]
struct FolderFactory;

impl TargetFactory for FolderFactory {
    fn info(&self) -> TypeInfo {
        let options = OptionSet::new::<FolderConfig>(
            shared(),
            vec![OptionDoc::required(
                "dir",
                "the folder, relative to picday.toml; created if missing",
            )],
        );
        TypeInfo::builtin(
            TYPE,
            &["directory"],
            "writes each photo into a folder, one file per person",
            &options,
        )
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let shared = shared();
        let options = spec.options::<FolderConfig>(&shared)?;
        let mut target = FolderTarget::with_template(
            &spec.name,
            spec.resolve_path(&options.own.dir),
            options.key()?,
            options.profile()?,
        );
        target.info = target.info.max_concurrency(options.max_concurrency()?);
        Ok(Arc::new(target))
    }
}

/// Writes photos as files in a folder.
#[derive(Debug)]
pub struct FolderTarget {
    info: TargetInfo,
    dir: PathBuf,
}

impl FolderTarget {
    /// A folder target writing `file_name` files of `profile` into `dir`.
    pub fn new(
        name: &str,
        dir: impl Into<PathBuf>,
        file_name: &str,
        profile: Profile,
    ) -> Result<Self> {
        Ok(Self::with_template(
            name,
            dir,
            Template::parse(file_name)?,
            profile,
        ))
    }

    fn with_template(
        name: &str,
        dir: impl Into<PathBuf>,
        file_name: Template,
        profile: Profile,
    ) -> Self {
        let dir = dir.into();
        let summary = format!("folder {} as {}", dir.display(), file_name);
        // Two file names differing in case are one file on Windows and macOS file systems
        // (the usual defaults), two files elsewhere; two folder targets on one folder could
        // overwrite each other's files, so one folder is one place.
        let info = TargetInfo::new(name, TYPE, file_name, profile)
            .summary(summary)
            .setting("dir", dir.display())
            .reads_back()
            .deletes()
            .max_concurrency(8)
            .keys_case_insensitive(cfg!(any(windows, target_os = "macos")))
            .place(picday_core::target::folder_place(&dir));
        FolderTarget { info, dir }
    }

    /// The file a subject's photo goes to, relative to `dir`, refusing names that would leave
    /// the folder or that Windows reserves.
    fn path_of(&self, subject: &Subject) -> Result<PathBuf> {
        let name = self
            .info
            .key
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
        if let Some(device) = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .find(|part| files::is_windows_device_name(part))
        {
            return Err(Error::input(format!(
                "file name {name:?} cannot be used: `{device}` is a reserved device name on Windows"
            )));
        }
        Ok(rel.to_path_buf())
    }

    /// The work of one I/O call on the blocking pool, given the subject's file checked on
    /// disk ([`files::path_under`]: no link under `dir`; the file, if any, a regular file).
    async fn on_file<T: Send + 'static>(
        &self,
        subject: &Subject,
        work: impl FnOnce(PathBuf) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let rel = self.path_of(subject)?;
        let dir = self.dir.clone();
        blocking(move || work(files::path_under(&dir, &rel)?)).await
    }
}

impl Target for FolderTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn subject(&self, person: Arc<picday_core::Person>) -> Result<Subject> {
        let subject = Subject::new(self.info.key.render(&person)?, person);
        self.path_of(&subject)?;
        Ok(subject)
    }
}

#[async_trait]
impl TargetIo for FolderTarget {
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
        let bytes = photo.bytes.clone();
        self.on_file(subject, move |path| {
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
            // A rename replaces the name, never what a link there points to.
            tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
            Ok(Receipt::new(format!("written to {}", path.display())))
        })
        .await
    }

    async fn get_photo(&self, subject: &Subject) -> Result<Option<Vec<u8>>> {
        self.on_file(subject, |path| files::read_regular(&path))
            .await
    }

    /// The file's metadata, not its bytes: its size and when it was written. Like every
    /// access here it goes through [`files::path_under`], so a link is refused, not followed.
    async fn photo_info(&self, subject: &Subject) -> Result<Option<PhotoInfo>> {
        self.on_file(subject, |path| match std::fs::symlink_metadata(&path) {
            Ok(m) => {
                let info = PhotoInfo {
                    bytes: Some(m.len()),
                    ..PhotoInfo::default()
                };
                Ok(Some(match m.modified() {
                    Ok(at) => info.modified_at(at),
                    Err(_) => info,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        })
        .await
    }

    async fn delete_photo(&self, subject: &Subject) -> Result<Receipt> {
        self.on_file(subject, |path| match std::fs::remove_file(&path) {
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
