//! `share`: a dynamic-library picday plugin that keeps a photo-share folder with an index.
//!
//! Many schools hand photos to the yearbook team, the front office or a cover teacher through a
//! shared folder. This plugin writes `KEY.jpg` for each person and, at the end of each run,
//! `index.csv` (key, name, file) and `index.html`, a page of faces with names that anyone can
//! open from the share. Entries survive between runs (the index is read back when the target is
//! configured), and removed photos leave the index.
//!
//! It shows the dynamic-library side of picday's plugin system: the same [`Plugin`] trait as
//! an executable plugin, built as a `cdylib`; the SDK's macro exports the C entry point.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use picday_plugin_sdk::{
    CheckOk, Config, DescribeOk, Host, Info, OptionSpec, Photo, PhotoShape, PhotoTransfer, Plugin,
    PluginCapabilities, PluginError, Receipt, SharedOptions, Subject,
};
use serde::Deserialize;

picday_plugin_sdk::plugin!(Share);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    dir: PathBuf,
    #[serde(default)]
    title: Option<String>,
}

/// The options shared with picday's own targets: the key (also the file name) and a portrait
/// photo, 4:5 by default. Files are written at most eight at once.
const SHARED: SharedOptions = SharedOptions {
    key: ("key", "{mail}", "the person's key; also the file name"),
    photo: (PhotoShape::Sized, (400, 500)),
    concurrency: None,
};

/// One person in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    file: String,
}

/// A configured share folder.
struct Share {
    dir: PathBuf,
    title: String,
    index: Mutex<BTreeMap<String, Entry>>,
}

impl Plugin for Share {
    fn info() -> Info {
        Info {
            name: "share",
            version: env!("CARGO_PKG_VERSION"),
            summary: "a photo-share folder: KEY.jpg per person plus index.csv and a browsable index.html",
            capabilities: PluginCapabilities {
                read_back: true,
                delete: true,
                resolves_people: false,
            },
            options: [
                OptionSpec::required("dir", "the shared folder, relative to picday.toml"),
                OptionSpec::optional("title", "\"Photos\"", "the heading of index.html"),
            ]
            .into_iter()
            .chain(SHARED.specs())
            .collect(),
            photo_transfer: PhotoTransfer::Base64,
        }
    }

    fn configure(config: &Config) -> Result<(Self, DescribeOk), PluginError> {
        let (shared, own) = config.take_shared(&SHARED)?;
        let o: Options = own.parse()?;
        let dir = config.resolve_path(&o.dir);
        let index = read_index(&dir.join("index.csv"));
        let described = DescribeOk {
            profile: shared.profile,
            key: shared.key,
            summary: format!("photo share {} with index.html", dir.display()),
            max_concurrency: 8,
        };
        Ok((
            Share {
                dir,
                title: o.title.unwrap_or_else(|| "Photos".into()),
                index: Mutex::new(index),
            },
            described,
        ))
    }

    fn check(&self, _host: &Host<'_>) -> Result<CheckOk, PluginError> {
        let mut report = CheckOk::default();
        if self.dir.is_dir() {
            let probe = self.dir.join(".picday-write-test");
            std::fs::write(&probe, b"")
                .and_then(|()| std::fs::remove_file(&probe))
                .map_err(|e| PluginError::io(&self.dir, e))?;
            report
                .ok
                .push(format!("{} is writable", self.dir.display()));
        } else {
            report
                .ok
                .push(format!("{} will be created", self.dir.display()));
        }
        Ok(report)
    }

