//! `picday.toml`: one file for the source, the photo settings and every target.
//!
//! Sections other than `[targets.*]` are typed here and reject unknown keys. Target sections are
//! kept as raw tables with their position in the file, because only the target's factory knows
//! its options: [`TargetSpec::parse`] deserialises them and turns serde's complaints into errors
//! that name the key and its line. [`PhotoOptions`] checks the photo options most targets share
//! (`size` or `width`/`height`, `quality`, `max_bytes`) the same way for all of them.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::model::Profile;
use crate::pipeline::CropMode;
// The `[source]` section is typed next to the readers that take it (`crate::source`).
pub use crate::source::config::{SourceConfig, SourceFormat};

/// The whole configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file itself.
    pub path: PathBuf,
    /// Its folder: relative paths in the file are relative to it.
    pub base_dir: PathBuf,
    pub source: SourceConfig,
    pub photo: PhotoConfig,
    pub run: RunConfig,
    pub targets: Vec<TargetSpec>,
    /// Top-level `plugin_dirs = [...]`: folders searched for target plugins, resolved against
    /// the configuration's folder (see `picday-plugin`).
    pub plugin_dirs: Vec<PathBuf>,
}

/// `[photo]`: how source photos are normalised.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhotoConfig {
    /// Where the crop is placed in the source.
    pub crop: CropMode,
    /// Default JPEG quality for targets that do not set one.
    pub quality: u8,
    /// Source photos with more pixels than this are refused (decompression bombs).
    pub max_pixels: u64,
    /// Source files larger than this many megabytes are refused before they are read.
    pub max_file_mb: u64,
    /// Memory one photo may take to decode, in MiB; a photo that needs more is refused.
    pub max_memory_mb: u64,
}

impl Default for PhotoConfig {
    fn default() -> Self {
        PhotoConfig {
            crop: CropMode::default(),
            quality: 85,
            max_pixels: 100_000_000,
            max_file_mb: crate::pipeline::DEFAULT_MAX_FILE_BYTES / 1_000_000,
            max_memory_mb: crate::pipeline::budget::DEFAULT_PHOTO_MIB,
        }
    }
}

/// `[run]`: how the engine runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Photo processing workers; 0 means one per CPU core.
    pub workers: usize,
    /// Memory all photos being decoded at once may take, in MiB: workers wait for room.
    pub memory_mb: u64,
    /// Attempts per request for temporary failures (1 = no retry).
    pub max_attempts: u32,
    /// Where report folders are written, relative to the configuration.
    pub report_dir: PathBuf,
    /// Save each photo a push overwrites on a target that can read back, under
    /// `.picday/backups/<run>/<target>/` (see `picday restore`).
    pub backup: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            workers: 0,
            memory_mb: crate::pipeline::budget::DEFAULT_RUN_MIB,
            max_attempts: 6,
            report_dir: PathBuf::from("reports"),
            backup: true,
        }
    }
}

/// One `[targets.NAME]` section, not yet interpreted.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The section name, e.g. `entra` in `[targets.entra]`.
    pub name: String,
    /// The `type` key.
    pub type_name: String,
    /// `enabled = false` keeps a target configured but unused.
    pub enabled: bool,
    /// The remaining keys.
    pub options: toml::Table,
    /// The configuration's folder, for relative paths in options.
    pub base_dir: PathBuf,
    /// Photo defaults from `[photo]`.
    pub photo: PhotoConfig,
    file: Arc<SourceText>,
    span: std::ops::Range<usize>,
}

#[derive(Debug)]
struct SourceText {
    path: PathBuf,
    text: String,
}

impl TargetSpec {
    /// A spec built in code (tests, plugins), not read from a file.
    pub fn new(name: &str, type_name: &str, options: toml::Table, base_dir: &Path) -> Self {
        TargetSpec {
            name: name.to_string(),
            type_name: type_name.to_string(),
            enabled: true,
            options,
            base_dir: base_dir.to_path_buf(),
            photo: PhotoConfig::default(),
            file: Arc::new(SourceText {
                path: PathBuf::from("<inline>"),
                text: String::new(),
            }),
            span: 0..0,
        }
    }

