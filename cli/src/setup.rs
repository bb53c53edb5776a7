//! What every command does first: load the configuration, build the enabled targets and read
//! the people. Failures here happen before anything is sent, so they are usage errors (exit 2).

use std::path::Path;
use std::sync::Arc;

use picday_core::source::{self, Input, KeyFields};
use picday_core::state::{RunRecord, State};
use picday_core::{Config, Target};

use crate::exit::usage;

/// A loaded configuration with its targets built.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// (configured name, target), in configuration order, enabled ones only.
    pub targets: Vec<(String, Arc<dyn Target>)>,
}

/// Loads the configuration; a missing or invalid file is a usage error (with a hint when the
/// file does not exist).
pub fn config(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| {
        let hint = if !path.exists() {
            " (run `picday init` to write one, or pass --config)"
        } else {
            ""
        };
        usage(format_args!("{e}{hint}"))
    })
}

/// The state beside the configuration, which the command needs: none yet is a usage error
/// ("nothing has been pushed with this configuration").
pub fn existing_state(config: &Config) -> anyhow::Result<Arc<State>> {
    State::open_existing(&config.base_dir)?
        .map(Arc::new)
        .ok_or_else(|| {
            usage(format_args!(
                "no state beside {}: nothing has been pushed with this configuration",
                config.path.display()
            ))
        })
}

/// A run the state recorded; an unknown id is a usage error naming the recent runs.
pub fn recorded_run(state: &State, id: &str) -> anyhow::Result<RunRecord> {
    if let Some(run) = state.run(id)? {
        return Ok(run);
    }
    let known: Vec<String> = state.runs(5)?.into_iter().map(|r| r.id).collect();
    let known = if known.is_empty() {
        "none".into()
    } else {
        known.join(", ")
    };
    Err(usage(format_args!(
        "no run {id} in {}; recent runs: {known} (see `picday status`)",
        state.path().display()
    )))
}

/// Loads the configuration and builds the enabled targets (or only those named).
pub fn load(path: &Path, only_targets: &[String]) -> anyhow::Result<Loaded> {
    let config = config(path)?;
    for name in only_targets {
        if !config.targets.iter().any(|t| &t.name == name) {
            let known: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
            return Err(usage(format_args!(
                "--target {name}: no [targets.{name}] in {}; configured: {}",
                path.display(),
                known.join(", ")
            )));
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
        let target = registry.build(spec).map_err(usage)?;
        targets.push((spec.name.clone(), target));
    }
    if targets.is_empty() {
        return Err(usage(format_args!(
            "no enabled target in {}: add a [targets.NAME] section (see `picday targets`)",
            path.display()
        )));
    }
    // Two targets writing one place would overwrite each other's photos while both report
    // them sent: refused before anything is read or sent.
    if let Some((first, second, place)) =
        picday_core::shared_places(targets.iter().map(|(_, t)| t.info()))
            .into_iter()
            .next()
    {
        return Err(usage(format_args!(
            "{}: [targets.{first}] and [targets.{second}] both write to {place}, so one could overwrite the other's photos; give each its own `dir` (or `package`), side by side rather than one inside the other",
            path.display()
        )));
    }
    Ok(Loaded { config, targets })
}

impl Loaded {
    /// The mapping fields the targets' key templates use, target by target.
    pub fn key_fields(&self) -> KeyFields {
        let mut keys = KeyFields::default();
        for (_, t) in &self.targets {
            keys.add_target(t.info());
        }
        keys
    }

    /// Reads the people, once, with what the source has to say about how it was read.
    /// With `[source] opt_out`, a template column the mapping does not have is a usage error
    /// (a misspelt column would make nobody opted out), and rows whose value is neither yes
    /// nor no are left out with advice.
    pub fn input(&self) -> anyhow::Result<Input> {
        let mut input = source::load(
            &self.config.source,
            &self.config.base_dir,
            &self.key_fields(),
        )
        .map_err(usage)?;
        if let Some(template) = &self.config.source.opt_out {
            let opt_out = source::OptOut::new(template.clone());
            let missing = opt_out.missing_columns(&input.mapping.people);
            if !missing.is_empty() {
                return Err(usage(format_args!(
                    "{}: [source] opt_out = \"{}\" reads the column(s) {}, which no row of the mapping has",
                    self.config.path.display(),
                    template.as_str(),
                    missing.join(", ")
                )));
            }
            opt_out.screen(&mut input.mapping);
        }
        tracing::info!(
            "{} people loaded from the source of {}, {} rows left out",
            input.mapping.people.len(),
            self.config.path.display(),
            input.mapping.problems.len()
        );
        Ok(input)
    }
}
