//! Builds the plugins the tests load: the two examples (with cargo, in a target folder of their
//! own so that the `cargo test` running us, which holds its own build folder, is not waited
//! for) and the misbehaving ones (with rustc alone). Each is built once per test binary.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use picday_core::{Registry, Target, TargetSpec};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// The folder holding `picday-plugin-webhook` and `libpicday_plugin_share.so` (or the
/// platform's names), built from the workspace.
pub fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target_dir = tmp().join("plugin-examples");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "picday-plugin-webhook",
                "-p",
                "picday-plugin-share",
            ])
            .arg("--manifest-path")
            .arg(workspace().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example plugins failed");
        target_dir.join("debug")
    })
}

/// A folder with the misbehaving plugins: executables `oldproto`, `crashy`, `sleepy`,
/// `babble`, and libraries `future` (ABI 99) and `small` (table too small).
pub fn misbehaving_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp().join(format!("misbehaving-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/misbehaving");
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let exe = |name: &str| format!("picday-plugin-{name}{}", std::env::consts::EXE_SUFFIX);
        let built = dir.join(exe("oldproto"));
        let ok = Command::new(&rustc)
            .args(["--edition", "2024", "-O", "-o"])
            .arg(&built)
            .arg(src.join("exec.rs"))
            .status()
            .expect("rustc runs")
            .success();
        assert!(ok, "building the misbehaving executable failed");
        for name in ["crashy", "sleepy", "babble"] {
            std::fs::copy(&built, dir.join(exe(name))).unwrap();
        }
        let lib = |name: &str| {
            format!(
                "{}picday_plugin_{name}{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            )
        };
        for (name, cfg) in [("future", Some("future")), ("small", None)] {
            let mut cmd = Command::new(&rustc);
            cmd.args(["--edition", "2024", "--crate-type", "cdylib", "-o"])
                .arg(dir.join(lib(name)))
                .arg(src.join("abi.rs"));
            if let Some(cfg) = cfg {
                cmd.args(["--cfg", cfg]);
            }
            assert!(cmd.status().expect("rustc runs").success());
        }
        dir
    })
}

/// A registry with the built-in-free plugins of `dirs`.
pub fn registry(dirs: &[&Path]) -> Registry {
    let mut registry = Registry::new();
    let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    picday_plugin::discover_in(&mut registry, &dirs, Duration::from_secs(10));
    registry
}

/// Builds a target from inline TOML options.
pub fn build(registry: &Registry, name: &str, type_name: &str, toml: &str) -> Arc<dyn Target> {
    let options: toml::Table = toml::from_str(toml).unwrap();
    let spec = TargetSpec::new(name, type_name, options, &std::env::temp_dir());
    registry.build(&spec).unwrap()
}
