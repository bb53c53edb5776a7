//! The options every target type may take, declared, parsed and documented once.
//!
//! Most targets take the same few options: the output size (`size`, or `width` and `height`),
//! `quality`, a byte budget (`max_bytes`), how many requests at once (`max_concurrency`) and
//! the template that keys a person (`user`, `file_name`, `id`, `filter`: the name is the
//! target's). A target type declares which of them it accepts, with its defaults and limits,
//! in a [`Shared`] value, and adds its own options in its own `deny_unknown_fields` struct.
//! [`TargetSpec::options`] parses both; [`OptionSet`] turns the same declaration into the
//! option list that `picday targets` and the docs show, and knows which keys the target
//! really accepts, so that a test can tie the documentation to the code.

use serde::de::DeserializeOwned;
use serde::de::{self, Deserializer, Visitor};

use crate::config::{PhotoLimits, PhotoOptions, TargetSpec};
use crate::error::{Error, Result};
use crate::model::{Profile, Template};
use crate::registry::OptionDoc;

/// Which shared options a target type accepts, with its defaults and limits.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The key template option, if the target keys people by a template.
    pub key: Option<KeyOption>,
    /// The photo options, if the target takes photos of a configurable size.
    pub photo: Option<PhotoOption>,
    /// `max_concurrency`, if the target lets it be set.
    pub concurrency: Option<ConcurrencyOption>,
}

/// The option holding the template that turns a mapping row into the person's key.
#[derive(Debug, Clone, Copy)]
pub struct KeyOption {
    /// Its name in this target type (`user`, `file_name`...).
    pub name: &'static str,
    /// The default template.
    pub default: &'static str,
    pub help: &'static str,
}

/// Which keys give a photo's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `size` alone: square photos.
    Square,
    /// `width` and `height`: any shape.
    Sized,
    /// `size`, or `width` and `height`.
    Any,
}

/// The photo options: size keys, `quality` and `max_bytes`, within a service's limits.
#[derive(Debug, Clone)]
pub struct PhotoOption {
    pub shape: Shape,
    /// Defaults and allowed values; a target whose limits depend on another of its options
    /// passes the real ones to [`Options::profile_within`].
    pub limits: PhotoLimits,
    /// Overrides the documented default size (when it depends on another option).
    pub size_default_doc: Option<&'static str>,
    /// Overrides the documented default byte budget.
    pub max_bytes_doc: Option<&'static str>,
    /// Overrides the help of `max_bytes`.
    pub max_bytes_help: Option<&'static str>,
}

impl PhotoOption {
    pub const fn new(shape: Shape, limits: PhotoLimits) -> Self {
        PhotoOption {
            shape,
            limits,
            size_default_doc: None,
            max_bytes_doc: None,
            max_bytes_help: None,
        }
    }
}

/// `max_concurrency`: its default, its largest value and what it counts.
#[derive(Debug, Clone, Copy)]
pub struct ConcurrencyOption {
    pub default: usize,
    pub max: usize,
    pub help: &'static str,
}

const SIZE: &str = "size";
const WIDTH: &str = "width";
const HEIGHT: &str = "height";
const QUALITY: &str = "quality";
const MAX_BYTES: &str = "max_bytes";
const MAX_CONCURRENCY: &str = "max_concurrency";

