//! Targets that picday was not compiled with: plugins found at run time.
//!
//! Schools add targets without touching (or rebuilding) picday in two ways, both speaking the
//! same versioned messages of [`picday_plugin_sdk::protocol`]:
//!
//! - an **executable** (`picday-plugin-NAME`, any language): picday starts one long-lived
//!   process per configured target and exchanges one JSON object per line over stdin/stdout
//!   ([`exec`]); a crash or a hang only fails that target;
//! - a **dynamic library** (`libpicday_plugin_NAME.so`, `picday_plugin_NAME.dll`...): loaded
//!   with libloading through one versioned `extern "C"` entry point ([`dylib`]); faster, but
//!   native code in picday's own process.
//!
//! Either way the plugin becomes a [`TargetFactory`] in the [`Registry`], so the engine, the
//! layers (contract, dry-run, retry, throttle) and `picday targets` see no difference with a built-in
//! target. picday keeps HTTP, retries and throttling: a plugin asks the host to make its HTTP
//! requests and classifies the answers.

pub mod dylib;
pub mod exec;
mod host;
mod target;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use picday_core::registry::{OptionDoc, TargetFactory, TypeInfo};
use picday_core::{Error, Registry, Result, Target, TargetSpec};
use picday_plugin_sdk::protocol::HelloOk;

pub use target::{FailedTarget, PluginTarget};

/// The environment variable listing extra plugin folders (`:`-separated, `;` on Windows).
pub const PLUGIN_PATH_ENV: &str = "PICDAY_PLUGIN_PATH";

/// How long picday waits for any answer of a plugin before giving up on it, unless a target
/// sets `plugin_timeout` (seconds).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a plugin file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An executable speaking the protocol over stdin/stdout.
    Exec,
    /// A dynamic library exporting `picday_plugin_v1`.
    Library,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Exec => "executable",
            Kind::Library => "library",
        }
    }
}

/// A plugin file found in a plugin folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The type name the file name promises (`webhook` for `picday-plugin-webhook`).
    pub name: String,
    pub path: PathBuf,
    pub kind: Kind,
}

/// The result of [`discover`].
#[derive(Debug, Default)]
pub struct Discovery {
    /// Registered plugin types, with where they came from.
    pub registered: Vec<(String, PathBuf)>,
    /// Plugin files that were skipped, and why (a name taken by a built-in or an earlier
    /// folder). Plugins that fail their handshake are still registered, as unusable types whose
    /// targets fail with the reason, so that the other targets run.
    pub skipped: Vec<String>,
}

