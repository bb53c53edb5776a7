//! `picday targets`: the target types this build knows and their options, from the registry's
//! own metadata, so the list can never drift from the code. `--markdown` prints the same
//! declaration as the option tables of `docs/targets/`, and a test keeps those pages equal to
//! it.

use picday_core::registry::TypeInfo;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print each type's options as the Markdown table the docs carry.
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(config: &std::path::Path, args: Args, json: bool) -> anyhow::Result<Outcome> {
    // Plugin folders come from the configuration when there is one, and PICDAY_PLUGIN_PATH.
    let dirs = picday_core::Config::load(config)
        .map(|c| c.plugin_dirs)
        .unwrap_or_default();
    let types = crate::registry::with_plugins(&dirs).types();
    if json {
        say!("{}", serde_json::to_string_pretty(&types)?);
        return Ok(Outcome::Ok);
    }
    if args.markdown {
        for t in &types {
            say!("### `{}`\n\n{}", t.name, markdown(t));
        }
        return Ok(Outcome::Ok);
    }
    for t in types {
        let aliases = if t.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also: {})", t.aliases.join(", "))
        };
        say!("{}{aliases}  [{} {}]", t.name, t.source, t.version);
        say!("  {}", t.summary);
        for o in &t.options {
            let req = if o.required {
                "required".to_string()
            } else {
                format!("default {}", o.default.as_deref().unwrap_or("none"))
            };
            say!("    {:<22} {} ({req})", o.name, o.help);
        }
        say!();
    }
    Ok(Outcome::Ok)
}

/// A type's options as a Markdown table: option, default, meaning.
pub fn markdown(t: &TypeInfo) -> String {
    let mut out = String::from("| Option | Default | Meaning |\n|---|---|---|\n");
    for o in &t.options {
        let default = if o.required {
            "required".to_string()
        } else {
            format!("`{}`", o.default.as_deref().unwrap_or("none"))
        };
        let help = o.help.replace('|', "\\|");
        out.push_str(&format!("| `{}` | {default} | {help} |\n", o.name));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn every_documented_option_is_accepted_and_every_accepted_one_documented() {
        for t in crate::registry::builtin().types() {
            let (undocumented, unaccepted) = t.undocumented_and_unaccepted();
            assert!(
                undocumented.is_empty(),
                "{}: accepted but not documented: {undocumented:?}",
                t.name
            );
            assert!(
                unaccepted.is_empty(),
                "{}: documented but not accepted: {unaccepted:?}",
                t.name
            );
            assert!(
                t.accepted.is_some(),
                "{}: built-in without accepted keys",
                t.name
            );
        }
    }

    /// The page of `docs/targets/` that documents a type.
    fn page_of(type_name: &str) -> &'static str {
        match type_name {
            "folder" => "folder.md",
            "entra" => "entra.md",
            "google" => "google.md",
            "ldap" => "ldap.md",
            "powerschool" | "infinite-campus" | "aeries" => "sis.md",
            other => panic!("a new built-in type `{other}`: name its docs page here"),
        }
    }

    /// Each built-in type's docs page holds its option table exactly as `picday targets
    /// --markdown` prints it, between `<!-- options:TYPE -->` and `<!-- /options:TYPE -->`.
    /// `PICDAY_BLESS=1 cargo test -p picday` rewrites the tables after an option changes.
    #[test]
    fn the_docs_show_each_types_options_as_declared() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/targets");
        let bless = std::env::var_os("PICDAY_BLESS").is_some();
        for t in crate::registry::builtin().types() {
            let path = docs.join(page_of(&t.name));
            let text = std::fs::read_to_string(&path).unwrap();
            let (open, close) = (
                format!("<!-- options:{} -->\n", t.name),
                format!("<!-- /options:{} -->", t.name),
            );
            let start = text
                .find(&open)
                .unwrap_or_else(|| panic!("{} has no {open:?} marker", path.display()))
                + open.len();
            let end = start
                + text[start..]
                    .find(&close)
                    .unwrap_or_else(|| panic!("{} has no {close:?} marker", path.display()));
            let want = markdown(&t);
            if bless {
                let new = format!("{}{want}{}", &text[..start], &text[end..]);
                std::fs::write(&path, new).unwrap();
            } else {
                assert_eq!(
                    text[start..end],
                    want,
                    "{}: the option table of `{}` differs from the code \
                     (PICDAY_BLESS=1 cargo test -p picday rewrites it)",
                    path.display(),
                    t.name
                );
            }
        }
    }
}