impl Shared {
    /// The names of the shared options this declaration accepts.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if let Some(k) = &self.key {
            names.push(k.name);
        }
        if let Some(p) = &self.photo {
            match p.shape {
                Shape::Square => names.push(SIZE),
                Shape::Sized => names.extend([WIDTH, HEIGHT]),
                Shape::Any => names.extend([SIZE, WIDTH, HEIGHT]),
            }
            names.extend([QUALITY, MAX_BYTES]);
        }
        if self.concurrency.is_some() {
            names.push(MAX_CONCURRENCY);
        }
        names
    }

    /// The documentation of the shared options this declaration accepts.
    pub fn docs(&self) -> Vec<OptionDoc> {
        let mut docs = Vec::new();
        if let Some(k) = &self.key {
            docs.push(OptionDoc::optional(k.name, &quoted(k.default), k.help));
        }
        if let Some(p) = &self.photo {
            let (w, h) = p.limits.default_size;
            let size = p.size_default_doc.map_or(w.to_string(), str::to_string);
            let range = format!("{}-{}", p.limits.sizes.start(), p.limits.sizes.end());
            if matches!(p.shape, Shape::Square | Shape::Any) {
                let help = format!("width and height of a square photo ({range})");
                docs.push(OptionDoc::optional(SIZE, &size, &help));
            }
            match p.shape {
                Shape::Square => {}
                Shape::Any => {
                    let help = format!("photo width, for other shapes ({range})");
                    docs.push(OptionDoc::optional(WIDTH, "size", &help));
                    let help = format!("photo height, for other shapes ({range})");
                    docs.push(OptionDoc::optional(HEIGHT, "size", &help));
                }
                Shape::Sized => {
                    let help = format!("photo width in pixels ({range})");
                    docs.push(OptionDoc::optional(WIDTH, &w.to_string(), &help));
                    let help = format!("photo height in pixels ({range})");
                    docs.push(OptionDoc::optional(HEIGHT, &h.to_string(), &help));
                }
            }
            docs.push(OptionDoc::optional(
                QUALITY,
                "[photo] quality",
                "JPEG quality, 1-100",
            ));
            let max_bytes = p.max_bytes_doc.map_or_else(
                || {
                    p.limits
                        .default_max_bytes
                        .map_or("none".to_string(), |b| b.to_string())
                },
                str::to_string,
            );
            let help = p
                .max_bytes_help
                .unwrap_or("largest photo in bytes; quality is lowered to fit");
            docs.push(OptionDoc::optional(MAX_BYTES, &max_bytes, help));
        }
        if let Some(c) = &self.concurrency {
            let help = format!("{} (1-{})", c.help, c.max);
            docs.push(OptionDoc::optional(
                MAX_CONCURRENCY,
                &c.default.to_string(),
                &help,
            ));
        }
        docs
    }
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// Everything a target type accepts: the shared options it declares and its own.
#[derive(Debug, Clone)]
pub struct OptionSet {
    pub shared: Shared,
    /// The documentation of the target's own options.
    pub own: Vec<OptionDoc>,
    /// The keys the target's own config struct accepts (from its `Deserialize`).
    pub own_fields: Vec<&'static str>,
}

impl OptionSet {
    /// The options of a target type whose own options deserialise into `T`.
    pub fn new<T: DeserializeOwned>(shared: Shared, own: Vec<OptionDoc>) -> Self {
        OptionSet {
            shared,
            own,
            own_fields: field_names::<T>(),
        }
    }

    /// Every option, as `picday targets` and the docs show them: the target's required
    /// options, then its key template, then its other options, then the photo and
    /// concurrency options.
    pub fn docs(&self) -> Vec<OptionDoc> {
        let shared = self.shared.docs();
        let (key, rest): (Vec<_>, Vec<_>) = shared
            .into_iter()
            .partition(|d| self.shared.key.is_some_and(|k| k.name == d.name));
        let (required, optional): (Vec<_>, Vec<_>) =
            self.own.iter().cloned().partition(|d| d.required);
        required
            .into_iter()
            .chain(key)
            .chain(optional)
            .chain(rest)
            .collect()
    }

    /// Every key the target accepts.
    pub fn accepted(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .shared
            .names()
            .into_iter()
            .chain(self.own_fields.iter().copied())
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }
}

/// A target's options, parsed: its own (`own`) and the shared ones, resolved with the
/// declaration's defaults and limits.
#[derive(Debug)]
pub struct Options<'a, T> {
    pub own: T,
    spec: &'a TargetSpec,
    shared: &'a Shared,
    photo: PhotoOptions,
    max_concurrency: Option<usize>,
    key: Option<Template>,
}

