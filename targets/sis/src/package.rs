//! Writing package files: deterministic zips, the PowerSchool map, the manifest, and the
//! atomic write (temporary name, then rename) that keeps an import from reading half a file.
//!
//! Zips are built to be reproducible: entries sorted by name, a fixed 1980-01-01 timestamp,
//! fixed Unix permissions. JPEGs are stored, not deflated: they do not compress, and stored
//! entries make each part's size exact, which the Infinite Campus split relies on.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use picday_core::{Error, Result};
use serde::Serialize;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipWriter};

/// Size of the end-of-central-directory record.
const EOCD: u64 = 22;
/// Local header + central directory entry, without the name (twice).
const ENTRY_OVERHEAD: u64 = 30 + 46;

/// Refuses an id that would be unsafe or unportable as a file name in a package: only ASCII
/// letters, digits, `-`, `_` and `.`; not starting with `.`; no `..`; at most 64 characters;
/// not a Windows device name.
pub fn check_id(id: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::input(format!(
            "id {id:?} cannot be used as a file name in an import package: {why}"
        )))
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > 64 {
        return bad("it is longer than 64 characters");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return bad(&format!(
            "it contains {c:?} (only letters, digits, `-`, `_` and `.` are allowed)"
        ));
    }
    if id.starts_with('.') || id.contains("..") {
        return bad("it starts with `.` or contains `..`");
    }
    let device = picday_core::files::is_windows_device_name(id);
    if device {
        return bad("it is a reserved device name on Windows");
    }
    Ok(())
}

/// The manifest written next to a package: who is in it, who was left out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The picday version that wrote it.
    pub picday: String,
    /// The target's configured name and type.
    pub target: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The photo profile, e.g. "240x300 jpg q85".
    pub profile: String,
    /// The id templates and the staff rule the package was keyed with. A later run carries
    /// this package's photos over only if it keys people the same way (and has the same
    /// profile); a manifest without it (older picday) is not carried over.
    #[serde(default)]
    pub ids: String,
    /// The package files written, in import order.
    pub files: Vec<String>,
    pub included: Vec<ManifestEntry>,
    pub left_out: Vec<ManifestLeftOut>,
}

/// A person in the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    /// The id the SIS matches.
    pub id: String,
    /// The file in the zip.
    pub file: String,
    /// The zip holding it.
    pub package: String,
    /// "students" or "staff".
    pub group: String,
    pub person: String,
    /// Where the person came from (mapping file and line).
    pub source: String,
    pub bytes: usize,
    pub blake3: String,
}

/// A person who reached the target but is not in the package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct ManifestLeftOut {
    pub source: String,
    pub person: String,
    pub id: Option<String>,
    pub reason: String,
}

/// Writes a file under a temporary name in `tmp_dir` (the run's staging folder, on the same
/// file system, so that a killed run leaves nothing beside the package);
/// [`Pending::commit`] renames it to `name` in `dir`.
#[derive(Debug)]
pub struct Pending {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl Pending {
    pub fn new(tmp_dir: &Path, dir: &Path, name: &str) -> Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix(".picday-")
            .suffix(".tmp")
            .tempfile_in(tmp_dir)
            .map_err(|e| Error::io(tmp_dir, e))?;
        Ok(Pending {
            tmp,
            path: dir.join(name),
        })
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes to disk and renames into place, readable by others (the import may run under
    /// another account) like any file the user writes.
    pub fn commit(self) -> Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            self.tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io(&self.path, e))?;
        self.tmp
            .persist(&self.path)
            .map_err(|e| Error::io(&self.path, e.error))?;
        Ok(())
    }
}

/// A file to put in a zip: its name in the zip and where its bytes are staged.
#[derive(Debug, Clone)]
pub struct ZipItem {
    pub name: String,
    pub source: PathBuf,
    pub size: u64,
}

impl ZipItem {
    /// The bytes this item adds to a stored zip.
    pub fn cost(&self) -> u64 {
        ENTRY_OVERHEAD + 2 * self.name.len() as u64 + self.size
    }
}

/// Splits items (already sorted) into parts whose zips stay at or below `max` bytes. Items
/// that cannot fit even alone are returned separately.
pub fn plan_parts(items: Vec<ZipItem>, max: u64) -> (Vec<Vec<ZipItem>>, Vec<ZipItem>) {
    let mut parts: Vec<Vec<ZipItem>> = Vec::new();
    let mut too_big = Vec::new();
    let mut current: Vec<ZipItem> = Vec::new();
    let mut used = EOCD;
    for item in items {
        if EOCD + item.cost() > max {
            too_big.push(item);
            continue;
        }
        if used + item.cost() > max {
            parts.push(std::mem::take(&mut current));
            used = EOCD;
        }
        used += item.cost();
        current.push(item);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    (parts, too_big)
}

fn zip_error(path: &Path, e: zip::result::ZipError) -> Error {
    Error::new(
        picday_core::ErrorKind::Io,
        format!("{}: cannot write the zip: {e}", path.display()),
    )
}

fn options(method: CompressionMethod) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(0o644)
        .system(System::Unix)
}

/// Writes a flat, stored zip of `items` into `file` and returns its size.
pub fn write_zip(file: &mut File, path: &Path, items: &[ZipItem]) -> Result<u64> {
    let mut zip = ZipWriter::new(&mut *file);
    let opts = options(CompressionMethod::Stored);
    let mut buf = Vec::new();
    for item in items {
        buf.clear();
        File::open(&item.source)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .map_err(|e| Error::io(&item.source, e).prefixed("staged photo"))?;
        zip.start_file(item.name.as_str(), opts)
            .map_err(|e| zip_error(path, e))?;
        zip.write_all(&buf).map_err(|e| Error::io(path, e))?;
    }
    zip.finish().map_err(|e| zip_error(path, e))?;
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| Error::io(path, e))
}

/// The PowerSchool map: `<id>\t<file>` per line, CRLF, no header row.
pub fn powerschool_map(rows: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (id, file) in rows {
        out.push_str(id);
        out.push('\t');
        out.push_str(file);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_ids_are_refused() {
        for ok in ["0100200", "T0042", "a-b_c.d"] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "../x", "a/b", "a\\b", ".hidden", "a..b", "con", "LPT1", "a b", "é", "x:y",
        ] {
            let e = check_id(bad).unwrap_err();
            assert_eq!(e.kind(), picday_core::ErrorKind::Input, "{bad}");
        }
        assert!(check_id(&"9".repeat(65)).is_err());
    }

    #[test]
    fn parts_stay_below_the_limit_and_oversized_items_are_set_aside() {
        let item = |n: &str, size| ZipItem {
            name: n.into(),
            source: PathBuf::new(),
            size,
        };
        let items = vec![item("a.jpg", 100), item("b.jpg", 100), item("c.jpg", 1000)];
        let cost = items[0].cost();
        let (parts, too_big) = plan_parts(items, EOCD + 2 * cost);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].len(), 2);
        assert_eq!(too_big.len(), 1);
    }
}
