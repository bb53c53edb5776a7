//! The data picday moves around: people from the mapping, key templates, output profiles and the
//! encoded photos derived for them.
//!
//! A [`Person`] is one row of the mapping with all its columns kept, so that each target can pick
//! its own key through a [`Template`] (`{mail}` for Entra, `{student_id}` for a SIS). A
//! [`Profile`] is what a target asks the pipeline for; a [`Photo`] is the pipeline's answer.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One person of the mapping: their columns and their source photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Column name (lower-cased, trimmed) to value.
    pub fields: BTreeMap<String, String>,
    /// The source photo, resolved against the mapping file's folder.
    pub photo: PathBuf,
    /// Where the row came from, for messages: the mapping file and its 1-based line.
    pub origin: Origin,
}

/// A place in an input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

impl Person {
    /// A person with the given fields; handy in tests and for plugins.
    pub fn new<K: Into<String>, V: Into<String>>(
        photo: impl Into<PathBuf>,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Person {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.into().trim().to_lowercase(), v.into()))
                .collect(),
            photo: photo.into(),
            origin: Origin {
                file: PathBuf::new(),
                line: 0,
            },
        }
    }

    /// The value of a column, if present and not blank.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(&name.to_lowercase())
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A short human label: a name column if there is one, else mail, else the photo file.
    pub fn label(&self) -> String {
        let first = self.field("first_name").or(self.field("first name"));
        let last = self.field("last_name").or(self.field("last name"));
        match (first, last, self.field("name")) {
            (Some(f), Some(l), _) => format!("{f} {l}"),
            (_, _, Some(n)) => n.to_string(),
            _ => self
                .field("mail")
                .or(self.field("email"))
                .map(str::to_string)
                .unwrap_or_else(|| self.photo.display().to_string()),
        }
    }
}

/// A key template such as `{mail}` or `{student_id}@district.example`.
///
/// Placeholders name mapping columns (case-insensitive). `{{` and `}}` stand for literal braces.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(String),
}

impl Template {
    /// Parses a template; unbalanced braces and empty placeholders are errors.
    pub fn parse(source: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => {
                                return Err(Error::config(format!(
                                    "template `{source}`: unclosed `{{`"
                                )));
                            }
                            Some(c) => name.push(c),
                        }
                    }
                    let name = name.trim().to_lowercase();
                    if name.is_empty() {
                        return Err(Error::config(format!(
                            "template `{source}`: empty placeholder `{{}}`"
                        )));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(name));
                }
                '}' => {
                    return Err(Error::config(format!(
                        "template `{source}`: `}}` without `{{` (write `}}}}` for a brace)"
                    )));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    /// The columns this template reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(f) => Some(f.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders the template for a person; a missing or blank column is an input error.
    pub fn render(&self, person: &Person) -> Result<String> {
        self.render_checked(person, |_, _| Ok(()))
    }

    /// Renders the template, passing each substituted value (with its column name) to `check`
    /// first: targets use it to refuse values that would be unsafe where they are used (a `/`
    /// in a file name...).
    pub fn render_checked(
        &self,
        person: &Person,
        check: impl Fn(&str, &str) -> Result<()>,
    ) -> Result<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Field(f) => match person.field(f) {
                    Some(v) => {
                        check(f, v)?;
                        out.push_str(v);
                    }
                    None => {
                        return Err(Error::input(format!(
                            "no value for `{{{f}}}` (template `{}`)",
                            self.source
                        )));
                    }
                },
            }
        }
        Ok(out)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({:?})", self.source)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl TryFrom<String> for Template {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Template::parse(&value)
    }
}

impl From<Template> for String {
    fn from(t: Template) -> String {
        t.source
    }
}

/// Output encodings the pipeline produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
}

impl Format {
    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
        }
    }
}

/// What a target asks the pipeline for: pixel size (and so shape), format, quality, byte budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Profile {
    pub width: u32,
    pub height: u32,
    pub format: Format,
    /// Encoder quality, 1..=100; the starting point when a byte budget must be met.
    pub quality: u8,
    /// Largest acceptable encoded size in bytes.
    pub max_bytes: Option<usize>,
}

impl Profile {
    /// A square JPEG profile.
    pub const fn square(size: u32) -> Self {
        Profile {
            width: size,
            height: size,
            format: Format::Jpeg,
            quality: 85,
            max_bytes: None,
        }
    }

    /// A JPEG profile of any shape.
    pub const fn jpeg(width: u32, height: u32) -> Self {
        Profile {
            width,
            height,
            format: Format::Jpeg,
            quality: 85,
            max_bytes: None,
        }
    }

    pub const fn with_quality(mut self, quality: u8) -> Self {
        self.quality = quality;
        self
    }

    pub const fn with_max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = Some(max);
        self
    }

    /// A stable fingerprint of the profile, for incremental runs.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}x{}-{:?}-q{}-{}",
            self.width,
            self.height,
            self.format,
            self.quality,
            self.max_bytes.map_or("any".to_string(), |b| b.to_string())
        )
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}x{} {} q{}",
            self.width,
            self.height,
            self.format.extension(),
            self.quality
        )?;
        if let Some(max) = self.max_bytes {
            write!(f, " <= {max} B")?;
        }
        Ok(())
    }
}

/// An encoded photo for one profile, ready to send. Cheap to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo {
    pub bytes: Arc<[u8]>,
    pub width: u32,
    pub height: u32,
    pub profile: Profile,
}

impl Photo {
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// BLAKE3 of the encoded bytes, hex.
    pub fn hash(&self) -> String {
        blake3::hash(&self.bytes).to_hex().to_string()
    }
}

impl fmt::Debug for Photo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Photo")
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("profile", &self.profile)
            .finish()
    }
}

/// A person as one target sees them: the row, and the key the target's template produced.
#[derive(Debug, Clone)]
pub struct Subject {
    pub key: String,
    pub person: Arc<Person>,
}

impl Subject {
    pub fn new(key: impl Into<String>, person: Arc<Person>) -> Self {
        Subject {
            key: key.into(),
            person,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Person {
        Person::new(
            "a.jpg",
            [("Mail", "a@school.example"), ("student_id", "00123")],
        )
    }

    #[test]
    fn template_renders_fields_case_insensitively() {
        let t = Template::parse("{MAIL}").unwrap();
        assert_eq!(t.render(&person()).unwrap(), "a@school.example");
        let t = Template::parse("s{student_id}.jpg").unwrap();
        assert_eq!(t.render(&person()).unwrap(), "s00123.jpg");
    }

    #[test]
    fn template_escapes_braces() {
        let t = Template::parse("{{x}}-{mail}").unwrap();
        assert_eq!(t.render(&person()).unwrap(), "{x}-a@school.example");
    }

    #[test]
    fn template_missing_field_is_input_error() {
        let t = Template::parse("{upn}").unwrap();
        let e = t.render(&person()).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Input);
        assert!(e.message().contains("{upn}"));
    }

    #[test]
    fn template_syntax_errors() {
        assert!(Template::parse("{mail").is_err());
        assert!(Template::parse("mail}").is_err());
        assert!(Template::parse("{}").is_err());
    }
}
