//! `picday targets`: the target types this build knows and their options, from the registry's
//! own metadata, so the list can never drift from the code.

use crate::Outcome;

pub fn run(config: &std::path::Path, json: bool) -> anyhow::Result<Outcome> {
    // Plugin folders come from the configuration when there is one, and PICDAY_PLUGIN_PATH.
    let dirs = picday_core::Config::load(config)
        .map(|c| c.plugin_dirs)
        .unwrap_or_default();
    let types = crate::registry::with_plugins(&dirs).types();
    if json {
        println!("{}", serde_json::to_string_pretty(&types)?);
        return Ok(Outcome::Ok);
    }
    for t in types {
        let aliases = if t.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also: {})", t.aliases.join(", "))
        };
        println!("{}{aliases}  [{} {}]", t.name, t.source, t.version);
        println!("  {}", t.summary);
        for o in &t.options {
            let req = if o.required {
                "required".to_string()
            } else {
                format!("default {}", o.default.as_deref().unwrap_or("none"))
            };
            println!("    {:<22} {} ({req})", o.name, o.help);
        }
        println!();
    }
    Ok(Outcome::Ok)
}
