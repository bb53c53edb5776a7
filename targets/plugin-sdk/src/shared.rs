//! The options a plugin shares with picday's own targets, declared, documented and checked
//! once: the key template, the photo's size (`size`, or `width` and `height`), `quality`,
//! `max_bytes` and `max_concurrency`.
//!
//! A plugin declares which of them it takes in a [`SharedOptions`], lists
//! [`SharedOptions::specs`] among its options, and in `configure` calls
//! [`Config::take_shared`](crate::Config::take_shared): it gets the checked values and the
//! rest of the options, to parse into its own `deny_unknown_fields` struct. The checks and
//! messages are those of picday's built-in targets (sizes 16 to 4096, quality 1 to 100).

use crate::protocol::{OptionSpec, ProfileMsg};
use crate::{Config, PluginError};

/// Which keys give the photo's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoShape {
    /// `size` alone: square photos.
    Square,
    /// `width` and `height`: any shape.
    Sized,
}

/// The shared options a plugin takes, with its defaults.
#[derive(Debug, Clone)]
pub struct SharedOptions {
    /// The key template option: its name, default template and help.
    pub key: (&'static str, &'static str, &'static str),
    /// The photo's shape keys and the default width and height.
    pub photo: (PhotoShape, (u32, u32)),
    /// `max_concurrency`: default, largest value and what it counts; `None` to leave it out.
    pub concurrency: Option<(usize, usize, &'static str)>,
}

/// The shared options, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// The key template.
    pub key: String,
    /// The photo the plugin wants.
    pub profile: ProfileMsg,
    /// Requests at once (the declared default when the plugin takes no `max_concurrency`).
    pub max_concurrency: usize,
}

const SIZES: std::ops::RangeInclusive<u32> = 16..=4096;

impl SharedOptions {
    /// The documentation of the shared options, for [`Info::options`](crate::Info::options).
    pub fn specs(&self) -> Vec<OptionSpec> {
        let (name, default, help) = self.key;
        let mut specs = vec![OptionSpec::optional(name, &format!("\"{default}\""), help)];
        let (shape, (w, h)) = self.photo;
        match shape {
            PhotoShape::Square => specs.push(OptionSpec::optional(
                "size",
                &w.to_string(),
                "width and height of the square photo (16-4096)",
            )),
            PhotoShape::Sized => {
                specs.push(OptionSpec::optional(
                    "width",
                    &w.to_string(),
                    "photo width (16-4096)",
                ));
                specs.push(OptionSpec::optional(
                    "height",
                    &h.to_string(),
                    "photo height (16-4096)",
                ));
            }
        }
        specs.push(OptionSpec::optional(
            "quality",
            "[photo] quality",
            "JPEG quality, 1-100",
        ));
        specs.push(OptionSpec::optional(
            "max_bytes",
            "none",
            "largest photo in bytes; picday lowers the quality to fit",
        ));
        if let Some((default, max, help)) = self.concurrency {
            specs.push(OptionSpec::optional(
                "max_concurrency",
                &default.to_string(),
                &format!("{help} (1-{max})"),
            ));
        }
        specs
    }
}

impl Config {
    /// Takes the shared options `decl` declares out of the options and checks them; returns
    /// them with the configuration of the plugin's own options.
    pub fn take_shared(&self, decl: &SharedOptions) -> Result<(Shared, Config), PluginError> {
        let mut rest = self.clone();
        let bad = |msg: String| PluginError::config(format!("[targets.{}]: {msg}", self.target));
        let mut number = |key: &str| -> Result<Option<u64>, PluginError> {
            match rest.options.remove(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| bad(format!("`{key}` must be a whole number, not {v}"))),
            }
        };
        let (shape, (mut width, mut height)) = decl.photo;
        let sizes: &[&str] = match shape {
            PhotoShape::Square => &["size"],
            PhotoShape::Sized => &["width", "height"],
        };
        for &key in sizes {
            if let Some(v) = number(key)? {
                let v = u32::try_from(v)
                    .ok()
                    .filter(|v| SIZES.contains(v))
                    .ok_or_else(|| bad(format!("`{key}` {v} must be between 16 and 4096")))?;
                match key {
                    "size" => (width, height) = (v, v),
                    "width" => width = v,
                    _ => height = v,
                }
            }
        }
        let quality = match number("quality")? {
            None => self.quality,
            Some(q @ 1..=100) => q as u8,
            Some(q) => return Err(bad(format!("`quality` {q} must be between 1 and 100"))),
        };
        let max_bytes = number("max_bytes")?.map(|b| b as usize);
        let max_concurrency = match decl.concurrency {
            None => 1,
            Some((default, max, _)) => match number("max_concurrency")? {
                None => default,
                Some(n) if (1..=max as u64).contains(&n) => n as usize,
                Some(n) => {
                    return Err(bad(format!(
                        "`max_concurrency` {n} must be between 1 and {max}"
                    )));
                }
            },
        };
        let (name, default, _) = decl.key;
        let key = match rest.options.remove(name) {
            None => default.to_string(),
            Some(serde_json::Value::String(s)) => s,
            Some(v) => return Err(bad(format!("`{name}` must be a template string, not {v}"))),
        };
        let mut profile = ProfileMsg::jpeg(width, height, quality);
        profile.max_bytes = max_bytes;
        let shared = Shared {
            key,
            profile,
            max_concurrency,
        };
        Ok((shared, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(options: serde_json::Value) -> Config {
        Config {
            target: "t".into(),
            options: options.as_object().cloned().unwrap_or_default(),
            base_dir: ".".into(),
            quality: 85,
        }
    }

    const DECL: SharedOptions = SharedOptions {
        key: ("key", "{mail}", "the person's key"),
        photo: (PhotoShape::Sized, (400, 500)),
        concurrency: Some((4, 16, "deliveries at once")),
    };

    #[test]
    fn shared_options_are_taken_out_and_checked() {
        let c = config(
            serde_json::json!({"dir": "out", "width": 300, "key": "{id}", "max_concurrency": 2}),
        );
        let (shared, rest) = c.take_shared(&DECL).expect("valid");
        assert_eq!(shared.key, "{id}");
        assert_eq!((shared.profile.width, shared.profile.height), (300, 500));
        assert_eq!(shared.profile.quality, 85);
        assert_eq!(shared.max_concurrency, 2);
        assert_eq!(rest.options.keys().collect::<Vec<_>>(), ["dir"]);

        let (shared, _) = config(serde_json::json!({}))
            .take_shared(&DECL)
            .expect("defaults");
        assert_eq!(shared.key, "{mail}");
        assert_eq!(shared.max_concurrency, 4);
    }

    #[test]
    fn out_of_range_and_wrong_types_name_the_key() {
        for (options, key) in [
            (serde_json::json!({"width": 8}), "`width`"),
            (serde_json::json!({"quality": 0}), "`quality`"),
            (
                serde_json::json!({"max_concurrency": 17}),
                "`max_concurrency`",
            ),
            (serde_json::json!({"height": "tall"}), "`height`"),
            (serde_json::json!({"key": 3}), "`key`"),
        ] {
            let e = config(options).take_shared(&DECL).expect_err("refused");
            assert!(e.message.contains(key), "{}", e.message);
        }
        // `size` is not a key of a Sized plugin: it stays for the plugin's own parse to refuse.
        let (_, rest) = config(serde_json::json!({"size": 96}))
            .take_shared(&DECL)
            .expect("kept");
        assert!(rest.options.contains_key("size"));
    }

    #[test]
    fn specs_document_exactly_the_keys_taken() {
        let names: Vec<String> = DECL.specs().into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "key",
                "width",
                "height",
                "quality",
                "max_bytes",
                "max_concurrency"
            ]
        );
    }
}
