//! The registry: from a configuration's `type = "..."` to a running target.
//!
//! Registration is explicit (each target crate exports a `register` function that the CLI
//! calls), so there is no link-time magic and plugins discovered at run time
//! register the same way. An unknown type is an error that lists the known ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::config::TargetSpec;
use crate::error::{Error, Result};
use crate::options::OptionSet;
use crate::target::Target;

/// One documented option of a target type, for `picday targets` and the docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionDoc {
    pub name: String,
    pub required: bool,
    /// The default, as it would be written in TOML.
    pub default: Option<String>,
    pub help: String,
}

impl OptionDoc {
    pub fn required(name: &str, help: &str) -> Self {
        OptionDoc {
            name: name.into(),
            required: true,
            default: None,
            help: help.into(),
        }
    }
    pub fn optional(name: &str, default: &str, help: &str) -> Self {
        OptionDoc {
            name: name.into(),
            required: false,
            default: Some(default.into()),
            help: help.into(),
        }
    }
}

/// Describes a target type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// "built-in", or where a plugin was found.
    pub source: String,
    pub version: String,
    pub options: Vec<OptionDoc>,
    /// Every key the type accepts, when picday can know it (built-in types, from their
    /// [`OptionSet`]); a test checks it against `options`. Plugins declare only `options`.
    #[serde(skip)]
    pub accepted: Option<Vec<String>>,
}

impl TypeInfo {
    /// A type built into picday, its options from one declaration.
    pub fn builtin(name: &str, aliases: &[&str], summary: &str, options: &OptionSet) -> Self {
        TypeInfo {
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            summary: summary.into(),
            source: "built-in".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            options: options.docs(),
            accepted: Some(options.accepted()),
        }
    }

    /// Options documented but not accepted, and accepted but not documented; both empty
    /// when the docs tell the truth (always, for a type without [`TypeInfo::accepted`]).
    pub fn undocumented_and_unaccepted(&self) -> (Vec<String>, Vec<String>) {
        let Some(accepted) = &self.accepted else {
            return (Vec::new(), Vec::new());
        };
        let documented: Vec<&String> = self.options.iter().map(|o| &o.name).collect();
        let undocumented = accepted
            .iter()
            .filter(|a| !documented.contains(a))
            .cloned()
            .collect();
        let unaccepted = documented
            .into_iter()
            .filter(|d| !accepted.contains(d))
            .cloned()
            .collect();
        (undocumented, unaccepted)
    }
}

/// Builds targets of one type from their configuration section.
pub trait TargetFactory: Send + Sync + std::fmt::Debug {
    fn info(&self) -> TypeInfo;
    fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>>;
}

/// The known target types.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    factories: BTreeMap<String, Arc<dyn TargetFactory>>,
    aliases: BTreeMap<String, String>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a type; a later registration of the same name replaces the earlier one.
    pub fn register(&mut self, factory: Arc<dyn TargetFactory>) {
        let info = factory.info();
        for alias in &info.aliases {
            self.aliases.insert(alias.clone(), info.name.clone());
        }
        self.factories.insert(info.name, factory);
    }

    /// The factory for a type name or alias.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn TargetFactory>> {
        let name = self
            .aliases
            .get(type_name)
            .map(String::as_str)
            .unwrap_or(type_name);
        self.factories.get(name)
    }

    /// Every registered type, sorted by name.
    pub fn types(&self) -> Vec<TypeInfo> {
        self.factories.values().map(|f| f.info()).collect()
    }

    /// Builds the target of one configuration section.
    pub fn build(&self, spec: &TargetSpec) -> Result<Arc<dyn Target>> {
        let factory = self.get(&spec.type_name).ok_or_else(|| {
            let known: Vec<&str> = self.factories.keys().map(String::as_str).collect();
            Error::config(format!(
                "[targets.{}]: unknown type `{}`; known types: {}",
                spec.name,
                spec.type_name,
                known.join(", ")
            ))
        })?;
        factory.build(spec)
    }
}
