//! What every command does first: load the configuration, build the enabled targets and read
//! the people. Failures here happen before anything is sent, so they are usage errors (exit 2).

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use picday_core::source::{self, Input, KeyFields};
use picday_core::{Config, Target, Template};

use crate::UsageError;

/// A loaded configuration with its targets built.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// (configured name, target), in configuration order, enabled ones only.
    pub targets: Vec<(String, Arc<dyn Target>)>,
}

/// Loads the configuration and builds the enabled targets (or only those named).
pub fn load(path: &Path, only_targets: &[String]) -> anyhow::Result<Loaded> {
    let config = Config::load(path).map_err(|e| {
        let hint = if !path.exists() {
            " (run `picday init` to write one, or pass --config)"
        } else {
            ""
        };
        UsageError(anyhow!("{e}{hint}"))
    })?;
    for name in only_targets {
        if !config.targets.iter().any(|t| &t.name == name) {
            let known: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
            return Err(UsageError(anyhow!(
                "--target {name}: no [targets.{name}] in {}; configured: {}",
                path.display(),
                known.join(", ")
            ))
            .into());
        }
    }
    let registry = crate::registry::with_plugins(&config.plugin_dirs);
    let mut targets = Vec::new();
    for spec in &config.targets {
        let chosen = if only_targets.is_empty() {
            spec.enabled
        } else {
            only_targets.contains(&spec.name)
        };
        if !chosen {
            continue;
        }
        let target = registry
            .build(spec)
            .map_err(|e| UsageError(anyhow!("{e}")))?;
        targets.push((spec.name.clone(), target));
    }
    if targets.is_empty() {
        return Err(UsageError(anyhow!(
            "no enabled target in {}: add a [targets.NAME] section (see `picday targets`)",
            path.display()
        ))
        .into());
    }
    Ok(Loaded { config, targets })
}

impl Loaded {
    /// The mapping fields the targets' key templates use, target by target.
    pub fn key_fields(&self) -> KeyFields {
        let fields = |t: &Template| t.fields().map(str::to_string).collect::<Vec<_>>();
        let mut keys = KeyFields::default();
        for (_, t) in &self.targets {
            let info = t.info();
            let others = info.other_keys.iter().map(fields).collect();
            keys.add(fields(&info.key), others);
        }
        keys
    }

    /// Reads the people, once, with what the source has to say about how it was read.
    pub fn input(&self) -> anyhow::Result<Input> {
        source::load(
            &self.config.source,
            &self.config.base_dir,
            &self.key_fields(),
        )
        .map_err(|e| UsageError(anyhow!("{e}")).into())
    }
}