    fn put(
        &self,
        _host: &Host<'_>,
        subject: &Subject,
        photo: &Photo,
    ) -> Result<Receipt, PluginError> {
        let file = file_name(&subject.key)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| PluginError::io(&self.dir, e))?;
        let path = self.dir.join(&file);
        // Written aside and renamed, so that someone browsing the share never sees half a photo.
        let tmp = self.dir.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, &photo.bytes).map_err(|e| PluginError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| PluginError::io(&path, e))?;
        self.lock().insert(
            subject.key.clone(),
            Entry {
                name: subject.label.clone(),
                file,
            },
        );
        Ok(Receipt::new(format!("written to {}", path.display())))
    }

    fn get(&self, _host: &Host<'_>, subject: &Subject) -> Result<Option<Vec<u8>>, PluginError> {
        let path = self.dir.join(file_name(&subject.key)?);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PluginError::io(&path, e)),
        }
    }

    fn delete(&self, _host: &Host<'_>, subject: &Subject) -> Result<Receipt, PluginError> {
        let path = self.dir.join(file_name(&subject.key)?);
        self.lock().remove(&subject.key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(Receipt::new(format!("removed {}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Receipt::new("had no photo")),
            Err(e) => Err(PluginError::io(&path, e)),
        }
    }

    fn finish(&self, _host: &Host<'_>) -> Result<Option<String>, PluginError> {
        let index = self.lock().clone();
        std::fs::create_dir_all(&self.dir).map_err(|e| PluginError::io(&self.dir, e))?;
        let csv_path = self.dir.join("index.csv");
        std::fs::write(&csv_path, index_csv(&index)).map_err(|e| PluginError::io(&csv_path, e))?;
        let html_path = self.dir.join("index.html");
        std::fs::write(&html_path, index_html(&self.title, &index))
            .map_err(|e| PluginError::io(&html_path, e))?;
        Ok(Some(format!(
            "index of {} photos written to {}",
            index.len(),
            html_path.display()
        )))
    }
}

impl Share {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The file of a key: only characters safe on every file system and in a URL.
fn file_name(key: &str) -> Result<String, PluginError> {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        return Err(PluginError::input(format!(
            "the key {key:?} cannot be used as a file name"
        )));
    }
    Ok(format!("{safe}.jpg"))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn index_csv(index: &BTreeMap<String, Entry>) -> String {
    let mut out = String::from("key,name,file\n");
    for (key, e) in index {
        out.push_str(&format!(
            "{},{},{}\n",
            csv_field(key),
            csv_field(&e.name),
            csv_field(&e.file)
        ));
    }
    out
}

/// Reads an index written by [`index_csv`]; a missing or damaged index starts empty.
fn read_index(path: &Path) -> BTreeMap<String, Entry> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cells = parse_csv_line(line);
            match cells.as_slice() {
                [key, name, file] => Some((
                    key.clone(),
                    Entry {
                        name: name.clone(),
                        file: file.clone(),
                    },
                )),
                _ => None,
            }
        })
        .collect()
}

fn parse_csv_line(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(s) = cells.last_mut() {
                    s.push('"');
                }
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(String::new()),
            (c, _) => {
                if let Some(s) = cells.last_mut() {
                    s.push(c)
                }
            }
        }
    }
    cells
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn index_html(title: &str, index: &BTreeMap<String, Entry>) -> String {
    let title = escape_html(title);
    let mut people: Vec<(&String, &Entry)> = index.iter().collect();
    people.sort_by(|a, b| a.1.name.cmp(&b.1.name).then(a.0.cmp(b.0)));
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n\
         <style>body{{font-family:sans-serif}}main{{display:flex;flex-wrap:wrap;gap:1em}}\
         figure{{margin:0;width:160px;text-align:center}}img{{width:160px;height:auto}}</style>\n\
         </head><body><h1>{title}</h1>\n<main>\n"
    );
    for (key, e) in people {
        out.push_str(&format!(
            "<figure><img src=\"{}\" alt=\"{}\" loading=\"lazy\"><figcaption>{}<br><small>{}</small></figcaption></figure>\n",
            escape_html(&e.file),
            escape_html(&e.name),
            escape_html(&e.name),
            escape_html(key)
        ));
    }
    out.push_str("</main></body></html>\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_folder() {
        assert_eq!(
            file_name("a@school.example").unwrap(),
            "a@school.example.jpg"
        );
        assert_eq!(
            file_name("../etc/passwd").unwrap_err().kind,
            picday_plugin_sdk::ErrorKind::Input
        );
        assert_eq!(file_name("x/../../y").unwrap(), "x_.._.._y.jpg");
    }

    #[test]
    fn index_round_trips_names_with_commas_and_quotes() {
        let mut index = BTreeMap::new();
        index.insert(
            "k1".to_string(),
            Entry {
                name: "O'Brien, \"Pat\"".into(),
                file: "k1.jpg".into(),
            },
        );
        let dir = std::env::temp_dir().join(format!("picday-share-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("index.csv");
        std::fs::write(&path, index_csv(&index)).unwrap();
        assert_eq!(read_index(&path), index);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn index_html_escapes_names() {
        let mut index = BTreeMap::new();
        index.insert(
            "k".to_string(),
            Entry {
                name: "<script>".into(),
                file: "k.jpg".into(),
            },
        );
        let html = index_html("T", &index);
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
    }
}
