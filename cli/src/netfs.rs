//! Is the state folder on a network share? SQLite, which keeps `.picday/state.db`, relies on
//! file locks and on writes reaching the disk in order; SMB and NFS shares do not keep those
//! promises reliably (<https://www.sqlite.org/useovernet.html>), and a state that two machines
//! open over a share can be corrupted. picday does not refuse such a folder (some schools have
//! nothing else), but says so before a run that records, with where to put it instead.
//!
//! Detected: a Windows UNC path (`\\server\share\...`); on Linux, a folder whose mount
//! (`/proc/self/mountinfo`) is SMB/CIFS, NFS, AFP, WebDAV or SSHFS; on macOS, the same read
//! from `mount`. Not detected: a Windows drive letter mapped to a share (`Z:`), which looks
//! like a local disk without asking the Windows API; docs/install.md says not to use one.

use std::path::{Path, PathBuf};

/// File system types that are network shares.
const NETWORK_TYPES: &[&str] = &[
    "cifs",
    "smb3",
    "smbfs",
    "nfs",
    "nfs4",
    "afpfs",
    "davfs",
    "webdav",
    "fuse.sshfs",
    "ncpfs",
];

/// A warning when `dir` (the folder holding `.picday/`) is on a network share.
pub fn warning(dir: &Path) -> Option<String> {
    let what = network_share(dir)?;
    Some(format!(
        "{} is on {what}: the run state (.picday/state.db, SQLite) is not safe on a network \
         share (locks and write order are not kept); keep the configuration folder on a local \
         disk of the machine that runs picday (see docs/install.md)",
        dir.display()
    ))
}

/// What kind of network share `dir` is on, if it is on one.
pub fn network_share(dir: &Path) -> Option<String> {
    if is_unc(dir) {
        return Some("a network share (UNC path)".into());
    }
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if is_unc(&dir) {
        return Some("a network share (UNC path)".into());
    }
    mount_type(&dir)
        .filter(|t| NETWORK_TYPES.contains(&t.as_str()))
        .map(|t| format!("a network share ({t})"))
}

/// `\\server\share\...`, and its long form `\\?\UNC\server\share\...`, on Windows.
fn is_unc(path: &Path) -> bool {
    let text = path.to_string_lossy();
    cfg!(windows)
        && (text.starts_with(r"\\?\UNC\")
            || (text.starts_with(r"\\")
                && !text.starts_with(r"\\?\")
                && !text.starts_with(r"\\.\")))
}

#[cfg(target_os = "linux")]
fn mount_type(dir: &Path) -> Option<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    longest_mount(dir, mountinfo_entries(&table))
}

#[cfg(target_os = "macos")]
fn mount_type(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("/sbin/mount").output().ok()?;
    longest_mount(dir, mount_entries(&String::from_utf8_lossy(&out.stdout)))
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn mount_type(_dir: &Path) -> Option<String> {
    None
}

/// The type of the mount whose point is the longest ancestor of `dir`.
#[cfg_attr(not(any(target_os = "linux", target_os = "macos")), allow(dead_code))]
fn longest_mount(dir: &Path, mounts: Vec<(PathBuf, String)>) -> Option<String> {
    mounts
        .into_iter()
        .filter(|(point, _)| dir.starts_with(point))
        .max_by_key(|(point, _)| point.components().count())
        .map(|(_, kind)| kind)
}

/// (mount point, file system type) of each line of Linux's `/proc/self/mountinfo`:
/// `36 35 98:0 / /mnt/share rw,relatime shared:1 - cifs //server/share rw,...`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn mountinfo_entries(table: &str) -> Vec<(PathBuf, String)> {
    table
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let point = before.split(' ').nth(4)?;
            let kind = after.split(' ').next()?;
            Some((PathBuf::from(unescape_octal(point)), kind.to_string()))
        })
        .collect()
}

/// (mount point, type) of each line of macOS's `mount`:
/// `//user@server/share on /Volumes/share (smbfs, nodev, nosuid, mounted by user)`.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn mount_entries(text: &str) -> Vec<(PathBuf, String)> {
    text.lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(" on ")?;
            let (point, options) = rest.rsplit_once(" (")?;
            let kind = options.split([',', ')']).next()?.trim();
            Some((PathBuf::from(point), kind.to_string()))
        })
        .collect()
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\040` and so on.
fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let n = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |n, b| n * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(n).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /srv/photos rw,relatime shared:20 - cifs //fileserver/photos rw,vers=3.1.1
41 40 8:2 / /srv/photos/local rw,relatime shared:21 - ext4 /dev/sdb1 rw
42 22 0:36 / /mnt/with\\040space rw,relatime shared:22 - nfs4 nas:/export rw
";

    #[test]
    fn the_longest_mount_point_decides() {
        let m = || mountinfo_entries(MOUNTINFO);
        assert_eq!(
            longest_mount(Path::new("/home/it/picday"), m()).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            longest_mount(Path::new("/srv/photos/2026/picday"), m()).as_deref(),
            Some("cifs")
        );
        assert_eq!(
            longest_mount(Path::new("/srv/photos/local/picday"), m()).as_deref(),
            Some("ext4"),
            "a local disk mounted inside the share"
        );
        assert_eq!(
            longest_mount(Path::new("/mnt/with space/x"), m()).as_deref(),
            Some("nfs4")
        );
        // Component-wise: /srv/photos2 is not inside /srv/photos.
        assert_eq!(
            longest_mount(Path::new("/srv/photos2"), m()).as_deref(),
            Some("ext4")
        );
    }

    #[test]
    fn macos_mount_lines_are_read() {
        let text = "/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)\n\
                    //it@fileserver/photos on /Volumes/photos (smbfs, nodev, nosuid, mounted by it)\n";
        let m = mount_entries(text);
        assert_eq!(
            longest_mount(Path::new("/Volumes/photos/picday"), m.clone()).as_deref(),
            Some("smbfs")
        );
        assert_eq!(
            longest_mount(Path::new("/Users/it"), m).as_deref(),
            Some("apfs")
        );
    }

    #[test]
    fn a_local_folder_gives_no_warning() {
        let dir = tempfile::tempdir().unwrap();
        // The test machines' temporary folders are local disks.
        assert_eq!(warning(dir.path()), None);
    }

    #[test]
    fn unc_paths_are_network_shares_on_windows() {
        let unc = Path::new(r"\\fileserver\photos\picday");
        assert_eq!(is_unc(unc), cfg!(windows));
        assert!(!is_unc(Path::new(r"C:\picday")));
        assert!(!is_unc(Path::new(r"\\?\C:\picday")));
        assert_eq!(
            is_unc(Path::new(r"\\?\UNC\fileserver\photos")),
            cfg!(windows)
        );
    }
}
