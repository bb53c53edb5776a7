//! The engine's [`Journal`] on top of the state: skips what a target already has, keeps backups
//! and records every outcome as soon as it is final.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};

use super::{State, StoredPerson, now, sql_err};
use crate::engine::{BackupPlace, Delivery, Journal, Outcome, Status};
use crate::error::{Error, Result};

/// A `sent` row: size, time and hash of the source, settings, and the run that sent it.
type SentRow = (Option<i64>, Option<i64>, String, String, String);

/// How a run uses the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Send even what is unchanged (`push --force`).
    pub force: bool,
    /// Save the current photo before overwriting it (`[run] backup`).
    pub backups: bool,
    /// Write outcomes; off in dry runs, which only read the state.
    pub record: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            force: false,
            backups: true,
            record: true,
        }
    }
}

/// Records one run into a [`State`].
#[derive(Debug)]
pub struct RunJournal {
    state: Arc<State>,
    run_id: String,
    options: JournalOptions,
}

impl RunJournal {
    pub(super) fn new(state: Arc<State>, run_id: String, options: JournalOptions) -> Self {
        RunJournal {
            state,
            run_id,
            options,
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where a backup of `key` on `target` goes, relative to the state folder.
    fn backup_file(&self, target: &str, key: &str, bytes: &[u8]) -> PathBuf {
        Path::new("backups")
            .join(safe_name(&self.run_id))
            .join(safe_name(target))
            .join(photo_file_name(key, bytes))
    }
}

/// The file name a photo of `key` is saved under (a backup, an export): the key made safe as a
/// file name, with the extension of what the bytes are (`jpg`, `png`, else `bin`).
pub fn photo_file_name(key: &str, bytes: &[u8]) -> String {
    let ext = if bytes.starts_with(&[0xFF, 0xD8]) {
        "jpg"
    } else if bytes.starts_with(b"\x89PNG") {
        "png"
    } else {
        "bin"
    };
    format!("{}.{ext}", safe_name(key))
}

/// A file name made of `s`: safe characters kept, the rest replaced, and a short hash added
/// when anything was replaced so that two keys never share a file.
fn safe_name(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean == s && !clean.is_empty() {
        clean
    } else {
        format!("{clean}-{}", &blake3::hash(s.as_bytes()).to_hex()[..8])
    }
}

/// Writes a file and makes sure it is on disk (file and folder entry) before returning.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".picday-")
        .tempfile_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<String> {
    let mut hasher = blake3::Hasher::new();
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    hasher.update_reader(f).map_err(|e| Error::io(path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

impl Journal for RunJournal {
    fn unchanged(&self, d: &Delivery) -> Result<Option<String>> {
        if self.options.force {
            return Ok(None);
        }
        let row: Option<SentRow> = self
            .state
            .conn()
            .query_row(
                "SELECT source_size, source_mtime_ns, source_hash, settings, run_id FROM sent
                 WHERE target = ?1 AND key = ?2",
                params![d.target, d.key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(|e| sql_err(&self.state.path, e))?;
        let Some((size, mtime, hash, settings, run)) = row else {
            return Ok(None);
        };
        if settings != *d.settings {
            return Ok(None);
        }
        let Some(stamp) = d.source else {
            return Ok(None);
        };
        if size == Some(stamp.size as i64) && mtime == Some(stamp.mtime_ns) {
            return Ok(Some(run));
        }
        // Size or time differ (a copy, a touch, a restore from backup...): the content decides.
        if hash_file(&d.person.photo)? != hash {
            return Ok(None);
        }
        if self.options.record {
            // Remember the new stamp so that the next run needs no hash.
            self.state
                .conn()
                .execute(
                    "UPDATE sent SET source_size = ?3, source_mtime_ns = ?4
                     WHERE target = ?1 AND key = ?2",
                    params![d.target, d.key, stamp.size as i64, stamp.mtime_ns],
                )
                .map_err(|e| sql_err(&self.state.path, e))?;
        }
        Ok(Some(run))
    }

    fn backups(&self) -> bool {
        self.options.backups && self.options.record
    }

    fn backup_place(&self, d: &Delivery) -> Option<BackupPlace> {
        let row: Option<(bool, Option<String>)> = self
            .state
            .conn()
            .query_row(
                "SELECT had_photo, file FROM backups WHERE run_id = ?1 AND target = ?2 AND key = ?3",
                params![self.run_id, d.target, d.key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .unwrap_or_else(|e| {
                tracing::warn!("reading a backup's place: {}", sql_err(&self.state.path, e));
                None
            });
        let (had, file) = row?;
        Some(BackupPlace {
            run: self.run_id.clone(),
            file: file.filter(|_| had).map(|f| self.state.dir.join(f)),
        })
    }

    fn save_backup(&self, d: &Delivery, current: Option<Vec<u8>>) -> Result<()> {
        let person = serde_json::to_string(&StoredPerson::of(&d.person))
            .map_err(|e| Error::internal(format!("storing a person: {e}")))?;
        let mut conn = self.state.conn();
        let err = |e| sql_err(&self.state.path, e);
        // A backup left unsettled by an earlier run was taken before a photo that may have been
        // sent when that run was killed: the photo there now may be that run's, so the earlier
        // backup is the one that holds what was there before picday.
        let orphan: Option<(String, bool, Option<String>)> = conn
            .query_row(
                "SELECT run_id, had_photo, file FROM backups
                 WHERE target = ?1 AND key = ?2 AND settled = 0 AND run_id != ?3
                 ORDER BY at DESC LIMIT 1",
                params![d.target, d.key, self.run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(err)?;
        let tx = conn.transaction().map_err(err)?;
        match orphan {
            Some((from, had, file)) => {
                tx.execute(
                    "UPDATE backups SET settled = 1 WHERE run_id = ?1 AND target = ?2 AND key = ?3",
                    params![from, d.target, d.key],
                )
                .map_err(err)?;
                tx.execute(
                    "INSERT OR REPLACE INTO backups
                     (run_id, target, key, person, had_photo, file, from_run, settled, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
                    params![self.run_id, d.target, d.key, person, had, file, from, now()],
                )
                .map_err(err)?;
            }
            None => {
                let file = match &current {
                    Some(bytes) => {
                        let rel = self.backup_file(&d.target, &d.key, bytes);
                        write_durably(&self.state.dir.join(&rel), bytes)?;
                        Some(rel.to_string_lossy().replace('\\', "/"))
                    }
                    None => None,
                };
                tx.execute(
                    "INSERT OR REPLACE INTO backups
                     (run_id, target, key, person, had_photo, file, from_run, settled, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, 0, ?7)",
                    params![
                        self.run_id,
                        d.target,
                        d.key,
                        person,
                        current.is_some(),
                        file,
                        now()
                    ],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    fn record(&self, d: Option<&Delivery>, o: &Outcome) -> Result<()> {
        if !self.options.record {
            return Ok(());
        }
        let person = json(&StoredPerson::of(&o.person));
        let context = json(&o.context);
        let flags = json(&o.flags);
        let photo = o.photo.as_ref().map(json);
        let receipt = o.receipt.as_ref();
        let at = now();
        let mut conn = self.state.conn();
        let err = |e| sql_err(&self.state.path, e);
        let tx = conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO deliveries (run_id, target, key, person, status, kind, reason, context,
                detail, remote_id, request_id, photo, flags, source_hash, unchanged_since, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                self.run_id,
                o.target,
                o.key,
                person,
                o.status.as_str(),
                o.kind.map(|k| k.as_str()),
                o.reason,
                context,
                receipt.map(|r| r.detail.as_str()),
                receipt.and_then(|r| r.remote_id.as_deref()),
                receipt.and_then(|r| r.request_id.as_deref()),
                photo,
                flags,
                o.source_hash,
                o.unchanged_since,
                at
            ],
        )
        .map_err(err)?;
        if let Some(d) = d {
            tx.execute(
                "UPDATE backups SET settled = 1 WHERE run_id = ?1 AND target = ?2 AND key = ?3",
                params![self.run_id, d.target, d.key],
            )
            .map_err(err)?;
            if o.status == Status::Sent
                && let Some(source_hash) = &o.source_hash
            {
                tx.execute(
                    "INSERT OR REPLACE INTO sent (target, key, source_size, source_mtime_ns,
                        source_hash, settings, photo_hash, run_id, at, remote_id, request_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![
                        d.target,
                        d.key,
                        d.source.map(|s| s.size as i64),
                        d.source.map(|s| s.mtime_ns),
                        source_hash,
                        &*d.settings,
                        o.photo.as_ref().map(|p| p.hash.as_str()),
                        self.run_id,
                        at,
                        receipt.and_then(|r| r.remote_id.as_deref()),
                        receipt.and_then(|r| r.request_id.as_deref()),
                    ],
                )
                .map_err(err)?;
            } else if o.status != Status::Skipped {
                // The target now holds what no source photo made (a restored photo, or none
                // at all), or a failure left in doubt what it holds (a key another person
                // shares, a package that could not be written): the next push must send this
                // person again.
                tx.execute(
                    "DELETE FROM sent WHERE target = ?1 AND key = ?2",
                    params![d.target, d.key],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(())
    }
}

/// Serialises plain data to a JSON string (which cannot fail for it).
fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::safe_name;

    #[test]
    fn backup_names_stay_in_their_folder_and_never_collide() {
        assert_eq!(safe_name("a@school.example"), "a@school.example");
        let up = safe_name("../x");
        assert!(!up.contains('/') && !up.starts_with('.'), "{up}");
        assert_ne!(safe_name("a/b"), safe_name("a_b"));
        assert_ne!(safe_name("a b"), safe_name("a?b"));
    }
}
