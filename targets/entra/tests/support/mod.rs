//! Helpers shared by the Entra tests.

#![allow(dead_code)]

pub mod fake_graph;
pub mod journal;

use std::path::{Path, PathBuf};

use picday_core::TargetSpec;
use picday_target_entra::EntraTarget;

pub const TENANT: &str = "contoso-tenant";
pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
pub const SECRET: &str = "s3cret~value";

/// `tests/fixtures` of this crate.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A spec for an `entra` section: tenant, client, the two URLs, then `extra` TOML lines.
/// Without a credential line in `extra`, a client secret is used.
pub fn spec_in(dir: &Path, login: &str, graph: &str, extra: &[&str]) -> TargetSpec {
    let mut text = format!(
        "tenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nlogin_url = \"{login}\"\ngraph_url = \"{graph}\"\n"
    );
    let has_credential = extra.iter().any(|l| {
        l.starts_with("certificate") || l.starts_with("auth") || l.starts_with("client_secret")
    });
    if !has_credential {
        text.push_str(&format!("client_secret = \"{SECRET}\"\n"));
    }
    for line in extra {
        text.push_str(line);
        text.push('\n');
    }
    let table: toml::Table = toml::from_str(&text).expect("test TOML");
    TargetSpec::new("entra", "entra", table, dir)
}

/// A spec whose relative paths resolve in `tests/fixtures`.
pub fn spec(login: &str, graph: &str, extra: &[&str]) -> TargetSpec {
    spec_in(&fixtures(), login, graph, extra)
}

/// A target built the way the CLI builds it.
pub fn target(login: &str, graph: &str, extra: &[&str]) -> EntraTarget {
    EntraTarget::from_spec(&spec(login, graph, extra)).expect("valid entra spec")
}