    /// Deserialises the options into the target's own config type (which should use
    /// `#[serde(deny_unknown_fields)]`). Errors name the target, the key and the line.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        self.parse_table(self.options.clone())
    }

    /// [`TargetSpec::parse`] of some of the section's keys.
    pub(crate) fn parse_table<T: DeserializeOwned>(&self, table: toml::Table) -> Result<T> {
        T::deserialize(toml::Value::Table(table)).map_err(|e| {
            let msg = e.message().trim().to_string();
            let line = backticked(&msg).and_then(|key| self.line_of_key(key));
            let place = match line {
                Some(l) => format!("{}:{l}", self.file.path.display()),
                None => self.file.path.display().to_string(),
            };
            Error::config(format!("{place}: [targets.{}]: {msg}", self.name))
        })
    }

    /// A configuration error about the option `key` of this section, naming the file and the
    /// key's line like [`TargetSpec::parse`] does: "picday.toml:12: [targets.entra]: `size` ...".
    pub fn invalid(&self, key: &str, msg: impl fmt::Display) -> Error {
        self.error_at(key, format!("`{key}` {msg}"))
    }

    /// Like [`TargetSpec::invalid`], for a message that names the key(s) itself.
    pub fn error_at(&self, key: &str, msg: impl fmt::Display) -> Error {
        let place = match self.line_of_key(key) {
            Some(l) => format!("{}:{l}", self.file.path.display()),
            None => self.file.path.display().to_string(),
        };
        Error::config(format!("{place}: [targets.{}]: {msg}", self.name))
    }

    /// The output profile described by a target's photo options, within what the service
    /// accepts; `quality` defaults to `[photo] quality`.
    pub fn profile(&self, options: PhotoOptions, limits: &PhotoLimits) -> Result<Profile> {
        let check = |key: &str, value: Option<u32>| -> Result<Option<u32>> {
            match value {
                Some(v) if !limits.sizes.contains(&v) => Err(self.invalid(
                    key,
                    format!(
                        "{v} must be between {} and {}",
                        limits.sizes.start(),
                        limits.sizes.end()
                    ),
                )),
                v => Ok(v),
            }
        };
        let size = check("size", options.size)?;
        let width = check("width", options.width)?
            .or(size)
            .unwrap_or(limits.default_size.0);
        let height = check("height", options.height)?
            .or(size)
            .unwrap_or(limits.default_size.1);
        let quality = options.quality.unwrap_or(self.photo.quality);
        if !(1..=100).contains(&quality) {
            return Err(self.invalid("quality", format!("{quality} must be between 1 and 100")));
        }
        let max_bytes = options.max_bytes.or(limits.default_max_bytes);
        if let Some(max) = max_bytes
            && !limits.max_bytes.contains(&max)
        {
            let (low, high) = (*limits.max_bytes.start(), *limits.max_bytes.end());
            let allowed = if high == usize::MAX {
                format!("at least {low}")
            } else {
                format!("between {low} and {high}")
            };
            let why = limits
                .max_bytes_why
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Err(self.invalid("max_bytes", format!("{max} must be {allowed}{why}")));
        }
        let mut profile = Profile::jpeg(width, height).with_quality(quality);
        profile.max_bytes = max_bytes;
        Ok(profile)
    }

    /// The line of `key = ...` inside this section, if it can be found.
    pub fn line_of_key(&self, key: &str) -> Option<usize> {
        // The span covers the `[targets.NAME]` header; the section runs to the next header.
        let text = self.file.text.get(self.span.start..)?;
        let start_line = line_at(&self.file.text, self.span.start);
        let section = text
            .lines()
            .enumerate()
            .take_while(|(i, l)| *i == 0 || !l.trim_start().starts_with('['));
        section.into_iter().find_map(|(i, l)| {
            let rest = l.trim_start().strip_prefix(key)?;
            rest.trim_start().starts_with('=').then_some(start_line + i)
        })
    }

    /// A path option resolved against the configuration's folder.
    pub fn resolve_path(&self, p: &Path) -> PathBuf {
        self.base_dir.join(p)
    }
}

