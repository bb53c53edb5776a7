//! `picday init`: a commented configuration and a sample mapping to start from.

use std::path::Path;

use anyhow::Context;

use crate::exit::{Outcome, usage};

const CONFIG: &str = r#"# picday configuration. Docs: docs/configuration.md
# Paths are relative to this file. Secrets are given as { env = "VAR" } or { file = "path" }.

[source]
# The mapping: a CSV with a header row. `path` is the photo (relative to the CSV); every other
# column (mail, student_id, ...) can be used in the targets' key templates as {column}.
mapping = "photos.csv"

[photo]
# Where the crop sits: "face" (default: the face at a standard place, head and shoulders),
# "top" or "center". Photos where no single face is found are cropped from the top and flagged.
# crop = "face"
# JPEG quality for targets that do not set their own.
# quality = 85

[run]
# Reports are written here, one folder per push.
# report_dir = "reports"

# A folder of square photos named by mail: the simplest target, good for a first try.
[targets.folder]
type = "folder"
dir = "out"
file_name = "{mail}.jpg"
# size = 648

# Entra ID / Microsoft 365 (see `picday targets` and docs/targets/entra.md):
# [targets.entra]
# type = "entra"
# user = "{mail}"
# tenant_id = "00000000-0000-0000-0000-000000000000"
# client_id = "00000000-0000-0000-0000-000000000000"
# client_secret = { env = "PICDAY_ENTRA_SECRET" }
"#;

const MAPPING: &str =
    "path,mail,student_id\nphotos/0100200.jpg,student100200@school.example,0100200\n";

pub fn run(dir: &Path) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let config = dir.join("picday.toml");
    let mapping = dir.join("photos.csv");
    for path in [&config, &mapping] {
        if path.exists() {
            return Err(usage(format_args!(
                "{} already exists; picday init never overwrites a file",
                path.display()
            )));
        }
    }
    std::fs::write(&config, CONFIG).with_context(|| format!("writing {}", config.display()))?;
    std::fs::write(&mapping, MAPPING).with_context(|| format!("writing {}", mapping.display()))?;
    say!("wrote {} and {}", config.display(), mapping.display());
    say!("next: put your photos beside the mapping, list them in it, then run `picday check`");
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_written_config_parses() {
        let c =
            picday_core::Config::parse(std::path::Path::new("picday.toml"), super::CONFIG.into())
                .expect("init's config must parse");
        assert_eq!(c.targets.len(), 1);
        let registry = crate::registry::builtin();
        registry
            .build(&c.targets[0])
            .expect("init's folder target must build");
    }
}