/// The plugin folders: the configuration's `plugin_dirs` first, then `PICDAY_PLUGIN_PATH`.
pub fn plugin_dirs(config_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = config_dirs.to_vec();
    if let Some(path) = std::env::var_os(PLUGIN_PATH_ENV) {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs
}

/// Finds the plugins in `config_dirs` and `PICDAY_PLUGIN_PATH`, says hello to each, and
/// registers them. A built-in type keeps its name; among plugins, the first folder wins.
pub fn discover(registry: &mut Registry, config_dirs: &[PathBuf]) -> Discovery {
    discover_in(registry, &plugin_dirs(config_dirs), DEFAULT_TIMEOUT)
}

/// [`discover`] over exactly these folders, with this handshake timeout.
pub fn discover_in(registry: &mut Registry, dirs: &[PathBuf], timeout: Duration) -> Discovery {
    let mut out = Discovery::default();
    let mut seen = BTreeSet::new();
    for candidate in dirs.iter().flat_map(|d| scan(d)) {
        if registry.get(&candidate.name).is_some() {
            let why = if seen.contains(&candidate.name) {
                "an earlier plugin folder has one"
            } else {
                "a built-in target has that name"
            };
            out.skipped.push(format!(
                "{}: ignored, {why} (`{}`)",
                candidate.path.display(),
                candidate.name
            ));
            continue;
        }
        let factory = PluginFactory::load(candidate.clone(), timeout);
        if let Err(e) = &factory.hello {
            tracing::warn!("{e}");
        }
        seen.insert(candidate.name.clone());
        out.registered
            .push((candidate.name.clone(), candidate.path.clone()));
        registry.register(Arc::new(factory));
    }
    out
}

/// The plugin files of one folder, sorted by name. A missing folder has none.
pub fn scan(dir: &Path) -> Vec<Candidate> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Candidate> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let (name, kind) = classify(&file)?;
            if kind == Kind::Exec && !is_executable(&e.path()) {
                return None;
            }
            Some(Candidate {
                name,
                path: e.path(),
                kind,
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// The type name and kind a file name promises, if it is a plugin's.
pub fn classify(file: &str) -> Option<(String, Kind)> {
    let valid = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    if let Some(rest) = file.strip_prefix("picday-plugin-") {
        let name = if cfg!(windows) {
            rest.strip_suffix(".exe")?
        } else {
            rest
        };
        return valid(name).then(|| (name.to_string(), Kind::Exec));
    }
    let (prefix, suffix) = if cfg!(windows) {
        ("picday_plugin_", ".dll")
    } else if cfg!(target_os = "macos") {
        ("libpicday_plugin_", ".dylib")
    } else {
        ("libpicday_plugin_", ".so")
    };
    let name = file.strip_prefix(prefix)?.strip_suffix(suffix)?;
    // Cargo library names use `_`; type names read better with `-`.
    valid(name).then(|| (name.replace('_', "-"), Kind::Library))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

/// A discovered plugin as a target type.
#[derive(Debug)]
pub struct PluginFactory {
    candidate: Candidate,
    /// The handshake's answer, or why the plugin cannot be used.
    hello: std::result::Result<HelloOk, String>,
    timeout: Duration,
}

impl PluginFactory {
    /// Says hello to a plugin file (starting it, or loading it, once).
    pub fn load(candidate: Candidate, timeout: Duration) -> Self {
        let hello = match candidate.kind {
            Kind::Exec => exec::hello(&candidate, timeout),
            Kind::Library => dylib::hello(&candidate),
        }
        .map_err(|e| e.message().to_string());
        PluginFactory {
            candidate,
            hello,
            timeout,
        }
    }

    /// The handshake's answer, or why the plugin cannot be used.
    pub fn hello(&self) -> std::result::Result<&HelloOk, &str> {
        self.hello.as_ref().map_err(String::as_str)
    }
}

impl TargetFactory for PluginFactory {
    fn info(&self) -> TypeInfo {
        let source = format!(
            "{} plugin {}",
            self.candidate.kind.as_str(),
            self.candidate.path.display()
        );
        match &self.hello {
            Ok(h) => TypeInfo {
                name: self.candidate.name.clone(),
                aliases: Vec::new(),
                summary: h.summary.clone(),
                source,
                version: h.version.clone(),
                options: h
                    .options
                    .iter()
                    .map(|o| OptionDoc {
                        name: o.name.clone(),
                        required: o.required,
                        default: o.default.clone(),
                        help: if o.secret {
                            format!(
                                "{} (a secret: {{ env = \"..\" }} or {{ file = \"..\" }})",
                                o.help
                            )
                        } else {
                            o.help.clone()
                        },
                    })
                    .chain(std::iter::once(OptionDoc::optional(
                        "plugin_timeout",
                        &DEFAULT_TIMEOUT.as_secs().to_string(),
                        "seconds picday waits for an answer before giving up on the plugin",
                    )))
                    .collect(),
                // The plugin checks its own options when it describes a target.
                accepted: None,
            },
            Err(e) => TypeInfo {
                name: self.candidate.name.clone(),
                aliases: Vec::new(),
                summary: format!("UNUSABLE: {e}"),
                source,
                version: "?".into(),
                options: Vec::new(),
                accepted: None,
            },
        }
    }

    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let hello = match &self.hello {
            Ok(h) => h,
            Err(e) => {
                return Ok(Arc::new(FailedTarget::new(
                    spec,
                    Error::protocol(e.clone()),
                )));
            }
        };
        target::build(&self.candidate, hello, spec, self.timeout)
    }
}

/// "plugin `webhook` (/path/picday-plugin-webhook)", the way every plugin failure starts.
pub(crate) fn label(candidate: &Candidate) -> String {
    format!("plugin `{}` ({})", candidate.name, candidate.path.display())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_kind_and_type() {
        assert_eq!(
            classify(if cfg!(windows) {
                "picday-plugin-webhook.exe"
            } else {
                "picday-plugin-webhook"
            }),
            Some(("webhook".into(), Kind::Exec))
        );
        let lib = if cfg!(windows) {
            "picday_plugin_photo_share.dll"
        } else if cfg!(target_os = "macos") {
            "libpicday_plugin_photo_share.dylib"
        } else {
            "libpicday_plugin_photo_share.so"
        };
        assert_eq!(classify(lib), Some(("photo-share".into(), Kind::Library)));
        // Cargo's side files and other things in a build folder are not plugins.
        assert_eq!(classify("picday-plugin-webhook.d"), None);
        assert_eq!(classify("libpicday_plugin_share.rlib"), None);
        assert_eq!(classify("picday"), None);
        assert_eq!(classify("picday-plugin-"), None);
    }

    #[test]
    fn a_missing_plugin_folder_has_no_plugins() {
        assert!(scan(Path::new("/nonexistent/picday/plugins")).is_empty());
    }
}