/// The photo options a target's config struct carries (each `None` when not given). A target
/// copies the ones it offers from its own `#[serde(deny_unknown_fields)]` struct and passes them
/// to [`TargetSpec::profile`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhotoOptions {
    /// Width and height of a square photo.
    pub size: Option<u32>,
    /// Width, for other shapes (defaults to `size`).
    pub width: Option<u32>,
    /// Height, for other shapes (defaults to `size`).
    pub height: Option<u32>,
    /// JPEG quality, 1 to 100.
    pub quality: Option<u8>,
    /// Largest file; the quality is lowered until the photo fits.
    pub max_bytes: Option<usize>,
}

impl PhotoOptions {
    /// The options of a target with square photos only.
    pub const fn square(size: Option<u32>, quality: Option<u8>, max_bytes: Option<usize>) -> Self {
        PhotoOptions {
            size,
            width: None,
            height: None,
            quality,
            max_bytes,
        }
    }

    /// The options of a target whose photos have a `width` and a `height` (no `size`).
    pub const fn sized(
        width: Option<u32>,
        height: Option<u32>,
        quality: Option<u8>,
        max_bytes: Option<usize>,
    ) -> Self {
        PhotoOptions {
            size: None,
            width,
            height,
            quality,
            max_bytes,
        }
    }
}

/// What a service accepts, for [`TargetSpec::profile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoLimits {
    /// Width and height when the options give neither.
    pub default_size: (u32, u32),
    /// Allowed widths and heights.
    pub sizes: RangeInclusive<u32>,
    /// The byte budget when the options give none.
    pub default_max_bytes: Option<usize>,
    /// Allowed byte budgets.
    pub max_bytes: RangeInclusive<usize>,
    /// Why the budget is bounded, for the error message (e.g. "Graph's limit").
    pub max_bytes_why: Option<&'static str>,
}

impl PhotoLimits {
    /// Square photos of `default` pixels by default, any size in `sizes`, any byte budget.
    pub const fn square(default: u32, sizes: RangeInclusive<u32>) -> Self {
        PhotoLimits::new((default, default), sizes)
    }

    /// `default` (width, height) photos by default, any width and height in `sizes`, any byte
    /// budget.
    pub const fn new(default: (u32, u32), sizes: RangeInclusive<u32>) -> Self {
        PhotoLimits {
            default_size: default,
            sizes,
            default_max_bytes: None,
            max_bytes: 1..=usize::MAX,
            max_bytes_why: None,
        }
    }

    /// A byte budget of `default` unless the options set one in `allowed`.
    pub fn with_max_bytes(
        mut self,
        default: Option<usize>,
        allowed: RangeInclusive<usize>,
        why: Option<&'static str>,
    ) -> Self {
        self.default_max_bytes = default;
        self.max_bytes = allowed;
        self.max_bytes_why = why;
        self
    }
}