impl TargetSpec {
    /// Parses this section: the shared options `shared` declares, and the rest into the
    /// target's own config type `T` (which should be `#[serde(deny_unknown_fields)]`, so
    /// that a shared option the type does not accept is an unknown key). Errors name the
    /// key and its line.
    pub fn options<'a, T: DeserializeOwned>(
        &'a self,
        shared: &'a Shared,
    ) -> Result<Options<'a, T>> {
        let mut rest = self.options.clone();
        let mut take = |name: &'static str| rest.remove(name).map(|v| (name, v));
        let accepted = shared.names();
        let mut values = Vec::new();
        for name in &accepted {
            if let Some(v) = take(name) {
                values.push(v);
            }
        }
        let own: T = self.parse_table(rest)?;
        let mut photo = PhotoOptions::default();
        let mut max_concurrency = None;
        let mut key = None;
        for (name, value) in values {
            match name {
                SIZE => photo.size = Some(self.number(name, &value)?),
                WIDTH => photo.width = Some(self.number(name, &value)?),
                HEIGHT => photo.height = Some(self.number(name, &value)?),
                QUALITY => photo.quality = Some(self.number(name, &value)?),
                MAX_BYTES => photo.max_bytes = Some(self.number(name, &value)?),
                MAX_CONCURRENCY => max_concurrency = Some(self.number(name, &value)?),
                _ => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| self.invalid(name, "must be a template string"))?;
                    key = Some(Template::parse(text).map_err(|e| self.invalid(name, e.message()))?);
                }
            }
        }
        Ok(Options {
            own,
            spec: self,
            shared,
            photo,
            max_concurrency,
            key,
        })
    }

    fn number<N: TryFrom<i64>>(&self, name: &str, value: &toml::Value) -> Result<N> {
        value
            .as_integer()
            .and_then(|n| N::try_from(n).ok())
            .ok_or_else(|| self.invalid(name, format!("must be a whole number, not {value}")))
    }
}

impl<T> Options<'_, T> {
    /// The output profile within the declared limits; `quality` defaults to
    /// `[photo] quality`.
    pub fn profile(&self) -> Result<Profile> {
        let limits = self
            .shared
            .photo
            .as_ref()
            .map(|p| &p.limits)
            .ok_or_else(|| Error::internal("this target declares no photo options"))?;
        self.spec.profile(self.photo, limits)
    }

    /// The output profile within `limits`, for a target whose limits depend on another of
    /// its options (LDAP's attribute).
    pub fn profile_within(&self, limits: &PhotoLimits) -> Result<Profile> {
        self.spec.profile(self.photo, limits)
    }

    /// `max_concurrency`, or the declared default; refused outside 1 to the declared maximum.
    pub fn max_concurrency(&self) -> Result<usize> {
        let Some(decl) = &self.shared.concurrency else {
            return Err(Error::internal("this target declares no max_concurrency"));
        };
        let n = self.max_concurrency.unwrap_or(decl.default);
        if !(1..=decl.max).contains(&n) {
            return Err(self.spec.invalid(
                MAX_CONCURRENCY,
                format!("{n} must be between 1 and {}", decl.max),
            ));
        }
        Ok(n)
    }

    /// The key template, or the declared default.
    pub fn key(&self) -> Result<Template> {
        if let Some(t) = &self.key {
            return Ok(t.clone());
        }
        let decl = self
            .shared
            .key
            .ok_or_else(|| Error::internal("this target declares no key template"))?;
        Template::parse(decl.default)
    }
}

/// The field names a `#[derive(Deserialize)]` struct accepts, read from its derived code:
/// serde hands them to the deserializer, and this one records them and stops.
pub fn field_names<T: DeserializeOwned>() -> Vec<&'static str> {
    let mut names = FieldNames(None);
    let _ = T::deserialize(&mut names);
    names.0.map(<[_]>::to_vec).unwrap_or_default()
}

