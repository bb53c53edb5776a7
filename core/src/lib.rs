//! picday's core: the model, the sources people come from, the photo pipeline, the [`Target`] trait, the registry, the layers
//! and the engine that fans each normalised photo out to every target.
//!
//! Target crates depend on this crate only; the CLI ties everything together. Nothing here
//! knows about a particular service.

pub mod config;
pub mod engine;
pub mod error;
pub mod files;
pub mod layers;
pub mod memory;
pub mod model;
pub mod options;
pub mod pipeline;
pub mod registry;
pub mod review;
pub mod secret;
pub mod source;
pub mod state;
pub mod target;

pub use config::{Config, PhotoConfig, PhotoLimits, PhotoOptions, TargetSpec};
pub use engine::{Engine, Observer, Outcome, RunSummary, RunTarget, Status};
pub use error::{Error, ErrorKind, Result};
pub use memory::MemoryTarget;
pub use model::{Format, Origin, Person, Photo, Profile, Subject, Template};
pub use options::{ConcurrencyOption, KeyOption, OptionSet, PhotoOption, Shape, Shared};
pub use registry::{OptionDoc, Registry, TargetFactory, TypeInfo};
pub use secret::{Secret, SecretSource};
pub use target::{
    Capabilities, CheckReport, PhotoInfo, Receipt, RetryPolicy, Target, TargetInfo, TargetIo,
    ensure_profile, shared_places,
};