/// The section and key whose value is at byte `offset` ("[run] `workers`"), when that line is
/// a plain `key = value`: a wrong-type error then names the key, not only the line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let section = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.split('#').next().unwrap_or(l).trim().to_string());
    Some(match section {
        Some(section) => format!("{section} `{key}`"),
        None => format!("`{key}`"),
    })
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn backticked(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    plugin_dirs: Vec<PathBuf>,
    source: SourceConfig,
    #[serde(default)]
    photo: PhotoConfig,
    #[serde(default)]
    run: RunConfig,
    #[serde(default)]
    targets: BTreeMap<String, toml::Spanned<toml::Table>>,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("cannot read {}: {e}", path.display())).with_source(e)
        })?;
        Self::parse(path, text)
    }

    /// Parses configuration text as if read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Config> {
        let raw: RawConfig = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| line_at(&text, s.start));
            let place = match line {
                Some(l) => format!("{}:{l}", path.display()),
                None => path.display().to_string(),
            };
            let key = e
                .span()
                .and_then(|s| key_at(&text, s.start))
                .map(|key| format!(" {key}:"))
                .unwrap_or_default();
            Error::config(format!("{place}:{key} {}", e.message().trim()))
        })?;
        if let Some((key, format)) = raw.source.unused_key() {
            // The key's line inside `[source]`, for the message.
            let line = text
                .lines()
                .enumerate()
                .skip_while(|(_, l)| l.trim() != "[source]")
                .take_while(|(_, l)| l.trim() == "[source]" || !l.trim_start().starts_with('['))
                .find(|(_, l)| {
                    l.trim_start()
                        .strip_prefix(key)
                        .is_some_and(|r| r.trim_start().starts_with('='))
                })
                .map_or(String::new(), |(i, _)| format!(":{}", i + 1));
            return Err(Error::config(format!(
                "{}{line}: [source]: `{key}` is only read with format = \"{format}\"",
                path.display()
            )));
        }
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let file = Arc::new(SourceText {
            path: path.to_path_buf(),
            text,
        });
        let mut targets = Vec::new();
        for (name, table) in raw.targets {
            let span = table.span();
            let mut options = table.into_inner();
            let line = line_at(&file.text, span.start);
            let type_name = match options.remove("type") {
                Some(toml::Value::String(t)) => t,
                Some(_) => {
                    return Err(Error::config(format!(
                        "{}:{line}: [targets.{name}]: `type` must be a string",
                        path.display()
                    )));
                }
                None => {
                    return Err(Error::config(format!(
                        "{}:{line}: [targets.{name}]: missing `type` (see `picday targets`)",
                        path.display()
                    )));
                }
            };
            let enabled = match options.remove("enabled") {
                None => true,
                Some(toml::Value::Boolean(b)) => b,
                Some(_) => {
                    return Err(Error::config(format!(
                        "{}:{line}: [targets.{name}]: `enabled` must be true or false",
                        path.display()
                    )));
                }
            };
            targets.push(TargetSpec {
                name,
                type_name,
                enabled,
                options,
                base_dir: base_dir.clone(),
                photo: raw.photo.clone(),
                file: file.clone(),
                span,
            });
        }
        let plugin_dirs = raw.plugin_dirs.iter().map(|d| base_dir.join(d)).collect();
        Ok(Config {
            path: path.to_path_buf(),
            base_dir,
            source: raw.source,
            photo: raw.photo,
            run: raw.run,
            targets,
            plugin_dirs,
        })
    }

    /// The mapping file's full path.
    pub fn mapping_path(&self) -> PathBuf {
        self.base_dir.join(&self.source.mapping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[source]
mapping = "photos.csv"

[photo]
crop = "top"

[targets.out]
type = "folder"
dir = "out"
colour = "blue"
"#;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct FolderLike {
        dir: String,
    }

    #[test]
    fn parses_sections_and_keeps_target_tables() {
        let c = Config::parse(Path::new("x/picday.toml"), SAMPLE.into()).unwrap();
        assert_eq!(c.base_dir, Path::new("x"));
        assert_eq!(c.photo.crop, CropMode::Top);
        assert_eq!(c.targets.len(), 1);
        assert_eq!(c.targets[0].type_name, "folder");
        assert_eq!(c.mapping_path(), Path::new("x/photos.csv"));
    }

    #[test]
    fn unknown_target_key_names_key_and_line() {
        let c = Config::parse(Path::new("picday.toml"), SAMPLE.into()).unwrap();
        let e = c.targets[0].parse::<FolderLike>().unwrap_err();
        assert!(e.message().contains("colour"), "{e}");
        assert!(e.message().starts_with("picday.toml:11:"), "{e}");
    }

    #[test]
    fn unknown_top_level_key_names_line() {
        let text = "[source]\nmapping = \"a.csv\"\nmappings = 1\n";
        let e = Config::parse(Path::new("p.toml"), text.into()).unwrap_err();
        assert!(e.message().contains("mappings"), "{e}");
        assert!(e.message().starts_with("p.toml:3:"), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_section_key_and_line() {
        let text = "[source]\nmapping = \"a.csv\"\n\n[run] # how it runs\nworkers = \"two\"\n";
        let e = Config::parse(Path::new("p.toml"), text.into()).unwrap_err();
        assert!(
            e.message()
                .starts_with("p.toml:5: [run] `workers`: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn pspa_keys_are_refused_with_format_csv() {
        let text = "[source]\nmapping = \"a.csv\"\nroster = \"r.csv\"\n";
        let e = Config::parse(Path::new("p.toml"), text.into()).unwrap_err();
        assert!(e.message().starts_with("p.toml:3:"), "{e}");
        assert!(e.message().contains("`roster`"), "{e}");
        let text = "[source]\nmapping = \"d\"\nformat = \"pspa\"\nroster = \"r.csv\"\nlayout = \"pictavo\"\n";
        let c = Config::parse(Path::new("p.toml"), text.into()).unwrap();
        assert_eq!(c.source.format, SourceFormat::Pspa);
        assert_eq!(c.source.roster.as_deref(), Some(Path::new("r.csv")));
    }

    #[test]
    fn plugin_dirs_are_relative_to_the_config_file() {
        let text = "plugin_dirs = [\"plugins\", \"/opt/picday\"]\n[source]\nmapping = \"a.csv\"\n";
        let c = Config::parse(Path::new("x/p.toml"), text.into()).unwrap();
        assert_eq!(
            c.plugin_dirs,
            [PathBuf::from("x/plugins"), PathBuf::from("/opt/picday")]
        );
        let c = Config::parse(Path::new("p.toml"), "[source]\nmapping = \"a\"\n".into()).unwrap();
        assert!(c.plugin_dirs.is_empty());
    }

    #[test]
    fn photo_options_become_a_profile_within_the_services_limits() {
        let text = "[source]\nmapping = \"a.csv\"\n[photo]\nquality = 80\n\
                    [targets.x]\ntype = \"t\"\nsize = 5000\nquality = 0\n";
        let c = Config::parse(Path::new("p.toml"), text.into()).unwrap();
        let spec = &c.targets[0];
        let limits = PhotoLimits::square(648, 16..=4096);
        // Defaults: the service's size, `[photo] quality`, no budget.
        let p = spec.profile(PhotoOptions::default(), &limits).unwrap();
        assert_eq!(
            (p.width, p.height, p.quality, p.max_bytes),
            (648, 648, 80, None)
        );
        // `width`/`height` win over `size`, each defaulting to it.
        let opts = PhotoOptions {
            size: Some(300),
            height: Some(400),
            ..PhotoOptions::default()
        };
        let p = spec.profile(opts, &limits).unwrap();
        assert_eq!((p.width, p.height), (300, 400));
        // Out of range: the key, its line and the allowed values.
        let opts = PhotoOptions {
            size: Some(5000),
            ..PhotoOptions::default()
        };
        let e = spec.profile(opts, &limits).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert_eq!(
            e.message(),
            "p.toml:7: [targets.x]: `size` 5000 must be between 16 and 4096"
        );
        let opts = PhotoOptions {
            quality: Some(0),
            ..PhotoOptions::default()
        };
        let e = spec.profile(opts, &limits).unwrap_err();
        assert!(e.message().starts_with("p.toml:8: "), "{e}");
        // Byte budgets: the service's default, and its bound with the reason.
        let graph = limits.with_max_bytes(Some(4 << 20), 1..=4 << 20, Some("Graph's limit"));
        let p = spec.profile(PhotoOptions::default(), &graph).unwrap();
        assert_eq!(p.max_bytes, Some(4 << 20));
        let opts = PhotoOptions {
            max_bytes: Some(5 << 20),
            ..PhotoOptions::default()
        };
        let e = spec.profile(opts, &graph).unwrap_err();
        assert!(
            e.message()
                .ends_with("`max_bytes` 5242880 must be between 1 and 4194304 (Graph's limit)"),
            "{e}"
        );
        let small =
            PhotoLimits::square(96, 96..=2048).with_max_bytes(None, 4096..=usize::MAX, None);
        let opts = PhotoOptions {
            max_bytes: Some(100),
            ..PhotoOptions::default()
        };
        let e = spec.profile(opts, &small).unwrap_err();
        assert!(
            e.message()
                .ends_with("`max_bytes` 100 must be at least 4096"),
            "{e}"
        );
    }

    #[test]
    fn target_without_type_is_an_error() {
        let text = "[source]\nmapping = \"a.csv\"\n[targets.x]\ndir = \"o\"\n";
        let e = Config::parse(Path::new("p.toml"), text.into()).unwrap_err();
        assert!(e.message().contains("missing `type`"), "{e}");
    }
}