struct FieldNames(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("field names recorded"))
    }

    fn deserialize_any<V: Visitor<'de>>(
        self,
        _visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read through serde only
    struct Own {
        dir: String,
        #[serde(default)]
        label: Option<String>,
    }

    fn shared() -> Shared {
        Shared {
            key: Some(KeyOption {
                name: "file_name",
                default: "{mail}.jpg",
                help: "file name template",
            }),
            photo: Some(PhotoOption::new(
                Shape::Any,
                PhotoLimits::square(648, 16..=4096),
            )),
            concurrency: Some(ConcurrencyOption {
                default: 8,
                max: 64,
                help: "files written at once",
            }),
        }
    }

    fn section(toml_text: &str) -> TargetSpec {
        let table: toml::Table = toml_text.parse().unwrap();
        TargetSpec::new("t", "test", table, std::path::Path::new("."))
    }

    #[test]
    fn field_names_come_from_the_derived_deserializer() {
        assert_eq!(field_names::<Own>(), vec!["dir", "label"]);
    }

    #[test]
    fn shared_and_own_options_are_parsed_apart() {
        let shared = shared();
        let spec = section(
            "dir = 'out'\nfile_name = '{student_id}.jpg'\nwidth = 240\nheight = 300\nmax_concurrency = 2",
        );
        let o = spec.options::<Own>(&shared).unwrap();
        assert_eq!(o.own.dir, "out");
        assert_eq!(o.key().unwrap().to_string(), "{student_id}.jpg");
        let p = o.profile().unwrap();
        assert_eq!((p.width, p.height), (240, 300));
        assert_eq!(o.max_concurrency().unwrap(), 2);

        let spec = section("dir = 'out'");
        let o = spec.options::<Own>(&shared).unwrap();
        assert_eq!(o.key().unwrap().to_string(), "{mail}.jpg");
        assert_eq!(o.profile().unwrap().width, 648);
        assert_eq!(o.max_concurrency().unwrap(), 8);
    }

    #[test]
    fn a_shared_option_the_type_does_not_take_is_an_unknown_key() {
        let mut shared = shared();
        shared.concurrency = None;
        let e = section("dir = 'out'\nmax_concurrency = 2")
            .options::<Own>(&shared)
            .unwrap_err();
        assert!(e.message().contains("max_concurrency"), "{e}");
    }

    #[test]
    fn wrong_types_and_ranges_name_the_key() {
        let shared = shared();
        let e = section("dir = 'out'\nsize = 'big'")
            .options::<Own>(&shared)
            .unwrap_err();
        assert!(e.message().contains("`size`"), "{e}");
        let s = section("dir = 'out'\nmax_concurrency = 0");
        let e = s
            .options::<Own>(&shared)
            .unwrap()
            .max_concurrency()
            .unwrap_err();
        assert!(e.message().contains("between 1 and 64"), "{e}");
        let e = section("dir = 'out'\nfile_name = '{unclosed'")
            .options::<Own>(&shared)
            .unwrap_err();
        assert!(e.message().contains("`file_name`"), "{e}");
    }

    #[test]
    fn docs_and_accepted_keys_come_from_one_declaration() {
        let set = OptionSet::new::<Own>(
            shared(),
            vec![
                OptionDoc::required("dir", "the folder"),
                OptionDoc::optional("label", "none", "a label"),
            ],
        );
        let documented: Vec<String> = set.docs().into_iter().map(|d| d.name).collect();
        assert_eq!(
            documented,
            [
                "dir",
                "file_name",
                "label",
                "size",
                "width",
                "height",
                "quality",
                "max_bytes",
                "max_concurrency"
            ]
        );
        let mut sorted = documented.clone();
        sorted.sort();
        assert_eq!(sorted, set.accepted());
    }
}
