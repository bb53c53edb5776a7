//! Files that picday writes into folders other people can write to as well (a badge printer's
//! share, an SIS import folder): file names every system accepts, and no symbolic link under
//! the folder ever followed.
//!
//! Why: a link planted under a target's folder (by a careless copy, or by someone with write
//! access to the share) would otherwise let picday write outside the folder, or read a file it
//! should not (a backup read through a link to a root-only file, then restored into the share,
//! world-readable). The folder itself may be a link: that is the administrator's choice, made in
//! the configuration. Everything *under* it is checked component by component, and only regular
//! files are read, replaced or removed.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// True for names Windows reserves for devices (`CON`, `nul.jpg`, `COM1.txt`...): a file of
/// that name cannot be created there, and opening one opens the device.
pub fn is_windows_device_name(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// What a file system entry is, in words, for messages ("a symbolic link", "a folder"...).
pub fn describe(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_file() {
        "a file"
    } else {
        special_kind(&kind)
    }
}

#[cfg(unix)]
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

/// `dir` joined with the relative file name `rel`, after checking that no component under
/// `dir` is a link and that the file, if it exists, is a regular file. Components that do not
/// exist yet are fine (they will be created as real folders).
pub fn path_under(dir: &Path, rel: &Path) -> Result<PathBuf> {
    let mut path = dir.to_path_buf();
    let mut parts = rel.components().peekable();
    while let Some(part) = parts.next() {
        let Component::Normal(name) = part else {
            return Err(Error::input(format!(
                "file name {} would be written outside {}",
                rel.display(),
                dir.display()
            )));
        };
        path.push(name);
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        let last = parts.peek().is_none();
        let fine = if last {
            meta.file_type().is_file()
        } else {
            meta.file_type().is_dir()
        };
        if !fine {
            return Err(Error::rejected(format!(
                "{} is {}; picday writes only regular files under {} and never follows links",
                path.display(),
                describe(&meta),
                dir.display()
            ))
            .with_context(
                "advice",
                "remove or rename it, or point the target's `dir` somewhere else",
            ));
        }
    }
    Ok(path)
}

/// The BLAKE3 (hex) of a file's bytes, read in pieces: the value the pipeline gives the same
/// source when it reads it whole ([`crate::pipeline::Processed::source_hash`]).
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// The bytes of the regular file at `path` (checked with [`path_under`] first), or `None` if
/// there is none. The file is opened without following a link (on Unix), so a link swapped in
/// after the check is refused too.
pub fn read_regular(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(O_NOFOLLOW);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::rejected(format!(
            "{} is {}, not a photo file",
            path.display(),
            describe(&meta)
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(Some(bytes))
}

/// `O_NOFOLLOW`: the value on Linux and on the BSDs and macOS.
#[cfg(all(unix, any(target_os = "linux", target_os = "android")))]
const O_NOFOLLOW: i32 = 0o400000;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const O_NOFOLLOW: i32 = 0x0100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_device_names_in_any_case_and_with_any_extension() {
        for name in ["CON", "con.jpg", "Nul.txt", "com1", "LPT9.jpg", "aux"] {
            assert!(is_windows_device_name(name), "{name}");
        }
        for name in ["CONS.jpg", "com10", "comx", "console", "nul_", "a.con"] {
            assert!(!is_windows_device_name(name), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_under_the_folder_are_refused_and_never_followed() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("out");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("secret.txt"), b"root only").expect("secret");
        std::os::unix::fs::symlink(&outside, dir.join("grade9")).expect("dir link");
        std::os::unix::fs::symlink(outside.join("secret.txt"), dir.join("a.jpg"))
            .expect("file link");

        let e = path_under(&dir, Path::new("grade9/b.jpg")).expect_err("linked folder");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        let e = path_under(&dir, Path::new("a.jpg")).expect_err("linked file");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        // Asked directly, the read does not follow the link either.
        let e = read_regular(&dir.join("a.jpg")).expect_err("read through a link");
        assert!(!e.to_string().contains("root only"), "{e}");

        assert_eq!(
            path_under(&dir, Path::new("new/c.jpg")).expect("new folder"),
            dir.join("new/c.jpg")
        );
        assert_eq!(read_regular(&dir.join("c.jpg")).expect("absent"), None);
    }
}
