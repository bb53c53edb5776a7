//! The target types this build of picday knows: one `register` call per target crate.
//!
//! Adding a built-in target is one line here (and one dependency in `cli/Cargo.toml`), plus its
//! docs page with the generated option table (`page_of` in `commands/targets.rs` names it);
//! core is never touched.

use picday_core::Registry;

/// Every built-in target type.
pub fn builtin() -> Registry {
    let mut registry = Registry::new();
    picday_target_folder::register(&mut registry);
    picday_target_sis::register(&mut registry);
    picday_target_entra::register(&mut registry);
    picday_target_ldap::register(&mut registry);
    picday_target_google::register(&mut registry);
    registry
}

/// The built-in types plus the plugins found in `plugin_dirs` (from the configuration) and
/// `PICDAY_PLUGIN_PATH` (see docs/adding-a-target.md).
pub fn with_plugins(plugin_dirs: &[std::path::PathBuf]) -> Registry {
    let mut registry = builtin();
    for skipped in picday_plugin::discover(&mut registry, plugin_dirs).skipped {
        tracing::warn!("{skipped}");
    }
    registry
}
